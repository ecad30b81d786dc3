// Optimizer kernels on CUDA (math in optim.hpp). adamw, sgd: one thread per element, grid-stride,
// blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/optim.hpp"

namespace dasg::kernels {

template <class T>
__global__ void adamw_kernel(T* p, const T* g, T* m, T* v, int64_t n, AdamWStep s) {
  const T b1 = (T)s.beta1, b2 = (T)s.beta2, eps = (T)s.eps, lr = (T)s.lr, wd = (T)s.weight_decay;
  const T inv_c1 = T(1) / (T)s.c1, inv_c2 = T(1) / (T)s.c2;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    T gi = g[i];
    m[i] = b1 * m[i] + (T(1) - b1) * gi;
    v[i] = b2 * v[i] + (T(1) - b2) * gi * gi;
    p[i] -= lr * ((m[i] * inv_c1) / (sqrt(v[i] * inv_c2) + eps) + wd * p[i]);
  }
}

template <class T>
__global__ void sgd_kernel(T* p, const T* g, T* buf, int64_t n, T lr, T mu, T wd) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    buf[i] = mu * buf[i] + g[i] + wd * p[i];
    p[i] -= lr * buf[i];
  }
}

void adamw_cuda(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s) {
  const int64_t n = p.numel();
  if (n == 0) return;
  dispatch_float(p.dtype(), "adamw", [&]<class T>() {
    DASG_LAUNCH(adamw_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(p), p.data<T>(),
                 g.data<T>(), m.data<T>(), v.data<T>(), n, s);
  });
}

void sgd_cuda(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay) {
  const int64_t n = p.numel();
  if (n == 0) return;
  dispatch_float(p.dtype(), "sgd", [&]<class T>() {
    DASG_LAUNCH(sgd_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(p), p.data<T>(), g.data<T>(),
                 buf.data<T>(), n, (T)lr, (T)momentum, (T)weight_decay);
  });
}

}  // namespace dasg::kernels
