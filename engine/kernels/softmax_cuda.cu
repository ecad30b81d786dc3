// softmax / log_softmax on CUDA over the last dimension (math as in softmax_cpu.cpp), x, y, gy, gx
// viewed as rows [N, C]:
//   forward:   m = max_c x;  s = Σ_c exp(x − m);  y = exp(x − m)/s   or   y = x − (m + ln s)
//   backward:  softmax:      gx = y·(gy − Σ_c gy·y)
//              log_softmax:  gx = gy − exp(y)·Σ_c gy
// Custom kernels: one row per warp (C ≤ 1024, 8 rows a block of 256) or per block of 256 threads
// (longer rows), grid-stride over rows (engine/cuda/row_reduce.cuh); row sums in double.
// With cuda::cudnn_softmax_enabled(), forward and backward go through cudnnSoftmaxForward /
// cudnnSoftmaxBackward instead (CUDNN_SOFTMAX_ACCURATE or CUDNN_SOFTMAX_LOG, MODE_INSTANCE over an
// N×C×1×1 NCHW tensor, f32 or f64); a configuration cuDNN reports as unsupported (or a size over
// its int range) runs the custom kernel. A build without cuDNN (DASG_WITH_CUDNN=0) has only the
// custom kernels.
#include <climits>

#include "engine/cuda/row_reduce.cuh"
#include "engine/kernels/softmax.hpp"

namespace dasg::kernels {

namespace {

template <class T, bool kWarp>
__global__ void softmax_kernel(const T* x, T* y, int64_t N, int64_t C, bool log) {
  DASG_SHARED(double, red, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t n = cuda::group_first_row<kWarp>(); n < N; n += cuda::group_row_stride<kWarp>()) {
    const T* xr = x + n * C;
    T* yr = y + n * C;
    double mx = -INFINITY;
    for (int64_t c = lane; c < C; c += size) mx = cuda::MaxOp{}(mx, (double)xr[c]);
    const T m = (T)cuda::group_reduce<kWarp>(mx, red, cuda::MaxOp{});
    double s = 0;
    if (log) {
      for (int64_t c = lane; c < C; c += size) s += (double)exp(xr[c] - m);
      s = cuda::group_reduce<kWarp>(s, red, cuda::SumOp{});
      const T shift = m + (T)::log(s);
      for (int64_t c = lane; c < C; c += size) yr[c] = xr[c] - shift;
    } else {
      for (int64_t c = lane; c < C; c += size) {
        const T e = exp(xr[c] - m);
        yr[c] = e;
        s += (double)e;
      }
      s = cuda::group_reduce<kWarp>(s, red, cuda::SumOp{});
      const T inv = (T)(1.0 / s);
      for (int64_t c = lane; c < C; c += size) yr[c] *= inv;  // the elements this thread wrote
    }
  }
}

template <class T, bool kWarp>
__global__ void softmax_backward_kernel(const T* y, const T* gy, T* gx, int64_t N, int64_t C, bool log) {
  DASG_SHARED(double, red, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t n = cuda::group_first_row<kWarp>(); n < N; n += cuda::group_row_stride<kWarp>()) {
    const T* yr = y + n * C;
    const T* gr = gy + n * C;
    T* gxr = gx + n * C;
    double s = 0;
    if (log)
      for (int64_t c = lane; c < C; c += size) s += (double)gr[c];
    else
      for (int64_t c = lane; c < C; c += size) s += (double)gr[c] * (double)yr[c];
    const T st = (T)cuda::group_reduce<kWarp>(s, red, cuda::SumOp{});
    if (log)
      for (int64_t c = lane; c < C; c += size) gxr[c] = gr[c] - exp(yr[c]) * st;
    else
      for (int64_t c = lane; c < C; c += size) gxr[c] = yr[c] * (gr[c] - st);
  }
}

// The [N, C] view of a tensor whose last dimension is C (as softmax_cpu.cpp).
void rows_of(const Tensor& t, int64_t& N, int64_t& C) {
  C = t.dim() == 0 ? 1 : t.size(-1);
  N = C == 0 ? 0 : t.numel() / C;
}

#if DASG_WITH_CUDNN
// A cuDNN tensor descriptor for N×C×1×1, destroyed on scope exit.
struct RowsDescriptor {
  cudnnTensorDescriptor_t desc = nullptr;
  cudnnStatus_t status = CUDNN_STATUS_SUCCESS;
  RowsDescriptor(DType dtype, int64_t N, int64_t C) {
    DASG_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
    status = cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW,
                                        dtype == DType::f64 ? CUDNN_DATA_DOUBLE : CUDNN_DATA_FLOAT, (int)N, (int)C, 1, 1);
  }
  ~RowsDescriptor() { cudnnDestroyTensorDescriptor(desc); }
  RowsDescriptor(const RowsDescriptor&) = delete;
  RowsDescriptor& operator=(const RowsDescriptor&) = delete;
};

// Whether cuDNN can take this softmax (a size in its int range, a dtype it has).
bool cudnn_can(DType dtype, int64_t N, int64_t C) {
  return cuda::cudnn_softmax_enabled() && (dtype == DType::f32 || dtype == DType::f64) && N <= INT_MAX &&
         C <= INT_MAX && N * C <= INT_MAX;
}

// Runs `call(alpha, beta, desc)` with alpha = 1, beta = 0 of the dtype's scaling type (double for
// f64 data, float otherwise, as cuDNN requires). Returns false where cuDNN does not support the
// configuration (nothing was written); any other failure throws.
template <class Call>
bool cudnn_softmax_call(const char* op, DType dtype, int64_t N, int64_t C, Call call) {
  RowsDescriptor d(dtype, N, C);
  cudnnStatus_t status = d.status;
  if (status == CUDNN_STATUS_SUCCESS) {
    const float onef = 1.0f, zerof = 0.0f;
    const double oned = 1.0, zerod = 0.0;
    const bool dbl = dtype == DType::f64;
    status = call(dbl ? (const void*)&oned : (const void*)&onef, dbl ? (const void*)&zerod : (const void*)&zerof,
                  d.desc);
  }
  if (status == CUDNN_STATUS_NOT_SUPPORTED) return false;
  if (status != CUDNN_STATUS_SUCCESS)
    DASG_FAIL(op, ": cuDNN softmax over ", N, " rows of ", C, " (", dtype_name(dtype), ") failed: ",
              cudnnGetErrorString(status));
  cuda::sync_check(detail::concat(op, ": cuDNN softmax over ", N, " rows of ", C), __FILE__, __LINE__);
  return true;
}
#endif  // DASG_WITH_CUDNN

}  // namespace

void softmax_cuda(const Tensor& x, Tensor& y, bool log) {
  int64_t N, C;
  rows_of(x, N, C);
  if (N == 0) return;
  const char* op = log ? "log_softmax" : "softmax";
#if DASG_WITH_CUDNN
  if (cudnn_can(x.dtype(), N, C)) {
    cudnnHandle_t h = cuda::cudnn(x.device().index);
    const bool done = cudnn_softmax_call(op, x.dtype(), N, C, [&](const void* one, const void* zero,
                                                                  cudnnTensorDescriptor_t d) {
      return cudnnSoftmaxForward(h, log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE, one,
                                 d, x.raw_data(), zero, d, y.raw_data());
    });
    if (done) return;
  }
#endif
  dispatch_float(x.dtype(), op, [&]<class T>() {
    const cuda::RowLaunch rl = cuda::row_launch(N, C);
    DASG_LAUNCH(rl.warp ? softmax_kernel<T, true> : softmax_kernel<T, false>, rl.grid, rl.block, 0,
                 cuda::stream_of(x), x.data<T>(), y.data<T>(), N, C, log);
  });
}

void softmax_backward_cuda(const Tensor& y, const Tensor& gy, Tensor& gx, bool log) {
  int64_t N, C;
  rows_of(y, N, C);
  if (N == 0) return;
  const char* op = log ? "log_softmax" : "softmax";
#if DASG_WITH_CUDNN
  if (cudnn_can(y.dtype(), N, C)) {
    cudnnHandle_t h = cuda::cudnn(y.device().index);
    const bool done = cudnn_softmax_call(op, y.dtype(), N, C, [&](const void* one, const void* zero,
                                                                  cudnnTensorDescriptor_t d) {
      return cudnnSoftmaxBackward(h, log ? CUDNN_SOFTMAX_LOG : CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_INSTANCE,
                                  one, d, y.raw_data(), d, gy.raw_data(), zero, d, gx.raw_data());
    });
    if (done) return;
  }
#endif
  dispatch_float(y.dtype(), op, [&]<class T>() {
    const cuda::RowLaunch rl = cuda::row_launch(N, C);
    DASG_LAUNCH(rl.warp ? softmax_backward_kernel<T, true> : softmax_backward_kernel<T, false>, rl.grid, rl.block, 0,
                 cuda::stream_of(y), y.data<T>(), gy.data<T>(), gx.data<T>(), N, C, log);
  });
}

}  // namespace dasg::kernels
