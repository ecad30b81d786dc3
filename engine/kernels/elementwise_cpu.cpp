// Elementwise kernels on the CPU.
//   binary:   out[i] = a[ia(i)] op b[ib(i)]   (ia, ib drop broadcast dimensions)
//   unary:    y[i] = f(x[i]), f ∈ {−x, eˣ, ln x, √x, tanh, σ, relu, gelu_tanh, silu}
//   backward: gx[i] = gy[i]·f'(x[i])
// gelu_tanh(x) = ½x(1 + tanh(c(x + a x³))), c = √(2/π), a = 0.044715.
// f32 exp, tanh, σ, gelu, silu and their backwards run on packet math (vecmath_cpu.hpp) in spans;
// f64 stays on libm.
#include <cmath>
#include <type_traits>

#include "engine/kernels/elementwise.hpp"
#include "engine/kernels/vecmath_cpu.hpp"

namespace dasg::kernels {

const char* unary_name(UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "gelu", "silu"};
  return names[(int)op];
}
const char* binary_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div"};
  return names[(int)op];
}

Shape broadcast_shape(const char* op, const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    DASG_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", shape_str(a), " and ", shape_str(b),
               " do not broadcast (dimension ", i, ": ", da, " vs ", db, "); expected equal sizes or 1");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

template <class T, class F>
static void binary_loop(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  const int64_t n = out.numel(), na = a.numel(), nb = b.numel();
  if (na == n && nb == n) {  // same shape
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
    return;
  }
  // General broadcast: pad to kMaxDims, strides 0 on repeated dimensions.
  const Shape& os = out.shape();
  const int nd = (int)os.size();
  int64_t sa[kMaxDims] = {}, sb[kMaxDims] = {}, dims[kMaxDims];
  for (int k = 0; k < kMaxDims; ++k) dims[k] = 1;
  int64_t stra = 1, strb = 1;
  for (int k = nd - 1; k >= 0; --k) {
    int ka = k - (nd - (int)a.dim()), kb = k - (nd - (int)b.dim());
    int64_t da = ka >= 0 ? a.shape()[ka] : 1, db = kb >= 0 ? b.shape()[kb] : 1;
    int slot = kMaxDims - nd + k;
    dims[slot] = os[k];
    sa[slot] = da == 1 ? 0 : stra;
    sb[slot] = db == 1 ? 0 : strb;
    stra *= da;
    strb *= db;
  }
  const int64_t outer = dims[0] * dims[1] * dims[2];
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    int64_t i0 = o / (dims[1] * dims[2]), i1 = (o / dims[2]) % dims[1], i2 = o % dims[2];
    int64_t base_a = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], base_b = i0 * sb[0] + i1 * sb[1] + i2 * sb[2];
    T* dst = po + o * dims[3] * dims[4];
    for (int64_t i3 = 0; i3 < dims[3]; ++i3)
      for (int64_t i4 = 0; i4 < dims[4]; ++i4)
        *dst++ = f(pa[base_a + i3 * sa[3] + i4 * sa[4]], pb[base_b + i3 * sb[3] + i4 * sb[4]]);
  }
}

void binary_cpu(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  dispatch_float(out.dtype(), binary_name(op), [&]<class T>() {
    switch (op) {
      case BinaryOp::add: binary_loop<T>(a, b, out, [](T x, T y) { return x + y; }); break;
      case BinaryOp::sub: binary_loop<T>(a, b, out, [](T x, T y) { return x - y; }); break;
      case BinaryOp::mul: binary_loop<T>(a, b, out, [](T x, T y) { return x * y; }); break;
      case BinaryOp::div: binary_loop<T>(a, b, out, [](T x, T y) { return x / y; }); break;
    }
  });
}

template <class T, class F>
static void map_loop(const T* x, T* y, int64_t n, F f) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
}

void binary_scalar_cpu(BinaryOp op, const Tensor& x, double s, Tensor& out) {
  dispatch_float(out.dtype(), binary_name(op), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = out.data<T>();
    const T v = (T)s;
    const int64_t n = x.numel();
    switch (op) {
      case BinaryOp::add: map_loop(px, py, n, [v](T a) { return a + v; }); break;
      case BinaryOp::sub: map_loop(px, py, n, [v](T a) { return a - v; }); break;
      case BinaryOp::mul: map_loop(px, py, n, [v](T a) { return a * v; }); break;
      case BinaryOp::div: map_loop(px, py, n, [v](T a) { return a / v; }); break;
    }
  });
}

// f32 transcendental maps on packet math; false when op has none (then the scalar loop runs).
static bool unary_vec_f32(UnaryOp op, const float* x, float* y, int64_t n) {
  void (*f)(const float*, float*, int64_t) = nullptr;
  switch (op) {
    case UnaryOp::exp: f = vec::exp; break;
    case UnaryOp::tanh: f = vec::tanh; break;
    case UnaryOp::sigmoid: f = vec::sigmoid; break;
    case UnaryOp::gelu: f = vec::gelu; break;
    case UnaryOp::silu: f = vec::silu; break;
    default: return false;
  }
  vec::for_spans(n, kParallelGrain, [&](int64_t b, int64_t len) { f(x + b, y + b, len); });
  return true;
}

static bool unary_backward_vec_f32(UnaryOp op, const float* x, const float* gy, float* gx, int64_t n) {
  void (*f)(const float*, const float*, float*, int64_t) = nullptr;
  switch (op) {
    case UnaryOp::gelu: f = vec::gelu_backward; break;
    case UnaryOp::silu: f = vec::silu_backward; break;
    default: return false;
  }
  vec::for_spans(n, kParallelGrain, [&](int64_t b, int64_t len) { f(x + b, gy + b, gx + b, len); });
  return true;
}

void unary_cpu(UnaryOp op, const Tensor& x, Tensor& y) {
  dispatch_float(y.dtype(), unary_name(op), [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.numel();
    if constexpr (std::is_same_v<T, float>)
      if (unary_vec_f32(op, px, py, n)) return;
    constexpr T c = UnaryMath<T>::kGeluC, a = UnaryMath<T>::kGeluA;
    switch (op) {
      case UnaryOp::neg: map_loop(px, py, n, [](T v) { return -v; }); break;
      case UnaryOp::exp: map_loop(px, py, n, [](T v) { return std::exp(v); }); break;
      case UnaryOp::log: map_loop(px, py, n, [](T v) { return std::log(v); }); break;
      case UnaryOp::sqrt: map_loop(px, py, n, [](T v) { return std::sqrt(v); }); break;
      case UnaryOp::tanh: map_loop(px, py, n, [](T v) { return std::tanh(v); }); break;
      case UnaryOp::sigmoid: map_loop(px, py, n, [](T v) { return T(1) / (T(1) + std::exp(-v)); }); break;
      case UnaryOp::relu: map_loop(px, py, n, [](T v) { return v > T(0) ? v : T(0); }); break;
      case UnaryOp::gelu:
        map_loop(px, py, n, [](T v) { return T(0.5) * v * (T(1) + std::tanh(c * (v + a * v * v * v))); });
        break;
      case UnaryOp::silu: map_loop(px, py, n, [](T v) { return v / (T(1) + std::exp(-v)); }); break;
    }
  });
}

template <class T, class F>
static void grad_loop(const T* x, const T* y, const T* gy, T* gx, int64_t n, F df) {
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) gx[i] = gy[i] * df(x[i], y[i]);
}

void unary_backward_cpu(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx) {
  dispatch_float(gx.dtype(), unary_name(op), [&]<class T>() {
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    const T* pg = gy.data<T>();
    T* pgx = gx.data<T>();
    const int64_t n = x.numel();
    if constexpr (std::is_same_v<T, float>)
      if (unary_backward_vec_f32(op, px, pg, pgx, n)) return;
    constexpr T c = UnaryMath<T>::kGeluC, a = UnaryMath<T>::kGeluA;
    switch (op) {
      case UnaryOp::neg: grad_loop(px, py, pg, pgx, n, [](T, T) { return T(-1); }); break;
      case UnaryOp::exp: grad_loop(px, py, pg, pgx, n, [](T, T v) { return v; }); break;
      case UnaryOp::log: grad_loop(px, py, pg, pgx, n, [](T u, T) { return T(1) / u; }); break;
      case UnaryOp::sqrt: grad_loop(px, py, pg, pgx, n, [](T, T v) { return T(0.5) / v; }); break;
      case UnaryOp::tanh: grad_loop(px, py, pg, pgx, n, [](T, T v) { return T(1) - v * v; }); break;
      case UnaryOp::sigmoid: grad_loop(px, py, pg, pgx, n, [](T, T v) { return v * (T(1) - v); }); break;
      case UnaryOp::relu: grad_loop(px, py, pg, pgx, n, [](T u, T) { return u > T(0) ? T(1) : T(0); }); break;
      case UnaryOp::gelu:
        grad_loop(px, py, pg, pgx, n, [](T u, T) {
          T t = std::tanh(c * (u + a * u * u * u));
          return T(0.5) * (T(1) + t) + T(0.5) * u * (T(1) - t * t) * c * (T(1) + T(3) * a * u * u);
        });
        break;
      case UnaryOp::silu:
        grad_loop(px, py, pg, pgx, n, [](T u, T) {
          T s = T(1) / (T(1) + std::exp(-u));
          return s * (T(1) + u * (T(1) - s));
        });
        break;
    }
  });
}

}  // namespace dasg::kernels
