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
#include <algorithm>
#include <cstdint>

namespace dasg::kernels::vec {

constexpr int64_t kSpan = 4096;  // elements per OpenMP work item (16 KiB of f32)

// Results must not depend on where the data sits: an unaligned Eigen map peels its first and
// last few elements into scalar code (libm for exp), so which elements take which path would
// follow the addresses and break run-to-run bit-exactness. Every map below is therefore over an
// aligned local buffer whose length is a multiple of kPad, all of it in packets.
constexpr int64_t kChunk = 256, kPad = 16;
using CArr = Eigen::Map<const Eigen::ArrayXf, Eigen::Aligned64>;
using Arr = Eigen::Map<Eigen::ArrayXf, Eigen::Aligned64>;

constexpr float kGeluC = 0.7978845608028654f, kGeluA = 0.044715f;

// y[0..n) = f(x[0..n)) through aligned, padded chunks; f(in, out, padded length).
template <class F>
inline void chunked(const float* x, float* y, int64_t n, F f) {
  alignas(64) float in[kChunk], out[kChunk];
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t m = std::min(kChunk, n - b), mp = (m + kPad - 1) / kPad * kPad;
    for (int64_t i = 0; i < m; ++i) in[i] = x[b + i];
    for (int64_t i = m; i < mp; ++i) in[i] = 0;
    f(in, out, mp);
    for (int64_t i = 0; i < m; ++i) y[b + i] = out[i];
  }
}
// The same with two inputs (x, gy) for the backward maps.
template <class F>
inline void chunked2(const float* x, const float* g, float* y, int64_t n, F f) {
  alignas(64) float in[kChunk], gin[kChunk], out[kChunk];
  for (int64_t b = 0; b < n; b += kChunk) {
    const int64_t m = std::min(kChunk, n - b), mp = (m + kPad - 1) / kPad * kPad;
    for (int64_t i = 0; i < m; ++i) in[i] = x[b + i], gin[i] = g[b + i];
    for (int64_t i = m; i < mp; ++i) in[i] = gin[i] = 0;
    f(in, gin, out, mp);
    for (int64_t i = 0; i < m; ++i) y[b + i] = out[i];
  }
}

inline void exp(const float* x, float* y, int64_t n) {
  chunked(x, y, n, [](const float* a, float* o, int64_t m) { Arr(o, m) = CArr(a, m).exp(); });
}
inline void tanh(const float* x, float* y, int64_t n) {
  chunked(x, y, n, [](const float* a, float* o, int64_t m) { Arr(o, m) = CArr(a, m).tanh(); });
}
inline void sigmoid(const float* x, float* y, int64_t n) {
  chunked(x, y, n, [](const float* a, float* o, int64_t m) { Arr(o, m) = CArr(a, m).logistic(); });
}
inline void silu(const float* x, float* y, int64_t n) {
  chunked(x, y, n, [](const float* a, float* o, int64_t m) {
    CArr X(a, m);
    Arr(o, m) = X * X.logistic();
  });
}
inline void gelu(const float* x, float* y, int64_t n) {
  chunked(x, y, n, [](const float* a, float* o, int64_t m) {
    CArr X(a, m);
    Arr(o, m) = 0.5f * X * (1.0f + (kGeluC * (X + kGeluA * X.cube())).tanh());
  });
}

// gx = gy · gelu'(x) (gx may alias gy or x).
inline void gelu_backward(const float* x, const float* gy, float* gx, int64_t n) {
  chunked2(x, gy, gx, n, [](const float* a, const float* g, float* o, int64_t m) {
    alignas(64) float tb[kChunk];
    CArr X(a, m), G(g, m);
    Arr t(tb, m);
    t = (kGeluC * (X + kGeluA * X.cube())).tanh();
    Arr(o, m) = G * (0.5f * (1.0f + t) + 0.5f * X * (1.0f - t.square()) * kGeluC * (1.0f + 3.0f * kGeluA * X.square()));
  });
}

// gx = gy · silu'(x) = gy · s(1 + x(1 − s)), s = σ(x).
inline void silu_backward(const float* x, const float* gy, float* gx, int64_t n) {
  chunked2(x, gy, gx, n, [](const float* a, const float* g, float* o, int64_t m) {
    alignas(64) float sb[kChunk];
    CArr X(a, m), G(g, m);
    Arr sg(sb, m);
    sg = X.logistic();
    Arr(o, m) = G * sg * (1.0f + X * (1.0f - sg));
  });
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
