// ADR: evaluator score, thresholds and the tier policy (DESIGN §7.3), as device tensor ops.
#include "model/tier_router.hpp"

#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/random.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"

namespace dasg {

TierRouter::TierRouter(const Config& cfg, Parameters& p, const std::string& prefix) : cfg_(cfg) {
  if (cfg.adr.enabled && !cfg.adr.random) {
    w_ = p.constant(prefix + ".policy.w", {cfg.d_model}, 0);
    v_ = p.constant(prefix + ".policy.v", {3}, 0);
    b_ = p.constant(prefix + ".policy.b", {1}, 0);
  }
  mean_ = p.buffer(prefix + ".evaluator.mean", {1}, 0.5);
  std_ = p.buffer(prefix + ".evaluator.std", {1}, 0.25);
}

TierDecision TierRouter::decide(const Tensor& x, const Tensor& C, const Tensor& I, const Tensor& has_context,
                                const BatchInfo& batch, bool deep_active) const {
  const AdrConfig& adr = cfg_.adr;
  const int64_t N = batch.N;
  const Tensor real = reshape(batch.real_mask, {N});
  const Tensor zeros = Tensor::zeros({N}, x.dtype(), x.device());
  TierDecision d;
  d.raw = C * adr.alpha + I * (1 - adr.alpha);
  d.counted = has_context;
  Tensor s = d.raw;
  if (adr.normalize) {
    const Tensor sd = where(greater(std_, 0.01), std_, 0.01);
    s = sigmoid((d.raw - mean_) / sd);
  }
  // 0.5 for a real row without context, 0 at padding.
  d.score = s * has_context + (real - has_context) * 0.5;
  d.pi = d.decided = d.sampled = zeros;
  d.deep = zeros;
  d.entropy_sum = Tensor::scalar(0, x.dtype(), x.device());
  if (!deep_active) return d;
  if (adr.random) {
    d.deep = bernoulli(real * 0.5, *batch.gen) * real;
    return d;
  }
  const Tensor above = greater(d.score, adr.theta_d) * real;
  const Tensor middle = (1.0 - less(d.score, adr.theta_s)) * (1.0 - greater(d.score, adr.theta_d)) * real;
  if (!adr.enabled) {
    d.deep = above + middle * greater_equal(d.score, 0.5);
    return d;
  }
  // π for every row (one GEMV), decisions for the middle band.
  const Tensor feats = concat({reshape(C, {N, 1}), reshape(I, {N, 1}),
                               Tensor::full({N, 1}, adr.task_urgency, x.dtype(), x.device())}, 1);
  const Tensor pi = reshape(sigmoid(linear(x.detach(), reshape(w_, {1, cfg_.d_model}), b_) +
                                    linear(feats, reshape(v_, {1, 3}))), {N});  // differentiable
  const Tensor p = pi.detach();
  d.decided = middle;
  d.pi = p * middle;
  if (batch.aux) {
    const Tensor q = where(greater(p, 1 - 1e-7), Tensor::full({N}, 1 - 1e-7, p.dtype(), p.device()),
                           where(less(p, 1e-7), Tensor::full({N}, 1e-7, p.dtype(), p.device()), p));
    d.entropy_sum = sum((q * log(q) + (1.0 - q) * log(1.0 - q)) * middle) * -1.0;
  }
  if (!batch.training) {
    d.deep = above + middle * greater_equal(p, 0.5);
    return d;
  }
  // π̃ = clamp(π, ε, 1−ε): the gradient of π inside, none where clamped.
  const double eps = adr.explore_eps;
  const Tensor inside = greater_equal(p, eps) * less_equal(p, 1 - eps);
  const Tensor clamped = where(less(p, eps), Tensor::full({N}, eps, p.dtype(), p.device()),
                               Tensor::full({N}, 1 - eps, p.dtype(), p.device()));
  const Tensor pi_t = where(inside, pi, clamped);
  const Tensor a = bernoulli(pi_t, *batch.gen);  // the action, 1 = deep
  d.sampled = middle;
  d.deep = above + middle * a;
  // log π̃(a) = log(a·π̃ + (1−a)·(1−π̃)), kept where sampled.
  d.log_prob = log(pi_t * (a * 2.0 - 1.0) + (1.0 - a)) * middle;
  return d;
}

}  // namespace dasg
