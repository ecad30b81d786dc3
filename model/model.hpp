// Model: DASG-MoE and its baselines, DESIGN §7.1 end to end, on one device.
//   x0 = wte[token] + wpe[pos];  per layer h = x + Attn(LN1(x)), x = h + FFN(LN2(h));
//   LM:      logits = LN_f(x)·wteᵀ (tied), ce = mean CE over the targets;
//   encoder: logits = (mean over real i of LN_f(x)_i)·W_clsᵀ + b_cls, ce = mean CE over labels.
//   loss = ce + Σ_layers (balance + z) + sparsity                                          §7.7
// The forward is pure: it writes no member. It returns, besides the logits and loss terms, each
// layer's routing record (device tensors) and the detached per-row CE the rewards are made of.
// What changes once per optimizer step — the evaluator's running statistics, the REINFORCE
// baselines and surrogate (§7.4), the DSSE transfer schedule — is train/'s (train/router_state.hpp);
// total training loss = loss + the surrogate computed there from these records.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/attention.hpp"
#include "model/config.hpp"
#include "model/decode_state.hpp"
#include "model/ffn.hpp"
#include "model/module.hpp"

namespace dasg {

struct ForwardResult {
  Tensor logits;  // [B, T, V] (LM) or [B, C] (encoder)
  Tensor loss;    // ce + balance + z + sparsity, scalar; the terms below are scalars too
  Tensor ce, balance, z, sparsity;
  // Detached, [N] (row = b·T + t), undefined without targets: each row's CE for its reward — the
  // token's own (LM) or its sequence's (encoder) — and 1 where the row has one (LM targets not
  // ignored; every row of an encoder: padding is never sampled).
  Tensor row_loss, row_has_loss;
  Tensor token_ce;  // detached per-token CE [B, T] (LM) or per-sequence [B] (encoder)
  std::vector<LayerRouting> layers;
};

class Model {
 public:
  // Parameters are initialised on the CPU from `seed` (the same values for every device), then
  // moved to `device`.
  explicit Model(const Config& cfg, uint64_t seed = 0, Device device = kCPU);
  const Config& config() const { return cfg_; }
  Parameters& parameters() { return params_; }
  const Parameters& parameters() const { return params_; }
  Device device() const { return device_; }
  // Moves every parameter and buffer to `device` in place (handles stay valid; gradients drop).
  void to(Device device);

  void train(bool on) { training_ = on; }
  bool training() const { return training_; }
  // Switch capacity on (training, evaluation, the dump) or off (generation).
  void set_capacity(bool on) { capacity_ = on; }
  // Mixed precision (DESIGN §3): f32 (default) or bf16, where the Linear GEMMs and the tied LM head
  // take bf16 operands cast on the fly from the f32 parameters and activations (f32 accumulation);
  // the FFNs' and experts' hidden activations (GEMM → bias+GELU → GEMM, the deep expert's
  // residual), the rows gathered for the experts and the attention's qkv are stored in bf16; the
  // residual stream, LayerNorm, softmax, cross-entropy, the attention's arithmetic and output, C
  // and I, the router logits and the REINFORCE terms stay f32. Decoding (step) follows the same rule. bf16 is for CUDA: a forward on the
  // CPU with it throws. set_precision checks the model's device now, forward and step at every
  // call (after a to()).
  void set_precision(DType gemm);
  DType precision() const { return precision_; }

  // tokens i32 [B, T] (T ≤ max_seq_len); targets i32 [B, T] (LM, −100 ignored) or [B] (encoder
  // labels), optional; lengths i32 [B] (encoder only; absent: every sequence has length T). Any
  // device: inputs are moved to the model's. `gen` draws dropout masks, tier samples and the
  // adr.random choices; without one the forward uses a generator of its own seeded from the
  // model's seed (deterministic).
  ForwardResult forward(const Tensor& tokens, const Tensor& targets, const Tensor& lengths, Generator& gen) const;
  ForwardResult forward(const Tensor& tokens, const Tensor& targets = Tensor(), const Tensor& lengths = Tensor()) const;

  // Incremental decoding of a causal model in evaluation mode (model/model_decode.cpp; DESIGN
  // §7.2; the state in model/decode_state.hpp). Switch runs without capacity there (§7.6), whatever
  // set_capacity says, since capacity would couple a token to the batch it happens to share.
  //   start_decode(B): a zeroed state for B sequences, every context empty.
  //   prefill(state, b, tokens): sequence b's context becomes tokens (0..max_seq_len of them) by
  //     one forward over them, which also fills b's state; returns the logits [V] of the last
  //     token (undefined for none).
  //   step(state, tokens): appends tokens[b] to every sequence b at its next position (which must
  //     be < max_seq_len: sliding the context is the caller's, train/generate.hpp) and returns the
  //     logits [B, V] — what forward over each context gives at its last position, to round-off.
  DecodeState start_decode(int64_t batch) const;
  Tensor prefill(DecodeState& state, int64_t b, const std::vector<int32_t>& tokens, Generator& gen) const;
  Tensor step(DecodeState& state, const std::vector<int32_t>& tokens, Generator& gen) const;

  // Expert parallelism (dasg, switch; model/experts.hpp): with an exchange over W ranks, the
  // forward runs expert e of a tier of E only on rank expert_rank(e, E, W), tokens going there
  // and back through the exchange; every other parameter is computed as usual. Another rank's
  // experts are neither read nor trained here, so whoever trains may release them
  // (Tensor::release_; train/expert_parallel.hpp). Null: all experts local.
  // Throws unless the FFN is dasg or switch and each tier's expert count is a multiple of W.
  void set_expert_exchange(std::shared_ptr<RowExchange> exchange);
  const std::shared_ptr<RowExchange>& expert_exchange() const { return exchange_; }
  // The rank holding parameter `name` under expert parallelism over `world` ranks, −1 for a
  // parameter every rank holds (not a sharded expert's).
  int expert_rank_of(const std::string& name, int world) const;

  // Whether the forward can reach parameter `name` at all: not the deep experts (nor the deep
  // router) of a dasg model before the DSSE transfer. What a trainer need not all-reduce.
  bool reachable(const std::string& name) const;

  // The DSSE transfer (§7.5); idempotent flag deep_active() afterwards.
  void transfer_dsse();
  bool deep_active() const { return deep_active_; }

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

  // forward's body; traces (one per layer) keep what a prefill needs.
  ForwardResult run(const Tensor& tokens, const Tensor& targets, const Tensor& lengths, Generator& gen, bool capacity,
                    std::vector<AttentionTrace>* traces) const;

  Config cfg_;
  uint64_t seed_;
  Device device_ = kCPU;
  Parameters params_;
  Tensor wte_, wpe_;
  std::vector<Block> blocks_;
  LayerNorm ln_f_;
  Linear cls_;  // encoders only
  bool training_ = true, capacity_ = true, deep_active_ = false;
  std::shared_ptr<RowExchange> exchange_;
  DType precision_ = DType::f32;
};

// A --precision name: "f32" or "bf16".
DType parse_precision(const std::string& name);
// Mixed precision (a `gemm` other than f32) needs a CUDA device: an error naming `where` otherwise.
void check_precision(const char* where, DType gemm, Device device);

}  // namespace dasg
