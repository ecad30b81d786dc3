// Fused grouped sliding-window attention (DESIGN §7.2 step 2) with the evaluator's statistics.
//
// Per batch entry b (n = lengths[b] real positions, or T), head h, query i:
//   g(i) = ⌊i / L⌋;  i may attend j  ⇔  i < n, j < n, g(j) = g(i), |i − j| < w, (causal ⇒ j ≤ i)
//   keys(i) = [lo_i, hi_i], n_i = hi_i − lo_i + 1 (0 for a padded query)
//   s_ij = q_i·k_j / √d;  p_ij = exp(s_ij − lse_i), lse_i = ln Σ_j exp(s_ij);  u_i = Σ_j p_ij v_j
//   a query with no key (a padded one) outputs u_i = 0 and lse_i = 0.
// Statistics, averaged over heads, no gradient (0 at padded positions):
//   C_i = mean_h H^h_i / ln n_i  (0 when n_i ≤ 1),  H_i = −Σ_j p_ij ln p_ij = lse_i − m_i − Σ_j p_ij (s_ij − m_i)
//   I_i = ρ_i / (1 + ρ_i);  causal: ρ_i = mean_h p_ii·n_i;
//   encoder: ρ_i = mean_h (1/n_i) Σ_{i' may attend i} p_i'i·n_i'  (the mask is symmetric there, so the
//   real queries that may attend key i are exactly keys(i), n_i of them).
// Backward (p recomputed from lse; D_i = Σ_j p_ij dp_ij = do_i·u_i):
//   dp_ij = do_i·v_j;  ds_ij = p_ij (dp_ij − D_i);
//   dv_j += p_ij do_i;  dq_i += ds_ij k_j / √d;  dk_j += ds_ij q_i / √d
// Groups never interact, so one task per (b, h, group) owns every write it makes: race-free.
//
// Layout: q, k, v and their gradients share one addressing, base + off + b·sb + h·sh + t·st + c
// (c < d, contiguous). Separate [B,H,T,d] tensors: (sb, sh, st) = (H·T·d, T·d, d), offsets 0.
// One packed qkv [B,T,3·H·d] tensor (q, k, v blocks, heads contiguous within each):
// (sb, sh, st) = (3·H·d·T, d, 3·H·d), offsets (0, H·d, 2·H·d), and q, k, v all the same tensor.
// u and du are [B,T,H·d] (heads concatenated); lse is [B,H,T]; C, I are [B,T]; lengths i32 [B].
#pragma once
#include <algorithm>

#include "engine/kernels/backend.hpp"

#if defined(__CUDACC__)
#define DASG_ATTN_HD __host__ __device__ __forceinline__
#else
#define DASG_ATTN_HD inline
#endif

namespace dasg::kernels {

struct AttentionShape {
  int64_t B = 1, H = 1, T = 1, d = 1;
  int64_t L = 1, w = 1;  // group length, window (1 ≤ w ≤ L)
  bool causal = true;
  int64_t sb = 0, sh = 0, st = 0;           // element strides of q, k, v (and dq, dk, dv)
  int64_t q_off = 0, k_off = 0, v_off = 0;  // element offsets into their tensors
  int64_t groups() const { return T < 1 ? 0 : (T - 1) / L + 1; }
};

// The keys of query i in a sequence of n real positions: [lo, hi], empty (hi < lo) for i ≥ n.
struct KeySpan {
  int64_t lo, hi;
};
DASG_ATTN_HD KeySpan attention_keys(int64_t L, int64_t w, bool causal, int64_t i, int64_t n) {
  if (i >= n) return {0, -1};
  // Written with differences so that no sum overflows, whatever L and w are.
  const int64_t gs = i / L * L, ge = (n - gs > L ? gs + L : n) - 1;
  const int64_t lo = i - gs >= w ? i - w + 1 : gs;
  const int64_t hi = causal ? i : (ge - i >= w ? i + w - 1 : ge);
  return {lo, hi};
}

// Forward: writes u, lse, C, I (all overwritten). lengths may be undefined (every position real).
void grouped_attention_forward_cpu(const AttentionShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                                   const Tensor& lengths, Tensor& u, Tensor& lse, Tensor& complexity,
                                   Tensor& importance);
// Backward: dq, dk, dv are zero-filled here, then accumulated; for the packed layout they are one tensor.
void grouped_attention_backward_cpu(const AttentionShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& lengths, const Tensor& u, const Tensor& lse, const Tensor& du,
                                    Tensor& dq, Tensor& dk, Tensor& dv);
DASG_DECLARE_CUDA(void grouped_attention_forward_cuda(const AttentionShape& s, const Tensor& q, const Tensor& k,
                                                      const Tensor& v, const Tensor& lengths, Tensor& u, Tensor& lse,
                                                      Tensor& complexity, Tensor& importance);)
DASG_DECLARE_CUDA(void grouped_attention_backward_cuda(const AttentionShape& s, const Tensor& q, const Tensor& k,
                                                       const Tensor& v, const Tensor& lengths, const Tensor& u,
                                                       const Tensor& lse, const Tensor& du, Tensor& dq, Tensor& dk,
                                                       Tensor& dv);)

inline void grouped_attention_forward(const AttentionShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& lengths, Tensor& u, Tensor& lse, Tensor& complexity,
                                      Tensor& importance) {
  DASG_BACKEND(q, grouped_attention_forward, s, q, k, v, lengths, u, lse, complexity, importance);
}
inline void grouped_attention_backward(const AttentionShape& s, const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& lengths, const Tensor& u, const Tensor& lse, const Tensor& du,
                                       Tensor& dq, Tensor& dk, Tensor& dv) {
  DASG_BACKEND(q, grouped_attention_backward, s, q, k, v, lengths, u, lse, du, dq, dk, dv);
}

}  // namespace dasg::kernels
