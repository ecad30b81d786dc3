// uniform: t[i] = lo + (hi − lo)·u_i.   normal: t[i] = mean + std·√(−2 ln(1 − u_2i))·cos(2π u_2i+1).
// u_k is Philox number k of the draw, the same function the CPU uses, so both devices give the
// same numbers for the same generator state. One thread per element; blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/random.hpp"
#include "engine/philox.hpp"

namespace dasg::kernels {

template <class T>
__global__ void uniform_kernel(T* p, int64_t n, uint64_t seed, uint64_t offset, double lo, double hi) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    p[i] = (T)(lo + (hi - lo) * philox_uniform(seed, offset, (uint64_t)i));
}

template <class T>
__global__ void normal_kernel(T* p, int64_t n, uint64_t seed, uint64_t offset, double mean, double std) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    double u1 = philox_uniform(seed, offset, 2 * (uint64_t)i);
    double u2 = philox_uniform(seed, offset, 2 * (uint64_t)i + 1);
    p[i] = (T)(mean + std * sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
  }
}

void uniform_cuda(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  const int64_t n = t.numel();
  if (n == 0) return;
  dispatch_float(t.dtype(), "uniform", [&]<class T>() {
    DASG_LAUNCH(uniform_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(t), t.data<T>(), n, seed,
                 offset, lo, hi);
  });
}

void normal_cuda(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std) {
  const int64_t n = t.numel();
  if (n == 0) return;
  dispatch_float(t.dtype(), "normal", [&]<class T>() {
    DASG_LAUNCH(normal_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(t), t.data<T>(), n, seed,
                 offset, mean, std);
  });
}

}  // namespace dasg::kernels
