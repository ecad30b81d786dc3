// Language-model training and validation on token shards: the LM TrainTask of the one loop
// (train/trainer.hpp), and the validation loss `dasg train` and `dasg eval` share.
#include <cmath>
#include <filesystem>

#include "autograd/node.hpp"
#include "data/loader.hpp"
#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "train/trainer.hpp"

namespace dasg {

double evaluate_lm(Model& model, const std::string& data_dir, int64_t B, int64_t T, int64_t batches) {
  DASG_CHECK(model.config().causal, "evaluate_lm: the model is an encoder (causal false); validation loss on "
             "token shards needs a causal model");
  DASG_CHECK(B > 0 && T > 0 && T <= model.config().max_seq_len, "evaluate_lm: batch ", B, " x seq_len ", T,
             "; expected positive sizes and seq_len <= max_seq_len = ", model.config().max_seq_len);
  data::ValLoader val(data_dir, B, T, model.config().vocab_size);
  const bool was_training = model.training();
  model.train(false);
  NoGradGuard no_grad;
  data::Batch b;
  Tensor total;  // summed on the device, read back once
  int64_t n = 0;
  while ((batches == 0 || n < batches) && val.next(b)) {
    ForwardResult r = model.forward(Tensor::from_vector(b.inputs, {b.B, b.T}), Tensor::from_vector(b.targets, {b.B, b.T}));
    total = total.defined() ? total + r.ce : r.ce;
    ++n;
  }
  model.train(was_training);
  DASG_CHECK(n > 0, "evaluate: the val split of '", data_dir, "' holds no full batch of ", B, "x", T,
             " tokens; use a smaller --batch or --seq-len");
  return total.item() / (double)n;
}

namespace {

class LanguageModelTask : public TrainTask {
 public:
  LanguageModelTask(const TrainOptions& o, int64_t T)
      : o_(o), T_(T), loader_(o.data_dir, "train", {o.batch, T, o.model.vocab_size, o.seed, true}) {}
  MicroBatch next() override {
    data::Batch b = loader_.next();
    return {Tensor::from_vector(b.inputs, {b.B, b.T}), Tensor::from_vector(b.targets, {b.B, b.T}), Tensor(), b.B * b.T};
  }
  nlohmann::json loader_state() const override { return loader_.state(); }
  void restore_loader(const nlohmann::json& s) override { loader_.restore(s); }
  nlohmann::json evaluate(Model& model, int64_t) override {
    if (o_.no_val) return nullptr;
    const double val = evaluate_lm(model, o_.data_dir, o_.batch, T_, o_.eval_batches);
    return {{"val_loss", val}, {"val_ppl", std::exp(val)}};
  }

 private:
  const TrainOptions& o_;
  int64_t T_;
  data::TokenLoader loader_;
};

}  // namespace

TrainResult train_language_model(const TrainOptions& o, const GradientHook& hook) {
  DASG_CHECK(o.model.causal, "train: the model config is an encoder (causal false); language-model training "
             "needs a causal model (use `dasg finetune` for classification)");
  const int64_t T = o.seq_len > 0 ? o.seq_len : o.model.max_seq_len;
  DASG_CHECK(T <= o.model.max_seq_len, "train: seq_len ", T, " exceeds the model's max_seq_len ", o.model.max_seq_len);
  // Up front, so no run trains for hours and then fails at its first evaluation.
  data::check_split(o.data_dir, "train", o.batch, T, o.model.vocab_size);
  if (!o.no_val) data::check_split(o.data_dir, "val", o.batch, T, o.model.vocab_size);
  LanguageModelTask task(o, T);
  Model model(o.model, o.seed);
  return run_training(o, model, task, hook);
}

}  // namespace dasg
