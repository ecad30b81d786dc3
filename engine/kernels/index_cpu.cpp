// Row gather / scatter-add on the CPU (see index.hpp for the math):
//   index_select: out[m, :] = x[idx[m], :]                 parallel over output rows m
//   index_add:    out[n, :] += Σ_{m : idx[m] = n} src[m, :]
//     1. counting sort: start[n] = #{m : idx[m] < n}, order[start[n] ..] = those m ascending;
//     2. parallel over (destination row n, column chunk): each output element is written by
//        one thread only, summing its sources in ascending m (deterministic, no atomics).
#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/kernels/index.hpp"

namespace dasg::kernels {

namespace {
constexpr int64_t kColumnChunk = 512;  // columns per task in index_add
}

void index_select_cpu(const Tensor& x, const Tensor& idx, Tensor& out, int64_t rows, int64_t D) {
  const int32_t* pi = idx.data<int32_t>();
  const int64_t M = idx.numel();
  check_index_range("index_select", pi, M, rows);
  dispatch_storage(x.dtype(), "index_select", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
#pragma omp parallel for if (M * D > kParallelGrain)
    for (int64_t m = 0; m < M; ++m)
      if (D > 0) std::memcpy(po + m * D, px + (int64_t)pi[m] * D, (size_t)D * sizeof(T));
  });
}

void index_add_cpu(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D) {
  const int32_t* pi = idx.data<int32_t>();
  const int64_t M = idx.numel();
  check_index_range("index_add", pi, M, rows);
  // Counting sort of the positions by destination row (stable: ascending m within a row).
  std::vector<int64_t> start((size_t)rows + 1, 0);
  for (int64_t m = 0; m < M; ++m) ++start[(size_t)pi[m] + 1];
  for (int64_t n = 0; n < rows; ++n) start[(size_t)n + 1] += start[(size_t)n];
  std::vector<int64_t> fill(start.begin(), start.end() - 1), order((size_t)M);
  for (int64_t m = 0; m < M; ++m) order[(size_t)fill[(size_t)pi[m]]++] = m;

  const int64_t chunks = (D + kColumnChunk - 1) / kColumnChunk;
  const int64_t* ps = start.data();
  const int64_t* po = order.data();
  dispatch_all(out.dtype(), "index_add", [&]<class T>() {
    const T* pv = src.data<T>();
    T* pd = out.data<T>();
#pragma omp parallel for schedule(dynamic, 16) if (M * D > kParallelGrain)
    for (int64_t task = 0; task < rows * chunks; ++task) {
      const int64_t n = task / chunks, c0 = (task % chunks) * kColumnChunk, c1 = std::min(D, c0 + kColumnChunk);
      T* dst = pd + n * D;
      for (int64_t p = ps[n]; p < ps[n + 1]; ++p) {
        const T* from = pv + po[p] * D;
        for (int64_t c = c0; c < c1; ++c) dst[c] += from[c];
      }
    }
  });
}

}  // namespace dasg::kernels
