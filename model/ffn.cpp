// Dense, Switch, DSMoE and DASG feed-forward layers (DESIGN §7.3, §7.5, §7.6).
#include "model/ffn.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/node.hpp"
#include "ops/compare.hpp"
#include "ops/dispatch.hpp"
#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/threshold.hpp"

namespace dasg {

RoutingSummary summarize_routing(const std::vector<float>& st, int64_t n_shallow, int64_t n_deep) {
  DASG_CHECK((int64_t)st.size() == kRoutingStats + n_shallow + n_deep, "summarize_routing: ", st.size(),
             " values; expected ", kRoutingStats + n_shallow + n_deep);
  RoutingSummary s;
  const double real = std::max<double>(st[kStatReal], 1.0);
  s.deep_rate = st[kStatDeep] / real;
  s.mean_C = st[kStatC] / real;
  s.mean_I = st[kStatI] / real;
  s.policy_entropy = st[kStatDecided] > 0 ? st[kStatEntropy] / st[kStatDecided] : 0.0;
  s.active_blocks = st[kStatActive] / real;
  s.dropped = st[kStatDropped] / real;
  auto loads = [&](int64_t begin, int64_t n) {
    std::vector<double> v((size_t)n, 0.0);
    double total = 0;
    for (int64_t e = 0; e < n; ++e) total += st[(size_t)(begin + e)];
    for (int64_t e = 0; e < n; ++e) v[(size_t)e] = total > 0 ? st[(size_t)(begin + e)] / total : 0.0;
    return v;
  };
  s.load_shallow = loads(kRoutingStats, n_shallow);
  s.load_deep = loads(kRoutingStats + n_shallow, n_deep);
  return s;
}

RoutingSummary LayerRouting::summary() const {
  return summarize_routing(stats.to(kCPU).to(DType::f32).to_vector<float>(), n_shallow_loads, n_deep_loads);
}

namespace {

double residual_std(const Config& cfg) { return 0.02 / std::sqrt(2.0 * cfg.n_layer); }

Tensor zero_scalar(const Tensor& like) { return Tensor::scalar(0, like.dtype(), like.device()); }

Tensor real_rows(const BatchInfo& b) { return reshape(b.real_mask, {b.N}); }

// y with its padded rows zeroed.
Tensor mask_padding(const Tensor& y, const BatchInfo& batch) { return batch.padded() ? y * batch.real_mask : y; }

// The record's stats vector: the counters the FFN measured (device scalars, or 0 when undefined)
// and the per-expert assignment counts.
Tensor routing_stats(const FfnInput& in, const Tensor& deep, const Tensor& decided, const Tensor& entropy,
                     const Tensor& active, double dropped, const std::vector<Tensor>& loads) {
  const BatchInfo& b = *in.batch;
  const Tensor zero = zero_scalar(in.x);
  auto one = [&](const Tensor& t) { return reshape(t.defined() ? t : zero, {1}); };
  std::vector<Tensor> parts = {Tensor::full({1}, (double)b.n_real, in.x.dtype(), in.x.device()),
                               one(deep), one(decided), one(entropy), one(sum(in.C)), one(sum(in.I)), one(active),
                               Tensor::full({1}, dropped, in.x.dtype(), in.x.device())};
  for (const Tensor& l : loads) parts.push_back(l.to(in.x.dtype()));
  return concat(parts, 0).detach();
}

FfnOutput start_output(const FfnInput& in) {
  FfnOutput out;
  out.balance = out.z = out.sparsity = zero_scalar(in.x);
  return out;
}

// keys + offset where a slot is dispatched (key >= 0), −1 elsewhere (i32).
Tensor offset_keys(const Tensor& keys, int64_t offset) {
  const Tensor k = keys.to(DType::f32), valid = greater(k, -0.5);
  return ((k + (double)offset) * valid + (valid - 1.0)).to(DType::i32);
}

// ---- dense ----------------------------------------------------------------------------------
class DenseFfn : public FeedForward {
 public:
  DenseFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen)
      : fc1_(Linear::make(p, prefix + ".fc1", cfg.d_ff, cfg.d_model, 0.02, gen)),
        fc2_(Linear::make(p, prefix + ".fc2", cfg.d_model, cfg.d_ff, residual_std(cfg), gen)) {}
  FfnOutput forward(const FfnInput& in) const override {
    FfnOutput out = start_output(in);
    const DType gm = in.batch->gemm;
    out.y = mask_padding(fc2_(fc1_.gelu(in.x, gm), gm), *in.batch);
    if (in.batch->aux) out.routing.stats = routing_stats(in, {}, {}, {}, {}, 0, {});
    return out;
  }

 private:
  Linear fc1_, fc2_;
};

// ---- switch ---------------------------------------------------------------------------------
class SwitchFfn : public FeedForward {
 public:
  SwitchFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen) : cfg_(cfg) {
    router_ = p.normal(prefix + ".router.weight", {cfg.moe.n_shallow, cfg.d_model}, 0.02, gen);
    for (int64_t e = 0; e < cfg.moe.n_shallow; ++e)
      experts_.push_back(ShallowExpert::make(p, prefix + ".experts." + std::to_string(e), cfg.d_model, cfg.moe.d_ff,
                                             residual_std(cfg), gen));
  }

  FfnOutput forward(const FfnInput& in) const override {
    const BatchInfo& b = *in.batch;
    const int64_t E = cfg_.moe.n_shallow;
    FfnOutput out = start_output(in);
    const Tensor real = real_rows(b);
    Routing r = route_top_k(in.x, router_, real, 1);
    // Capacity ⌈cf·N/E − 1e-9⌉, admitted position-major: (t, b) ascending.
    const int64_t cap = (int64_t)std::ceil(cfg_.moe.capacity_factor * (double)b.n_real / (double)E - 1e-9);
    std::vector<int32_t> visit;
    visit.reserve((size_t)b.N);
    for (int64_t t = 0; t < b.T; ++t)
      for (int64_t s = 0; s < b.B; ++s) visit.push_back((int32_t)(s * b.T + t));
    // group_by_key's one small device→host copy (the per-expert counts) sizes the expert GEMMs.
    KeyGroups g = group_by_key(r.keys, E, constant_tensor(visit, {b.N}, b.device), b.capacity ? cap : -1);
    const std::vector<int32_t>& kept = g.kept_host;
    const int64_t admitted = std::accumulate(kept.begin(), kept.end(), (int64_t)0);
    ExpertShards shards{in.exchange, {}};
    for (int64_t e = 0; in.exchange && e < E; ++e) shards.owner.push_back(expert_rank(e, E, in.exchange->size()));
    // Under mixed precision the rows are gathered (and exchanged) in bf16, the experts' operand.
    out.y = run_experts(Tensor::zeros(in.x.shape(), in.x.dtype(), in.x.device()), gemm_operand(in.x, b.gemm), g.rows,
                        g.slots, kept, r.weights,
                        [&](int64_t e, const Tensor& xe) { return experts_[(size_t)e](xe, b.gemm); }, &shards);
    if (!b.aux) return out;
    RouterLosses l = router_losses(r, real, g.counts, cfg_.moe.balance_coef, cfg_.moe.z_coef);
    out.balance = l.balance;
    out.z = l.z;
    out.routing.stats = routing_stats(in, {}, {}, {}, {}, (double)(b.n_real - admitted), {g.counts});
    out.routing.n_shallow_loads = E;
    return out;
  }

 private:
  Config cfg_;
  Tensor router_;
  std::vector<ShallowExpert> experts_;
};

// ---- dsmoe ----------------------------------------------------------------------------------
class DsmoeFfn : public FeedForward {
 public:
  DsmoeFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen)
      : cfg_(cfg),
        gate_(Linear::make(p, prefix + ".gate", cfg.dsmoe.blocks, cfg.d_model, 0.02, gen)),
        fc1_(Linear::make(p, prefix + ".fc1", cfg.d_ff, cfg.d_model, 0.02, gen)),
        fc2_(Linear::make(p, prefix + ".fc2", cfg.d_model, cfg.d_ff, residual_std(cfg), gen)) {}

  FfnOutput forward(const FfnInput& in) const override {
    const BatchInfo& b = *in.batch;
    const int64_t N = b.N, nb = cfg_.dsmoe.blocks, F = cfg_.d_ff, width = F / nb;
    FfnOutput out = start_output(in);
    Tensor h = fc1_.gelu(in.x, b.gemm, DType::f32);  // [N, F], every block computed; f32: gated below
    Tensor sigma = sigmoid(gate_(in.x));    // [N, blocks]; a router: f32 under mixed precision too
    Tensor S = hard_threshold(sigma, cfg_.dsmoe.threshold);  // forward G(σ), gradient of σ
    const Tensor active = greater(sigma.detach(), cfg_.dsmoe.threshold) * b.real_mask;  // [N, blocks]
    const Tensor n_active = sum(active, 1, true);                                      // [N, 1]
    const Tensor scale = Tensor::full({N, 1}, (double)nb, in.x.dtype(), in.x.device()) /
                         where(greater(n_active, 0.5), n_active, 1.0);
    std::vector<float> expand((size_t)(nb * F), 0.f);
    for (int64_t k = 0; k < nb; ++k)
      for (int64_t f = k * width; f < (k + 1) * width; ++f) expand[(size_t)(k * F + f)] = 1.f;
    // Σ_b S_b·o_b = W2·(h ⊙ S expanded over each block's columns).
    Tensor gated = h * matmul(S, constant_tensor(expand, {nb, F}, b.device).to(in.x.dtype()));
    Tensor y = linear(gemm_operand(gated, b.gemm), gemm_operand(fc2_.weight, b.gemm)) * scale + fc2_.bias;
    out.y = mask_padding(y, b);
    if (!b.aux) return out;
    // coef·mean over real tokens and blocks of σ·[σ > thr], divided by n_layer.
    const double denom = (double)std::max<int64_t>(b.n_real, 1) * (double)nb * (double)cfg_.n_layer;
    out.sparsity = sum(sigma * active) * (cfg_.dsmoe.sparsity_coef / denom);
    out.routing.stats = routing_stats(in, {}, {}, {}, sum(active) * (1.0 / (double)nb), 0, {});
    return out;
  }

 private:
  Config cfg_;
  Linear gate_, fc1_, fc2_;
};

}  // namespace

// ---- dasg -----------------------------------------------------------------------------------
DasgFfn::DasgFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen)
    : cfg_(cfg), tier_router_(cfg, p, prefix) {
  const MoeConfig& m = cfg.moe;
  router_shallow_ = p.normal(prefix + ".router.shallow.weight", {m.n_shallow, cfg.d_model}, 0.02, gen);
  router_deep_ = p.normal(prefix + ".router.deep.weight", {m.n_deep, cfg.d_model}, 0.02, gen);
  for (int64_t e = 0; e < m.n_shallow; ++e)
    shallow_.push_back(ShallowExpert::make(p, prefix + ".shallow." + std::to_string(e), cfg.d_model, m.d_ff, residual_std(cfg), gen));
  for (int64_t e = 0; e < m.n_shared; ++e)
    shared_.push_back(ShallowExpert::make(p, prefix + ".shared." + std::to_string(e), cfg.d_model, m.d_ff, residual_std(cfg), gen));
  for (int64_t e = 0; e < m.n_deep; ++e)
    deep_.push_back(DeepExpert::make(p, prefix + ".deep." + std::to_string(e), cfg.d_model, m.d_ff, m.d_ff_deep,
                                     residual_std(cfg), gen));
}

FfnOutput DasgFfn::forward(const FfnInput& in) const {
  const BatchInfo& b = *in.batch;
  const MoeConfig& m = cfg_.moe;
  FfnOutput out = start_output(in);
  TierDecision t = tier_router_.decide(in.x, in.C, in.I, in.has_context, b, in.deep_active);

  // Each tier routes every row with a mask of its own rows; before the transfer only the shallow.
  // Both tiers' slots are grouped in one pass (deep experts numbered after the shallow ones), so
  // the layer makes one small device→host copy: the per-expert counts sizing the expert GEMMs.
  const Tensor real = real_rows(b);
  const Tensor tier_rows[2] = {real - t.deep, t.deep};
  const Tensor routers[2] = {router_shallow_, router_deep_};
  const int tiers = in.deep_active ? 2 : 1;
  Routing r[2];
  std::vector<Tensor> keys, weights;
  for (int tier = 0; tier < tiers; ++tier) {
    const int64_t E = routers[tier].size(0), k = std::min(m.dynamic_k ? 2 : m.top_k, E);
    if (cfg_.adr.random)
      r[tier] = route_random(in.x, routers[tier], tier_rows[tier], std::min(m.top_k, E), *b.gen);
    else
      r[tier] = route_top_k(in.x, routers[tier], tier_rows[tier], k, m.dynamic_k ? greater(in.I, 0.5) : Tensor());
    keys.push_back(tier == 0 ? r[tier].keys : offset_keys(r[tier].keys, m.n_shallow));
    weights.push_back(reshape(r[tier].weights, {b.N, r[tier].k}));
  }
  const int64_t n_experts = m.n_shallow + (tiers == 2 ? m.n_deep : 0);
  const KeyGroups g = group_by_key(tiers == 2 ? concat(keys, 1) : keys[0], n_experts);
  const Tensor w = tiers == 2 ? reshape(concat(weights, 1), {-1, 1}) : r[0].weights;
  ExpertShards shards{in.exchange, {}};
  for (int64_t e = 0; in.exchange && e < n_experts; ++e)
    shards.owner.push_back(e < m.n_shallow ? expert_rank(e, m.n_shallow, in.exchange->size())
                                           : expert_rank(e - m.n_shallow, m.n_deep, in.exchange->size()));
  const Tensor xg = gemm_operand(in.x, b.gemm);  // the experts' operand: rows gathered in bf16 under mixed precision
  Tensor y = run_experts(Tensor::zeros(in.x.shape(), in.x.dtype(), in.x.device()), xg, g.rows, g.slots, g.kept_host, w,
                         [&](int64_t e, const Tensor& xe) {
                           return e < m.n_shallow ? shallow_[(size_t)e](xe, b.gemm)
                                                  : deep_[(size_t)(e - m.n_shallow)](xe, b.gemm);
                         }, &shards);
  for (const ShallowExpert& s : shared_) y = y + mask_padding(s(xg, b.gemm), b);
  out.y = y;
  if (!b.aux) return out;
  std::vector<Tensor> loads;
  for (int tier = 0; tier < tiers; ++tier) {
    const Tensor counts = tiers == 1 ? g.counts : slice(g.counts, 0, tier == 0 ? 0 : m.n_shallow, routers[tier].size(0));
    RouterLosses l = router_losses(r[tier], tier_rows[tier], counts, m.balance_coef, m.z_coef);
    out.balance = out.balance + l.balance;
    out.z = out.z + l.z;
    loads.push_back(counts);
  }
  if (tiers == 1) loads.push_back(Tensor::zeros({m.n_deep}, DType::i32, in.x.device()));

  LayerRouting& lr = out.routing;
  lr.s = reshape(t.score, {b.B, b.T});
  lr.pi = reshape(t.pi, {b.B, b.T});
  lr.tier = reshape(t.deep, {b.B, b.T});
  lr.raw = t.raw.detach();
  lr.counted = t.counted;
  lr.sampled = t.sampled;
  lr.deep = t.deep;
  lr.log_prob = t.log_prob;
  lr.stats = routing_stats(in, sum(t.deep), sum(t.decided), t.entropy_sum, {}, 0, loads);
  lr.n_shallow_loads = m.n_shallow;
  lr.n_deep_loads = m.n_deep;
  return out;
}

void DasgFfn::transfer(bool freeze_only) {
  NoGradGuard no_grad;
  const int64_t ns = cfg_.moe.n_shallow;
  auto copy = [](const Tensor& dst, const Tensor& src) { dst.detach().copy_from(src.detach()); };
  if (!freeze_only) {
    for (int64_t e = 0; e < cfg_.moe.n_deep; ++e) {
      const ShallowExpert& parent = shallow_[(size_t)(e % ns)];
      DeepExpert& child = deep_[(size_t)e];
      if (child.fc1.weight.released()) continue;  // another rank's expert (expert parallel): copied there
      copy(child.fc1.weight, parent.fc1.weight);
      copy(child.fc1.bias, parent.fc1.bias);
      copy(child.fc4.weight, parent.fc2.weight);
      copy(child.fc4.bias, parent.fc2.bias);
      child.fc3.weight.detach().zero_();
      child.fc3.bias.detach().zero_();
    }
    // Row e of the deep router ← row (e mod n_shallow) of the shallow one, on the device.
    std::vector<int32_t> parent_rows((size_t)cfg_.moe.n_deep);
    for (int64_t e = 0; e < cfg_.moe.n_deep; ++e) parent_rows[(size_t)e] = (int32_t)(e % ns);
    copy(router_deep_, index_select(router_shallow_.detach(),
                                    constant_tensor(parent_rows, {cfg_.moe.n_deep}, router_shallow_.device())));
  }
  for (DeepExpert& child : deep_) {
    child.fc1.weight.requires_grad_(false);
    child.fc1.bias.requires_grad_(false);
  }
}

std::unique_ptr<FeedForward> make_ffn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen) {
  if (cfg.ffn == "dense") return std::make_unique<DenseFfn>(cfg, p, prefix, gen);
  if (cfg.ffn == "switch") return std::make_unique<SwitchFfn>(cfg, p, prefix, gen);
  if (cfg.ffn == "dsmoe") return std::make_unique<DsmoeFfn>(cfg, p, prefix, gen);
  return std::make_unique<DasgFfn>(cfg, p, prefix, gen);
}

}  // namespace dasg
