// The four feed-forward kinds of a block (config `ffn`), all mapping LN2(h) [N, D] → [N, D]
// with output 0 at padded rows (DESIGN §7):
//   dense:  fc2(act(fc1(x)))                                                         §7.6
//   switch: top-1 of n_shallow shallow experts, y = p_e·E_e(x), position-major capacity   §7.6
//   dsmoe:  d_ff cut into `blocks` experts, straight-through sigmoid gates, norm scaling  §7.6
//   dasg:   ADR tier router → shallow or deep tier, local top-k router, shared experts    §7.3, §7.5
// Each returns its output, its auxiliary losses (balance and z summed over tiers, sparsity
// already divided by n_layer) and the layer's routing record.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "model/batch.hpp"
#include "model/config.hpp"
#include "model/experts.hpp"
#include "model/module.hpp"
#include "model/tier_router.hpp"

namespace dasg {

// What one layer's routing did, for logs, the parity dump and the REINFORCE update.
struct LayerRouting {
  // [B, T] f32, 0 at padding; s, pi and tier stay 0 unless the FFN is dasg.
  Tensor C, I, s, pi, tier;
  double deep_rate = 0;       // share of real tokens on the deep tier (dasg)
  double mean_C = 0, mean_I = 0;
  double policy_entropy = 0;  // mean over the tokens the policy decided (dasg)
  double active_blocks = 0;   // mean share of open gates per real token (dsmoe)
  double dropped = 0;         // share of real tokens over capacity (switch)
  std::vector<double> load_shallow, load_deep;  // share of the tier's assignments per expert
  // REINFORCE: rows whose tier was sampled, their action (1 = deep) and log π̃(a) [N, 1].
  std::vector<uint8_t> sampled, deep;
  Tensor log_prob;
  std::vector<float> counted_r;  // raw evaluator scores counted by the running statistics
};

struct FfnInput {
  Tensor x;                     // LN2(h) [N, D]
  std::vector<float> C, I;      // per row
  std::vector<int64_t> n_keys;  // per row: keys the row's attention may use
  const BatchInfo* batch = nullptr;
  bool deep_active = false;     // dasg: the DSSE transfer has happened
  bool capacity = true;         // switch: apply capacity (generation runs without)
};

struct FfnOutput {
  Tensor y;                     // [N, D]
  Tensor balance, z, sparsity;  // scalars
  LayerRouting routing;
};

class FeedForward {
 public:
  virtual ~FeedForward() = default;
  virtual FfnOutput forward(const FfnInput& in, Generator& gen) const = 0;
};

class DasgFfn : public FeedForward {
 public:
  DasgFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen);
  FfnOutput forward(const FfnInput& in, Generator& gen) const override;
  // DSSE transfer (§7.5): deep e ← shallow (e mod n_shallow) fc1 (then frozen) and fc2 → fc4,
  // fc3 zeroed, router rows copied. freeze_only: just freeze deep fc1 (loading a checkpoint).
  void transfer(bool freeze_only);
  TierRouter& tier_router() { return tier_router_; }

 private:
  Config cfg_;
  Tensor router_shallow_, router_deep_;
  TierRouter tier_router_;
  std::vector<ShallowExpert> shallow_, shared_;
  std::vector<DeepExpert> deep_;
};

// Builds the FFN of layer prefix ("blocks.l.ffn") for cfg.ffn.
std::unique_ptr<FeedForward> make_ffn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen);

}  // namespace dasg
