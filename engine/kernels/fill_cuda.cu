// fill: t[i] = value.   convert: dst[i] = (Dst) src[i].   One thread per element, grid-stride.
// Launch: blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/fill.hpp"

namespace dasg::kernels {

template <class T>
__global__ void fill_kernel(T* p, T v, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = v;
}

template <class S, class D>
__global__ void convert_kernel(const S* s, D* d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] = (D)s[i];
}

void fill_cuda(Tensor& t, double value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  dispatch_all(t.dtype(), "fill", [&]<class T>() {
    DASG_LAUNCH(fill_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(t), t.data<T>(), (T)value, n);
  });
}

void convert_cuda(const Tensor& src, Tensor& dst) {
  const int64_t n = src.numel();
  if (n == 0) return;
  dispatch_all(src.dtype(), "convert", [&]<class S>() {
    dispatch_all(dst.dtype(), "convert", [&]<class D>() {
      DASG_LAUNCH(convert_kernel<S, D>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(src), src.data<S>(),
                   dst.data<D>(), n);
    });
  });
}

}  // namespace dasg::kernels
