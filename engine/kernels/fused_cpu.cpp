// Fused kernels on the CPU (math in fused.hpp). f32 rows go through the packet-math GELU
// (vecmath_cpu.hpp); f64 uses libm's tanh.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "engine/kernels/elementwise.hpp"
#include "engine/kernels/fused.hpp"
#include "engine/kernels/vecmath_cpu.hpp"

namespace dasg::kernels {

namespace {

// y = gelu(z) and gz = gy·gelu'(z) over one row of length F (F ≤ vec::kSpan for f32 rows).
template <class T>
void gelu_row(const T* z, T* y, int64_t F) {
  if constexpr (std::is_same_v<T, float>) {
    vec::gelu(z, y, F);
  } else {
    constexpr T c = UnaryMath<T>::kGeluC, a = UnaryMath<T>::kGeluA;
    for (int64_t f = 0; f < F; ++f) y[f] = T(0.5) * z[f] * (T(1) + std::tanh(c * (z[f] + a * z[f] * z[f] * z[f])));
  }
}
template <class T>
void gelu_grad_row(const T* z, const T* gy, T* gz, int64_t F) {
  if constexpr (std::is_same_v<T, float>) {
    vec::gelu_backward(z, gy, gz, F);
  } else {
    constexpr T c = UnaryMath<T>::kGeluC, a = UnaryMath<T>::kGeluA;
    for (int64_t f = 0; f < F; ++f) {
      const T u = z[f], t = std::tanh(c * (u + a * u * u * u));
      gz[f] = gy[f] * (T(0.5) * (T(1) + t) + T(0.5) * u * (T(1) - t * t) * c * (T(1) + T(3) * a * u * u));
    }
  }
}

void check_rows(const Tensor& h, const Tensor& b, int64_t& N, int64_t& F) {
  F = h.dim() == 0 ? 1 : h.size(-1);
  N = F == 0 ? 0 : h.numel() / F;
  DASG_CHECK(b.numel() == F, "bias_gelu: bias ", b.str(), " for input ", h.str(), "; expected [", F, "]");
  DASG_CHECK(h.dtype() != DType::f32 || F <= vec::kSpan, "bias_gelu: rows of ", F, " > ", vec::kSpan, " elements");
}

}  // namespace

void bias_gelu_cpu(const Tensor& h, const Tensor& b, Tensor& y) {
  int64_t N, F;
  check_rows(h, b, N, F);
  dispatch_float(h.dtype(), "bias_gelu", [&]<class T>() {
    const T* ph = h.data<T>();
    const T* pb = b.data<T>();
    T* py = y.data<T>();
#pragma omp parallel if (N * F > kParallelGrain)
    {
      std::vector<T> z((size_t)F);
#pragma omp for schedule(static)
      for (int64_t n = 0; n < N; ++n) {
        const T* hr = ph + n * F;
        for (int64_t f = 0; f < F; ++f) z[(size_t)f] = hr[f] + pb[f];
        gelu_row<T>(z.data(), py + n * F, F);
      }
    }
  });
}

void bias_gelu_backward_cpu(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh, Tensor& gb) {
  int64_t N, F;
  check_rows(h, b, N, F);
  const bool want_b = gb.defined();
  dispatch_float(h.dtype(), "bias_gelu", [&]<class T>() {
    const T* ph = h.data<T>();
    const T* pb = b.data<T>();
    const T* pg = gy.data<T>();
    T* pgh = gh.data<T>();
    const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(N, 64));
    const int64_t per = N == 0 ? 0 : (N + chunks - 1) / chunks;
    std::vector<double> part(want_b ? (size_t)(chunks * F) : 0, 0.0);
#pragma omp parallel if (N * F > kParallelGrain)
    {
      std::vector<T> z((size_t)F);
#pragma omp for schedule(static)
      for (int64_t k = 0; k < chunks; ++k) {
        double* acc = want_b ? part.data() + k * F : nullptr;
        for (int64_t n = k * per; n < std::min(N, (k + 1) * per); ++n) {
          const T* hr = ph + n * F;
          T* gr = pgh + n * F;
          for (int64_t f = 0; f < F; ++f) z[(size_t)f] = hr[f] + pb[f];
          gelu_grad_row<T>(z.data(), pg + n * F, gr, F);
          if (acc)
            for (int64_t f = 0; f < F; ++f) acc[f] += (double)gr[f];
        }
      }
    }
    if (!want_b) return;
    T* pgb = gb.data<T>();
    for (int64_t f = 0; f < F; ++f) {
      double s = 0;
      for (int64_t k = 0; k < chunks; ++k) s += part[(size_t)(k * F + f)];
      pgb[f] = (T)s;
    }
  });
}

}  // namespace dasg::kernels
