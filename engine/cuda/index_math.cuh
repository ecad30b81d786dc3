// Index arithmetic for kernels that map a flat output index to operand offsets (broadcast
// elementwise, permute) without a 64-bit divide/modulo pair per dimension per element:
//   - the dimensions are collapsed first: neighbours that every operand walks contiguously
//     (stride_outer = stride_inner · size_inner, broadcast ones included) become one, and size-1
//     ones are dropped, so [N, D] + [D] is 2 dimensions and a plain copy 1;
//   - when the element count fits 32 bits, coordinates come from FastDiv: division by a fixed
//     divisor as a multiply-high and a shift (Granlund & Montgomery 1994, Theorem 4.2; PyTorch's
//     IntDivider), exact for every n < 2^32 and divisor 1 ≤ d < 2^32.
// Larger tensors fall back to 64-bit division (the kernels keep both paths).
// __host__ __device__, so the host can check it against plain division.
#pragma once
#include <cstdint>

#include "engine/cuda/cuda_compat.cuh"
#include "engine/shape.hpp"

namespace dasg::cuda {

struct FastDiv {
  uint32_t d = 1, magic = 1, shift = 0;
  FastDiv() = default;
  __host__ __device__ explicit FastDiv(uint32_t divisor) : d(divisor) {
    shift = 0;
    while (shift < 32 && (uint64_t(1) << shift) < divisor) ++shift;
    magic = (uint32_t)(((uint64_t(1) << 32) * ((uint64_t(1) << shift) - divisor)) / divisor + 1);
  }
  __host__ __device__ uint32_t div(uint32_t n) const {
#ifdef __CUDA_ARCH__
    const uint32_t t = __umulhi(n, magic);
#else
    const uint32_t t = (uint32_t)(((uint64_t)n * magic) >> 32);
#endif
    return (uint32_t)(((uint64_t)t + n) >> shift);
  }
};

// Up to kMaxDims collapsed dimensions, outermost first, and each operand's stride (elements; 0
// where it is broadcast). `operands` is 1 (permute) or 2 (binary elementwise).
struct Strided {
  int nd = 0;
  int64_t dims[kMaxDims];
  int64_t stride[2][kMaxDims];
  FastDiv div[kMaxDims];  // div[k] divides by dims[k] (k ≥ 1; dimension 0 needs none)
  bool fits32 = false;    // the element count and every offset fit 32 bits
};

// dims/strides as 5-D arrays, outermost first (size-1 and broadcast dimensions allowed).
inline Strided collapse(const int64_t* dims, const int64_t* sa, const int64_t* sb, int operands) {
  Strided s;
  int64_t n = 1, reach = 0;
  for (int k = 0; k < kMaxDims; ++k) {
    n *= dims[k];
    if (dims[k] == 1) continue;
    const int p = s.nd - 1;
    bool merge = p >= 0;
    for (int o = 0; o < operands && merge; ++o) {
      const int64_t st = o == 0 ? sa[k] : sb[k];
      merge = s.stride[o][p] == st * dims[k];
    }
    if (merge) {
      s.dims[p] *= dims[k];
      for (int o = 0; o < operands; ++o) s.stride[o][p] = o == 0 ? sa[k] : sb[k];
      continue;
    }
    s.dims[s.nd] = dims[k];
    for (int o = 0; o < operands; ++o) s.stride[o][s.nd] = o == 0 ? sa[k] : sb[k];
    ++s.nd;
  }
  for (int k = 0; k < s.nd; ++k)
    for (int o = 0; o < operands; ++o) reach += (s.dims[k] - 1) * s.stride[o][k];
  s.fits32 = n < (int64_t(1) << 32) && reach < (int64_t(1) << 32);
  for (int k = 0; k < s.nd; ++k) s.div[k] = FastDiv(s.fits32 ? (uint32_t)s.dims[k] : 1u);
  return s;
}

// The operands' offsets of flat index i (i < 2^32, s.fits32), by FastDiv.
template <int kOperands>
__device__ inline void offsets32(const Strided& s, uint32_t i, uint32_t* off) {
  for (int o = 0; o < kOperands; ++o) off[o] = 0;
  for (int k = s.nd - 1; k > 0; --k) {
    const uint32_t q = s.div[k].div(i), idx = i - q * (uint32_t)s.dims[k];
    for (int o = 0; o < kOperands; ++o) off[o] += idx * (uint32_t)s.stride[o][k];
    i = q;
  }
  if (s.nd > 0)
    for (int o = 0; o < kOperands; ++o) off[o] += i * (uint32_t)s.stride[o][0];
}

// The same in 64 bits, for tensors past 2^32 elements.
template <int kOperands>
__device__ inline void offsets64(const Strided& s, int64_t i, int64_t* off) {
  for (int o = 0; o < kOperands; ++o) off[o] = 0;
  for (int k = s.nd - 1; k > 0; --k) {
    const int64_t q = i / s.dims[k], idx = i - q * s.dims[k];
    for (int o = 0; o < kOperands; ++o) off[o] += idx * s.stride[o][k];
    i = q;
  }
  if (s.nd > 0)
    for (int o = 0; o < kOperands; ++o) off[o] += i * s.stride[o][0];
}

}  // namespace dasg::cuda
