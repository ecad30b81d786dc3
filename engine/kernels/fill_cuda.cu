// fill: t[i] = value.   convert: dst[i] = (Dst) src[i].   One thread per element, grid-stride.
// bf16 converts with the toolkit's __float2bfloat16_rn / __bfloat162float (round to nearest
// even, NaN to the canonical NaN; exact widening). Launch: blocks_for(n) × 256.
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

// d[i] = bf16(s[i]), round to nearest even.
__global__ void f32_to_bf16_kernel(const float* s, __nv_bfloat16* d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] = __float2bfloat16_rn(s[i]);
}

// d[i] = (D) float(s[i]), exact.
template <class D>
__global__ void bf16_to_float_kernel(const __nv_bfloat16* s, D* d, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] = (D)__bfloat162float(s[i]);
}

void fill_cuda(Tensor& t, double value) {
  const int64_t n = t.numel();
  if (n == 0) return;
  if (t.dtype() == DType::bf16) {
    DASG_LAUNCH(fill_kernel<__nv_bfloat16>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(t),
                cuda::bf16_data(t), __float2bfloat16_rn((float)value), n);
    return;
  }
  dispatch_all(t.dtype(), "fill", [&]<class T>() {
    DASG_LAUNCH(fill_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(t), t.data<T>(), (T)value, n);
  });
}

void convert_cuda(const Tensor& src, Tensor& dst) {
  const int64_t n = src.numel();
  if (n == 0) return;
  const unsigned blocks = cuda::blocks_for(n);
  const cudaStream_t stream = cuda::stream_of(src);
  if (src.dtype() == DType::bf16 || dst.dtype() == DType::bf16) {
    check_bf16_convert(src, dst);
    if (src.dtype() == DType::f32)
      DASG_LAUNCH(f32_to_bf16_kernel, blocks, cuda::kThreads, 0, stream, src.data<float>(), cuda::bf16_data(dst), n);
    else if (dst.dtype() == DType::f32)
      DASG_LAUNCH(bf16_to_float_kernel<float>, blocks, cuda::kThreads, 0, stream, cuda::bf16_data(src),
                  dst.data<float>(), n);
    else
      DASG_LAUNCH(bf16_to_float_kernel<double>, blocks, cuda::kThreads, 0, stream, cuda::bf16_data(src),
                  dst.data<double>(), n);
    return;
  }
  dispatch_all(src.dtype(), "convert", [&]<class S>() {
    dispatch_all(dst.dtype(), "convert", [&]<class D>() {
      DASG_LAUNCH(convert_kernel<S, D>, blocks, cuda::kThreads, 0, stream, src.data<S>(), dst.data<D>(), n);
    });
  });
}

}  // namespace dasg::kernels
