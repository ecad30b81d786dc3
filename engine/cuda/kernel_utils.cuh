// Helpers shared by the CUDA kernels: launch shapes, the stream of a tensor's device, and
// double-precision block reductions. Included only by .cu files.
#pragma once
#include <cstdint>

#include "engine/cuda/context.hpp"
#include "engine/cuda/launch.cuh"
#include "engine/tensor.hpp"

namespace dasg::cuda {

constexpr int kThreads = 256;  // threads a block for elementwise kernels

// Blocks to cover n elements with kThreads each, capped (kernels use grid-stride loops).
inline unsigned blocks_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  if (b < 1) b = 1;
  return (unsigned)(b > 65535 ? 65535 : b);
}

inline cudaStream_t stream_of(const Tensor& t) { return stream(t.device().index); }

// Sum of `v` over the block (blockDim.x a multiple of 32, at most 1024), valid in thread 0.
// Uses 32 doubles of shared memory; every thread of the block must call it.
__device__ inline double block_sum(double v, double* shared32) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (lane == 0) shared32[warp] = v;
  __syncthreads();
  const int warps = blockDim.x / 32;
  v = (int)threadIdx.x < warps ? shared32[threadIdx.x] : 0.0;
  if (warp == 0)
    for (int offset = 16; offset > 0; offset /= 2) v += __shfl_down_sync(0xffffffffu, v, offset);
  __syncthreads();  // shared32 may be reused by the caller
  return v;
}

}  // namespace dasg::cuda
