// Embedding on the CPU.
//   table: [V, D]   ids: [M] (i32, any shape flattened)   out, g_out: [M, D]   g_table: [V, D]
//   forward:   out[m, :] = table[ids[m], :]                    positions in parallel
//   backward:  g_table[ids[m], :] += g_out[m, :]  for m = 0..M−1
// The backward is parallel over blocks of columns: a thread owns columns [d0, d1) of every row of
// g_table and walks all positions in order, so duplicate ids never race and every sum is added
// in the same order whatever the thread count.
#include <algorithm>
#include <cstring>

#include "engine/kernels/embedding.hpp"

namespace dasg::kernels {

namespace {
constexpr int64_t kColumnBlock = 32;  // columns per backward work item
}

void embedding_cpu(const Tensor& table, const Tensor& ids, Tensor& out) {
  dispatch_float(table.dtype(), "embedding", [&]<class T>() {
    const int64_t D = table.size(1), M = ids.numel();
    const T* pt = table.data<T>();
    const int32_t* pi = ids.data<int32_t>();
    T* po = out.data<T>();
#pragma omp parallel for if (M * D > kParallelGrain)
    for (int64_t m = 0; m < M; ++m) std::memcpy(po + m * D, pt + (int64_t)pi[m] * D, (size_t)D * sizeof(T));
  });
}

void embedding_backward_cpu(const Tensor& g_out, const Tensor& ids, Tensor& g_table) {
  dispatch_float(g_table.dtype(), "embedding", [&]<class T>() {
    const int64_t V = g_table.size(0), D = g_table.size(1), M = ids.numel();
    const T* pg = g_out.data<T>();
    const int32_t* pi = ids.data<int32_t>();
    T* pt = g_table.data<T>();
    const int64_t blocks = (D + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for if (V * D + M * D > kParallelGrain)
    for (int64_t blk = 0; blk < blocks; ++blk) {
      const int64_t d0 = blk * kColumnBlock, d1 = std::min(D, d0 + kColumnBlock);
      for (int64_t v = 0; v < V; ++v)
        for (int64_t d = d0; d < d1; ++d) pt[v * D + d] = T(0);
      for (int64_t m = 0; m < M; ++m) {
        T* dst = pt + (int64_t)pi[m] * D;
        const T* src = pg + m * D;
        for (int64_t d = d0; d < d1; ++d) dst[d] += src[d];
      }
    }
  });
}

}  // namespace dasg::kernels
