// Top-k over the last dimension on CUDA (see topk.hpp for the math), x seen as [rows, n].
// Ranking (ranks_before, the device twin of topk_before): larger value first, NaN above
// everything, ties to the lower index — a strict total order on (value, index), so the k winners
// and their order are unique and the result matches the CPU exactly.
//   k ≤ 16 (the router's case: small k): one warp per row (8 rows a block of 256, grid-stride over
//     rows). Lane l keeps the top k of its share j ≡ l (mod 32) sorted in registers (the CPU's
//     insertion); then k rounds merge the 32 lists: each lane offers its best not yet taken, a
//     butterfly of shuffles gives every lane the round's winner (the order is total, so all agree),
//     its owner lane (winner index mod 32) advances, lane 0 writes it. No shared memory, no barriers.
//     grid ⌈rows/8⌉ (capped) × 256.
//   other k ≤ 64: one block per row (grid-stride over rows); k selection passes,
//     pass t picks the best element ranked after pick t − 1 (no marks needed): each thread scans
//     its strided share, then a warp shuffle reduction and a cross-warp step through shared memory
//     (double-buffered by pass parity: one __syncthreads per pass). O(k·n / threads) a row.
//     Block = min(64, n rounded up to a warp) threads (a row per block; many rows fill the GPU).
//   k > 64: one block per row, 256 threads; each element's rank is the number of elements ranked
//     before it (O(n²/threads) a row, no barriers); rank < k writes values/indices[rank].
//   backward: gx zero-filled, then one thread per (r, t): gx[r, indices[r, t]] = g[r, t] (a row's
//     indices are distinct, so no two threads write one element). blocks_for(rows·k) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/topk.hpp"

namespace dasg::kernels {

namespace {

constexpr int kWarpMaxK = 16;
constexpr int64_t kPassMaxK = 64;
constexpr int64_t kPassThreads = 64;
constexpr unsigned kMaxRowBlocks = 65535;

// "a ranks before b" (topk_before on the device). An index < 0 is "nothing", ranked after all.
template <class T>
__device__ inline bool ranks_before(T a, int64_t ia, T b, int64_t ib) {
  if (ib < 0) return ia >= 0;
  if (ia < 0) return false;
  const bool na = a != a, nb = b != b;
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

template <class T>
__global__ void topk_warp_kernel(const T* x, T* values, int32_t* indices, int64_t rows, int64_t n, int64_t k) {
  const int lane = threadIdx.x % 32;
  const int64_t warps = blockDim.x / 32;
  for (int64_t r = blockIdx.x * warps + threadIdx.x / 32; r < rows; r += (int64_t)gridDim.x * warps) {
    const T* row = x + r * n;
    T lv[kWarpMaxK];
    int64_t li[kWarpMaxK];
    int64_t count = 0;
    for (int64_t j = lane; j < n; j += 32) {
      const T xj = row[j];
      if (count == k && !ranks_before(xj, j, lv[k - 1], li[k - 1])) continue;
      int64_t t = count < k ? count++ : k - 1;
      while (t > 0 && ranks_before(xj, j, lv[t - 1], li[t - 1])) {
        lv[t] = lv[t - 1];
        li[t] = li[t - 1];
        --t;
      }
      lv[t] = xj;
      li[t] = j;
    }
    int64_t head = 0;
    for (int64_t t = 0; t < k; ++t) {
      T best_v = head < count ? lv[head] : T(0);
      int64_t best_i = head < count ? li[head] : -1;
      for (int offset = 16; offset > 0; offset /= 2) {
        const T ov = __shfl_xor_sync(0xffffffffu, best_v, offset);
        const int64_t oi = __shfl_xor_sync(0xffffffffu, best_i, offset);
        if (ranks_before(ov, oi, best_v, best_i)) {
          best_v = ov;
          best_i = oi;
        }
      }
      if (best_i >= 0 && best_i % 32 == lane) ++head;  // k ≤ n, so every round has a winner
      if (lane == 0) {
        values[r * k + t] = best_v;
        indices[r * k + t] = (int32_t)best_i;
      }
    }
  }
}

template <class T>
__global__ void topk_pass_kernel(const T* x, T* values, int32_t* indices, int64_t rows, int64_t n, int64_t k) {
  DASG_SHARED2(T, warp_val, 2, 32);
  DASG_SHARED2(int64_t, warp_idx, 2, 32);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  int parity = 0;
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * n;
    T prev_v = T(0);
    int64_t prev_i = -1;  // nothing picked yet: every element is eligible
    for (int64_t t = 0; t < k; ++t) {
      T best_v = T(0);
      int64_t best_i = -1;
      for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
        const T v = row[j];
        if (prev_i >= 0 && !ranks_before(prev_v, prev_i, v, j)) continue;  // already picked
        if (ranks_before(v, j, best_v, best_i)) {
          best_v = v;
          best_i = j;
        }
      }
      for (int offset = 16; offset > 0; offset /= 2) {
        const T ov = __shfl_xor_sync(0xffffffffu, best_v, offset);
        const int64_t oi = __shfl_xor_sync(0xffffffffu, best_i, offset);
        if (ranks_before(ov, oi, best_v, best_i)) {
          best_v = ov;
          best_i = oi;
        }
      }
      if (lane == 0) {
        warp_val[parity][warp] = best_v;
        warp_idx[parity][warp] = best_i;
      }
      __syncthreads();
      best_v = warp_val[parity][0];
      best_i = warp_idx[parity][0];
      for (int w = 1; w < warps; ++w)
        if (ranks_before(warp_val[parity][w], warp_idx[parity][w], best_v, best_i)) {
          best_v = warp_val[parity][w];
          best_i = warp_idx[parity][w];
        }
      parity ^= 1;  // the next pass writes the other buffer; this one is read until then
      if (threadIdx.x == 0) {
        values[r * k + t] = best_v;
        indices[r * k + t] = (int32_t)best_i;
      }
      prev_v = best_v;
      prev_i = best_i;
    }
  }
}

template <class T>
__global__ void topk_rank_kernel(const T* x, T* values, int32_t* indices, int64_t rows, int64_t n, int64_t k) {
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* row = x + r * n;
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
      const T v = row[j];
      int64_t rank = 0;
      for (int64_t i = 0; i < n && rank < k; ++i) rank += ranks_before(row[i], i, v, j) ? 1 : 0;
      if (rank < k) {
        values[r * k + rank] = v;
        indices[r * k + rank] = (int32_t)j;
      }
    }
  }
}

template <class T>
__global__ void topk_scatter_kernel(const T* g, const int32_t* indices, T* gx, int64_t total, int64_t n, int64_t k) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t r = e / k;
    gx[r * n + indices[e]] = g[e];
  }
}

}  // namespace

void topk_cuda(const TopkShape& s, const Tensor& x, Tensor& values, Tensor& indices) {
  dispatch_float(x.dtype(), "topk", [&]<class T>() {
    if (s.rows == 0 || s.k == 0) return;
    const unsigned blocks = (unsigned)std::min<int64_t>(s.rows, kMaxRowBlocks);
    if (s.k <= kWarpMaxK) {
      const int64_t per_block = cuda::kThreads / 32;
      const unsigned grid = (unsigned)std::min<int64_t>((s.rows + per_block - 1) / per_block, kMaxRowBlocks);
      DASG_LAUNCH(topk_warp_kernel<T>, grid, cuda::kThreads, 0, cuda::stream_of(x), x.data<T>(), values.data<T>(),
                  indices.data<int32_t>(), s.rows, s.n, s.k);
    } else if (s.k <= kPassMaxK) {
      const unsigned threads = (unsigned)std::min<int64_t>(kPassThreads, (s.n + 31) / 32 * 32);
      DASG_LAUNCH(topk_pass_kernel<T>, blocks, threads, 0, cuda::stream_of(x), x.data<T>(), values.data<T>(),
                   indices.data<int32_t>(), s.rows, s.n, s.k);
    } else {
      DASG_LAUNCH(topk_rank_kernel<T>, blocks, cuda::kThreads, 0, cuda::stream_of(x), x.data<T>(), values.data<T>(),
                   indices.data<int32_t>(), s.rows, s.n, s.k);
    }
  });
}

void topk_backward_cuda(const TopkShape& s, const Tensor& g, const Tensor& indices, Tensor& gx) {
  dispatch_float(g.dtype(), "topk", [&]<class T>() {
    gx.zero_();
    const int64_t total = s.rows * s.k;
    if (total == 0) return;
    DASG_LAUNCH(topk_scatter_kernel<T>, cuda::blocks_for(total), cuda::kThreads, 0, cuda::stream_of(g), g.data<T>(),
                 indices.data<int32_t>(), gx.data<T>(), total, s.n, s.k);
  });
}

}  // namespace dasg::kernels
