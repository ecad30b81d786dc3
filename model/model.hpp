// Model: DASG-MoE and its baselines, DESIGN §7.1 end to end.
//   x0 = wte[token] + wpe[pos];  per layer h = x + Attn(LN1(x)), x = h + FFN(LN2(h));
//   LM:      logits = LN_f(x)·wteᵀ (tied), loss = mean CE over the targets;
//   encoder: logits = (mean over real i of LN_f(x)_i)·W_clsᵀ + b_cls, loss = mean CE over labels.
//   total = ce + Σ_layers (balance + z + policy) + sparsity                                 §7.7
// The policy term is REINFORCE's surrogate (§7.4), computed here from the tokens' own detached
// CE and the layer's baseline from before this step. Routing statistics (evaluator μ, σ_r) and
// baselines change only in end_step(), called once after each optimizer step, over everything
// the step's training forwards saw, so routing at step t uses only statistics of steps < t.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/attention.hpp"
#include "model/config.hpp"
#include "model/ffn.hpp"
#include "model/module.hpp"
#include "model/reinforce.hpp"

namespace dasg {

struct ForwardResult {
  Tensor logits;  // [B, T, V] (LM) or [B, C] (encoder)
  Tensor loss;    // total, scalar; the terms below are scalars too
  Tensor ce, balance, z, policy, sparsity;
  Tensor token_ce;  // detached per-token CE [B, T] (LM) or per-sequence [B] (encoder); undefined without targets
  std::vector<LayerRouting> layers;
  std::vector<double> mean_reward, baseline;  // per layer, over the tokens whose tier was sampled
};

// A layer's REINFORCE/evaluator state beyond the buffers, for state.json.
struct AdrLayerState {
  bool stats_set = false;  // the running (μ, σ_r) came from data (the first step sets them)
  PolicyBaseline baseline;
};

class Model {
 public:
  explicit Model(const Config& cfg, uint64_t seed = 0);
  const Config& config() const { return cfg_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  Generator& generator() { return gen_; }

  void train(bool on) { training_ = on; }
  bool training() const { return training_; }
  // Switch capacity on (training, evaluation, the dump) or off (generation).
  void set_capacity(bool on) { capacity_ = on; }

  // tokens i32 [B, T] (T ≤ max_seq_len); targets i32 [B, T] (LM, −100 ignored) or [B] (encoder
  // labels), optional; lengths i32 [B] (encoder only; absent: every sequence has length T).
  ForwardResult forward(const Tensor& tokens, const Tensor& targets = Tensor(), const Tensor& lengths = Tensor());

  // The DSSE transfer (§7.5); idempotent flag deep_active() afterwards.
  void transfer_dsse();
  bool deep_active() const { return deep_active_; }
  // Folds the routing statistics and rewards of the training forwards since the last call into
  // the evaluator's running statistics and the policy baselines; call after each optimizer step.
  void end_step();
  // Drops what the training forwards since the last end_step gathered (a skipped step).
  void discard_step();
  const std::vector<AdrLayerState>& adr_state() const { return adr_state_; }
  void set_adr_state(const std::vector<AdrLayerState>& s);

  // model.safetensors with __metadata__ {config, deep_active}; load() also freezes the deep fc1
  // when the file says the transfer happened (a missing key means true).
  void save(const std::string& path) const;
  void load(const std::string& path);

 private:
  struct Block {
    LayerNorm ln1, ln2;
    std::unique_ptr<Attention> attn;
    std::unique_ptr<FeedForward> ffn;
  };
  Tensor policy_loss(ForwardResult& r, const Tensor& token_ce, const Tensor& targets, const BatchInfo& batch);

  Config cfg_;
  Parameters params_;
  Generator gen_;  // dropout, tier sampling, adr.random
  Tensor wte_, wpe_;
  std::vector<Block> blocks_;
  LayerNorm ln_f_;
  Linear cls_;
  bool training_ = true, capacity_ = true, deep_active_ = false;
  std::vector<AdrLayerState> adr_state_;
  // Gathered by training forwards, consumed by end_step: counted raw scores and rewards per layer.
  std::vector<std::vector<float>> pending_r_, pending_reward_;
};

}  // namespace dasg
