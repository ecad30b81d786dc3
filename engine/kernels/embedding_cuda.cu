// Embedding on CUDA (see embedding.hpp).
//   table: [V, D]   ids: [M] (i32, any shape flattened)   out, g_out: [M, D]   g_table: [V, D]
//   forward:   out[m, d] = table[ids[m], d]           one thread per element, blocks_for(M·D) × 256
//              An id outside [0, V) gives a row of 0 and is reported to the device-side range
//              check (engine/cuda/range_check.hpp) by the thread of its d = 0; the backward's
//              slices never contain it, so it adds nothing.
//   backward:  g_table[v, d] = Σ_{m : ids[m] = v} g_out[m, d], summed in position order
// Backward without atomics: the rows of g_table are cut into S contiguous slices and each warp
// owns one (slice, 32 columns) tile outright: its lane d zeroes column d of the slice's rows,
// then walks every position m in order and adds g_out[m, d] when ids[m] falls in its slice. Ids
// are staged through shared memory a block-width tile at a time (all 8 warps of a block share
// them). No two threads write one element, and each sum is added in position order — the CPU's
// order, so duplicate ids give the same bits as the CPU and on every run.
//   grid (⌈D/32⌉, S/8) × 256, S = 8·⌈min(V, 256)/8⌉ slices.
#include <algorithm>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/cuda/range_check.cuh"
#include "engine/kernels/embedding.hpp"

namespace dasg::kernels {

namespace {

constexpr int64_t kMaxSlices = 256;

template <class T>
__global__ void embedding_kernel(const T* table, const int32_t* ids, T* out, int64_t M, int64_t D, int64_t V,
                                 unsigned long long* bad) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < M * D; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t m = i / D, d = i - m * D;
    const int32_t id = ids[m];
    if (id < 0 || id >= V) {
      if (d == 0) cuda::report_bad_index(bad, m, id);
      out[i] = T(0);
      continue;
    }
    out[i] = table[(int64_t)id * D + d];
  }
}

template <class T>
__global__ void embedding_backward_kernel(const T* g, const int32_t* ids, T* gt, int64_t M, int64_t V, int64_t D) {
  DASG_SHARED(int32_t, tile, cuda::kThreads);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int64_t d = (int64_t)blockIdx.x * 32 + lane;
  const int64_t S = (int64_t)gridDim.y * warps, s = (int64_t)blockIdx.y * warps + warp;
  const int64_t v0 = s * V / S, v1 = (s + 1) * V / S;  // this warp's rows [v0, v1)
  if (d < D)
    for (int64_t v = v0; v < v1; ++v) gt[v * D + d] = T(0);
  for (int64_t m0 = 0; m0 < M; m0 += blockDim.x) {  // uniform over the block
    const int64_t m = m0 + threadIdx.x;
    tile[threadIdx.x] = m < M ? ids[m] : -1;
    __syncthreads();
    const int64_t count = min((int64_t)blockDim.x, M - m0);
    if (d < D)
      for (int64_t j = 0; j < count; ++j) {
        const int64_t v = tile[j];
        if (v >= v0 && v < v1) gt[v * D + d] += g[(m0 + j) * D + d];
      }
    __syncthreads();  // the tile is read before the next one overwrites it
  }
}

}  // namespace

void embedding_cuda(const Tensor& table, const Tensor& ids, Tensor& out) {
  const int64_t V = table.size(0), D = table.size(1), M = ids.numel();
  if (M * D == 0) return;  // (a table with D = 0 columns: nothing is read, nothing checked)
  const Shape ids_shape = ids.shape();
  unsigned long long* bad = cuda::range_slot(table.device().index, [ids_shape, V](int64_t m, int64_t id) {
    return embedding_id_error(ids_shape, m, id, V);
  });
  dispatch_float(table.dtype(), "embedding", [&]<class T>() {
    DASG_LAUNCH(embedding_kernel<T>, cuda::blocks_for(M * D), cuda::kThreads, 0, cuda::stream_of(table),
                table.data<T>(), ids.data<int32_t>(), out.data<T>(), M, D, V, bad);
  });
}

void embedding_backward_cuda(const Tensor& g_out, const Tensor& ids, Tensor& g_table) {
  const int64_t V = g_table.size(0), D = g_table.size(1), M = ids.numel();
  if (V * D == 0) return;
  dispatch_float(g_table.dtype(), "embedding", [&]<class T>() {
    const int64_t warps = cuda::kThreads / 32;
    const int64_t slice_blocks = (std::min(V, kMaxSlices) + warps - 1) / warps;
    DASG_LAUNCH(embedding_backward_kernel<T>, dim3((unsigned)((D + 31) / 32), (unsigned)slice_blocks),
                 dim3(cuda::kThreads), 0, cuda::stream_of(g_table), g_out.data<T>(), ids.data<int32_t>(),
                 g_table.data<T>(), M, V, D);
  });
}

}  // namespace dasg::kernels
