// grouped_window_attention: argument checks, the layout (strides into packed qkv or separate
// q, k, v), and the autograd node. The math and loops are in engine/kernels/grouped_attention*.
//   forward:  u, lse, C, I = kernel(q, k, v)             saved: q, k, v, u, lse, lengths
//   backward: dq, dk, dv = kernel_backward(q, k, v, u, lse, du)   (p recomputed from lse)
// bf16 q, k, v (mixed precision, CUDA): computed in f32; u, lse, C, I and the gradients are f32.
#include "ops/grouped_attention.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/grouped_attention.hpp"
#include "engine/profiler.hpp"
#include "ops/cast.hpp"

namespace dasg {

namespace {

constexpr const char* kOp = "grouped_window_attention";

// Query-key pairs the mask allows, summed over b and h (every position real), for the profiler's
// FLOP count: Σ_i n_i with n_i = |keys(i)|.
double attention_pairs(const kernels::AttentionShape& s) {
  double pairs = 0;
  for (int64_t i = 0; i < s.T; ++i) {
    const kernels::KeySpan ks = kernels::attention_keys(s.L, s.w, s.causal, i, s.T);
    pairs += (double)(ks.hi - ks.lo + 1);
  }
  return pairs * (double)(s.B * s.H);
}

struct GroupedAttentionBackward : Node {
  kernels::AttentionShape s;
  bool packed = false;
  const char* name() const override { return kOp; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &u = saved[3], &lse = saved[4], &lengths = saved[5];
    if (packed) {
      const Tensor& qkv = saved[0];
      Tensor dqkv = Tensor::empty(qkv.shape(), u.dtype(), qkv.device());
      if (profiler::enabled()) profiler::count_flops(8.0 * (double)s.d * attention_pairs(s));
      kernels::grouped_attention_backward(s, qkv, qkv, qkv, lengths, u, lse, g, dqkv, dqkv, dqkv);
      return {dqkv};
    }
    const Tensor &q = saved[0], &k = saved[1], &v = saved[2];
    Tensor dq = Tensor::empty(q.shape(), u.dtype(), q.device());
    Tensor dk = Tensor::empty(k.shape(), u.dtype(), k.device());
    Tensor dv = Tensor::empty(v.shape(), u.dtype(), v.device());
    if (profiler::enabled()) profiler::count_flops(8.0 * (double)s.d * attention_pairs(s));
    kernels::grouped_attention_backward(s, q, k, v, lengths, u, lse, g, dq, dk, dv);
    return {needs(0) ? dq : Tensor(), needs(1) ? dk : Tensor(), needs(2) ? dv : Tensor()};
  }
};

// The inputs' dtype: f32 or f64, or bf16 on CUDA (mixed precision).
void check_dtype(const Tensor& x) {
  if (x.dtype() != DType::bf16) return check_floating(kOp, x);
  check_bf16_on_cuda(kOp, x, "input " + x.str());
}

// Mask and lengths checks shared by both layouts; fills s.L, s.w, s.causal.
void check_mask(kernels::AttentionShape& s, const AttentionMask& mask, const Tensor& lengths, const Tensor& x) {
  DASG_CHECK(mask.group_len >= 1, kOp, ": group_len ", mask.group_len, " is out of range; expected L >= 1");
  DASG_CHECK(mask.window >= 1 && mask.window <= mask.group_len, kOp, ": window ", mask.window,
             " is out of range; expected 1 <= window <= group_len (", mask.group_len, ")");
  s.L = mask.group_len;
  s.w = mask.window;
  s.causal = mask.causal;
  if (!lengths.defined()) return;
  DASG_CHECK(!mask.causal, kOp, ": lengths given with a causal mask; padding is for encoders only "
             "(a causal model takes no lengths)");
  check_same_device(kOp, x, lengths);
  DASG_CHECK(lengths.dtype() == DType::i32 && lengths.dim() == 1 && lengths.size(0) == s.B, kOp, ": lengths ",
             lengths.str(), "; expected i32[", s.B, "] (one length per sequence)");
  std::vector<int32_t> n = lengths.to_vector<int32_t>();
  for (size_t b = 0; b < n.size(); ++b)
    DASG_CHECK(n[b] >= 1 && n[b] <= s.T, kOp, ": lengths[", b, "] = ", n[b], " is out of range; expected 1..", s.T,
               " (the sequence length T)");
}

GroupedAttentionResult run(const kernels::AttentionShape& s, bool packed, const std::vector<Tensor>& inputs,
                           const Tensor& lengths) {
  DASG_PROFILE_OP("grouped_window_attention");
  const Tensor& x = inputs[0];
  const DType ct = x.dtype() == DType::bf16 ? DType::f32 : x.dtype();  // the compute dtype
  GroupedAttentionResult r;
  r.out = Tensor::empty({s.B, s.T, s.H * s.d}, ct, x.device());
  r.complexity = Tensor::empty({s.B, s.T}, ct, x.device());
  r.importance = Tensor::empty({s.B, s.T}, ct, x.device());
  Tensor lse = Tensor::empty({s.B, s.H, s.T}, ct, x.device());
  const Tensor &q = inputs[0], &k = packed ? inputs[0] : inputs[1], &v = packed ? inputs[0] : inputs[2];
  if (profiler::enabled()) profiler::count_flops(4.0 * (double)s.d * attention_pairs(s));
  kernels::grouped_attention_forward(s, q, k, v, lengths, r.out, lse, r.complexity, r.importance);
  if (needs_grad(inputs)) {
    auto n = std::make_shared<GroupedAttentionBackward>();
    n->s = s;
    n->packed = packed;
    n->saved = {q.detach(), k.detach(), v.detach(), r.out.detach(), lse, lengths};
    attach(r.out, n, inputs);
  }
  return r;
}

}  // namespace

GroupedAttentionResult grouped_window_attention(const Tensor& qkv, int64_t n_head, const AttentionMask& mask,
                                                const Tensor& lengths) {
  check_dtype(qkv);
  DASG_CHECK(qkv.dim() == 3 && qkv.size(2) % 3 == 0 && qkv.size(2) > 0, kOp, ": qkv ", qkv.str(),
             "; expected [B, T, 3·D] (q, k, v blocks of D columns)");
  const int64_t D = qkv.size(2) / 3;
  DASG_CHECK(n_head >= 1 && D % n_head == 0, kOp, ": n_head ", n_head, " does not divide D = ", D, " (qkv ",
             qkv.str(), "); expected D = n_head·d");
  kernels::AttentionShape s;
  s.B = qkv.size(0);
  s.T = qkv.size(1);
  s.H = n_head;
  s.d = D / n_head;
  DASG_CHECK(s.T >= 1, kOp, ": qkv ", qkv.str(), " has no positions; expected T >= 1");
  check_mask(s, mask, lengths, qkv);
  s.sb = s.T * 3 * D;
  s.sh = s.d;
  s.st = 3 * D;
  s.q_off = 0;
  s.k_off = D;
  s.v_off = 2 * D;
  return run(s, true, {qkv}, lengths);
}

GroupedAttentionResult grouped_window_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                                const AttentionMask& mask, const Tensor& lengths) {
  check_dtype(q);
  check_same_device(kOp, q, k);
  check_same_device(kOp, q, v);
  check_same_dtype(kOp, q, k);
  check_same_dtype(kOp, q, v);
  DASG_CHECK(q.dim() == 4 && q.shape() == k.shape() && q.shape() == v.shape(), kOp, ": q ", q.str(), ", k ",
             k.str(), ", v ", v.str(), "; expected three equal shapes [B, H, T, d]");
  kernels::AttentionShape s;
  s.B = q.size(0);
  s.H = q.size(1);
  s.T = q.size(2);
  s.d = q.size(3);
  DASG_CHECK(s.H >= 1 && s.T >= 1 && s.d >= 1, kOp, ": q ", q.str(), "; expected H, T, d >= 1");
  check_mask(s, mask, lengths, q);
  s.sb = s.H * s.T * s.d;
  s.sh = s.T * s.d;
  s.st = s.d;
  return run(s, false, {q, k, v}, lengths);
}

}  // namespace dasg
