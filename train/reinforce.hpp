// The REINFORCE update of the tier policy (DESIGN §7.4), one baseline per layer.
// For each token i whose tier a_i was sampled (deep = 1, shallow = 0):
//   R_i = −ℓ_i − cost_coef·cost(a_i),   cost(deep) = 1, cost(shallow) = D/(D + Fd)
//   A_i = R_i − b                        (b from before the step; detached)
//   L_π = −policy_coef · mean_i(A_i · log π̃(a_i))
// and after each optimizer step, over all of that step's sampled tokens:
//   b ← mean(R) on the first step,  b ← m·b + (1 − m)·mean(R) afterwards   (m = baseline_momentum).
// Before a layer's first step completes, b is the mean reward of the tokens at hand (ours: the
// only baseline available then, so the first advantages are centred).
#pragma once
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct TierSample {
  Tensor log_prob;    // [M] log π̃(a_i), differentiable in the policy parameters
  Tensor deep;        // [M] 1 where a_i = deep, 0 where shallow (no gradient)
  Tensor token_loss;  // [M] the token's own detached cross-entropy ℓ_i
};

struct ReinforceOptions {
  double policy_coef = 1.0, cost_coef = 0.1, baseline_momentum = 0.9;
  double shallow_cost = 0.5;  // D / (D + Fd)
};

struct ReinforceLayerStats {
  double deep_rate = 0, mean_reward = 0, baseline = 0;
  int64_t sampled = 0;
};

class ReinforceUpdater {
 public:
  ReinforceUpdater(int n_layers, ReinforceOptions options);
  // The surrogate loss of one layer's samples in one micro-batch (a scalar; 0 when none sampled).
  Tensor surrogate_loss(int layer, const TierSample& sample);
  // Ends an optimizer step: updates each layer's baseline from the step's rewards, returns the
  // step's statistics and resets them.
  std::vector<ReinforceLayerStats> end_step();

  // Baselines (and whether each is set yet), for checkpoints.
  std::vector<double> baselines() const { return baseline_; }
  std::vector<bool> baselines_set() const { return has_baseline_; }
  void set_baselines(const std::vector<double>& b, const std::vector<bool>& set);

 private:
  ReinforceOptions opt_;
  std::vector<double> baseline_;
  std::vector<bool> has_baseline_;
  // This step's running sums per layer.
  std::vector<double> reward_sum_, deep_sum_;
  std::vector<int64_t> count_;
};

}  // namespace dasg
