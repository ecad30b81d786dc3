// Hard threshold on the CPU (see threshold.hpp):  y[i] = x[i]·[x[i] > threshold].
#include "engine/kernels/threshold.hpp"

namespace dasg::kernels {

void hard_threshold_cpu(const Tensor& x, double threshold, Tensor& y) {
  dispatch_float(x.dtype(), "hard_threshold", [&]<class T>() {
    const T* px = x.data<T>();
    T* py = y.data<T>();
    const T t = (T)threshold;
    const int64_t n = x.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) py[i] = px[i] > t ? px[i] : T(0);
  });
}

}  // namespace dasg::kernels
