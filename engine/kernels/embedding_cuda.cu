// Embedding on CUDA (see embedding.hpp).
//   table: [V, D]   ids: [M] (i32, any shape flattened)   out, g_out: [M, D]   g_table: [V, D]
//   forward:   out[m, d] = table[ids[m], d]           one thread per element, blocks_for(M·D) × 256
//              An id outside [0, V) gives a row of 0 and is reported to the device-side range
//              check (engine/cuda/range_check.hpp) by the thread of its d = 0; the backward's
//              slices never contain it, so it adds nothing.
//   backward:  g_table[v, d] = Σ_{m : ids[m] = v} g_out[m, d], summed in position order
// Backward without float atomics, by a stable bucket sort of the positions: the rows of g_table are
// cut into S slices (slice(v) = ⌊v·S/V⌋), the positions into C chunks of kChunk.
//   1. histogram_kernel: thread c counts its chunk's ids per slice → hist[s, c] (s-major; only
//      thread c writes column c).                                  blocks_for(C) × 256
//   2. scan_kernel: exclusive prefix sums of hist in (s, c) order → cursor[s, c], and each
//      slice's first entry → start[s] (integers: exact in any order).   1 × 1024
//   3. fill_kernel: thread c walks its chunk again in order: order[cursor[slice(id), c]++] = m.
//      So each slice's positions are in ascending m (chunks in order, positions in order).
//                                                                  blocks_for(C) × 256
//   4. embedding_backward_kernel: each warp owns a (slice, 32 columns) tile outright: lane d zeroes
//      column d of the slice's rows, then adds g_out[m, d] for the slice's positions m in ascending
//      order (only its own slice's, not all M). No two threads write one element, and each sum is
//      added in position order — the CPU's order, so duplicate ids give the CPU's bits on every run.
//      grid (⌈D/32⌉, S/8) × 256, S = 8·⌈min(V, 256)/8⌉ slices.
// Ids outside [0, V) (already reported by the forward) are in no slice and add nothing.
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

constexpr int64_t kChunk = 64;  // positions a histogram/fill thread owns

__device__ inline int64_t slice_of(int64_t v, int64_t S, int64_t V) { return v * S / V; }

__global__ void histogram_kernel(const int32_t* ids, int32_t* hist, int64_t M, int64_t V, int64_t S, int64_t C) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x)
    for (int64_t m = c * kChunk; m < min(M, (c + 1) * kChunk); ++m) {
      const int32_t v = ids[m];
      if (v >= 0 && v < V) ++hist[slice_of(v, S, V) * C + c];
    }
}

// One block of 1024 threads: thread t scans a contiguous segment of the S·C counts.
__global__ void scan_kernel(const int32_t* hist, int32_t* cursor, int32_t* start, int64_t S, int64_t C) {
  DASG_SHARED(int64_t, totals, 1024);
  const int64_t n = S * C, per = (n + blockDim.x - 1) / blockDim.x;
  const int64_t k0 = threadIdx.x * per, k1 = min(n, k0 + per);
  int64_t sum = 0;
  for (int64_t k = k0; k < k1; ++k) sum += hist[k];
  totals[threadIdx.x] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    int64_t run = 0;
    for (unsigned t = 0; t < blockDim.x; ++t) {
      const int64_t x = totals[t];
      totals[t] = run;
      run += x;
    }
    start[S] = (int32_t)run;
  }
  __syncthreads();
  int64_t run = totals[threadIdx.x];
  for (int64_t k = k0; k < k1; ++k) {
    cursor[k] = (int32_t)run;
    if (k % C == 0) start[k / C] = (int32_t)run;
    run += hist[k];
  }
}

__global__ void fill_kernel(const int32_t* ids, int32_t* cursor, int32_t* order, int64_t M, int64_t V, int64_t S,
                            int64_t C) {
  for (int64_t c = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; c < C; c += (int64_t)gridDim.x * blockDim.x)
    for (int64_t m = c * kChunk; m < min(M, (c + 1) * kChunk); ++m) {
      const int32_t v = ids[m];
      if (v >= 0 && v < V) order[cursor[slice_of(v, S, V) * C + c]++] = (int32_t)m;
    }
}

template <class T>
__global__ void embedding_backward_kernel(const T* g, const int32_t* ids, const int32_t* order, const int32_t* start,
                                          T* gt, int64_t V, int64_t D) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  const int64_t d = (int64_t)blockIdx.x * 32 + lane;
  const int64_t S = (int64_t)gridDim.y * warps, s = (int64_t)blockIdx.y * warps + warp;
  const int64_t v0 = (s * V + S - 1) / S, v1 = ((s + 1) * V + S - 1) / S;  // this warp's rows: slice_of(v) = s
  if (d >= D) return;
  for (int64_t v = v0; v < v1; ++v) gt[v * D + d] = T(0);
  for (int32_t p = start[s]; p < start[s + 1]; ++p) {
    const int64_t m = order[p];
    gt[(int64_t)ids[m] * D + d] += g[m * D + d];
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
  const int64_t warps = cuda::kThreads / 32;
  const int64_t slice_blocks = (std::min(V, kMaxSlices) + warps - 1) / warps, S = slice_blocks * warps;
  const int64_t C = std::max<int64_t>(1, (M + kChunk - 1) / kChunk);
  DASG_CHECK(M < INT32_MAX, "embedding: backward over ", M, " positions; the CUDA kernel indexes them in 32 bits");
  const cudaStream_t stream = cuda::stream_of(g_table);
  Tensor hist = Tensor::zeros({S, C}, DType::i32, g_table.device());
  Tensor cursor = Tensor::empty({S, C}, DType::i32, g_table.device());
  Tensor start = Tensor::empty({S + 1}, DType::i32, g_table.device());
  Tensor order = Tensor::empty({std::max<int64_t>(M, 1)}, DType::i32, g_table.device());
  const int32_t* pid = ids.data<int32_t>();
  DASG_LAUNCH(histogram_kernel, cuda::blocks_for(C), cuda::kThreads, 0, stream, pid, hist.data<int32_t>(), M, V, S, C);
  DASG_LAUNCH(scan_kernel, 1, 1024, 0, stream, (const int32_t*)hist.data<int32_t>(), cursor.data<int32_t>(),
              start.data<int32_t>(), S, C);
  DASG_LAUNCH(fill_kernel, cuda::blocks_for(C), cuda::kThreads, 0, stream, pid, cursor.data<int32_t>(),
              order.data<int32_t>(), M, V, S, C);
  dispatch_float(g_table.dtype(), "embedding", [&]<class T>() {
    DASG_LAUNCH(embedding_backward_kernel<T>, dim3((unsigned)((D + 31) / 32), (unsigned)slice_blocks),
                dim3(cuda::kThreads), 0, stream, g_out.data<T>(), pid, (const int32_t*)order.data<int32_t>(),
                (const int32_t*)start.data<int32_t>(), g_table.data<T>(), V, D);
  });
}

}  // namespace dasg::kernels
