// The training loop for language models on token shards (DESIGN §7.4, §7.7, §8):
//   for each step: lr from warm-up + cosine; grad_accum micro-batches of B×T tokens, each
//   forward → (loss / grad_accum).backward(); global-norm clipping; a non-finite loss or gradient
//   skips the step (counted; max_bad_steps in a row stop the run with the last checkpoint
//   intact); the optimizer step; model.end_step() (evaluator statistics, REINFORCE baselines);
//   the DSSE transfer at its step; metrics; evaluation every eval_every steps; a checkpoint every
//   ckpt_every steps and at the end. resume continues bit-identically on the CPU.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace dasg {

struct TrainOptions {
  Config model;                    // the model configuration
  std::string data_dir;            // *_train_*.bin and *_val_*.bin shards
  std::string out_dir;             // checkpoint/, metrics.jsonl
  std::string resume;              // a checkpoint directory to continue from ("" = fresh)
  int64_t steps = 200;
  int64_t batch = 8;               // B
  int64_t seq_len = 0;             // T; 0 = model.max_seq_len
  int64_t grad_accum = 1;
  double lr = 3e-3, min_lr = 3e-4;
  int64_t warmup = 20;
  double weight_decay = 0.1;
  double grad_clip = 1.0;
  std::string optimizer = "adamw";  // or "sgd"
  double momentum = 0.9;            // sgd
  int64_t eval_every = 50;          // 0 = only at the end
  int64_t eval_batches = 20;        // 0 = the whole val split
  int64_t ckpt_every = 100;         // 0 = only at the end
  int64_t max_bad_steps = 5;        // non-finite steps in a row before stopping
  uint64_t seed = 1337;
  bool quiet = false;               // no progress display
};

struct TrainResult {
  int64_t steps_done = 0;
  int64_t skipped_steps = 0;
  double final_train_loss = 0;
  double final_val_loss = 0;
  std::string checkpoint_dir, metrics_path;
};

struct NamedParam;
// Called after a step's backward passes, before clipping, with the parameters (tests inject
// faults here).
using GradientHook = std::function<void(int64_t step, const std::vector<NamedParam>& params)>;

TrainResult train_language_model(const TrainOptions& options, const GradientHook& hook = nullptr);

class Model;
class Parameters;

// Mean validation CE (nats/token) of a causal model over `batches` batches (0 = all) of B×T
// tokens from the *_val_*.bin shards of data_dir, in evaluation mode, without gradients; the
// model's training mode is restored afterwards. The loop's evaluation and `dasg eval` share it.
// Throws when the val split holds no full batch.
double evaluate_lm(Model& model, const std::string& data_dir, int64_t B, int64_t T, int64_t batches);

// The optimizer's view of a model's parameters: every non-buffer tensor, with weight decay on
// matrices only (not on norms, biases, the policy vectors or the embeddings).
std::vector<NamedParam> optimizer_params(const Parameters& params);

}  // namespace dasg
