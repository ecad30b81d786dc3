// Shallow/deep experts, the local top-k router with its balance and z losses, and dropless
// dispatch (DESIGN §7.5).
#include "model/experts.hpp"

#include <algorithm>
#include <numeric>

#include "model/batch.hpp"
#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"
#include "ops/topk.hpp"

namespace dasg {

ShallowExpert ShallowExpert::make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, double out_std,
                                  Generator& gen) {
  return {Linear::make(p, prefix + ".fc1", F, D, 0.02, gen), Linear::make(p, prefix + ".fc2", D, F, out_std, gen)};
}

Tensor ShallowExpert::operator()(const Tensor& x) const { return fc2(gelu(fc1(x))); }

DeepExpert DeepExpert::make(Parameters& p, const std::string& prefix, int64_t D, int64_t F, int64_t Fd, double out_std,
                            Generator& gen) {
  return {Linear::make(p, prefix + ".fc1", F, D, 0.02, gen), Linear::make(p, prefix + ".fc2", Fd, F, 0.02, gen),
          Linear::make(p, prefix + ".fc3", F, Fd, 0.02, gen), Linear::make(p, prefix + ".fc4", D, F, out_std, gen)};
}

Tensor DeepExpert::operator()(const Tensor& x) const {
  Tensor h1 = gelu(fc1(x));
  Tensor h2 = gelu(fc2(h1));
  Tensor h3 = gelu(fc3(h2)) + h1;
  return fc4(h3);
}

namespace {

// Balance loss coef·E·Σ f_e·P_e (f from the assignments, P the mean router probability) and
// z-loss coef·mean(logsumexp(z)²); fills r.balance, r.z, r.load.
void router_losses(Routing& r, const Tensor& z, const Tensor& p, double balance_coef, double z_coef) {
  const int64_t E = p.size(1);
  std::vector<float> f((size_t)E, 0.f);
  int64_t assigned = 0;
  for (int32_t e : r.expert)
    if (e >= 0) f[(size_t)e] += 1.f, ++assigned;
  r.load.assign((size_t)E, 0.0);
  for (int64_t e = 0; e < E; ++e) {
    f[(size_t)e] /= (float)std::max<int64_t>(assigned, 1);
    r.load[(size_t)e] = f[(size_t)e];
  }
  r.balance = sum(mean(p, 0) * constant_tensor(f, {E}, p.device())) * (balance_coef * (double)E);
  Tensor m = max(z, 1, true).values.detach();
  Tensor lse = log(sum(exp(z - m), 1, true)) + m;
  r.z = mean(lse * lse) * z_coef;
}

Routing empty_routing(const Tensor& router_weight, int64_t k) {
  Routing r;
  r.k = k;
  r.weights = Tensor::zeros({0, 1}, router_weight.dtype(), router_weight.device());
  r.balance = Tensor::scalar(0, router_weight.dtype(), router_weight.device());
  r.z = Tensor::scalar(0, router_weight.dtype(), router_weight.device());
  r.load.assign((size_t)router_weight.size(0), 0.0);
  return r;
}

}  // namespace

Routing route_top_k(const Tensor& x, const Tensor& router_weight, const std::vector<int32_t>& k_per_token,
                    double balance_coef, double z_coef) {
  const int64_t Nt = x.size(0);
  const int64_t kmax = Nt ? *std::max_element(k_per_token.begin(), k_per_token.end()) : 1;
  if (Nt == 0) return empty_routing(router_weight, kmax);
  Routing r;
  r.k = kmax;
  Tensor z = matmul(x, router_weight, false, true);  // [Nt, E]
  Tensor p = softmax(z);
  TopkResult top = topk(p, kmax);
  std::vector<int32_t> idx = top.indices.to(kCPU).to_vector<int32_t>();
  // Slot masks: renormalised weights for k_i ≥ 2, the raw probability for k_i = 1.
  std::vector<float> multi((size_t)(Nt * kmax), 0.f), single((size_t)(Nt * kmax), 0.f);
  bool any_multi = false, any_single = false;
  r.expert.assign((size_t)(Nt * kmax), -1);
  for (int64_t i = 0; i < Nt; ++i) {
    const int64_t k = k_per_token[(size_t)i];
    for (int64_t c = 0; c < k; ++c) {
      r.expert[(size_t)(i * kmax + c)] = idx[(size_t)(i * kmax + c)];
      (k >= 2 ? multi : single)[(size_t)(i * kmax + c)] = 1.f;
    }
    (k >= 2 ? any_multi : any_single) = true;
  }
  Tensor w;
  if (any_multi) w = top.values / sum(top.values, 1, true) * constant_tensor(multi, {Nt, kmax}, x.device());
  if (any_single) {
    Tensor ws = top.values * constant_tensor(single, {Nt, kmax}, x.device());
    w = w.defined() ? w + ws : ws;
  }
  r.weights = reshape(w, {Nt * kmax, 1});
  router_losses(r, z, p, balance_coef, z_coef);
  return r;
}

Routing route_random(const Tensor& x, const Tensor& router_weight, int64_t k, double balance_coef, double z_coef,
                     Generator& gen) {
  const int64_t Nt = x.size(0), E = router_weight.size(0);
  if (Nt == 0) return empty_routing(router_weight, k);
  Routing r;
  r.k = k;
  r.expert.resize((size_t)(Nt * k));
  std::vector<int32_t> order((size_t)E);
  for (int64_t i = 0; i < Nt; ++i) {
    std::iota(order.begin(), order.end(), 0);
    for (int64_t c = 0; c < k; ++c) {  // partial Fisher–Yates
      const int64_t j = c + std::min<int64_t>((int64_t)(gen.next_uniform() * (double)(E - c)), E - c - 1);
      std::swap(order[(size_t)c], order[(size_t)j]);
      r.expert[(size_t)(i * k + c)] = order[(size_t)c];
    }
  }
  r.weights = Tensor::full({Nt * k, 1}, 1.0 / (double)k, router_weight.dtype(), router_weight.device());
  Tensor z = matmul(x, router_weight, false, true);
  router_losses(r, z, softmax(z), balance_coef, z_coef);
  return r;
}

Dispatch group_by_expert(const Routing& r, const std::vector<int32_t>& rows, int64_t n_experts,
                         const std::function<bool(int64_t token, int64_t slot)>& keep) {
  Dispatch d;
  d.offsets.assign((size_t)n_experts + 1, 0);
  std::vector<std::vector<int32_t>> by_expert((size_t)n_experts);
  const int64_t Nt = (int64_t)rows.size();
  for (int64_t i = 0; i < Nt; ++i)
    for (int64_t c = 0; c < r.k; ++c) {
      const int32_t e = r.expert[(size_t)(i * r.k + c)];
      if (e >= 0 && (!keep || keep(i, i * r.k + c))) by_expert[(size_t)e].push_back((int32_t)(i * r.k + c));
    }
  for (int64_t e = 0; e < n_experts; ++e) {
    for (int32_t slot : by_expert[(size_t)e]) {
      d.rows.push_back(rows[(size_t)(slot / r.k)]);
      d.slots.push_back(slot);
    }
    d.offsets[(size_t)e + 1] = (int64_t)d.rows.size();
  }
  return d;
}

Tensor run_experts(const Tensor& base, const Tensor& x, const Dispatch& d, const Tensor& weights,
                   const std::function<Tensor(int64_t expert, const Tensor& xe)>& expert) {
  const int64_t A = (int64_t)d.rows.size();
  if (A == 0) return base;
  Tensor rows = constant_tensor(d.rows, {A}, x.device());
  Tensor xs = index_select(x, rows);  // [A, D], grouped by expert
  std::vector<Tensor> outs;
  for (size_t e = 0; e + 1 < d.offsets.size(); ++e) {
    const int64_t begin = d.offsets[e], n = d.offsets[e + 1] - begin;
    if (n > 0) outs.push_back(expert((int64_t)e, n == A ? xs : slice(xs, 0, begin, n)));
  }
  Tensor ys = outs.size() == 1 ? outs[0] : concat(outs, 0);
  Tensor w = index_select(weights, constant_tensor(d.slots, {A}, x.device()));  // [A, 1]
  return index_add(base, rows, ys * w);
}

}  // namespace dasg
