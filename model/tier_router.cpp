// ADR: evaluator score, thresholds and the tier policy (DESIGN §7.3).
#include "model/tier_router.hpp"

#include <algorithm>
#include <cmath>

#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/shape.hpp"

namespace dasg {

TierRouter::TierRouter(const Config& cfg, Parameters& p, const std::string& prefix) : cfg_(cfg) {
  w_ = p.constant(prefix + ".policy.w", {cfg.d_model}, 0);
  v_ = p.constant(prefix + ".policy.v", {3}, 0);
  b_ = p.constant(prefix + ".policy.b", {1}, 0);
  mean_ = p.buffer(prefix + ".evaluator.mean", {1}, 0.5);
  std_ = p.buffer(prefix + ".evaluator.std", {1}, 0.25);
}

TierDecision TierRouter::decide(const Tensor& x, const std::vector<float>& C, const std::vector<float>& I,
                                const std::vector<int64_t>& n_keys, const BatchInfo& batch, bool deep_active,
                                Generator& gen) const {
  const AdrConfig& adr = cfg_.adr;
  const int64_t N = batch.N;
  TierDecision d;
  d.score.assign((size_t)N, 0.f);
  d.pi.assign((size_t)N, 0.f);
  d.deep.assign((size_t)N, 0);
  d.sampled.assign((size_t)N, 0);
  const double mu = mean(), sd = std::max(std(), 0.01);
  std::vector<uint8_t> middle((size_t)N, 0);
  bool any_middle = false;
  for (int64_t i = 0; i < N; ++i) {
    if (!batch.real(i)) continue;
    const double r = adr.alpha * C[(size_t)i] + (1 - adr.alpha) * I[(size_t)i];
    double s;
    if (n_keys[(size_t)i] <= 1) {
      s = 0.5;
    } else {
      d.counted_r.push_back((float)r);
      s = adr.normalize ? 1.0 / (1.0 + std::exp(-(r - mu) / sd)) : r;
    }
    d.score[(size_t)i] = (float)s;
    if (!deep_active) continue;
    if (adr.random) {
      d.deep[(size_t)i] = gen.next_uniform() < 0.5;
    } else if (s < adr.theta_s) {
      d.deep[(size_t)i] = 0;
    } else if (s > adr.theta_d) {
      d.deep[(size_t)i] = 1;
    } else if (!adr.enabled) {
      d.deep[(size_t)i] = s >= 0.5;
    } else {
      middle[(size_t)i] = 1;
      any_middle = true;
    }
  }
  if (!any_middle) return d;

  // π for every row (one GEMV), decisions for the middle band.
  std::vector<float> feats((size_t)(N * 3));
  for (int64_t i = 0; i < N; ++i) {
    feats[(size_t)(3 * i)] = C[(size_t)i];
    feats[(size_t)(3 * i + 1)] = I[(size_t)i];
    feats[(size_t)(3 * i + 2)] = (float)adr.task_urgency;
  }
  const Device dev = batch.device;
  Tensor pi = sigmoid(linear(x.detach(), reshape(w_, {1, cfg_.d_model}), b_) +
                      linear(constant_tensor(feats, {N, 3}, dev), reshape(v_, {1, 3})));  // [N, 1]
  std::vector<float> pv = host_floats(pi);
  const double eps = adr.explore_eps;
  // Rows not sampled get log(0·π̃ + 1) = 0.
  std::vector<float> in_range((size_t)N), clamped((size_t)N), sign((size_t)N, 0.f), not_a((size_t)N, 1.f);
  int64_t n_middle = 0, n_sampled = 0;
  for (int64_t i = 0; i < N; ++i) {
    const double p = pv[(size_t)i];
    const bool inside = p >= eps && p <= 1 - eps;
    in_range[(size_t)i] = inside ? 1.f : 0.f;
    clamped[(size_t)i] = inside ? 0.f : (float)std::clamp(p, eps, 1 - eps);
    if (!middle[(size_t)i]) continue;
    d.pi[(size_t)i] = (float)p;
    ++n_middle;
    const double q = std::clamp(p, 1e-12, 1 - 1e-12);
    d.policy_entropy += -(q * std::log(q) + (1 - q) * std::log(1 - q));
    if (batch.training) {
      d.deep[(size_t)i] = gen.next_uniform() < std::clamp(p, eps, 1 - eps);
      d.sampled[(size_t)i] = 1;
      ++n_sampled;
    } else {
      d.deep[(size_t)i] = p >= 0.5;
    }
    sign[(size_t)i] = d.deep[(size_t)i] ? 1.f : -1.f;
    not_a[(size_t)i] = d.deep[(size_t)i] ? 0.f : 1.f;
  }
  d.policy_entropy /= (double)n_middle;
  if (n_sampled == 0) return d;
  // log π̃(a) = log(a·π̃ + (1−a)·(1−π̃)), π̃ = clamp(π, ε, 1−ε) (no gradient where clamped).
  Tensor pi_t = pi * constant_tensor(in_range, {N, 1}, dev) + constant_tensor(clamped, {N, 1}, dev);
  d.log_prob = log(pi_t * constant_tensor(sign, {N, 1}, dev) + constant_tensor(not_a, {N, 1}, dev));
  return d;
}

void TierRouter::update_stats(const std::vector<float>& r, bool first) {
  if (r.empty()) return;
  double m = 0, v = 0;
  for (float x : r) m += x;
  m /= (double)r.size();
  for (float x : r) v += (x - m) * (x - m);
  v /= (double)r.size();
  double mu = m, var = v;
  if (!first) {
    const double k = cfg_.adr.stats_momentum, sd = std();
    mu = k * mean() + (1 - k) * m;
    var = k * sd * sd + (1 - k) * v;
  }
  mean_.fill_(mu);
  std_.fill_(std::sqrt(var));
}

}  // namespace dasg
