// The lightweight evaluator and the global (tier) router, ADR (DESIGN §7.3), as tensor ops on the
// batch's device (no host round-trip):
//   r_i = α·C_i + (1−α)·I_i;  s_i = σ((r_i − μ)/max(σ_r, 0.01))  (adr.normalize; else s_i = r_i)
//   with (μ, σ_r) the layer's running statistics (buffers evaluator.mean / evaluator.std).
//   A token with n_i = 1 keys has s_i = 0.5 and is left out of the statistics.
//   s < θ_s ⇒ shallow;  s > θ_d ⇒ deep;  otherwise the policy
//   π_i = σ(w_π·stopgrad(x_i) + v_c·C_i + v_I·I_i + v_u·u_task + b_π) decides: sampled from
//   Bernoulli(clamp(π, ε, 1−ε)) in training, π ≥ 0.5 in evaluation.
//   Before the DSSE transfer every token is shallow. adr.enabled = false: the middle band is deep
//   iff s ≥ 0.5 (no policy). adr.random: tier ~ Bernoulli(0.5).
// Padded rows take no tier; their s and π are 0. The running statistics are updated by train/
// (train/router_state.hpp) after each optimizer step, never here.
#pragma once
#include <string>

#include "model/batch.hpp"
#include "model/config.hpp"
#include "model/module.hpp"

namespace dasg {

// Every tensor is [N] f32 on the batch's device, without gradient unless said.
struct TierDecision {
  Tensor score;        // s (0 at padding)
  Tensor pi;           // π where the policy decided, 0 elsewhere
  Tensor deep;         // 1: the deep tier
  Tensor raw;          // r
  Tensor counted;      // 1 where the running statistics count r (real rows with n_i > 1)
  Tensor decided;      // 1 where the policy decided (the middle band, adr.enabled)
  Tensor sampled;      // 1 where the tier was sampled from π̃ (training), else 0
  Tensor log_prob;     // log π̃(a_i) where sampled, 0 elsewhere; differentiable in the policy;
                       // undefined when no row could be sampled (evaluation, no policy)
  Tensor entropy_sum;  // scalar: Σ over decided rows of the binary entropy of π
};

class TierRouter {
 public:
  TierRouter(const Config& cfg, Parameters& p, const std::string& prefix);
  // x: LN2(h) [N, D]; C, I [N]; has_context [N] 1 at real rows whose attention has n_i > 1 keys.
  TierDecision decide(const Tensor& x, const Tensor& C, const Tensor& I, const Tensor& has_context,
                      const BatchInfo& batch, bool deep_active) const;

 private:
  Config cfg_;
  Tensor mean_, std_;  // buffers [1]
  Tensor w_, v_, b_;   // policy [D], [3], [1] (adr.enabled only)
};

}  // namespace dasg
