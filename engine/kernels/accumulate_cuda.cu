// accumulate: dst[i] += alpha·src[i]. One thread per element, grid-stride; blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/accumulate.hpp"

namespace dasg::kernels {

template <class T>
__global__ void accumulate_kernel(T* d, const T* s, T alpha, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    d[i] += alpha * s[i];
}

void accumulate_cuda(Tensor& dst, const Tensor& src, double alpha) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  dispatch_float(dst.dtype(), "accumulate", [&]<class T>() {
    DASG_LAUNCH(accumulate_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(dst), dst.data<T>(),
                 src.data<T>(), (T)alpha, n);
  });
}

}  // namespace dasg::kernels
