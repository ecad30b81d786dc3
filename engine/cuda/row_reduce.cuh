// Row-wise kernels over an [N, C] view (softmax, layer_norm, cross_entropy): each row belongs to
// one group of threads, either a warp (kWarp = true: lanes stride over the row, blockDim.x/32 rows
// a block; for short rows) or the whole block (kWarp = false: blockDim.x threads, a multiple of 32
// and at most 1024; for long rows). The group walks rows with a grid stride, so a row index is
// uniform over the group and the __syncthreads() of a block group are reached by every thread.
//
// group_reduce gives every thread of the group the same value, combined in a fixed order (a
// butterfly over the warp, then the warps' results in warp order), so the result is the same
// bits in every thread and on every run. Included only by .cu files.
#pragma once
#include <cstdint>

#include "engine/cuda/kernel_utils.cuh"

namespace dasg::cuda {

// Rows up to this long go one to a warp; longer ones one to a block of kThreads.
constexpr int64_t kWarpRowMax = 1024;

template <bool kWarp>
__device__ inline int group_lane() {
  return kWarp ? (int)(threadIdx.x % 32) : (int)threadIdx.x;
}
template <bool kWarp>
__device__ inline int group_size() {
  return kWarp ? 32 : (int)blockDim.x;
}
template <bool kWarp>
__device__ inline int64_t group_first_row() {
  return kWarp ? (int64_t)blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32 : (int64_t)blockIdx.x;
}
template <bool kWarp>
__device__ inline int64_t group_row_stride() {
  return kWarp ? (int64_t)gridDim.x * (blockDim.x / 32) : (int64_t)gridDim.x;
}

struct SumOp {
  __device__ double operator()(double a, double b) const { return a + b; }
};
// max that lets NaN win whichever side it is on, so lanes combining (a, b) and (b, a) agree.
struct MaxOp {
  __device__ double operator()(double a, double b) const { return (a > b || a != a) ? a : b; }
};

// op over the group's values of v, returned to every thread of the group. A block group uses
// 32 doubles of shared memory (`shared32`, unused for a warp); every thread of the group must call.
template <bool kWarp, class Op>
__device__ inline double group_reduce(double v, double* shared32, Op op) {
  for (int offset = 16; offset > 0; offset /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, offset));
  if constexpr (kWarp) {
    return v;
  } else {
    const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    double r = shared32[0];
    for (int w = 1; w < warps; ++w) r = op(r, shared32[w]);
    __syncthreads();  // shared32 is reused by the next reduction
    return r;
  }
}

// Launch shape for N rows of length C: {grid, block, warp-per-row?}.
struct RowLaunch {
  unsigned grid;
  unsigned block;
  bool warp;
};
inline RowLaunch row_launch(int64_t N, int64_t C) {
  const bool warp = C <= kWarpRowMax;
  const int64_t per_block = warp ? kThreads / 32 : 1;
  int64_t g = (N + per_block - 1) / per_block;
  if (g < 1) g = 1;
  if (g > 65535) g = 65535;
  return {(unsigned)g, (unsigned)kThreads, warp};
}

}  // namespace dasg::cuda
