// REINFORCE for the tier policy (DESIGN §7.4), as three small pieces the model composes:
//   reward:     R_i = −ℓ_i − cost_coef·cost(a_i),  cost(deep) = 1, cost(shallow) = D/(D + Fd)
//   surrogate:  L_π = −policy_coef · mean over sampled i of A_i·log π̃(a_i),  A_i = R_i − b (detached)
//   baseline:   b = the first step's mean(R), then b ← m·b + (1 − m)·mean(R) after each step
// b is the baseline from before the step; before a layer's first step completes there is none,
// and the batch's own mean reward stands in (ours: so the first advantages are centred).
#pragma once
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

inline double tier_reward(double token_loss, bool deep, double cost_coef, double shallow_cost) {
  return -token_loss - cost_coef * (deep ? 1.0 : shallow_cost);
}

struct PolicyBaseline {
  bool set = false;
  double value = 0;
  // The baseline for advantages in a step whose sampled rewards average batch_mean.
  double current(double batch_mean) const { return set ? value : batch_mean; }
  // After an optimizer step, with the mean reward of all that step's sampled tokens.
  void update(double step_mean, double momentum) {
    value = set ? momentum * value + (1 - momentum) * step_mean : step_mean;
    set = true;
  }
};

// −policy_coef · Σ_i advantage_i·log_prob_i / n_sampled, with advantage 0 on rows not sampled.
// log_prob: [N] or [N, 1], differentiable in the policy parameters; advantage: N host values.
Tensor reinforce_surrogate(const Tensor& log_prob, const std::vector<float>& advantage, int64_t n_sampled,
                           double policy_coef);

}  // namespace dasg
