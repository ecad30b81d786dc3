// fill: t[i] = value.   convert: dst[i] = (Dst) src[i].   Both over all n elements.
// bf16 goes through engine/bf16.hpp's conversions (round to nearest even, NaN kept NaN).
#include "engine/kernels/fill.hpp"

namespace dasg::kernels {

namespace {

template <class S, class D, class Cast>
void convert_loop(const Tensor& src, Tensor& dst, Cast cast) {
  const S* s = src.data<S>();
  D* d = dst.data<D>();
  const int64_t n = src.numel();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) d[i] = cast(s[i]);
}

template <class T>
void fill_loop(Tensor& t, T v) {
  T* p = t.data<T>();
  const int64_t n = t.numel();
#pragma omp parallel for if (n > kParallelGrain)
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

}  // namespace

void fill_cpu(Tensor& t, double value) {
  if (t.dtype() == DType::bf16) return fill_loop(t, bf16_from_float((float)value));
  dispatch_all(t.dtype(), "fill", [&]<class T>() { fill_loop(t, (T)value); });
}

void convert_cpu(const Tensor& src, Tensor& dst) {
  if (src.dtype() == DType::bf16 || dst.dtype() == DType::bf16) {
    check_bf16_convert(src, dst);
    if (src.dtype() == DType::f32) convert_loop<float, bf16>(src, dst, [](float v) { return bf16_from_float(v); });
    else if (dst.dtype() == DType::f32) convert_loop<bf16, float>(src, dst, [](bf16 v) { return bf16_to_float(v); });
    else convert_loop<bf16, double>(src, dst, [](bf16 v) { return (double)bf16_to_float(v); });
    return;
  }
  dispatch_all(src.dtype(), "convert", [&]<class S>() {
    dispatch_all(dst.dtype(), "convert", [&]<class D>() { convert_loop<S, D>(src, dst, [](S v) { return (D)v; }); });
  });
}

}  // namespace dasg::kernels
