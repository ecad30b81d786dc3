// Fused kernels on CUDA (math in fused.hpp); one thread per element (n, f), grid-stride,
// blocks_for(N·F) × 256.
//   bias_gelu:          y[n, f] = gelu_tanh(h[n, f] + b[f])      h, y: f32, f64 or bf16 (z and the
//                       GELU in f32 for bf16, y rounded once to nearest even); b: the compute type
//   bias_gelu_backward: gh[n, f] = gy[n, f]·gelu_tanh'(h[n, f] + b[f])   gy, gh: the compute type
//                       (a bf16 tensor's gradient is f32, ops/cast.hpp), z recomputed from h;
//                       gb[f] = Σ_n gh[n, f] by sum_dim over the rows (reduce_cuda.cu, in double).
#include "engine/cuda/gelu.cuh"
#include "engine/cuda/storage.cuh"
#include "engine/kernels/fused.hpp"
#include "engine/kernels/reduce.hpp"

namespace dasg::kernels {

namespace {

template <class S>
__global__ void bias_gelu_kernel(const S* h, const cuda::Compute<S>* b, S* y, int64_t n, int64_t F) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    y[i] = cuda::store<S>(cuda::gelu_tanh(cuda::load(h[i]) + b[i % F]));
}

template <class S>
__global__ void bias_gelu_backward_kernel(const S* h, const cuda::Compute<S>* b, const cuda::Compute<S>* gy,
                                          cuda::Compute<S>* gh, int64_t n, int64_t F) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    gh[i] = gy[i] * cuda::gelu_tanh_grad(cuda::load(h[i]) + b[i % F]);
}

}  // namespace

void bias_gelu_cuda(const Tensor& h, const Tensor& b, Tensor& y) {
  const int64_t n = h.numel(), F = b.numel();
  if (n == 0) return;
  cuda::dispatch_stored(h.dtype(), "bias_gelu", [&]<class S>() {
    DASG_LAUNCH(bias_gelu_kernel<S>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(y), cuda::elements<S>(h),
                cuda::elements<cuda::Compute<S>>(b), cuda::elements<S>(y), n, F);
  });
}

void bias_gelu_backward_cuda(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh, Tensor& gb) {
  const int64_t n = h.numel(), F = b.numel();
  if (n > 0)
    cuda::dispatch_stored(h.dtype(), "bias_gelu", [&]<class S>() {
      DASG_LAUNCH(bias_gelu_backward_kernel<S>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(gh),
                  cuda::elements<S>(h), cuda::elements<cuda::Compute<S>>(b), cuda::elements<cuda::Compute<S>>(gy),
                  cuda::elements<cuda::Compute<S>>(gh), n, F);
    });
  if (gb.defined()) sum_dim({1, F == 0 ? 0 : n / F, F}, gh, gb);
}

}  // namespace dasg::kernels
