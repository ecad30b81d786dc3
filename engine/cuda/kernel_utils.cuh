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

// A bf16 tensor's elements as the toolkit's type (the engine's dasg::bf16 has the same 2 bytes).
static_assert(sizeof(__nv_bfloat16) == sizeof(bf16), "__nv_bfloat16 is 2 bytes");
inline __nv_bfloat16* bf16_data(Tensor& t) { return reinterpret_cast<__nv_bfloat16*>(t.data<bf16>()); }
inline const __nv_bfloat16* bf16_data(const Tensor& t) {
  return reinterpret_cast<const __nv_bfloat16*>(t.data<bf16>());
}

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

// Stable ranks by key within one block, for counting sorts. Every thread of the block calls it
// with the same S; positions p = 0 .. S − 1 go a chunk of blockDim.x at a time, thread t holding
// p0 + t. key_at(p) is p's key (< 0: none); place(p, e, q) is called for each p with key e ≥ 0,
// where q = #{p' < p : key_at(p') = e} (in ascending p). cursor[e] must start at 0 for every key;
// skey is shared int32[blockDim.x]. Cost O(S) shared reads and 2·⌈S/blockDim.x⌉ barriers a thread.
template <class KeyAt, class Place>
__device__ void stable_ranks(int64_t S, int32_t* skey, int32_t* cursor, KeyAt key_at, Place place) {
  const int t = (int)threadIdx.x, nt = (int)blockDim.x;
  for (int64_t p0 = 0; p0 < S; p0 += nt) {
    const int64_t p = p0 + t;
    const int32_t e = p < S ? key_at(p) : -1;
    skey[t] = e;
    __syncthreads();
    int32_t before = 0, after = 0;
    if (e >= 0) {
      const int n = (int)(S - p0 < nt ? S - p0 : nt);
      for (int q = 0; q < n; ++q)
        if (skey[q] == e) {
          if (q < t) ++before;
          if (q > t) ++after;
        }
      place(p, e, (int64_t)cursor[e] + before);
    }
    __syncthreads();
    if (e >= 0 && after == 0) cursor[e] += before + 1;  // read again only after the next chunk's barrier
  }
}

}  // namespace dasg::cuda
