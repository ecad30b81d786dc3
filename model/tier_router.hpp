// The lightweight evaluator and the global (tier) router, ADR (DESIGN §7.3).
//   r_i = α·C_i + (1−α)·I_i;  s_i = σ((r_i − μ)/max(σ_r, 0.01))  (adr.normalize; else s_i = r_i)
//   with (μ, σ_r) the layer's running statistics (buffers evaluator.mean / evaluator.std).
//   A token with n_i = 1 keys has s_i = 0.5 and is left out of the statistics.
//   s < θ_s ⇒ shallow;  s > θ_d ⇒ deep;  otherwise the policy
//   π_i = σ(w_π·stopgrad(x_i) + v_c·C_i + v_I·I_i + v_u·u_task + b_π) decides: sampled from
//   Bernoulli(clamp(π, ε, 1−ε)) in training, π ≥ 0.5 in evaluation.
//   Before the DSSE transfer every token is shallow. adr.enabled = false: the middle band is deep
//   iff s ≥ 0.5 (no policy). adr.random: tier ~ Bernoulli(0.5).
// Padded rows take no tier; their s and π are 0.
#pragma once
#include <string>
#include <vector>

#include "model/batch.hpp"
#include "model/config.hpp"
#include "model/module.hpp"

namespace dasg {

struct TierDecision {
  std::vector<float> score;       // s [N]
  std::vector<float> pi;          // π [N] (0 where no policy ran)
  std::vector<uint8_t> deep;      // [N] 1: deep tier
  std::vector<uint8_t> sampled;   // [N] 1: the tier was sampled from π̃ (training)
  std::vector<float> counted_r;   // raw scores of the tokens the statistics count
  Tensor log_prob;                // [N, 1] log π̃(a_i), differentiable in the policy; undefined if none sampled
  double policy_entropy = 0;      // mean binary entropy of π over the tokens the policy decided
};

class TierRouter {
 public:
  TierRouter(const Config& cfg, Parameters& p, const std::string& prefix);
  // x: LN2(h) [N, D]; C, I, n_keys per row.
  TierDecision decide(const Tensor& x, const std::vector<float>& C, const std::vector<float>& I,
                      const std::vector<int64_t>& n_keys, const BatchInfo& batch, bool deep_active,
                      Generator& gen) const;
  // Folds one optimizer step's counted raw scores into (μ, σ_r): the first update sets them,
  // later ones blend with adr.stats_momentum. No-op for an empty list.
  void update_stats(const std::vector<float>& r, bool first);
  double mean() const { return mean_.item(); }
  double std() const { return std_.item(); }

 private:
  Config cfg_;
  Tensor mean_, std_;  // buffers [1]
  Tensor w_, v_, b_;   // policy [D], [3], [1]
};

}  // namespace dasg
