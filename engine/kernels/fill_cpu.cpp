// fill: t[i] = value.   convert: dst[i] = (Dst) src[i].   Both over all n elements.
#include "engine/kernels/fill.hpp"

namespace dasg::kernels {

void fill_cpu(Tensor& t, double value) {
  dispatch_all(t.dtype(), "fill", [&]<class T>() {
    T* p = t.data<T>();
    const T v = (T)value;
    const int64_t n = t.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  });
}

void convert_cpu(const Tensor& src, Tensor& dst) {
  dispatch_all(src.dtype(), "convert", [&]<class S>() {
    dispatch_all(dst.dtype(), "convert", [&]<class D>() {
      const S* s = src.data<S>();
      D* d = dst.data<D>();
      const int64_t n = src.numel();
#pragma omp parallel for if (n > kParallelGrain)
      for (int64_t i = 0; i < n; ++i) d[i] = (D)s[i];
    });
  });
}

}  // namespace dasg::kernels
