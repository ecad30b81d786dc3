// Comparison masks and selection (ops/compare.hpp), any float dtype, on broadcast operands:
//   compare: out[i] = [a[i] op b[ib(i)]]  (1 or 0 in a's dtype; NaN on either side gives 0),
//            or [a[i] op s] with a host scalar s, compared in a's dtype (s rounded to T first, as
//            hard_threshold does); op ∈ {<, ≤, >, ≥}; out has a's shape, b broadcasts into it.
//   where:   out[i] = mask[im(i)] != 0 ? a[ia(i)] : b[ib(i)]   (a or b may be a host scalar);
//            a select, not mask·a + (1 − mask)·b: an unselected inf or NaN does not leak.
// Broadcasting as in elementwise.hpp (aligned on the right, a size-1 or missing dimension
// repeated); `Broadcast3` holds the element strides of up to three operands over the output,
// written once here and used by the CPU loops and the CUDA kernels alike.
#pragma once
#include "engine/kernels/backend.hpp"

#if defined(__CUDACC__)
#define DASG_CMP_HD __host__ __device__ __forceinline__
#else
#define DASG_CMP_HD inline
#endif

namespace dasg::kernels {

enum class CompareOp : uint8_t { less, less_equal, greater, greater_equal };
const char* compare_name(CompareOp op);

template <class T>
DASG_CMP_HD bool compare_holds(CompareOp op, T x, T y) {
  switch (op) {
    case CompareOp::less: return x < y;
    case CompareOp::less_equal: return x <= y;
    case CompareOp::greater: return x > y;
    default: return x >= y;
  }
}

// Output dims padded to kMaxDims on the left; stride[o][k] is operand o's element stride along
// padded dim k (0 where it is repeated); plain[o]: operand o has the output's shape (offset = i).
struct Broadcast3 {
  int64_t dims[kMaxDims];
  int64_t stride[3][kMaxDims];
  bool plain[3];
};

DASG_CMP_HD int64_t broadcast_offset(const Broadcast3& b, int o, int64_t i) {
  if (b.plain[o]) return i;
  int64_t off = 0;
  for (int k = kMaxDims - 1; k >= 0; --k) {
    off += (i % b.dims[k]) * b.stride[o][k];
    i /= b.dims[k];
  }
  return off;
}

// The strides of up to three operand shapes (each broadcasting to `out`; a missing operand is
// left plain and never read).
Broadcast3 make_broadcast3(const Shape& out, const Shape* s0, const Shape* s1, const Shape* s2);

// compare: b undefined → the scalar s.
void compare_cpu(CompareOp op, const Tensor& a, const Tensor& b, double s, Tensor& out);
// where: a (or b) undefined → the scalar sa (or sb).
void where_cpu(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, Tensor& out);
DASG_DECLARE_CUDA(void compare_cuda(CompareOp op, const Tensor& a, const Tensor& b, double s, Tensor& out);)
DASG_DECLARE_CUDA(void where_cuda(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, Tensor& out);)

inline void compare(CompareOp op, const Tensor& a, const Tensor& b, double s, Tensor& out) {
  DASG_BACKEND(out, compare, op, a, b, s, out);
}
inline void where(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, Tensor& out) {
  DASG_BACKEND(out, where, mask, a, sa, b, sb, out);
}

}  // namespace dasg::kernels
