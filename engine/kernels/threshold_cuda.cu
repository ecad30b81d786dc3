// Hard threshold on CUDA (see threshold.hpp):  y[i] = x[i] if x[i] > threshold else 0 (NaN gives 0).
// One thread per element, grid-stride; blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/threshold.hpp"

namespace dasg::kernels {

namespace {
template <class T>
__global__ void hard_threshold_kernel(const T* x, T* y, int64_t n, T t) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const T v = x[i];
    y[i] = v > t ? v : T(0);
  }
}
}  // namespace

void hard_threshold_cuda(const Tensor& x, double threshold, Tensor& y) {
  dispatch_float(x.dtype(), "hard_threshold", [&]<class T>() {
    const int64_t n = x.numel();
    if (n == 0) return;
    DASG_LAUNCH(hard_threshold_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(y), x.data<T>(),
                 y.data<T>(), n, (T)threshold);
  });
}

}  // namespace dasg::kernels
