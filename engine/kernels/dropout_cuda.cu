// Dropout on CUDA: y[i] = x[i]·[u_i ≥ p]/(1 − p), u_i = philox_uniform(seed, offset, i) — the CPU's
// mask (engine/philox.hpp), so both devices drop the same elements. Forward (x) and backward (the
// gradient) alike. x, y: [n], any shape flattened.
// Philox block k = offset + i/4 gives the numbers of elements 4k … 4k + 3 (philox_uniform keeps word
// i % 4), so one thread takes one block: one philox4x32 call for four elements.
// Grid-stride over ⌈n/4⌉ blocks; blocks_for(⌈n/4⌉) × 256.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/dropout.hpp"
#include "engine/philox.hpp"

namespace dasg::kernels {

namespace {

template <class T>
__global__ void dropout_kernel(const T* x, T* y, int64_t n, uint64_t seed, uint64_t offset, double p, T scale) {
  const int64_t quads = (n + 3) / 4;
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < quads; k += (int64_t)gridDim.x * blockDim.x) {
    const Philox4 r = philox4x32(offset + (uint64_t)k, seed);
    for (int j = 0; j < 4; ++j) {
      const int64_t i = 4 * k + j;
      if (i >= n) break;
      const double u = (double)(r.v[j] >> 8) * (1.0 / 16777216.0);  // = philox_uniform(seed, offset, i)
      y[i] = u >= p ? x[i] * scale : T(0);
    }
  }
}

}  // namespace

void dropout_cuda(const Tensor& x, Tensor& y, uint64_t seed, uint64_t offset, double p) {
  const int64_t n = x.numel();
  if (n == 0) return;
  dispatch_float(x.dtype(), "dropout", [&]<class T>() {
    DASG_LAUNCH(dropout_kernel<T>, cuda::blocks_for((n + 3) / 4), cuda::kThreads, 0, cuda::stream_of(x),
                 x.data<T>(), y.data<T>(), n, seed, offset, p, (T)(1.0 / (1.0 - p)));
  });
}

}  // namespace dasg::kernels
