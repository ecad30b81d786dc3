// Reductions on the CPU over the [outer, n, inner] view (see reduce.hpp). Sums accumulate in
// double, so an f32 sum of a million elements keeps its digits.
#include "engine/kernels/reduce.hpp"

#include <algorithm>
#include <vector>

namespace dasg::kernels {

ReduceShape reduce_shape(const Shape& shape, int64_t dim) {
  ReduceShape r;
  for (int64_t k = 0; k < (int64_t)shape.size(); ++k) {
    if (k < dim) r.outer *= shape[k];
    else if (k == dim) r.n = shape[k];
    else r.inner *= shape[k];
  }
  return r;
}

void sum_dim_cpu(const ReduceShape& r, const Tensor& x, Tensor& out, double scale) {
  dispatch_float(x.dtype(), "sum", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    if (r.inner == 1) {  // contiguous rows: one dot-like loop per output
      if (r.outer == 1) {
        double s = 0;
#pragma omp parallel for reduction(+ : s) if (r.n > kParallelGrain)
        for (int64_t j = 0; j < r.n; ++j) s += (double)px[j];
        po[0] = (T)(s * scale);
        return;
      }
#pragma omp parallel for if (r.outer * r.n > kParallelGrain)
      for (int64_t o = 0; o < r.outer; ++o) {
        double s = 0;
        const T* row = px + o * r.n;
        for (int64_t j = 0; j < r.n; ++j) s += (double)row[j];
        po[o] = (T)(s * scale);
      }
      return;
    }
    // Strided: accumulate whole inner rows, keeping the inner loop contiguous. Tasks are
    // (o, chunk of kInnerChunk columns), so a bias gradient (outer 1) still spreads over threads;
    // each output column sums its rows in order j = 0..n−1 whatever the thread count.
    constexpr int64_t kInnerChunk = 64;
    const int64_t chunks = (r.inner + kInnerChunk - 1) / kInnerChunk;
#pragma omp parallel for if (r.outer * r.n * r.inner > kParallelGrain)
    for (int64_t task = 0; task < r.outer * chunks; ++task) {
      const int64_t o = task / chunks, i0 = (task % chunks) * kInnerChunk, ni = std::min(kInnerChunk, r.inner - i0);
      double acc[kInnerChunk] = {};
      for (int64_t j = 0; j < r.n; ++j) {
        const T* row = px + (o * r.n + j) * r.inner + i0;
        for (int64_t i = 0; i < ni; ++i) acc[i] += (double)row[i];
      }
      for (int64_t i = 0; i < ni; ++i) po[o * r.inner + i0 + i] = (T)(acc[i] * scale);
    }
  });
}

void expand_dim_cpu(const ReduceShape& r, const Tensor& g, Tensor& out, double scale) {
  dispatch_float(g.dtype(), "expand", [&]<class T>() {
    const T* pg = g.data<T>();
    T* po = out.data<T>();
    const T s = (T)scale;
#pragma omp parallel for if (r.outer * r.n * r.inner > kParallelGrain)
    for (int64_t o = 0; o < r.outer; ++o)
      for (int64_t j = 0; j < r.n; ++j) {
        T* dst = po + (o * r.n + j) * r.inner;
        const T* src = pg + o * r.inner;
        for (int64_t i = 0; i < r.inner; ++i) dst[i] = s * src[i];
      }
  });
}

void max_dim_cpu(const ReduceShape& r, const Tensor& x, Tensor& out, Tensor& arg) {
  dispatch_float(x.dtype(), "max", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.data<T>();
    int32_t* pa = arg.data<int32_t>();
#pragma omp parallel for if (r.outer * r.n * r.inner > kParallelGrain)
    for (int64_t o = 0; o < r.outer; ++o)
      for (int64_t i = 0; i < r.inner; ++i) {
        const T* col = px + o * r.n * r.inner + i;
        T best = col[0];
        int32_t at = 0;
        for (int64_t j = 1; j < r.n; ++j)
          if (col[j * r.inner] > best || (col[j * r.inner] != col[j * r.inner] && best == best)) {  // NaN wins
            best = col[j * r.inner];
            at = (int32_t)j;
          }
        po[o * r.inner + i] = best;
        pa[o * r.inner + i] = at;
      }
  });
}

void max_dim_backward_cpu(const ReduceShape& r, const Tensor& g, const Tensor& arg, Tensor& gx) {
  dispatch_float(g.dtype(), "max", [&]<class T>() {
    const T* pg = g.data<T>();
    const int32_t* pa = arg.data<int32_t>();
    T* px = gx.data<T>();
    const int64_t n = gx.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t k = 0; k < n; ++k) px[k] = T(0);
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t o = 0; o < r.outer; ++o)
      for (int64_t i = 0; i < r.inner; ++i)
        px[(o * r.n + pa[o * r.inner + i]) * r.inner + i] = pg[o * r.inner + i];
  });
}

}  // namespace dasg::kernels
