// RouterState: the training state of the routing that changes once per optimizer step, kept out
// of the model (whose forward is pure) — DESIGN §7.3, §7.4, §7.5:
//   - the DSSE transfer schedule: begin_step() transfers the deep tier at its step;
//   - REINFORCE: policy_loss() turns one micro-batch's routing records into the surrogate L_π
//     (train/reinforce.hpp), with the baselines from before the step, and keeps the rewards;
//   - end_step(), after the optimizer step, folds every micro-batch of the step into the
//     evaluator's running statistics (the model's buffers blocks.l.ffn.evaluator.{mean,std}) and
//     the baselines: one device→host copy per step. discard_step() drops a skipped step's records.
//     With several ranks each rank's (count, mean, variance, Σ reward, n sampled) per layer are
//     combined in f64 into the global batch's before anything is updated.
// Routing at step t therefore uses only statistics of steps < t, and a causal model stays causal.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "dist/communicator.hpp"
#include "model/config.hpp"
#include "model/model.hpp"
#include "train/reinforce.hpp"

namespace dasg {

class RouterState {
 public:
  explicit RouterState(const Config& cfg);

  // The DSSE schedule (dasg only): transfers when step reaches the transfer step of a run of
  // total_steps (dsse.transfer_step, else transfer_fraction of the run).
  void begin_step(Model& model, int64_t step, int64_t total_steps) const;
  // Whether begin_step(model, step, total_steps) transfers.
  bool transfers_at(const Model& model, int64_t step, int64_t total_steps) const;
  // Σ over dasg layers of the REINFORCE surrogate for one training forward; 0 when nothing was
  // sampled or the forward had no targets (no rewards). Records the forward's raw scores and
  // rewards for end_step.
  Tensor policy_loss(const ForwardResult& r);
  // After the optimizer step: the running statistics and baselines from every forward recorded
  // since the last end_step/discard_step; with `comm`, on every rank of it (those of the global
  // batch); without, of this process.
  void end_step(Model& model, dist::Communicator* comm = nullptr);
  void discard_step();

  // Per layer: the mean reward of the last completed step (0 where none was sampled) and the
  // baseline for the next step.
  const std::vector<double>& mean_reward() const { return mean_reward_; }
  std::vector<double> baselines() const;

  // state.json's "adr": [{stats_set, baseline_set, baseline}] per layer.
  nlohmann::json to_json() const;
  void from_json(const nlohmann::json& adr);

 private:
  struct Layer {
    bool stats_set = false;  // (μ, σ_r) came from data
    PolicyBaseline baseline;
    std::vector<Tensor> raw, counted;  // the step's forwards: r [N] and where it counts
    Tensor reward_sum, reward_n;       // Σ R and the number of sampled tokens, scalars
  };
  Config cfg_;
  std::vector<Layer> layers_;
  std::vector<double> mean_reward_;
};

}  // namespace dasg
