// REINFORCE's reward and surrogate (see reinforce.hpp).
#include "train/reinforce.hpp"

#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"

namespace dasg {

Tensor tier_reward(const Tensor& row_loss, const Tensor& deep, double cost_coef, double shallow_cost) {
  return (row_loss + (deep + (1.0 - deep) * shallow_cost) * cost_coef) * -1.0;
}

Tensor reinforce_surrogate(const Tensor& log_prob, const Tensor& advantage, const Tensor& n_sampled,
                           double policy_coef) {
  DASG_CHECK(advantage.shape() == log_prob.shape(), "reinforce_surrogate: advantage ", advantage.str(),
             " for log_prob ", log_prob.str(), "; expected the same shape");
  const Tensor n = where(greater(n_sampled, 0.5), n_sampled, 1.0);
  return sum(log_prob * advantage.detach()) / n * -policy_coef;
}

}  // namespace dasg
