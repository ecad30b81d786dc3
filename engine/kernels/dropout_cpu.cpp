// Dropout on the CPU: y[i] = x[i]·[u_i ≥ p]/(1 − p), u_i = philox_uniform(seed, offset, i).
//   x, y: [n] (any shape flattened)   used for the forward (x) and the backward (the gradient)
// Each i draws its own counter-based number, so the mask is the same on any thread count and
// matches a CUDA kernel computing element i.
#include "engine/kernels/dropout.hpp"
#include "engine/philox.hpp"

namespace dasg::kernels {

void dropout_cpu(const Tensor& x, Tensor& y, uint64_t seed, uint64_t offset, double p) {
  dispatch_float(x.dtype(), "dropout", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const int64_t n = x.numel();
    const T scale = (T)(1.0 / (1.0 - p));
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i)
      py[i] = philox_uniform(seed, offset, (uint64_t)i) >= p ? px[i] * scale : T(0);
  });
}

}  // namespace dasg::kernels
