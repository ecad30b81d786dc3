// The classification fine-tuning loop (see classifier.hpp).
#include "train/classifier.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "model/safetensors.hpp"
#include "train/checkpoint.hpp"
#include "train/metrics.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"
#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"

namespace fs = std::filesystem;

namespace dasg {

std::unique_ptr<data::Tokenizer> tokenizer_for_vocab(int64_t vocab_size, const std::string& gpt2_dir) {
  if (vocab_size == 256) return data::make_tokenizer("byte", "");
  DASG_CHECK(vocab_size >= 50257, "tokenizer: the model's vocab_size is ", vocab_size,
             "; expected 256 (byte tokenizer) or >= 50257 (GPT-2's BPE)");
  return data::make_tokenizer("gpt2", gpt2_dir);
}

std::string default_glue_dir(const std::string& source_dir) {
  const char* env = std::getenv("DASG_GLUE_DIR");
  if (env && *env) return env;
  return (fs::path(source_dir) / ".." / "shared" / "data" / "glue").lexically_normal().string();
}

std::string glue_file(const std::string& glue_dir, const std::string& task, const std::string& split) {
  const std::string sub = task == "sst2" ? "SST-2" : task == "mrpc" ? "MRPC" : "";
  DASG_CHECK(!sub.empty(), "GLUE task '", task, "'; expected sst2 or mrpc");
  const fs::path p = fs::path(glue_dir) / sub / (split + ".tsv");
  DASG_CHECK(fs::is_regular_file(p), "GLUE: '", p.string(), "' does not exist (point --glue-dir or $DASG_GLUE_DIR ",
             "at the folder holding SST-2/ and MRPC/)");
  return p.string();
}

Config encoder_config(const Config& base, int64_t T, int64_t n_classes) {
  DASG_CHECK(T >= 1, "encoder config: seq_len ", T, "; expected >= 1");
  Config c = base;
  c.causal = false;
  c.n_classes = n_classes;
  const int64_t L = base.group_len();
  if (T % L == 0) {
    c.gmha.groups = T / L;
  } else {
    DASG_CHECK(T % base.gmha.groups == 0, "encoder config: seq_len ", T, " is a multiple of neither the group length ",
               "L = ", L, " nor gmha.groups = ", base.gmha.groups, "; pick a seq_len that is");
  }
  c.max_seq_len = T;
  c.gmha.window = std::min(c.gmha.window, c.group_len());
  c.validate();
  return c;
}

InitReport init_from_checkpoint(Model& model, const std::string& checkpoint_dir, const std::string& scratch) {
  const fs::path src = fs::path(checkpoint_path(checkpoint_dir)) / "model.safetensors";
  SafetensorsFile file = read_safetensors(src.string());
  InitReport rep;
  auto active = file.metadata.find("deep_active");
  rep.deep_active = active == file.metadata.end() || active->second == "true";
  std::vector<std::pair<std::string, Tensor>> merged;
  for (const NamedTensor& p : model.parameters().all()) {
    const Tensor mine = p.tensor.to(kCPU);
    Tensor value = mine;
    if (p.name.rfind("cls.", 0) == 0 || !file.contains(p.name) || file.at(p.name).dtype() != mine.dtype()) {
      rep.fresh.push_back(p.name);
    } else if (file.at(p.name).shape() == mine.shape()) {
      value = file.at(p.name);
      rep.copied.push_back(p.name);
    } else if (p.name == "wpe.weight" && file.at(p.name).dim() == 2 && file.at(p.name).size(1) == mine.size(1)) {
      const Tensor& theirs = file.at(p.name);
      const int64_t D = mine.size(1), rows = std::min(theirs.size(0), mine.size(0));
      std::vector<float> v = mine.to_vector<float>(), w = theirs.to_vector<float>();
      std::copy(w.begin(), w.begin() + rows * D, v.begin());
      value = Tensor::from_vector(v, mine.shape());
      rep.cropped.push_back(p.name);
    } else {
      rep.fresh.push_back(p.name);
    }
    merged.emplace_back(p.name, value);
  }
  // Model::load copies the values in place and, when deep_active, freezes the deep experts' fc1.
  const bool deep = rep.deep_active || model.deep_active();
  write_safetensors(scratch, merged, {{"config", model.config().to_json().dump()}, {"deep_active", deep ? "true" : "false"}});
  model.load(scratch);
  std::error_code ec;
  fs::remove(scratch, ec);
  return rep;
}

namespace {

// The batch's examples cut to their longest real sequence.
struct Cut {
  Tensor tokens, labels, lengths;
  int64_t B = 0, T = 0;
};

Cut cut(const std::vector<int32_t>& tokens, const std::vector<int32_t>& labels, const std::vector<int32_t>& lengths,
        int64_t T_full) {
  Cut c;
  c.B = (int64_t)labels.size();
  for (int32_t n : lengths) c.T = std::max<int64_t>(c.T, n);
  std::vector<int32_t> t((size_t)(c.B * c.T));
  for (int64_t b = 0; b < c.B; ++b)
    std::copy_n(tokens.begin() + b * T_full, c.T, t.begin() + b * c.T);
  c.tokens = Tensor::from_vector(t, {c.B, c.T});
  c.labels = Tensor::from_vector(labels, {c.B});
  c.lengths = Tensor::from_vector(lengths, {c.B});
  return c;
}

std::vector<int32_t> argmax_rows(const Tensor& logits) {
  const int64_t B = logits.size(0), C = logits.size(1);
  std::vector<float> v = logits.to(kCPU).to_vector<float>();
  std::vector<int32_t> out((size_t)B);
  for (int64_t b = 0; b < B; ++b) {
    int64_t best = 0;
    for (int64_t c = 1; c < C; ++c)
      if (v[(size_t)(b * C + c)] > v[(size_t)(b * C + best)]) best = c;
    out[(size_t)b] = (int32_t)best;
  }
  return out;
}

// An evaluation's fields, named <split>_loss, <split>_accuracy, ... (the dev split's confusion
// matrix is "confusion").
nlohmann::json eval_json(const ClassifierEval& e, const std::string& split) {
  return {{split + "_loss", e.loss},         {split + "_accuracy", e.accuracy}, {split + "_f1", e.f1},
          {split + "_majority", e.majority}, {split + "_n", e.n},
          {split == "dev" ? std::string("confusion") : split + "_confusion", e.confusion}};
}

}  // namespace

ClassifierEval evaluate_classifier(Model& model, const data::ClassificationSet& set, int64_t batch) {
  const Config& cfg = model.config();
  DASG_CHECK(!cfg.causal, "evaluate_classifier: the model is causal; classification needs an encoder (causal false)");
  DASG_CHECK(set.size() > 0, "evaluate_classifier: the set is empty");
  DASG_CHECK(batch > 0, "evaluate_classifier: batch ", batch, "; expected > 0");
  const int64_t C = cfg.n_classes, N = set.size(), T = set.T;
  for (int32_t y : set.labels)
    DASG_CHECK(y >= 0 && y < C, "evaluate_classifier: label ", y, " outside 0..", C - 1);
  ClassifierEval e;
  e.n = N;
  e.confusion.assign((size_t)(C * C), 0);
  const bool was_training = model.training();
  model.train(false);
  NoGradGuard no_grad;
  double loss = 0;
  for (int64_t i = 0; i < N; i += batch) {
    const int64_t n = std::min(batch, N - i);
    std::vector<int32_t> tokens(set.tokens.begin() + i * T, set.tokens.begin() + (i + n) * T);
    std::vector<int32_t> labels(set.labels.begin() + i, set.labels.begin() + i + n);
    std::vector<int32_t> lengths(set.lengths.begin() + i, set.lengths.begin() + i + n);
    Cut c = cut(tokens, labels, lengths, T);
    ForwardResult r = model.forward(c.tokens, c.labels, c.lengths);
    loss += r.ce.item() * (double)n;
    std::vector<int32_t> pred = argmax_rows(r.logits);
    for (int64_t b = 0; b < n; ++b) e.confusion[(size_t)(labels[(size_t)b] * C + pred[(size_t)b])]++;
  }
  model.train(was_training);
  e.loss = loss / (double)N;
  int64_t correct = 0, most = 0;
  double f1_sum = 0;
  for (int64_t k = 0; k < C; ++k) {
    int64_t tp = e.confusion[(size_t)(k * C + k)], row = 0, col = 0;
    for (int64_t j = 0; j < C; ++j) row += e.confusion[(size_t)(k * C + j)], col += e.confusion[(size_t)(j * C + k)];
    correct += tp;
    most = std::max(most, row);
    const double f1 = row + col > 0 ? 2.0 * (double)tp / (double)(row + col) : 0.0;  // 2tp / (2tp + fp + fn)
    if (C == 2 && k == 1) e.f1 = f1;
    f1_sum += f1;
  }
  if (C != 2) e.f1 = f1_sum / (double)C;
  e.accuracy = (double)correct / (double)N;
  e.majority = (double)most / (double)N;
  return e;
}

namespace {

class ClassificationTask : public TrainTask {
 public:
  ClassificationTask(const ClassifierOptions& o, const data::ClassificationSet& train,
                     const data::ClassificationSet& dev, const data::ClassificationSet* test, ClassifierResult& result)
      : o_(o), dev_(dev), test_(test), result_(result), loader_(train, o.batch, o.seed, true) {}
  MicroBatch next() override {
    data::ClassBatch b = loader_.next();
    Cut c = cut(b.tokens, b.labels, b.lengths, b.T);
    int64_t real = 0;
    for (int32_t n : b.lengths) real += n;
    return {c.tokens, c.labels, c.lengths, real};
  }
  nlohmann::json loader_state() const override { return loader_.state(); }
  void restore_loader(const nlohmann::json& s) override { loader_.restore(s); }
  nlohmann::json evaluate(Model& model, int64_t step) override {
    const ClassifierEval e = evaluate_classifier(model, dev_, o_.eval_batch);
    result_.dev = e;
    if (result_.best_step == 0 || e.accuracy > result_.best_dev.accuracy) result_.best_dev = e, result_.best_step = step + 1;
    if (!o_.quiet)
      std::fprintf(stderr, "\nfinetune: dev accuracy %.4f, F1 %.4f, loss %.4f (majority %.4f)\n", e.accuracy, e.f1,
                   e.loss, e.majority);
    nlohmann::json rec = eval_json(e, "dev");
    if (test_ && step + 1 == o_.steps) {
      result_.test = evaluate_classifier(model, *test_, o_.eval_batch);
      rec.update(eval_json(result_.test, "test"));
    }
    return rec;
  }
  // The share of the micro-batch's sequences whose argmax is the label, on the device.
  std::vector<std::pair<std::string, Tensor>> batch_metrics(const MicroBatch& b, const ForwardResult& r) override {
    const Tensor pred = max(r.logits.detach(), 1).indices.to(r.logits.dtype());
    const Tensor label = b.targets.to(r.logits.device()).to(r.logits.dtype());
    const Tensor wrong = less(pred, label) + less(label, pred);
    return {{"train_accuracy", (1.0 - mean(wrong))}};
  }
  nlohmann::json extra_state() const override { return o_.extra_state; }

 private:
  const ClassifierOptions& o_;
  const data::ClassificationSet& dev_;
  const data::ClassificationSet* test_;
  ClassifierResult& result_;
  data::ClassLoader loader_;
};

}  // namespace

ClassifierResult train_classifier(const ClassifierOptions& o, const data::ClassificationSet& train,
                                  const data::ClassificationSet& dev, const data::ClassificationSet* test,
                                  const GradientHook& hook) {
  DASG_CHECK(!o.model.causal, "finetune: the model config is causal; classification needs an encoder (causal false)");
  DASG_CHECK(o.steps > 0 && o.batch > 0 && o.eval_batch > 0, "finetune: steps, batch and eval batch must be positive");
  DASG_CHECK(train.size() > 0 && dev.size() > 0 && (!test || test->size() > 0), "finetune: the train (", train.size(),
             "), dev (", dev.size(), ") or test (", test ? test->size() : 0, ") set is empty");
  const int64_t test_T = test ? test->T : 0;
  DASG_CHECK(train.T <= o.model.max_seq_len && dev.T <= o.model.max_seq_len && test_T <= o.model.max_seq_len,
             "finetune: sequences of ", train.T, "/", dev.T, "/", test_T, " tokens (train/dev/test) exceed the model's "
             "max_seq_len ", o.model.max_seq_len);
  for (int32_t y : train.labels)
    DASG_CHECK(y >= 0 && y < o.model.n_classes, "finetune: train label ", y, " outside 0..", o.model.n_classes - 1);
  for (int32_t t : train.tokens)
    DASG_CHECK(t >= 0 && t < o.model.vocab_size, "finetune: train token ", t, " outside the vocabulary 0..",
               o.model.vocab_size - 1);
  fs::create_directories(o.out_dir);
  ClassifierResult result;
  Model model(o.model, o.seed);
  if (!o.init_checkpoint.empty() && o.resume.empty())
    result.init = init_from_checkpoint(model, o.init_checkpoint, (fs::path(o.out_dir) / "init.safetensors.tmp").string());
  ClassificationTask task(o, train, dev, test, result);
  TrainResult r = run_training(o, model, task, hook);
  static_cast<TrainResult&>(result) = r;
  return result;
}

}  // namespace dasg
