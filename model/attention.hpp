// Attention (DESIGN §7.2): GMHA and its two variants.
//   "gmha":  q,k,v = LN1(x)·W_qkvᵀ + b_qkv → grouped sliding-window attention u (with the
//            evaluator's C and I) → per-group MLP refinement u' → aggregation c over the visible
//            group summaries → o = (u' + c)·W_oᵀ + b_o.
//   "local": steps 1, 2, 5 only: o = u·W_oᵀ + b_o.
//   "full":  standard multi-head attention (the same fused op with one group of length T and
//            window T), C and I under the same definitions.
// The group MLPs exist only under gmha with group_mlp_hidden > 0, the aggregation's q/k/v only
// under gmha with aggregate true (DESIGN §8: a model has exactly the parameters its config uses).
#pragma once
#include <string>
#include <vector>

#include "model/batch.hpp"
#include "model/config.hpp"
#include "model/decode_state.hpp"
#include "model/module.hpp"
#include "ops/grouped_attention.hpp"

namespace dasg {

struct AttentionOutput {
  Tensor out;         // o [B, T, D]
  Tensor complexity;  // C [B, T], no grad, 0 at padding, on the batch's device
  Tensor importance;  // I [B, T], no grad, 0 at padding, on the batch's device
};

// What a prefill keeps of one layer's forward to fill the decode state: the projection
// qkv = LN1(x)·W_qkvᵀ + b_qkv [B, T, 3·D] and, under gmha, the refined u' [B, T, D].
struct AttentionTrace {
  Tensor qkv, refined;
};

struct GroupMlp {
  Linear fc1, fc2;  // D → Hg → D
};

class Attention {
 public:
  Attention(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen);
  // x: LN1(h) [B, T, D]. With a trace, also keeps what a prefill needs (see AttentionTrace).
  AttentionOutput forward(const Tensor& x, const BatchInfo& batch, AttentionTrace* trace = nullptr) const;

  // Incremental decoding of a causal model (model/attention_decode.cpp; the state's layout in
  // model/decode_state.hpp). decode_state: this layer's zeroed state for B sequences.
  // prefill_state: writes sequence b's state from the trace of its forward over its first T
  // context positions, ready for position T. step: position pos[b] of every sequence b, with
  // x = LN1(x) [B, D]; returns o [B, D], C and I [B], exactly what forward computes at those
  // positions, and advances the state. `gemm`: the GEMMs' operand dtype, as BatchInfo::gemm.
  int64_t cache_len() const;
  LayerDecodeState decode_state(int64_t B, Device device, DType dtype) const;
  void prefill_state(const AttentionTrace& trace, int64_t b, int64_t T, LayerDecodeState& s,
                     DType gemm = DType::f32) const;
  AttentionOutput step(const Tensor& x, const std::vector<int64_t>& pos, LayerDecodeState& s,
                       DType gemm = DType::f32) const;
  // The mask of the fused local attention for inputs of length T.
  AttentionMask mask(int64_t T) const;
  // n_i, the number of keys position t of a sequence of length n may attend to.
  int64_t allowed_keys(int64_t t, int64_t n, int64_t T) const;

 private:
  // Steps 3 and 4: u' = u + MLP_g(u) per group; c from the group summaries. u [B, T, D].
  Tensor refine_groups(const Tensor& u, int64_t T, DType gemm) const;
  Tensor aggregate(const Tensor& u, const BatchInfo& batch) const;
  // The step's pieces: single-query local attention, refinement, aggregation with its state.
  AttentionOutput attend_step(const Tensor& qkv, const std::vector<int64_t>& pos, LayerDecodeState& s) const;
  Tensor refine_step(const Tensor& u, const std::vector<int64_t>& pos, DType gemm) const;
  Tensor aggregate_step(const Tensor& u, const std::vector<int64_t>& pos, LayerDecodeState& s, DType gemm) const;
  bool aggregates() const { return cfg_.attention == "gmha" && cfg_.gmha.aggregate; }

  Config cfg_;
  Linear qkv_, proj_;
  std::vector<GroupMlp> group_mlp_;
  Linear agg_q_, agg_k_, agg_v_;
};

}  // namespace dasg
