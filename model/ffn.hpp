// The four feed-forward kinds of a block (config `ffn`), all mapping LN2(h) [N, D] → [N, D]
// with output 0 at padded rows (DESIGN §7), on the batch's device:
//   dense:  fc2(act(fc1(x)))                                                         §7.6
//   switch: top-1 of n_shallow shallow experts, y = p_e·E_e(x), position-major capacity   §7.6
//   dsmoe:  d_ff cut into `blocks` experts, straight-through sigmoid gates, norm scaling  §7.6
//   dasg:   ADR tier router → shallow or deep tier, local top-k router, shared experts    §7.3, §7.5
// Each returns its output, its auxiliary losses (balance and z summed over tiers, sparsity
// already divided by n_layer) and the layer's routing record — or, when BatchInfo::aux is off
// (a decoding step, model/model_decode.cpp), its output alone. A forward writes nothing but its
// result: the evaluator statistics and REINFORCE baselines are train/'s (train/router_state.hpp).
// The MoE kinds make one device→host copy per layer: the per-expert counts sizing the GEMMs.
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

// The counters of a routing record's `stats` vector, summable over micro-batches; after them
// come the assignments per shallow expert (dasg, switch) and per deep expert (dasg).
enum RoutingStat : int64_t {
  kStatReal,     // real tokens
  kStatDeep,     // tokens on the deep tier (dasg)
  kStatDecided,  // tokens the policy decided (dasg)
  kStatEntropy,  // Σ binary entropy of π over the decided tokens (dasg)
  kStatC,        // Σ C over real tokens
  kStatI,        // Σ I over real tokens
  kStatActive,   // Σ over real tokens of the share of open gates (dsmoe)
  kStatDropped,  // real tokens over capacity (switch)
  kRoutingStats
};

struct RoutingSummary {
  double deep_rate = 0, mean_C = 0, mean_I = 0, policy_entropy = 0, active_blocks = 0, dropped = 0;
  std::vector<double> load_shallow, load_deep;  // share of the tier's assignments per expert
};
// The rates of summed stats (host values of one or more records' `stats`).
RoutingSummary summarize_routing(const std::vector<float>& stats, int64_t n_shallow, int64_t n_deep);

// What one layer's routing did, for the trainer (rewards, statistics, logs), the parity dump
// and inspection; device tensors without gradient unless said.
struct LayerRouting {
  // [B, T], 0 at padding; s, pi and tier stay 0 unless the FFN is dasg.
  Tensor C, I, s, pi, tier;
  // dasg, [N] (row = b·T + t): raw scores r and where the running statistics count them; the
  // sampled rows (training), their action (1 = deep) and log π̃(a) (differentiable in the
  // policy; undefined when nothing was sampled).
  Tensor raw, counted, sampled, deep, log_prob;
  Tensor stats;  // f32 [kRoutingStats + n_shallow_loads + n_deep_loads]
  int64_t n_shallow_loads = 0, n_deep_loads = 0;
  RoutingSummary summary() const;  // one device→host copy
};

struct FfnInput {
  Tensor x;            // LN2(h) [N, D]
  Tensor C, I;         // [N]
  Tensor has_context;  // [N] 1 at real rows whose attention may use more than one key
  const BatchInfo* batch = nullptr;
  bool deep_active = false;  // dasg: the DSSE transfer has happened
  // Expert parallel (dasg, switch): the ranks the experts are spread over (model/experts.hpp);
  // null: every expert runs here.
  std::shared_ptr<RowExchange> exchange;
};

struct FfnOutput {
  Tensor y;                     // [N, D]
  Tensor balance, z, sparsity;  // scalars
  LayerRouting routing;
};

class FeedForward {
 public:
  virtual ~FeedForward() = default;
  virtual FfnOutput forward(const FfnInput& in) const = 0;
};

class DasgFfn : public FeedForward {
 public:
  DasgFfn(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen);
  FfnOutput forward(const FfnInput& in) const override;
  // DSSE transfer (§7.5): deep e ← shallow (e mod n_shallow) fc1 (then frozen) and fc2 → fc4,
  // fc3 zeroed, router rows copied. freeze_only: just freeze deep fc1 (loading a checkpoint).
  // A released deep expert (another rank's, expert parallel) is skipped; a held one needs its
  // parent shallow expert held.
  void transfer(bool freeze_only);

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
