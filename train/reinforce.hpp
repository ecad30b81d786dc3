// REINFORCE for the tier policy (DESIGN §7.4), its math in one place, as tensor ops on the
// routing records' device:
//   reward:     R_i = −ℓ_i − cost_coef·cost(a_i),  cost(deep) = 1, cost(shallow) = D/(D + Fd)
//   surrogate:  L_π = −policy_coef · Σ_i A_i·log π̃(a_i) / n_sampled,  A_i = (R_i − b)·[i sampled]
//               (A detached; 0 when nothing was sampled)
//   baseline:   b = the first step's mean(R), then b ← m·b + (1 − m)·mean(R) after each step
// b is the baseline from before the step; before a layer's first step completes there is none,
// and the batch's own mean reward stands in (ours: so the first advantages are centred).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

// row_loss, deep: [N] (deep 1 = the deep tier); the cost of shallow is shallow_cost.
Tensor tier_reward(const Tensor& row_loss, const Tensor& deep, double cost_coef, double shallow_cost);

struct PolicyBaseline {
  bool set = false;
  double value = 0;
  // After an optimizer step, with the mean reward of all that step's sampled tokens.
  void update(double step_mean, double momentum) {
    value = set ? momentum * value + (1 - momentum) * step_mean : step_mean;
    set = true;
  }
};

// −policy_coef · Σ_i advantage_i·log_prob_i / max(n_sampled, 1); log_prob differentiable in the
// policy, advantage detached (0 on rows not sampled), n_sampled a scalar tensor.
Tensor reinforce_surrogate(const Tensor& log_prob, const Tensor& advantage, const Tensor& n_sampled,
                           double policy_coef);

}  // namespace dasg
