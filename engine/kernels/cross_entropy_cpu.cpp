// Fused log-softmax + negative log-likelihood on the CPU, one row per iteration (rows in parallel).
//   logits, glogits: [N, C]   targets: [N] i32   losses, lse: [N]
//   forward:   m = max_c x;  lse = m + ln Σ_c exp(x − m);  loss = lse − x[t]  (0 if t = ignore_index)
//   backward:  gx[c] = s·(exp(x[c] − lse) − [c = t]),  s = g·scale  (gx = 0 on ignored rows)
// The per-row sum accumulates in double; the softmax is never stored.
#include <cmath>

#include "engine/kernels/cross_entropy.hpp"

namespace dasg::kernels {

void cross_entropy_cpu(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Tensor& losses,
                       Tensor& lse) {
  dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    const int64_t C = logits.size(-1), N = targets.numel();
    const T* px = logits.data<T>();
    const int32_t* pt = targets.data<int32_t>();
    T* pl = losses.data<T>();
    T* pz = lse.data<T>();
#pragma omp parallel for if (N * C > kParallelGrain)
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = px + n * C;
      T m = xr[0];
      for (int64_t c = 1; c < C; ++c) m = xr[c] > m ? xr[c] : m;
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += std::exp((double)(xr[c] - m));
      const double z = (double)m + std::log(s);
      pz[n] = (T)z;
      pl[n] = pt[n] == ignore_index ? T(0) : (T)(z - (double)xr[pt[n]]);
    }
  });
}

void cross_entropy_backward_cpu(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& g,
                                bool per_row, double scale, int64_t ignore_index, Tensor& glogits) {
  dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    const int64_t C = logits.size(-1), N = targets.numel();
    const T* px = logits.data<T>();
    const int32_t* pt = targets.data<int32_t>();
    const T* pz = lse.data<T>();
    const T* pg = g.data<T>();
    T* pgx = glogits.data<T>();
#pragma omp parallel for if (N * C > kParallelGrain)
    for (int64_t n = 0; n < N; ++n) {
      T* gr = pgx + n * C;
      const int32_t t = pt[n];
      if (t == ignore_index) {
        for (int64_t c = 0; c < C; ++c) gr[c] = T(0);
        continue;
      }
      const T* xr = px + n * C;
      const T s = (T)((double)pg[per_row ? n : 0] * scale), z = pz[n];
      for (int64_t c = 0; c < C; ++c) gr[c] = s * std::exp(xr[c] - z);
      gr[t] -= s;
    }
  });
}

}  // namespace dasg::kernels
