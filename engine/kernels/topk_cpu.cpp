// Top-k over the last dimension on the CPU (see topk.hpp for the math), parallel over rows.
//   small k (≤ 64, the router's case): insertion into the output row itself, kept sorted by
//     topk_before; O(n·k), no scratch memory;
//   larger k: std::partial_sort of a per-thread index array with the same order; O(n log k).
#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/kernels/topk.hpp"

namespace dasg::kernels {

namespace {
constexpr int64_t kInsertionMaxK = 64;

template <class T>
void topk_row_insertion(const T* x, int64_t n, int64_t k, T* v, int32_t* ix) {
  int64_t count = 0;
  for (int64_t j = 0; j < n; ++j) {
    const T xj = x[j];
    if (count == k && !topk_before(xj, j, v[k - 1], (int64_t)ix[k - 1])) continue;
    int64_t t = count < k ? count++ : k - 1;  // slot freed at the end, then shifted into place
    while (t > 0 && topk_before(xj, j, v[t - 1], (int64_t)ix[t - 1])) {
      v[t] = v[t - 1];
      ix[t] = ix[t - 1];
      --t;
    }
    v[t] = xj;
    ix[t] = (int32_t)j;
  }
}

template <class T>
void topk_row_sort(const T* x, int64_t n, int64_t k, T* v, int32_t* ix, std::vector<int32_t>& order) {
  order.resize((size_t)n);
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(),
                    [x](int32_t a, int32_t b) { return topk_before(x[a], (int64_t)a, x[b], (int64_t)b); });
  for (int64_t t = 0; t < k; ++t) {
    ix[t] = order[(size_t)t];
    v[t] = x[order[(size_t)t]];
  }
}
}  // namespace

void topk_cpu(const TopkShape& s, const Tensor& x, Tensor& values, Tensor& indices) {
  dispatch_float(x.dtype(), "topk", [&]<class T>() {
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    int32_t* pi = indices.data<int32_t>();
#pragma omp parallel if (s.rows * s.n > kParallelGrain)
    {
      std::vector<int32_t> order;  // scratch for the large-k path, one per thread
#pragma omp for
      for (int64_t r = 0; r < s.rows; ++r) {
        if (s.k <= kInsertionMaxK)
          topk_row_insertion(px + r * s.n, s.n, s.k, pv + r * s.k, pi + r * s.k);
        else
          topk_row_sort(px + r * s.n, s.n, s.k, pv + r * s.k, pi + r * s.k, order);
      }
    }
  });
}

void topk_backward_cpu(const TopkShape& s, const Tensor& g, const Tensor& indices, Tensor& gx) {
  dispatch_float(g.dtype(), "topk", [&]<class T>() {
    const T* pg = g.data<T>();
    const int32_t* pi = indices.data<int32_t>();
    T* pgx = gx.data<T>();
#pragma omp parallel for if (s.rows * s.n > kParallelGrain)
    for (int64_t r = 0; r < s.rows; ++r) {
      T* row = pgx + r * s.n;
      for (int64_t j = 0; j < s.n; ++j) row[j] = T(0);
      for (int64_t t = 0; t < s.k; ++t) row[pi[r * s.k + t]] = pg[r * s.k + t];
    }
  });
}

}  // namespace dasg::kernels
