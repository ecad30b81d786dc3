// Vectorised transcendental maps for the CPU kernels (f32 only; f64 stays on libm, so the f64
// gradchecks see exactly the textbook functions). Each works on one contiguous span with Eigen's
// packet math (AVX2/FMA here): exp is Cephes-style range reduction + degree-6 polynomial (≤ 1 ulp
// on the normal range), tanh a clamped [13/6] rational approximation (a few ulp; exactly ±1 past
// |x| ≈ 7.9, so gelu' of x < −4.8 comes out 0 where the truth is below 4e-6), logistic a rational
// approximation with an exp tail. Callers split work into spans of kSpan for OpenMP.
//   gelu_tanh(x)  = ½x(1 + tanh(u)),  u = c(x + a x³)
//   gelu_tanh'(x) = ½(1 + t) + ½x(1 − t²)·c(1 + 3a x²),  t = tanh(u)
#pragma once
#include <Eigen/Core>
#include <cstdint>

namespace dasg::kernels::vec {

constexpr int64_t kSpan = 4096;  // elements per OpenMP work item (16 KiB of f32)

using CArr = Eigen::Map<const Eigen::ArrayXf>;
using Arr = Eigen::Map<Eigen::ArrayXf>;

constexpr float kGeluC = 0.7978845608028654f, kGeluA = 0.044715f;

inline void exp(const float* x, float* y, int64_t n) { Arr(y, n) = CArr(x, n).exp(); }
inline void tanh(const float* x, float* y, int64_t n) { Arr(y, n) = CArr(x, n).tanh(); }
inline void sigmoid(const float* x, float* y, int64_t n) { Arr(y, n) = CArr(x, n).logistic(); }
inline void silu(const float* x, float* y, int64_t n) {
  CArr X(x, n);
  Arr(y, n) = X * X.logistic();
}

inline void gelu(const float* x, float* y, int64_t n) {
  CArr X(x, n);
  Arr(y, n) = 0.5f * X * (1.0f + (kGeluC * (X + kGeluA * X.cube())).tanh());
}

// gx = gy · gelu'(x), n ≤ kSpan (t in a stack buffer, so gx may alias gy or x).
inline void gelu_backward(const float* x, const float* gy, float* gx, int64_t n) {
  alignas(64) float tb[kSpan];
  CArr X(x, n), G(gy, n);
  Arr t(tb, n);
  t = (kGeluC * (X + kGeluA * X.cube())).tanh();
  Arr(gx, n) = G * (0.5f * (1.0f + t) + 0.5f * X * (1.0f - t.square()) * kGeluC * (1.0f + 3.0f * kGeluA * X.square()));
}

// gx = gy · silu'(x) = gy · s(1 + x(1 − s)), s = σ(x); n ≤ kSpan.
inline void silu_backward(const float* x, const float* gy, float* gx, int64_t n) {
  alignas(64) float sb[kSpan];
  CArr X(x, n), G(gy, n);
  Arr sg(sb, n);
  sg = X.logistic();
  Arr(gx, n) = G * sg * (1.0f + X * (1.0f - sg));
}

// Runs f(begin, length) over [0, n) in spans of kSpan, on OpenMP threads when n > grain.
template <class F>
inline void for_spans(int64_t n, int64_t grain, F f) {
  const int64_t spans = (n + kSpan - 1) / kSpan;
#pragma omp parallel for schedule(static) if (n > grain)
  for (int64_t s = 0; s < spans; ++s) {
    const int64_t b = s * kSpan;
    f(b, std::min(kSpan, n - b));
  }
}

}  // namespace dasg::kernels::vec
