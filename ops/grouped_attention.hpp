// Fused grouped sliding-window attention (DESIGN §7.2 step 2), differentiable in q, k, v, with
// the evaluator's statistics C (complexity) and I (importance) computed by the same kernel.
//
//   position i may attend j  ⇔  ⌊j/L⌋ = ⌊i/L⌋,  |i − j| < w,  causal ⇒ j ≤ i,
//                               and (with lengths) i, j < n_b
//   u_i = Σ_j softmax_j(q_i·k_j/√d) v_j per head, heads concatenated; 0 for a row with no key.
//   C_i = mean_h entropy_h(i) / ln n_i (0 when n_i ≤ 1);  I_i = ρ_i / (1 + ρ_i)
//   (ρ: causal ⇒ mean_h p_ii·n_i; encoder ⇒ mean_h of the mean over the real queries i' that
//    may attend i of p_i'i·n_i').  C and I are 0 at padded positions and carry no gradient.
// Cost O(B·H·T·w·d); backward recomputes the probabilities from the saved log-normalisers.
//
// Full attention (attention: "full") is the same op with full_attention_mask(T, causal):
// one group of length T and window T, so every j ≤ i (causal) or every j (encoder) is allowed;
// its cost is then O(T²) per head, as it must be.
//
// Two input layouts, the same kernel:
//   grouped_window_attention(qkv, n_head, ...)  qkv [B, T, 3·D] as linear(x, W_qkv) makes it: the q,
//       k, v blocks of D = n_head·d columns, heads contiguous within each (DESIGN §8). No split or
//       permute copies; the gradient is one [B, T, 3·D] tensor.
//   grouped_window_attention(q, k, v, ...)      q, k, v each [B, H, T, d].
// Both return u [B, T, H·d] and C, I [B, T], in the inputs' dtype and device; bf16 inputs (mixed
// precision, CUDA only) are computed in f32 and give f32 outputs and gradients.
// lengths: optional i32 [B] with values in 1..T (encoder padding); an error for a causal mask.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

struct AttentionMask {
  int64_t group_len = 1;  // L ≥ 1 (may exceed T: the last group is then cut at T)
  int64_t window = 1;     // w, 1 ≤ w ≤ L
  bool causal = true;
};

// The mask of standard (full) attention over T positions.
inline AttentionMask full_attention_mask(int64_t T, bool causal) { return {T, T, causal}; }

struct GroupedAttentionResult {
  Tensor out;         // u [B, T, H·d], differentiable
  Tensor complexity;  // C [B, T], no grad
  Tensor importance;  // I [B, T], no grad
};

GroupedAttentionResult grouped_window_attention(const Tensor& qkv, int64_t n_head, const AttentionMask& mask,
                                                const Tensor& lengths = Tensor());
GroupedAttentionResult grouped_window_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AttentionMask& mask, const Tensor& lengths = Tensor());

}  // namespace dasg
