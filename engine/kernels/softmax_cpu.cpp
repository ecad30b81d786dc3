// softmax / log_softmax on the CPU, one row of length C at a time (rows in parallel).
//   x, y, gy, gx: [N, C] (the tensors' last dimension is C, the rest is N)
//   forward:   m = max_c x;  s = Σ_c exp(x − m);  y = exp(x − m)/s   or   y = x − m − ln s
//   backward:  softmax:      gx = y·(gy − Σ_c gy·y)
//              log_softmax:  gx = gy − exp(y)·Σ_c gy
// Row sums accumulate in double. Subtracting the row maximum keeps every exp() ≤ 1. The f32
// softmax takes exp on packet math (vecmath_cpu.hpp), f64 and log_softmax stay on libm.
#include <cmath>
#include <type_traits>

#include "engine/kernels/softmax.hpp"
#include "engine/kernels/vecmath_cpu.hpp"

namespace dasg::kernels {

namespace {
// The [N, C] view of a tensor whose last dimension is C.
void rows_of(const Tensor& t, int64_t& N, int64_t& C) {
  C = t.dim() == 0 ? 1 : t.size(-1);
  N = C == 0 ? 0 : t.numel() / C;
}

// A row's max and sums over kLanes interleaved lanes (element c in lane c mod kLanes, the tail
// last), so that the compiler vectorises them without reordering anything itself: the same order,
// and so the same bits, on every run and thread count.
constexpr int kLanes = 8;
template <class T>
T row_max(const T* x, int64_t C) {
  T lane[kLanes];
  for (int l = 0; l < kLanes; ++l) lane[l] = x[0];
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] = x[c + l] > lane[l] ? x[c + l] : lane[l];
  T m = lane[0];
  for (int l = 1; l < kLanes; ++l) m = lane[l] > m ? lane[l] : m;
  for (; c < C; ++c) m = x[c] > m ? x[c] : m;
  return m;
}
// Σ_c a[c]·b[c] (b = null: Σ_c a[c]), in double.
template <bool kDot, class T>
double lane_sum(const T* a, const T* b, int64_t C) {
  double lane[kLanes] = {};
  int64_t c = 0;
  for (; c + kLanes <= C; c += kLanes)
    for (int l = 0; l < kLanes; ++l) lane[l] += kDot ? (double)a[c + l] * (double)b[c + l] : (double)a[c + l];
  double s = 0;
  for (int l = 0; l < kLanes; ++l) s += lane[l];
  for (; c < C; ++c) s += kDot ? (double)a[c] * (double)b[c] : (double)a[c];
  return s;
}
template <class T>
double row_sum(const T* a, int64_t C) { return lane_sum<false>(a, a, C); }
template <class T>
double row_dot(const T* a, const T* b, int64_t C) { return lane_sum<true>(a, b, C); }
}  // namespace

void softmax_cpu(const Tensor& x, Tensor& y, bool log) {
  dispatch_float(x.dtype(), log ? "log_softmax" : "softmax", [&]<class T>() {
    int64_t N, C;
    rows_of(x, N, C);
    const T* px = x.data<T>();
    T* py = y.data<T>();
#pragma omp parallel for if (N * C > kParallelGrain)
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = px + n * C;
      T* yr = py + n * C;
      const T m = row_max(xr, C);
      double s = 0;
      if (log) {
        for (int64_t c = 0; c < C; ++c) s += std::exp((double)(xr[c] - m));
        const T shift = m + (T)std::log(s);
        for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] - shift;
      } else if constexpr (std::is_same_v<T, float>) {
        for (int64_t c = 0; c < C; ++c) yr[c] = xr[c] - m;
        vec::exp(yr, yr, C);
        s = row_sum(yr, C);
        const float inv = (float)(1.0 / s);
        for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
      } else {
        for (int64_t c = 0; c < C; ++c) {
          T e = std::exp(xr[c] - m);
          yr[c] = e;
          s += (double)e;
        }
        const T inv = (T)(1.0 / s);
        for (int64_t c = 0; c < C; ++c) yr[c] *= inv;
      }
    }
  });
}

void softmax_backward_cpu(const Tensor& y, const Tensor& gy, Tensor& gx, bool log) {
  dispatch_float(y.dtype(), log ? "log_softmax" : "softmax", [&]<class T>() {
    int64_t N, C;
    rows_of(y, N, C);
    const T* py = y.data<T>();
    const T* pg = gy.data<T>();
    T* pgx = gx.data<T>();
#pragma omp parallel for if (N * C > kParallelGrain)
    for (int64_t n = 0; n < N; ++n) {
      const T* yr = py + n * C;
      const T* gr = pg + n * C;
      T* gxr = pgx + n * C;
      double s = 0;
      if (log) {
        for (int64_t c = 0; c < C; ++c) s += (double)gr[c];
        const T st = (T)s;
        for (int64_t c = 0; c < C; ++c) gxr[c] = gr[c] - std::exp(yr[c]) * st;
      } else {
        s = row_dot(gr, yr, C);
        const T st = (T)s;
        for (int64_t c = 0; c < C; ++c) gxr[c] = yr[c] * (gr[c] - st);
      }
    }
  });
}

}  // namespace dasg::kernels
