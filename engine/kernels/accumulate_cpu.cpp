// accumulate: dst[i] += alpha·src[i] over all n elements.
#include "engine/kernels/accumulate.hpp"

namespace dasg::kernels {

void accumulate_cpu(Tensor& dst, const Tensor& src, double alpha) {
  dispatch_float(dst.dtype(), "accumulate", [&]<class T>() {
    T* d = dst.data<T>();
    const T* s = src.data<T>();
    const T a = (T)alpha;
    const int64_t n = dst.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) d[i] += a * s[i];
  });
}

}  // namespace dasg::kernels
