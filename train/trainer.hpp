// The one training loop, for language models on token shards (`dasg train`) and for sequence
// classification (`dasg finetune`, train/classifier.hpp) alike (DESIGN §7.4, §7.7, §8). A step:
//   the DSSE schedule (RouterState::begin_step); lr from warm-up + cosine; grad_accum
//   micro-batches, each forward → loss + REINFORCE surrogate → (total / (N·grad_accum)).backward()
//   on each of N ranks (N = 1 without a launcher); the gradients summed over the ranks; one
//   device→host copy of the step's loss terms, gradient norm and routing counters (summed over
//   the ranks); a non-finite loss or gradient skips the step (counted; max_bad_steps in a row
//   stop the run with the last checkpoint intact); global-norm clipping; the optimizer step; RouterState::end_step
//   (evaluator statistics, baselines); metrics; evaluation every eval_every steps; an atomic
//   checkpoint every ckpt_every steps and at the end. resume continues bit-identically on the CPU.
// What differs between the two uses — the batches, the evaluation, the data position — is a
// TrainTask. With a communicator of N ranks (`mpirun -np N dasg train`) the loop is data
// parallel (train/data_parallel.hpp): --batch stays the per-rank micro-batch, and the run equals
// one process with grad_accum N·grad_accum; rank 0 alone writes checkpoints and metrics.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/tensor.hpp"
#include "model/config.hpp"

namespace dasg {
namespace dist {
class Communicator;
}

class Model;
class Parameters;
struct ForwardResult;
struct NamedParam;

// Every option of a training run, with the defaults of `dasg train` (finetune_defaults() holds
// the few that `dasg finetune` changes); the apps and their --help take them from here.
struct TrainOptions {
  Config model;                    // the model configuration
  std::string device = "cpu";      // cpu, cuda or cuda:N
  std::string precision = "f32";   // or bf16: mixed precision on CUDA (Model::set_precision)
  std::string data_dir;            // LM: *_train_*.bin and *_val_*.bin shards
  std::string out_dir;             // checkpoint/, metrics.jsonl
  std::string resume;              // a checkpoint directory to continue from ("" = fresh)
  int64_t steps = 1000;
  int64_t batch = 16;              // B, sequences per micro-batch
  int64_t seq_len = 0;             // T; 0 = model.max_seq_len
  int64_t grad_accum = 1;          // micro-batches per step
  double lr = 3e-3;
  double min_lr = -1;              // < 0: lr / 10
  int64_t warmup = 20;
  std::string optimizer = "adamw";  // or "sgd"
  double beta1 = 0.9, beta2 = 0.95, adam_eps = 1e-8;  // adamw
  double momentum = 0.9;            // sgd
  double weight_decay = 0.1;        // decoupled, on matrices only
  double grad_clip = 1.0;           // global gradient norm; 0 = off
  int64_t eval_every = 250;         // 0 = only at the end
  int64_t eval_batches = 20;        // LM: 0 = the whole val split
  int64_t ckpt_every = 250;         // 0 = only at the end
  int64_t max_bad_steps = 5;        // non-finite steps in a row before stopping
  uint64_t seed = 1337;             // initialisation, data order, sampling
  bool quiet = false;               // no progress display
  bool reset_optimizer = false;     // resume with fresh optimizer moments (optim.safetensors unread)
  bool no_val = false;              // LM: no validation split; no evaluation at all
  bool tensorboard = true;          // a TensorBoard event file beside metrics.jsonl (train/event_file.hpp)
  std::shared_ptr<dist::Communicator> comm;  // the ranks of a data-parallel run; null: one process
  bool expert_parallel = false;     // dasg/switch experts spread over the ranks (train/expert_parallel.hpp)
  double min_lr_value() const { return min_lr < 0 ? lr / 10 : min_lr; }
};

// `dasg finetune`'s defaults: TrainOptions{} with batch 32, lr 1e-3, warm-up 50, weight decay
// 0.01, evaluation and checkpoints every 200 steps.
TrainOptions finetune_defaults();

struct TrainResult {
  int64_t steps_done = 0;           // steps run by this invocation (skipped ones included)
  int64_t skipped_steps = 0;        // in the whole run
  double final_train_loss = 0;
  double final_val_loss = 0;        // LM, when evaluated
  nlohmann::json last_eval;         // the last evaluation's record (null: none ran)
  bool checkpoint_written = false;  // the final checkpoint was saved (not when the last step was skipped)
  std::string checkpoint_dir, metrics_path;
};

// One micro-batch on the host: tokens i32 [B, T], targets ([B, T] next tokens or [B] labels),
// lengths [B] (encoders, or undefined); tokens counts the real ones (for tokens/s).
struct MicroBatch {
  Tensor tokens, targets, lengths;
  int64_t n_tokens = 0;
};

class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual MicroBatch next() = 0;
  virtual nlohmann::json loader_state() const = 0;
  virtual void restore_loader(const nlohmann::json& state) = 0;
  // One evaluation after `step` (0-based; evaluation mode, no gradients): the fields of its
  // metrics record (null: the task evaluates nothing, e.g. --no-val).
  virtual nlohmann::json evaluate(Model& model, int64_t step) = 0;
  // Device scalars of a training micro-batch, averaged over the step's micro-batches and logged
  // under their names (e.g. train_accuracy); read back with the step's other values.
  virtual std::vector<std::pair<std::string, Tensor>> batch_metrics(const MicroBatch&, const ForwardResult&) {
    return {};
  }
  // Extra fields of state.json (e.g. the task's name).
  virtual nlohmann::json extra_state() const { return nullptr; }
};

// Called after a step's backward passes, before clipping, with the parameters (tests inject
// faults here).
using GradientHook = std::function<void(int64_t step, const std::vector<NamedParam>& params)>;

// Runs o.steps steps of `task` on `model` (already on its device, or moved to o.device), from
// o.resume when set.
TrainResult run_training(const TrainOptions& o, Model& model, TrainTask& task, const GradientHook& hook = nullptr);

// The optimizer's view of a model's parameters: every non-buffer tensor held here (not another
// rank's released expert), with weight decay on matrices only (not on norms, biases, the policy
// vectors or the embeddings).
std::vector<NamedParam> optimizer_params(const Parameters& params);

// ---- language models (train/language_model.cpp) ----------------------------------------------
TrainResult train_language_model(const TrainOptions& options, const GradientHook& hook = nullptr);

// Mean validation CE (nats/token) of a causal model over `batches` batches (0 = all) of B×T
// tokens from the *_val_*.bin shards of data_dir, in evaluation mode, without gradients; the
// model's training mode is restored afterwards. The loop's evaluation and `dasg eval` share it.
// Throws when the val split holds no full batch.
double evaluate_lm(Model& model, const std::string& data_dir, int64_t B, int64_t T, int64_t batches);

}  // namespace dasg
