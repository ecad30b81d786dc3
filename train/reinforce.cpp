// REINFORCE for the tier policy (math in reinforce.hpp).
#include "train/reinforce.hpp"

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"

namespace dasg {

ReinforceUpdater::ReinforceUpdater(int n_layers, ReinforceOptions options)
    : opt_(options),
      baseline_(n_layers, 0.0),
      has_baseline_(n_layers, false),
      reward_sum_(n_layers, 0.0),
      deep_sum_(n_layers, 0.0),
      count_(n_layers, 0) {
  DASG_CHECK(options.baseline_momentum >= 0 && options.baseline_momentum < 1,
             "reinforce: baseline_momentum ", options.baseline_momentum, "; expected [0, 1)");
}

Tensor ReinforceUpdater::surrogate_loss(int layer, const TierSample& s) {
  DASG_CHECK(layer >= 0 && layer < (int)baseline_.size(), "reinforce: layer ", layer, " of ", baseline_.size());
  const int64_t m = s.deep.defined() ? s.deep.numel() : 0;
  if (m == 0) return Tensor::scalar(0.0);
  DASG_CHECK(s.log_prob.numel() == m && s.token_loss.numel() == m, "reinforce: sample sizes differ: log_prob ",
             s.log_prob.str(), ", deep ", s.deep.str(), ", token_loss ", s.token_loss.str());
  Tensor reward, advantage;
  {
    NoGradGuard no_grad;
    // R = −ℓ − cost_coef·(shallow_cost + (1 − shallow_cost)·deep)
    Tensor cost = s.deep.detach() * (1.0 - opt_.shallow_cost) + opt_.shallow_cost;
    reward = neg(s.token_loss.detach()) - cost * opt_.cost_coef;
    double mean_r = mean(reward).item();
    reward_sum_[layer] += mean_r * (double)m;
    deep_sum_[layer] += sum(s.deep.detach()).item();
    count_[layer] += m;
    double b = has_baseline_[layer] ? baseline_[layer] : mean_r;
    advantage = reward - b;
  }
  Tensor a = advantage.to(s.log_prob.dtype());
  return mean(mul(a, s.log_prob)) * (-opt_.policy_coef);
}

std::vector<ReinforceLayerStats> ReinforceUpdater::end_step() {
  std::vector<ReinforceLayerStats> stats(baseline_.size());
  for (size_t l = 0; l < baseline_.size(); ++l) {
    if (count_[l] > 0) {
      double mean_r = reward_sum_[l] / (double)count_[l];
      const double mom = opt_.baseline_momentum;
      baseline_[l] = has_baseline_[l] ? mom * baseline_[l] + (1 - mom) * mean_r : mean_r;
      has_baseline_[l] = true;
      stats[l].mean_reward = mean_r;
      stats[l].deep_rate = deep_sum_[l] / (double)count_[l];
    }
    stats[l].baseline = baseline_[l];
    stats[l].sampled = count_[l];
    reward_sum_[l] = deep_sum_[l] = 0;
    count_[l] = 0;
  }
  return stats;
}

void ReinforceUpdater::set_baselines(const std::vector<double>& b, const std::vector<bool>& set) {
  DASG_CHECK(b.size() == baseline_.size() && set.size() == baseline_.size(), "reinforce: ", b.size(),
             " baselines for ", baseline_.size(), " layers");
  baseline_ = b;
  has_baseline_ = set;
}

}  // namespace dasg
