// Elementwise kernels on CUDA (math as in elementwise_cpu.cpp).
//   binary:   out[i] = a[ia(i)] op b[ib(i)], the broadcast offsets ia, ib from strides (0 on
//             repeated dimensions) over the collapsed dimensions, by 32-bit FastDiv where the sizes
//             fit (engine/cuda/index_math.cuh: [N, D] + [D] costs one multiply-high per element);
//             same-shape operands take a plain indexed path. bf16 operands (mixed precision: add
//             and sub) are computed in f32 and the result rounded once to nearest even.
//   scalar:   out[i] = x[i] op s          unary: y[i] = f(x[i])        backward: gx[i] = gy[i]·f'(x[i])
// One thread per output element, grid-stride; launch blocks_for(n) × 256. The op is a template
// functor, so each instantiation is a straight loop.
#include "engine/cuda/gelu.cuh"
#include "engine/cuda/index_math.cuh"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/cuda/storage.cuh"
#include "engine/kernels/elementwise.hpp"

namespace dasg::kernels {

namespace {

struct Broadcast {
  int64_t dims[kMaxDims], sa[kMaxDims], sb[kMaxDims];
};

template <class T> struct AddOp { __device__ T operator()(T x, T y) const { return x + y; } };
template <class T> struct SubOp { __device__ T operator()(T x, T y) const { return x - y; } };
template <class T> struct MulOp { __device__ T operator()(T x, T y) const { return x * y; } };
template <class T> struct DivOp { __device__ T operator()(T x, T y) const { return x / y; } };

// S is the storage type (storage.cuh), f computes in Compute<S>.
template <class S, class F>
__global__ void binary_same_kernel(const S* a, const S* b, S* out, int64_t n, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = cuda::store<S>(f(cuda::load(a[i]), cuda::load(b[i])));
}

template <class S, class F>
__global__ void binary_broadcast_kernel(const S* a, const S* b, S* out, int64_t n, cuda::Strided st, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    if (st.fits32) {
      uint32_t off[2];
      cuda::offsets32<2>(st, (uint32_t)i, off);
      out[i] = cuda::store<S>(f(cuda::load(a[off[0]]), cuda::load(b[off[1]])));
    } else {
      int64_t off[2];
      cuda::offsets64<2>(st, i, off);
      out[i] = cuda::store<S>(f(cuda::load(a[off[0]]), cuda::load(b[off[1]])));
    }
  }
}

template <class T, class F>
__global__ void scalar_kernel(const T* x, T* out, int64_t n, T s, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = f(x[i], s);
}

template <class T> struct Neg { __device__ T operator()(T v) const { return -v; } };
template <class T> struct Exp { __device__ T operator()(T v) const { return exp(v); } };
template <class T> struct Log { __device__ T operator()(T v) const { return log(v); } };
template <class T> struct Sqrt { __device__ T operator()(T v) const { return sqrt(v); } };
template <class T> struct Tanh { __device__ T operator()(T v) const { return tanh(v); } };
template <class T> struct Sigmoid { __device__ T operator()(T v) const { return T(1) / (T(1) + exp(-v)); } };
template <class T> struct Relu { __device__ T operator()(T v) const { return v > T(0) ? v : T(0); } };
template <class T> struct Gelu { __device__ T operator()(T v) const { return cuda::gelu_tanh(v); } };
template <class T> struct Silu { __device__ T operator()(T v) const { return v / (T(1) + exp(-v)); } };

// Derivatives f'(x) given x and y = f(x).
template <class T> struct NegGrad { __device__ T operator()(T, T) const { return T(-1); } };
template <class T> struct ExpGrad { __device__ T operator()(T, T y) const { return y; } };
template <class T> struct LogGrad { __device__ T operator()(T x, T) const { return T(1) / x; } };
template <class T> struct SqrtGrad { __device__ T operator()(T, T y) const { return T(0.5) / y; } };
template <class T> struct TanhGrad { __device__ T operator()(T, T y) const { return T(1) - y * y; } };
template <class T> struct SigmoidGrad { __device__ T operator()(T, T y) const { return y * (T(1) - y); } };
template <class T> struct ReluGrad { __device__ T operator()(T x, T) const { return x > T(0) ? T(1) : T(0); } };
template <class T> struct GeluGrad { __device__ T operator()(T x, T) const { return cuda::gelu_tanh_grad(x); } };
template <class T> struct SiluGrad {
  __device__ T operator()(T x, T) const {
    T s = T(1) / (T(1) + exp(-x));
    return s * (T(1) + x * (T(1) - s));
  }
};

template <class T, class F>
__global__ void unary_kernel(const T* x, T* y, int64_t n, F f) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = f(x[i]);
}

template <class T, class F>
__global__ void unary_backward_kernel(const T* x, const T* y, const T* gy, T* gx, int64_t n, F df) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    gx[i] = gy[i] * df(x[i], y[i]);
}

Broadcast broadcast_of(const Tensor& a, const Tensor& b, const Tensor& out) {
  Broadcast bc;
  const int nd = (int)out.dim();
  int64_t stra = 1, strb = 1;
  for (int k = kMaxDims - 1; k >= 0; --k) {
    int ko = k - (kMaxDims - nd);
    int ka = ko - (nd - (int)a.dim()), kb = ko - (nd - (int)b.dim());
    int64_t da = ko >= 0 && ka >= 0 ? a.shape()[ka] : 1, db = ko >= 0 && kb >= 0 ? b.shape()[kb] : 1;
    bc.dims[k] = ko >= 0 ? out.shape()[ko] : 1;
    bc.sa[k] = da == 1 ? 0 : stra;
    bc.sb[k] = db == 1 ? 0 : strb;
    stra *= da;
    strb *= db;
  }
  return bc;
}

}  // namespace

void binary_cuda(BinaryOp op, const Tensor& a, const Tensor& b, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const bool same = a.numel() == n && b.numel() == n;
  const Broadcast bc = broadcast_of(a, b, out);
  const cuda::Strided st = cuda::collapse(bc.dims, bc.sa, bc.sb, 2);
  cuda::dispatch_stored(out.dtype(), binary_name(op), [&]<class S>() {
    using T = cuda::Compute<S>;
    auto run = [&](auto f) {
      if (same)
        DASG_LAUNCH(binary_same_kernel<S, decltype(f)>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out),
                    cuda::elements<S>(a), cuda::elements<S>(b), cuda::elements<S>(out), n, f);
      else
        DASG_LAUNCH(binary_broadcast_kernel<S, decltype(f)>, cuda::blocks_for(n), cuda::kThreads, 0,
                    cuda::stream_of(out), cuda::elements<S>(a), cuda::elements<S>(b), cuda::elements<S>(out), n, st,
                    f);
    };
    constexpr bool bf16 = std::is_same_v<S, __nv_bfloat16>;  // mixed precision: add and sub only
    switch (op) {
      case BinaryOp::add: run(AddOp<T>{}); break;
      case BinaryOp::sub: run(SubOp<T>{}); break;
      case BinaryOp::mul: if constexpr (!bf16) run(MulOp<T>{}); else DASG_FAIL("mul: bf16 ", out.str()); break;
      case BinaryOp::div: if constexpr (!bf16) run(DivOp<T>{}); else DASG_FAIL("div: bf16 ", out.str()); break;
    }
  });
}

void binary_scalar_cuda(BinaryOp op, const Tensor& x, double s, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  dispatch_float(out.dtype(), binary_name(op), [&]<class T>() {
    auto run = [&](auto f) {
      DASG_LAUNCH(scalar_kernel<T, decltype(f)>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out),
                   x.data<T>(), out.data<T>(), n, (T)s, f);
    };
    switch (op) {
      case BinaryOp::add: run(AddOp<T>{}); break;
      case BinaryOp::sub: run(SubOp<T>{}); break;
      case BinaryOp::mul: run(MulOp<T>{}); break;
      case BinaryOp::div: run(DivOp<T>{}); break;
    }
  });
}

void unary_cuda(UnaryOp op, const Tensor& x, Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  dispatch_float(y.dtype(), unary_name(op), [&]<class T>() {
    auto run = [&](auto f) {
      DASG_LAUNCH(unary_kernel<T, decltype(f)>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(y),
                   x.data<T>(), y.data<T>(), n, f);
    };
    switch (op) {
      case UnaryOp::neg: run(Neg<T>{}); break;
      case UnaryOp::exp: run(Exp<T>{}); break;
      case UnaryOp::log: run(Log<T>{}); break;
      case UnaryOp::sqrt: run(Sqrt<T>{}); break;
      case UnaryOp::tanh: run(Tanh<T>{}); break;
      case UnaryOp::sigmoid: run(Sigmoid<T>{}); break;
      case UnaryOp::relu: run(Relu<T>{}); break;
      case UnaryOp::gelu: run(Gelu<T>{}); break;
      case UnaryOp::silu: run(Silu<T>{}); break;
    }
  });
}

void unary_backward_cuda(UnaryOp op, const Tensor& x, const Tensor& y, const Tensor& gy, Tensor& gx) {
  const int64_t n = gx.numel();
  if (n == 0) return;
  dispatch_float(gx.dtype(), unary_name(op), [&]<class T>() {
    auto run = [&](auto df) {
      DASG_LAUNCH(unary_backward_kernel<T, decltype(df)>, cuda::blocks_for(n), cuda::kThreads, 0,
                   cuda::stream_of(gx), x.data<T>(), y.data<T>(), gy.data<T>(), gx.data<T>(), n, df);
    };
    switch (op) {
      case UnaryOp::neg: run(NegGrad<T>{}); break;
      case UnaryOp::exp: run(ExpGrad<T>{}); break;
      case UnaryOp::log: run(LogGrad<T>{}); break;
      case UnaryOp::sqrt: run(SqrtGrad<T>{}); break;
      case UnaryOp::tanh: run(TanhGrad<T>{}); break;
      case UnaryOp::sigmoid: run(SigmoidGrad<T>{}); break;
      case UnaryOp::relu: run(ReluGrad<T>{}); break;
      case UnaryOp::gelu: run(GeluGrad<T>{}); break;
      case UnaryOp::silu: run(SiluGrad<T>{}); break;
    }
  });
}

}  // namespace dasg::kernels
