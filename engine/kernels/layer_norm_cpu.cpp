// Layer normalisation on the CPU (see layer_norm.hpp for the math).
//   x, y, gy, gx: [N, D]    w, b, gw, gb: [D]    mean, rstd: [N]
// Forward: one row per iteration, rows in parallel; mean and variance in double, two passes
// (mean first, then Σ(x − μ)²), which stays accurate when |μ| ≫ σ.
// Backward: rows are cut into chunks whose count depends only on N; each chunk computes its rows'
// dx and sums its own partial dw, db (no two threads write the same slot), then the partials are
// added column by column in chunk order — deterministic for any thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/kernels/layer_norm.hpp"

namespace dasg::kernels {

void layer_norm_cpu(const Tensor& x, const Tensor& w, const Tensor& b, double eps, Tensor& y, Tensor& mean,
                    Tensor& rstd) {
  dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
    const int64_t D = x.size(-1), N = D == 0 ? 0 : x.numel() / D;
    const T* px = x.data<T>();
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    T* py = y.data<T>();
    T* pm = mean.data<T>();
    T* pr = rstd.data<T>();
#pragma omp parallel for if (N * D > kParallelGrain)
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = px + n * D;
      T* yr = py + n * D;
      double s = 0;
      for (int64_t d = 0; d < D; ++d) s += (double)xr[d];
      const double mu = s / (double)D;
      double v = 0;
      for (int64_t d = 0; d < D; ++d) {
        const double c = (double)xr[d] - mu;
        v += c * c;
      }
      const double r = 1.0 / std::sqrt(v / (double)D + eps);
      const T m_t = (T)mu, r_t = (T)r;
      for (int64_t d = 0; d < D; ++d) {
        T xh = (xr[d] - m_t) * r_t;
        if (pw) xh *= pw[d];
        if (pb) xh += pb[d];
        yr[d] = xh;
      }
      pm[n] = m_t;
      pr[n] = r_t;
    }
  });
}

void layer_norm_backward_cpu(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                             const Tensor& gy, Tensor& gx, Tensor& gw, Tensor& gb) {
  dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
    const int64_t D = x.size(-1), N = D == 0 ? 0 : x.numel() / D;
    const T* px = x.data<T>();
    const T* pw = w.defined() ? w.data<T>() : nullptr;
    const T* pm = mean.data<T>();
    const T* pr = rstd.data<T>();
    const T* pg = gy.data<T>();
    T* pgx = gx.defined() ? gx.data<T>() : nullptr;
    const bool want_w = gw.defined(), want_b = gb.defined();
    // Chunks of rows: at most 64, fixed by N alone.
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(N, 64));
    const int64_t per = N == 0 ? 0 : (N + chunks - 1) / chunks;
    const size_t part = (want_w || want_b) ? (size_t)(chunks * D) : 0;
    std::vector<double> part_w(want_w ? part : 0, 0.0), part_b(want_b ? part : 0, 0.0);
#pragma omp parallel for if (N * D > kParallelGrain)
    for (int64_t k = 0; k < chunks; ++k) {
      double* cw = want_w ? part_w.data() + k * D : nullptr;
      double* cb = want_b ? part_b.data() + k * D : nullptr;
      for (int64_t n = k * per; n < std::min(N, (k + 1) * per); ++n) {
        const T* xr = px + n * D;
        const T* gr = pg + n * D;
        const double mu = (double)pm[n], r = (double)pr[n];
        if (pgx) {
          // mean_d ĝ and mean_d ĝ·x̂
          double sg = 0, sgx = 0;
          for (int64_t d = 0; d < D; ++d) {
            const double gh = (double)gr[d] * (pw ? (double)pw[d] : 1.0);
            sg += gh;
            sgx += gh * ((double)xr[d] - mu) * r;
          }
          sg /= (double)D;
          sgx /= (double)D;
          T* gxr = pgx + n * D;
          for (int64_t d = 0; d < D; ++d) {
            const double gh = (double)gr[d] * (pw ? (double)pw[d] : 1.0);
            const double xh = ((double)xr[d] - mu) * r;
            gxr[d] = (T)(r * (gh - sg - xh * sgx));
          }
        }
        if (cw)
          for (int64_t d = 0; d < D; ++d) cw[d] += (double)gr[d] * ((double)xr[d] - mu) * r;
        if (cb)
          for (int64_t d = 0; d < D; ++d) cb[d] += (double)gr[d];
      }
    }
    if (!want_w && !want_b) return;
    T* pgw = want_w ? gw.data<T>() : nullptr;
    T* pgb = want_b ? gb.data<T>() : nullptr;
#pragma omp parallel for if (chunks * D > kParallelGrain)
    for (int64_t d = 0; d < D; ++d) {
      double sw = 0, sb = 0;
      for (int64_t k = 0; k < chunks; ++k) {
        if (want_w) sw += part_w[(size_t)(k * D + d)];
        if (want_b) sb += part_b[(size_t)(k * D + d)];
      }
      if (pgw) pgw[d] = (T)sw;
      if (pgb) pgb[d] = (T)sb;
    }
  });
}

}  // namespace dasg::kernels
