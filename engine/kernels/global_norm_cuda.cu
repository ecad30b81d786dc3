// Global norm on CUDA (math in global_norm.hpp), two launches' kinds, no host round-trip:
//   sumsq_partial_kernel, once per tensor t: its blocks (a count fixed by t's size, at most
//     kMaxBlocks) each reduce a grid-stride share of Σ x² in double with block_sum and write
//     partial[offset_t + block].                              grid blocks(t) × 256
//   norm_final_kernel: one block adds every partial (threads stride over them, then block_sum's
//     fixed tree) and writes out[0] = √s.                    grid 1 × 256
// Every sum has an order fixed by the sizes alone, so the norm is the same bits on every run.
#include <algorithm>
#include <cmath>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/global_norm.hpp"

namespace dasg::kernels {

namespace {

constexpr int64_t kMaxBlocks = 256;

int64_t partial_blocks(int64_t n) { return n == 0 ? 0 : std::min<int64_t>(cuda::blocks_for(n), kMaxBlocks); }

template <class T>
__global__ void sumsq_partial_kernel(const T* x, int64_t n, double* partial) {
  DASG_SHARED(double, red, 32);
  double s = 0;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    s += (double)x[i] * (double)x[i];
  s = cuda::block_sum(s, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

template <class T>
__global__ void norm_final_kernel(const double* partial, int64_t count, T* out) {
  DASG_SHARED(double, red, 32);
  double s = 0;
  for (int64_t k = threadIdx.x; k < count; k += blockDim.x) s += partial[k];
  s = cuda::block_sum(s, red);
  if (threadIdx.x == 0) out[0] = (T)sqrt(s);
}

}  // namespace

void global_norm_cuda(const std::vector<Tensor>& tensors, Tensor& out) {
  int64_t count = 0;
  for (const Tensor& t : tensors) count += partial_blocks(t.numel());
  const cudaStream_t stream = cuda::stream_of(out);
  Tensor partial = Tensor::empty({std::max<int64_t>(count, 1)}, DType::f64, out.device());
  if (count == 0) partial.zero_();
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    const int64_t blocks = partial_blocks(t.numel());
    if (blocks == 0) continue;
    dispatch_float(t.dtype(), "global_norm", [&]<class T>() {
      DASG_LAUNCH(sumsq_partial_kernel<T>, (unsigned)blocks, cuda::kThreads, 0, stream, t.data<T>(), t.numel(),
                  partial.data<double>() + offset);
    });
    offset += blocks;
  }
  dispatch_float(out.dtype(), "global_norm", [&]<class T>() {
    DASG_LAUNCH(norm_final_kernel<T>, 1, cuda::kThreads, 0, stream, (const double*)partial.data<double>(),
                std::max<int64_t>(count, 1), out.data<T>());
  });
}

}  // namespace dasg::kernels
