// Dense, Switch, DSMoE and DASG feed-forward layers (DESIGN §7.3, §7.5, §7.6).
#include "model/ffn.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/threshold.hpp"

namespace dasg {

namespace {

double residual_std(const Config& cfg) { return 0.02 / std::sqrt(2.0 * cfg.n_layer); }

Tensor zero_scalar(const Tensor& like) { return Tensor::scalar(0, like.dtype(), like.device()); }

// y with its padded rows zeroed.
Tensor mask_padding(const Tensor& y, const BatchInfo& batch) { return batch.padded() ? y * batch.real_mask : y; }

// The rows of x that are real (x itself without padding).
Tensor real_rows_of(const Tensor& x, const BatchInfo& batch) {
  return batch.padded() ? index_select(x, constant_tensor(batch.real_rows, {batch.n_real()}, x.device())) : x;
}

// The dump's [B, T] tensor of per-row values.
Tensor rows_tensor(const std::vector<float>& v, const BatchInfo& batch) {
  return constant_tensor(v, {batch.B, batch.T}, batch.device);
}

void mean_statistics(const FfnInput& in, LayerRouting& r) {
  const BatchInfo& b = *in.batch;
  for (int32_t row : b.real_rows) r.mean_C += in.C[(size_t)row], r.mean_I += in.I[(size_t)row];
  r.mean_C /= (double)std::max<int64_t>(b.n_real(), 1);
  r.mean_I /= (double)std::max<int64_t>(b.n_real(), 1);
}

FfnOutput start_output(const FfnInput& in) {
  FfnOutput out;
  out.balance = out.z = out.sparsity = zero_scalar(in.x);
  mean_statistics(in, out.routing);
  return out;
}

// ---- dense ----------------------------------------------------------------------------------
class DenseFfn : public FeedForward {
 public:
  DenseFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen)
      : fc1_(Linear::make(p, prefix + ".fc1", cfg.d_ff, cfg.d_model, 0.02, gen)),
        fc2_(Linear::make(p, prefix + ".fc2", cfg.d_model, cfg.d_ff, residual_std(cfg), gen)) {}
  FfnOutput forward(const FfnInput& in, Generator&) const override {
    FfnOutput out = start_output(in);
    out.y = mask_padding(fc2_(gelu(fc1_(in.x))), *in.batch);
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

  FfnOutput forward(const FfnInput& in, Generator&) const override {
    const BatchInfo& b = *in.batch;
    const int64_t E = cfg_.moe.n_shallow, Nr = b.n_real();
    FfnOutput out = start_output(in);
    Routing r = route_top_k(real_rows_of(in.x, b), router_, std::vector<int32_t>((size_t)Nr, 1), cfg_.moe.balance_coef,
                            cfg_.moe.z_coef);
    // Capacity ⌈cf·N/E − 1e-9⌉, admitted position-major: (t, b) ascending.
    const int64_t cap = (int64_t)std::ceil(cfg_.moe.capacity_factor * (double)Nr / (double)E - 1e-9);
    std::vector<int64_t> order((size_t)Nr);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t c) {
      return b.real_rows[(size_t)a] % b.T < b.real_rows[(size_t)c] % b.T;
    });
    std::vector<uint8_t> admitted((size_t)Nr, 1);
    std::vector<int64_t> used((size_t)E, 0);
    int64_t dropped = 0;
    if (in.capacity)
      for (int64_t i : order) {
        const int32_t e = r.expert[(size_t)i];
        if (used[(size_t)e] < cap) {
          ++used[(size_t)e];
        } else {
          admitted[(size_t)i] = 0;
          ++dropped;
        }
      }
    Dispatch d = group_by_expert(r, b.real_rows, E, [&](int64_t token, int64_t) { return admitted[(size_t)token] != 0; });
    out.y = run_experts(Tensor::zeros(in.x.shape(), in.x.dtype(), in.x.device()), in.x, d, r.weights,
                        [&](int64_t e, const Tensor& xe) { return experts_[(size_t)e](xe); });
    out.balance = r.balance;
    out.z = r.z;
    out.routing.load_shallow = r.load;
    out.routing.dropped = (double)dropped / (double)std::max<int64_t>(Nr, 1);
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

  FfnOutput forward(const FfnInput& in, Generator&) const override {
    const BatchInfo& b = *in.batch;
    const int64_t N = b.N, nb = cfg_.dsmoe.blocks, F = cfg_.d_ff, width = F / nb;
    const double thr = cfg_.dsmoe.threshold;
    FfnOutput out = start_output(in);
    Tensor h = gelu(fc1_(in.x));                 // [N, F], every block computed
    Tensor sigma = sigmoid(gate_(in.x));         // [N, blocks]
    Tensor S = hard_threshold(sigma, thr);       // forward G(σ), gradient of σ
    std::vector<float> sv = host_floats(sigma), active((size_t)(N * nb), 0.f), scale((size_t)N), expand((size_t)(nb * F), 0.f);
    double open = 0;
    for (int64_t i = 0; i < N; ++i) {
      int64_t n_active = 0;
      for (int64_t k = 0; k < nb; ++k)
        if (sv[(size_t)(i * nb + k)] > thr && b.real(i)) active[(size_t)(i * nb + k)] = 1.f, ++n_active;
      scale[(size_t)i] = (float)nb / (float)std::max<int64_t>(n_active, 1);
      if (b.real(i)) open += (double)n_active / (double)nb;
    }
    for (int64_t k = 0; k < nb; ++k)
      for (int64_t f = k * width; f < (k + 1) * width; ++f) expand[(size_t)(k * F + f)] = 1.f;
    // Σ_b S_b·o_b = W2·(h ⊙ S expanded over each block's columns).
    Tensor gated = h * matmul(S, constant_tensor(expand, {nb, F}, b.device));
    Tensor y = linear(gated, fc2_.weight) * constant_tensor(scale, {N, 1}, b.device) + fc2_.bias;
    out.y = mask_padding(y, b);
    // coef·mean over real tokens and blocks of σ·[σ > thr], divided by n_layer.
    const double denom = (double)std::max<int64_t>(b.n_real(), 1) * (double)nb * (double)cfg_.n_layer;
    out.sparsity = sum(sigma * constant_tensor(active, {N, nb}, b.device)) * (cfg_.dsmoe.sparsity_coef / denom);
    out.routing.active_blocks = open / (double)std::max<int64_t>(b.n_real(), 1);
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

FfnOutput DasgFfn::forward(const FfnInput& in, Generator& gen) const {
  const BatchInfo& b = *in.batch;
  const MoeConfig& m = cfg_.moe;
  FfnOutput out = start_output(in);
  TierDecision t = tier_router_.decide(in.x, in.C, in.I, in.n_keys, b, in.deep_active, gen);

  std::vector<int32_t> rows[2];  // shallow, deep
  for (int32_t row : b.real_rows) rows[t.deep[(size_t)row]].push_back(row);
  Tensor y = Tensor::zeros(in.x.shape(), in.x.dtype(), in.x.device());
  const Tensor routers[2] = {router_shallow_, router_deep_};
  for (int tier = 0; tier < 2; ++tier) {
    const std::vector<int32_t>& tr = rows[tier];
    const int64_t E = routers[tier].size(0), Nt = (int64_t)tr.size();
    if (Nt == 0) continue;
    Tensor xt = Nt == b.N ? in.x : index_select(in.x, constant_tensor(tr, {Nt}, b.device));
    Routing r;
    if (cfg_.adr.random) {
      r = route_random(xt, routers[tier], std::min(m.top_k, E), m.balance_coef, m.z_coef, gen);
    } else {
      std::vector<int32_t> k((size_t)Nt, (int32_t)std::min(m.top_k, E));
      if (m.dynamic_k)
        for (int64_t i = 0; i < Nt; ++i) k[(size_t)i] = (int32_t)std::min<int64_t>(in.I[(size_t)tr[(size_t)i]] > 0.5f ? 2 : 1, E);
      r = route_top_k(xt, routers[tier], k, m.balance_coef, m.z_coef);
    }
    Dispatch d = group_by_expert(r, tr, E);
    if (tier == 0)
      y = run_experts(y, in.x, d, r.weights, [&](int64_t e, const Tensor& xe) { return shallow_[(size_t)e](xe); });
    else
      y = run_experts(y, in.x, d, r.weights, [&](int64_t e, const Tensor& xe) { return deep_[(size_t)e](xe); });
    out.balance = out.balance + r.balance;
    out.z = out.z + r.z;
    (tier == 0 ? out.routing.load_shallow : out.routing.load_deep) = r.load;
  }
  for (const ShallowExpert& s : shared_) y = y + mask_padding(s(in.x), b);
  out.y = y;

  LayerRouting& lr = out.routing;
  std::vector<float> tier_f(t.deep.begin(), t.deep.end());
  lr.s = rows_tensor(t.score, b);
  lr.pi = rows_tensor(t.pi, b);
  lr.tier = rows_tensor(tier_f, b);
  lr.deep_rate = (double)rows[1].size() / (double)std::max<int64_t>(b.n_real(), 1);
  lr.policy_entropy = t.policy_entropy;
  lr.sampled = std::move(t.sampled);
  lr.deep = std::move(t.deep);
  lr.log_prob = t.log_prob;
  lr.counted_r = std::move(t.counted_r);
  if (lr.load_shallow.empty()) lr.load_shallow.assign((size_t)m.n_shallow, 0.0);
  if (lr.load_deep.empty()) lr.load_deep.assign((size_t)m.n_deep, 0.0);
  return out;
}

void DasgFfn::transfer(bool freeze_only) {
  NoGradGuard no_grad;
  const int64_t ns = cfg_.moe.n_shallow, D = cfg_.d_model;
  auto copy = [](const Tensor& dst, const Tensor& src) { dst.detach().copy_from(src.detach()); };
  if (!freeze_only) {
    std::vector<float> rs = host_floats(router_shallow_), rd = host_floats(router_deep_);
    for (int64_t e = 0; e < cfg_.moe.n_deep; ++e) {
      const ShallowExpert& parent = shallow_[(size_t)(e % ns)];
      DeepExpert& child = deep_[(size_t)e];
      copy(child.fc1.weight, parent.fc1.weight);
      copy(child.fc1.bias, parent.fc1.bias);
      copy(child.fc4.weight, parent.fc2.weight);
      copy(child.fc4.bias, parent.fc2.bias);
      child.fc3.weight.detach().zero_();
      child.fc3.bias.detach().zero_();
      std::copy_n(rs.begin() + (e % ns) * D, D, rd.begin() + e * D);
    }
    copy(router_deep_, Tensor::from_vector(rd, router_deep_.shape()));
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
