// The REINFORCE surrogate loss (see reinforce.hpp).
#include "model/reinforce.hpp"

#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"

namespace dasg {

Tensor reinforce_surrogate(const Tensor& log_prob, const std::vector<float>& advantage, int64_t n_sampled,
                           double policy_coef) {
  DASG_CHECK((int64_t)advantage.size() == log_prob.numel(), "reinforce_surrogate: ", advantage.size(),
             " advantages for log_prob ", log_prob.str());
  if (n_sampled == 0) return Tensor::scalar(0, log_prob.dtype(), log_prob.device());
  Tensor a = Tensor::from_vector(advantage, log_prob.shape(), log_prob.device()).to(log_prob.dtype());
  return sum(log_prob * a) * (-policy_coef / (double)n_sampled);
}

}  // namespace dasg
