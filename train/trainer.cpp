// The training loop shared by `dasg train` and `dasg finetune` (see trainer.hpp).
#include "train/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "autograd/node.hpp"
#include "model/config_size.hpp"
#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "ops/shape.hpp"
#include "train/checkpoint.hpp"
#include "train/data_parallel.hpp"
#include "train/expert_parallel.hpp"
#include "train/metrics.hpp"
#include "train/optimizer.hpp"
#include "train/router_state.hpp"

namespace fs = std::filesystem;

namespace dasg {

TrainOptions finetune_defaults() {
  TrainOptions o;
  o.batch = 32;
  o.lr = 1e-3;
  o.warmup = 50;
  o.weight_decay = 0.01;
  o.eval_every = 200;
  o.ckpt_every = 200;
  return o;
}

// Weight decay applies to matrices only: not to norms, biases, the policy vectors, embeddings.
std::vector<NamedParam> optimizer_params(const Parameters& params) {
  std::vector<NamedParam> out;
  for (const NamedTensor& t : params.all()) {
    if (t.buffer || t.tensor.released()) continue;
    bool embedding = t.name == "wte.weight" || t.name == "wpe.weight";
    out.push_back({t.name, t.tensor, t.tensor.dim() >= 2 && !embedding});
  }
  return out;
}

namespace {

std::unique_ptr<Optimizer> make_optimizer(const TrainOptions& o, const Parameters& params) {
  if (o.optimizer == "adamw")
    return std::make_unique<AdamW>(optimizer_params(params), AdamWOptions{o.beta1, o.beta2, o.adam_eps, o.weight_decay});
  if (o.optimizer == "sgd") return std::make_unique<SGD>(optimizer_params(params), SGDOptions{o.momentum, o.weight_decay});
  DASG_FAIL("train: optimizer '", o.optimizer, "'; expected adamw or sgd");
}

Tensor one(const Tensor& t) { return reshape(t, {1}); }

// The step's device-side sums, read back once: [loss, ce, balance, z, policy, sparsity], the
// task's batch metrics, then every layer's routing counters.
struct StepSums {
  std::vector<Tensor> terms;                 // summed over micro-batches
  std::vector<Tensor> layers;                // routing stats per layer, summed
  std::vector<std::string> metric_names;
  void add(std::vector<Tensor> t, const ForwardResult& r) {
    if (terms.empty()) {
      terms = std::move(t);
      for (const LayerRouting& l : r.layers) layers.push_back(l.stats);
      return;
    }
    for (size_t k = 0; k < terms.size(); ++k) terms[k] = terms[k] + t[k];
    for (size_t l = 0; l < layers.size(); ++l) layers[l] = layers[l] + r.layers[l].stats;
  }
};

}  // namespace

TrainResult run_training(const TrainOptions& o, Model& model, TrainTask& task, const GradientHook& hook) {
  DASG_CHECK(o.steps > 0 && o.batch > 0 && o.grad_accum > 0, "train: steps, batch and grad_accum must be positive");
  const std::shared_ptr<dist::Communicator> comm_ptr = o.comm ? o.comm : dist::single_process();
  dist::Communicator& comm = *comm_ptr;
  const int rank = comm.rank(), world = comm.size();
  const bool lead = rank == 0;  // rank 0 writes the checkpoints and metrics, and reports
  const Device device = rank_device(o.device, comm);
  require_device(device);
  if (lead) fs::create_directories(o.out_dir);
  TrainResult result;
  result.checkpoint_dir = (fs::path(o.out_dir) / "checkpoint").string();
  result.metrics_path = (fs::path(o.out_dir) / "metrics.jsonl").string();

  const Config& cfg = model.config();
  RouterState router(cfg);
  Generator gen(o.seed ^ 0x9E3779B97F4A7C15ull);  // dropout, tier sampling, adr.random
  int64_t start = 0, skipped = 0;
  Checkpoint resumed;
  if (!o.resume.empty()) {
    resumed = load_checkpoint(o.resume, o.reset_optimizer);  // validated; DIR.old when DIR is damaged
    const Checkpoint& c = resumed;
    model.load((fs::path(c.dir) / "model.safetensors").string());
    if (o.reset_optimizer)
      std::fprintf(stderr, "train: --reset-optimizer: the optimizer moments of '%s' are not read; they start at zero\n",
                   c.dir.c_str());
    start = c.train.step;
    skipped = c.train.skipped_steps;
    task.restore_loader(c.train.loader);
    gen.set_state(c.train.rng_seed, c.train.rng_offset);
    router.from_json(c.train.adr);
    DASG_CHECK(start <= o.steps, "train: the checkpoint in '", o.resume, "' is at step ", start, ", past --steps ", o.steps);
  }
  broadcast_parameters(comm, model);  // every rank starts from rank 0's parameters
  // Expert parallel: this rank holds, trains and does not all-reduce its own experts; the other
  // ranks' are released before the model moves to its device (expert_parallel.hpp).
  const bool ep = o.expert_parallel;
  if (ep) {
    model.set_expert_exchange(comm_exchange(comm_ptr));
    keep_own_experts(comm, model);
  }
  model.to(device);
  model.set_precision(parse_precision(o.precision));
  std::unique_ptr<Optimizer> opt = make_optimizer(o, model.parameters());  // the parameters held here
  if (!o.resume.empty() && !o.reset_optimizer)
    opt->load_state(ep ? held_state(model, resumed.optim) : resumed.optim, resumed.optim_steps);
  resumed = Checkpoint();  // its tensors are the model's and optimizer's now
  const ExpertSplit split = ep ? split_experts(model, opt->params(), comm) : ExpertSplit{opt->params(), {}};
  if (world > 1 && lead)
    std::fprintf(stderr, "train: data parallel over %d ranks (%s): global batch %lld sequences = %d ranks x --batch "
                 "%lld x --grad-accum %lld\n", world, comm.backend().c_str(), (long long)(world * o.batch * o.grad_accum),
                 world, (long long)o.batch, (long long)o.grad_accum);
  if (ep && lead) {
    std::fprintf(stderr, "train: expert parallel: each rank runs %lld of the %lld %s experts%s of every layer\n",
                 (long long)(cfg.moe.n_shallow / world), (long long)cfg.moe.n_shallow,
                 cfg.ffn == "dasg" ? "shallow" : "switch",
                 cfg.ffn == "dasg" ? (" and " + std::to_string(cfg.moe.n_deep / world) + " of the " +
                                      std::to_string(cfg.moe.n_deep) + " deep").c_str() : "");
    std::fprintf(stderr, "train: expert parallel: rank 0 holds %lld of the model's %lld parameters\n",
                 (long long)model.parameters().count(false, true), (long long)model.parameters().count());
  }

  // `gathered`: the expert-parallel run's whole state (gather_experts), else the model's and optimizer's.
  auto save = [&](int64_t next_step, GatheredState* gathered) {
    Checkpoint c;
    c.model = gathered ? std::move(gathered->model) : model.parameters().state_dict();
    c.model_metadata = {{"config", cfg.to_json().dump()}, {"deep_active", model.deep_active() ? "true" : "false"}};
    c.optim = gathered ? std::move(gathered->optim) : opt->state();
    c.optim_steps = opt->steps();
    c.state = {{"step", next_step},
               {"skipped_steps", skipped},
               {"config", cfg.to_json()},
               {"loader", task.loader_state()},
               {"rng", {{"seed", gen.seed()}, {"offset", gen.offset()}}},
               {"adr", router.to_json()}};
    if (!task.extra_state().is_null()) c.state["task"] = task.extra_state();
    save_checkpoint(result.checkpoint_dir, c);
  };

  check_memory_fits(estimate_memory(cfg, o.batch, o.seq_len > 0 ? o.seq_len : cfg.max_seq_len,
                                    o.optimizer == "adamw" ? 2 : 1), "train");
  // Only rank 0 writes metrics (the default-constructed log writes nothing).
  std::unique_ptr<MetricsLog> metrics_file =
      lead ? std::make_unique<MetricsLog>(result.metrics_path, start > 0, o.tensorboard ? o.out_dir : "", start)
           : std::make_unique<MetricsLog>();
  MetricsLog& metrics = *metrics_file;
  // A resumed run says so: the records before this one at `start` and later (what an interrupted
  // run wrote past its checkpoint) are superseded by the ones that follow.
  if (start > 0) metrics.write({{"step", start}, {"resumed", true}});
  // After step `step` (trained or skipped): the periodic evaluation and checkpoint, and both at the last step.
  auto evaluate_and_save = [&](int64_t step) {
    const bool last = step + 1 == o.steps;
    const bool eval = (o.eval_every > 0 && (step + 1) % o.eval_every == 0) || last;
    const bool ckpt = (o.ckpt_every > 0 && (step + 1) % o.ckpt_every == 0) || last;
    if (eval) {
      // Expert parallel: every rank evaluates the same batches, its tokens going to their experts' ranks.
      nlohmann::json e = task.evaluate(model, step);
      if (!e.is_null()) {
        e["step"] = step;
        e["eval"] = true;
        metrics.write(e);
        result.last_eval = e;
        if (e.contains("val_loss")) result.final_val_loss = e["val_loss"];
      }
    }
    if (ckpt) {
      if (ep) {  // gathering the experts and their optimizer state is a collective
        GatheredState whole = gather_experts(comm, model, *opt);
        if (lead) save(step + 1, &whole);
      } else if (lead) {
        save(step + 1, nullptr);
      }
      result.checkpoint_written = last;
    }
  };

  int64_t done = 0;  // steps of this invocation that updated the model
  Progress progress(start, o.steps);
  int64_t bad_in_row = 0;
  double loss_value = 0;
  // Each of the step's J = world·grad_accum micro-batches contributes (its loss)/J.
  const int64_t J = world * o.grad_accum;
  const double k = 1.0 / (double)J;
  model.train(true);
  for (int64_t step = start; step < o.steps; ++step) {
    // The DSSE transfer: deep e copies shallow e mod n_shallow, which may be another rank's.
    const bool share = ep && router.transfers_at(model, step, o.steps);
    if (share) share_experts(comm, model, ".ffn.shallow.");
    router.begin_step(model, step, o.steps);
    if (share) keep_own_experts(comm, model);
    const auto t0 = std::chrono::steady_clock::now();
    const double lr = learning_rate(step, o.warmup, o.steps, o.lr, o.min_lr_value());
    opt->zero_grad();
    StepSums sums;
    int64_t tokens = 0;
    const MicroBatchStreams streams(gen);
    uint64_t last_drawn = 0;  // random blocks drawn by the step's last micro-batch, if it ran here
    // With several ranks the gradients' all-reduce starts bucket by bucket during the last backward.
    std::unique_ptr<OverlappedGradients> reduce;
    if (world > 1) {
      std::vector<NamedParam> reached;  // not the deep tier before the DSSE transfer: no rank has its gradients
      for (const NamedParam& p : split.replicated)
        if (model.reachable(p.name)) reached.push_back(p);
      reduce = std::make_unique<OverlappedGradients>(comm, reached, comm.bucket_bytes());
    }
    for (int64_t micro = 0; micro < o.grad_accum; ++micro) {
      // Global micro-batch j: the j-th batch of the data order, the j-th random stream.
      const int64_t j = micro * world + rank;
      MicroBatch b;
      for (int p = 0; p < world; ++p) {
        MicroBatch x = task.next();
        if (p == rank) b = std::move(x);
      }
      streams.begin(gen, j);
      ForwardResult r = model.forward(b.tokens, b.targets, b.lengths, gen);
      const uint64_t drawn = streams.drawn(gen, j);
      if (j == J - 1) last_drawn = drawn;
      const Tensor policy = router.policy_loss(r);
      const Tensor total = r.loss + policy;
      if (reduce && micro == o.grad_accum - 1)
        backward_with_hook(total * k, Tensor(), false, reduce->hook());
      else
        (total * k).backward();
      std::vector<Tensor> t = {one(total), one(r.ce), one(r.balance), one(r.z), one(policy), one(r.sparsity)};
      std::vector<std::pair<std::string, Tensor>> extra = task.batch_metrics(b, r);
      if (sums.terms.empty())
        for (const auto& [name, v] : extra) sums.metric_names.push_back(name);
      for (const auto& [name, v] : extra) t.push_back(one(v.detach()));
      sums.add(std::move(t), r);
      tokens += b.n_tokens;
    }
    if (hook) hook(step, opt->params());
    if (reduce) reduce->finish();  // Σ over ranks of (loss/J)'s gradients: the global mean's
    // The step's one read-back before the update: loss terms, metrics, ‖g‖, routing counters.
    std::vector<double> h;
    {
      NoGradGuard no_grad;
      std::vector<Tensor> pack = sums.terms;
      pack.push_back(one(grad_norm(split.replicated, device).to(DType::f32)));
      if (ep) pack.push_back(one(grad_norm(split.own_experts, device).to(DType::f32)));
      for (const Tensor& s : sums.layers) pack.push_back(s);
      h = concat(pack, 0).to(DType::f64).to(kCPU).to_vector<double>();
    }
    const size_t n_terms = sums.terms.size();
    // Summed over ranks: the terms and counters; ‖g‖ (of the already summed gradients) is rank 0's,
    // so every rank clips and guards by the same number; then the step's tokens and random draws.
    h.push_back((double)tokens);
    h.push_back((double)last_drawn);
    if (ep) {  // ‖g‖² = ‖replicated‖² + Σ over ranks of ‖own experts‖²
      h[n_terms + 1] *= h[n_terms + 1];
    }
    if (world > 1) {
      if (!lead) h[n_terms] = 0;
      comm.all_reduce_sum(h);
    }
    if (ep) {
      h[n_terms] = std::sqrt(h[n_terms] * h[n_terms] + h[n_terms + 1]);
      h.erase(h.begin() + (int64_t)n_terms + 1);
    }
    last_drawn = (uint64_t)h.back();
    tokens = (int64_t)h[h.size() - 2];
    h.resize(h.size() - 2);
    streams.end(gen, J, last_drawn);
    loss_value = h[0] * k;
    const double norm = h[n_terms];
    if (!std::isfinite(loss_value) || !std::isfinite(norm)) {
      ++skipped;
      router.discard_step();
      ++bad_in_row;
      if (lead)
        std::fprintf(stderr, "train: step %lld skipped: non-finite %s (%lld in a row, %lld in all)\n", (long long)step,
                     std::isfinite(loss_value) ? "gradient" : "loss", (long long)bad_in_row, (long long)skipped);
      metrics.write({{"step", step}, {"skipped", true}, {"loss", std::isfinite(loss_value) ? loss_value : -1.0}});
      DASG_CHECK(bad_in_row < o.max_bad_steps, "train: stopped after ", bad_in_row, " non-finite steps in a row (step ",
                 step, "); the last checkpoint in '", result.checkpoint_dir, "' is intact — lower --lr or "
                 "--grad-clip and resume from it");
      if (done > 0) evaluate_and_save(step);  // a skipped last step still ends the run evaluated and saved
      continue;
    }
    bad_in_row = 0;
    ++done;
    if (o.grad_clip > 0 && norm > o.grad_clip) scale_gradients(opt->params(), o.grad_clip / (norm + 1e-6));
    opt->step(lr);
    router.end_step(model, &comm);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double tok_s = (double)tokens / dt;
    nlohmann::json rec = {{"step", step},         {"loss", loss_value},        {"ce", h[1] * k},
                          {"balance", h[2] * k},  {"z", h[3] * k},             {"policy", h[4] * k},
                          {"sparsity", h[5] * k}, {"lr", lr},                  {"grad_norm", norm},
                          {"tokens_per_s", tok_s}, {"skipped_steps", skipped}};
    for (size_t m = 0; m < sums.metric_names.size(); ++m) rec[sums.metric_names[m]] = h[6 + m] * k;
    nlohmann::json deep = nlohmann::json::array(), entropy = nlohmann::json::array(), reward = nlohmann::json::array(),
                   baseline = nlohmann::json::array(), load_s = nlohmann::json::array(), load_d = nlohmann::json::array(),
                   active = nlohmann::json::array();
    size_t at = n_terms + 1;
    const std::vector<double> b = router.baselines();
    for (size_t l = 0; l < sums.layers.size(); ++l) {
      const int64_t n = sums.layers[l].numel();
      const std::vector<float> st(h.begin() + (int64_t)at, h.begin() + (int64_t)at + n);
      at += (size_t)n;
      const int64_t ns = cfg.ffn == "dense" || cfg.ffn == "dsmoe" ? 0 : cfg.moe.n_shallow;
      const RoutingSummary s = summarize_routing(st, ns, n - kRoutingStats - ns);
      deep.push_back(s.deep_rate);
      entropy.push_back(s.policy_entropy);
      reward.push_back(router.mean_reward()[l]);
      baseline.push_back(b[l]);
      load_s.push_back(s.load_shallow);
      load_d.push_back(s.load_deep);
      active.push_back(s.active_blocks);
    }
    rec["deep_rate"] = deep;
    rec["policy_entropy"] = entropy;
    if (cfg.ffn == "dasg") {
      rec["mean_reward"] = reward;
      rec["baseline"] = baseline;
      rec["load_deep"] = load_d;
    }
    if (cfg.ffn == "dasg" || cfg.ffn == "switch") rec["load_shallow"] = load_s;
    if (cfg.ffn == "dsmoe") rec["active_blocks"] = active;
    metrics.write(rec);
    if (!o.quiet && lead) progress.update(step, loss_value, tok_s);

    evaluate_and_save(step);
  }
  DASG_CHECK(done > 0 || start == o.steps, "train: every one of the ", o.steps - start, " steps from step ", start,
             " was skipped as non-finite; nothing was trained, no checkpoint was written and nothing was evaluated");
  if (!o.quiet && lead) progress.finish();
  result.steps_done = o.steps - start;
  result.skipped_steps = skipped;
  result.final_train_loss = loss_value;
  return result;
}

}  // namespace dasg
