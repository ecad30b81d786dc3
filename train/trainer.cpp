// The language-model training loop (see trainer.hpp).
#include "train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/node.hpp"
#include "data/loader.hpp"
#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "train/checkpoint.hpp"
#include "train/metrics.hpp"
#include "train/optimizer.hpp"

namespace fs = std::filesystem;

namespace dasg {

// Weight decay applies to matrices only: not to norms, biases, the policy vectors, embeddings.
std::vector<NamedParam> optimizer_params(const Parameters& params) {
  std::vector<NamedParam> out;
  for (const NamedTensor& t : params.all()) {
    if (t.buffer) continue;
    bool embedding = t.name == "wte.weight" || t.name == "wpe.weight";
    out.push_back({t.name, t.tensor, t.tensor.dim() >= 2 && !embedding});
  }
  return out;
}

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
  double total = 0;
  int64_t n = 0;
  while ((batches == 0 || n < batches) && val.next(b)) {
    ForwardResult r = model.forward(Tensor::from_vector(b.inputs, {b.B, b.T}), Tensor::from_vector(b.targets, {b.B, b.T}));
    total += r.ce.item();
    ++n;
  }
  model.train(was_training);
  DASG_CHECK(n > 0, "evaluate: the val split of '", data_dir, "' holds no full batch of ", B, "x", T,
             " tokens; use a smaller --batch or --seq-len");
  return total / (double)n;
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, const Parameters& params) {
  if (o.optimizer == "adamw") return std::make_unique<AdamW>(optimizer_params(params), AdamWOptions{0.9, 0.95, 1e-8, o.weight_decay});
  if (o.optimizer == "sgd") return std::make_unique<SGD>(optimizer_params(params), SGDOptions{o.momentum, o.weight_decay});
  DASG_FAIL("train: optimizer '", o.optimizer, "'; expected adamw or sgd");
}

Tensor tokens_tensor(const std::vector<int32_t>& v, int64_t B, int64_t T) { return Tensor::from_vector(v, {B, T}); }

}  // namespace

TrainResult train_language_model(const TrainOptions& o, const GradientHook& hook) {
  DASG_CHECK(o.model.causal, "train: the model config is an encoder (causal false); language-model training "
             "needs a causal model (use `dasg finetune` for classification)");
  DASG_CHECK(o.steps > 0 && o.batch > 0 && o.grad_accum > 0, "train: steps, batch and grad_accum must be positive");
  const int64_t T = o.seq_len > 0 ? o.seq_len : o.model.max_seq_len;
  DASG_CHECK(T <= o.model.max_seq_len, "train: seq_len ", T, " exceeds the model's max_seq_len ", o.model.max_seq_len);
  fs::create_directories(o.out_dir);
  TrainResult result;
  result.checkpoint_dir = (fs::path(o.out_dir) / "checkpoint").string();
  result.metrics_path = (fs::path(o.out_dir) / "metrics.jsonl").string();

  Model model(o.model, o.seed);
  std::unique_ptr<Optimizer> opt = make_optimizer(o, model.parameters());
  data::TokenLoader loader(o.data_dir, "train", {o.batch, T, o.model.vocab_size, o.seed, true});
  int64_t start = 0, skipped = 0;
  if (!o.resume.empty()) {
    std::string dir = checkpoint_path(o.resume);
    model.load((fs::path(dir) / "model.safetensors").string());
    Checkpoint c = load_checkpoint(o.resume);
    opt->load_state(c.optim, c.optim_steps);
    start = c.state.at("step");
    skipped = c.state.at("skipped_steps");
    loader.restore(c.state.at("loader"));
    model.generator().set_state(c.state.at("rng").at("seed"), c.state.at("rng").at("offset"));
    restore_adr_state(model, c.state.at("adr"));
    DASG_CHECK(start <= o.steps, "train: the checkpoint in '", o.resume, "' is at step ", start, ", past --steps ", o.steps);
  }
  const bool dasg = o.model.ffn == "dasg";
  const int64_t transfer_at = o.model.dsse_transfer_step(o.steps);

  auto save = [&](int64_t next_step) {
    Checkpoint c;
    c.model = model.parameters().state_dict();
    c.model_metadata = {{"config", o.model.to_json().dump()}, {"deep_active", model.deep_active() ? "true" : "false"}};
    c.optim = opt->state();
    c.optim_steps = opt->steps();
    c.state = {{"step", next_step},
               {"skipped_steps", skipped},
               {"config", o.model.to_json()},
               {"loader", loader.state()},
               {"rng", {{"seed", model.generator().seed()}, {"offset", model.generator().offset()}}},
               {"adr", adr_state_json(model)}};
    save_checkpoint(result.checkpoint_dir, c);
  };

  MetricsLog metrics(result.metrics_path, start > 0);
  Progress progress(start, o.steps);
  int64_t bad_in_row = 0;
  double loss_value = 0;
  model.train(true);
  for (int64_t step = start; step < o.steps; ++step) {
    if (dasg && !model.deep_active() && step >= transfer_at) model.transfer_dsse();
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = learning_rate(step, o.warmup, o.steps, o.lr, o.min_lr);
    opt->zero_grad();
    double loss_sum = 0, ce = 0, balance = 0, z = 0, policy = 0, sparsity = 0;
    std::vector<LayerRouting> routing;
    for (int64_t micro = 0; micro < o.grad_accum; ++micro) {
      data::Batch b = loader.next();
      ForwardResult r = model.forward(tokens_tensor(b.inputs, b.B, b.T), tokens_tensor(b.targets, b.B, b.T));
      (r.loss * (1.0 / (double)o.grad_accum)).backward();
      loss_sum += r.loss.item();
      ce += r.ce.item();
      balance += r.balance.item();
      z += r.z.item();
      policy += r.policy.item();
      sparsity += r.sparsity.item();
      routing = std::move(r.layers);
    }
    if (hook) hook(step, opt->params());
    const double k = 1.0 / (double)o.grad_accum;
    loss_value = loss_sum * k;
    const double norm = clip_grad_norm(opt->params(), o.grad_clip);
    if (!std::isfinite(loss_value) || !std::isfinite(norm)) {
      ++skipped;
      model.discard_step();
      std::fprintf(stderr, "train: step %lld skipped: non-finite %s (%lld in a row, %lld in all)\n", (long long)step,
                   std::isfinite(loss_value) ? "gradient" : "loss", (long long)++bad_in_row, (long long)skipped);
      metrics.write({{"step", step}, {"skipped", true}, {"loss", std::isfinite(loss_value) ? loss_value : -1.0}});
      DASG_CHECK(bad_in_row < o.max_bad_steps, "train: stopped after ", bad_in_row, " non-finite steps in a row (step ",
                 step, "); the last checkpoint in '", result.checkpoint_dir, "' is intact — lower --lr or "
                 "--grad-clip and resume from it");
      continue;
    }
    bad_in_row = 0;
    opt->step(lr);
    model.end_step();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tok_s = (double)(o.batch * T * o.grad_accum) / dt;
    nlohmann::json rec = {{"step", step},         {"loss", loss_value}, {"ce", ce * k},
                          {"balance", balance * k}, {"z", z * k},         {"policy", policy * k},
                          {"sparsity", sparsity * k}, {"lr", lr},         {"grad_norm", norm},
                          {"tokens_per_s", tok_s},  {"skipped_steps", skipped}};
    nlohmann::json deep = nlohmann::json::array(), entropy = nlohmann::json::array();
    for (const LayerRouting& l : routing) {
      deep.push_back(l.deep_rate);
      entropy.push_back(l.policy_entropy);
    }
    rec["deep_rate"] = deep;
    rec["policy_entropy"] = entropy;
    metrics.write(rec);
    if (!o.quiet) progress.update(step, loss_value, tok_s);

    const bool last = step + 1 == o.steps;
    if ((o.eval_every > 0 && (step + 1) % o.eval_every == 0) || last) {
      double val = evaluate_lm(model, o.data_dir, o.batch, T, o.eval_batches);
      result.final_val_loss = val;
      metrics.write({{"step", step}, {"eval", true}, {"val_loss", val}, {"val_ppl", std::exp(val)}});
    }
    if ((o.ckpt_every > 0 && (step + 1) % o.ckpt_every == 0) || last) save(step + 1);
  }
  if (!o.quiet) progress.finish();
  result.steps_done = o.steps - start;
  result.skipped_steps = skipped;
  result.final_train_loss = loss_value;
  return result;
}

}  // namespace dasg
