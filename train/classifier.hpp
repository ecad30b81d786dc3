// Sequence-classification fine-tuning (`dasg finetune`, DESIGN §7.1 encoder head, §7.4 rewards
// from the sequence's CE): an encoder model (causal false) trained on a ClassificationSet by the
// one training loop (train/trainer.hpp: accumulation, clipping, the non-finite guard, the router
// state, periodic evaluation and checkpoints, resume), evaluated (accuracy, F1) on a dev set.
//
// Batches are cut to their longest real sequence before the forward: the encoder's output for a
// sequence padded to T equals that of its n real tokens alone (the padding invariant of §7), so
// this changes nothing but the cost.
//
// From a pretrained checkpoint (causal or encoder), init_from_checkpoint copies every parameter
// and buffer whose name and shape match; the classification head cls.* always starts fresh;
// wpe.weight is cropped to its first T rows when the checkpoint's positions are longer, and when
// they are shorter its rows are copied and the rest keep their fresh initialisation. Parameters
// the checkpoint lacks or holds with another shape keep their initialisation (reported).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/classification.hpp"
#include "data/tokenizer.hpp"
#include "model/config.hpp"
#include "train/trainer.hpp"

namespace dasg {

class Model;

// The tokenizer a model was trained with, from its vocabulary: 256 → byte; ≥ 50257 (GPT-2's,
// possibly padded) → gpt2 from gpt2_dir ("" = data::default_gpt2_dir()); anything else throws.
std::unique_ptr<data::Tokenizer> tokenizer_for_vocab(int64_t vocab_size, const std::string& gpt2_dir = "");

// GLUE's folder: $DASG_GLUE_DIR when set, else <source_dir>/../shared/data/glue.
std::string default_glue_dir(const std::string& source_dir);
// A task's file: <glue_dir>/SST-2/<split>.tsv (task "sst2") or <glue_dir>/MRPC/<split>.tsv ("mrpc");
// throws when the task is unknown or the file does not exist.
std::string glue_file(const std::string& glue_dir, const std::string& task, const std::string& split);

// An encoder config from `base` (a causal or encoder config): causal false, n_classes, and
// max_seq_len = T. The group length L = max_seq_len / gmha.groups is kept when it divides T
// (groups = T / L), so a pretrained model's attention spans stay the same; otherwise the group
// count is kept when it divides T. The window is capped at the new L. Throws when neither fits.
Config encoder_config(const Config& base, int64_t T, int64_t n_classes);

struct InitReport {
  std::vector<std::string> copied;   // same name and shape
  std::vector<std::string> cropped;  // wpe.weight, rows copied up to the shorter length
  std::vector<std::string> fresh;    // cls.*, and names the checkpoint lacks or has with another shape
  bool deep_active = false;          // the checkpoint's DSSE transfer had happened (now so in the model)
};

// Copies a checkpoint's matching parameters into `model` (see above). When the checkpoint says
// the DSSE transfer happened (deep_active, a missing key meaning true) the model is marked so,
// with the deep experts' fc1 frozen, as Model::load does. `scratch` is a file path used on the way.
InitReport init_from_checkpoint(Model& model, const std::string& checkpoint_dir, const std::string& scratch);

struct ClassifierEval {
  int64_t n = 0;
  double loss = 0;      // mean CE
  double accuracy = 0;
  double f1 = 0;        // binary: F1 of class 1; more classes: macro F1
  double majority = 0;  // the share of the set's most frequent label (the majority-class accuracy)
  std::vector<int64_t> confusion;  // C×C, row = label, column = prediction
};

// Evaluates in evaluation mode (no sampling, statistics frozen), batch by batch, without gradients;
// restores the model's training mode.
ClassifierEval evaluate_classifier(Model& model, const data::ClassificationSet& set, int64_t batch);

// The trainer's options with finetune_defaults(), plus what classification adds.
struct ClassifierOptions : TrainOptions {
  ClassifierOptions() : TrainOptions(finetune_defaults()) {}
  std::string init_checkpoint;  // a pretrained checkpoint directory to copy from ("" = none; not on resume)
  int64_t eval_batch = 64;
  nlohmann::json extra_state;   // stored in state.json under "task" (e.g. the task's name)
};

struct ClassifierResult : TrainResult {
  ClassifierEval dev;       // at the end
  ClassifierEval best_dev;  // the evaluation with the best accuracy
  int64_t best_step = 0;
  ClassifierEval test;      // at the end, when a test set was given (test.n = 0 otherwise)
  InitReport init;
};

// Trains on `train`, evaluating on `dev` every eval_every steps and at the end; `test` (may be
// null: GLUE's test labels are not public) is evaluated once, after the last step, with the same
// fields under test_* in that step's evaluation record.
ClassifierResult train_classifier(const ClassifierOptions& options, const data::ClassificationSet& train,
                                  const data::ClassificationSet& dev, const data::ClassificationSet* test = nullptr,
                                  const GradientHook& hook = nullptr);

}  // namespace dasg
