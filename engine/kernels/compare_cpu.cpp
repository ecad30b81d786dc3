// Comparison masks and selection on the CPU (see compare.hpp):
//   compare: out[i] = [a[i] op b[ib(i)]] (or op s)       where: out[i] = mask[im(i)] != 0 ? a[ia(i)] : b[ib(i)]
// One loop over output elements, broadcast offsets from Broadcast3, parallel above kParallelGrain.
#include "engine/kernels/compare.hpp"

namespace dasg::kernels {

const char* compare_name(CompareOp op) {
  static const char* names[] = {"less", "less_equal", "greater", "greater_equal"};
  return names[(int)op];
}

Broadcast3 make_broadcast3(const Shape& out, const Shape* s0, const Shape* s1, const Shape* s2) {
  Broadcast3 b{};
  const int nd = (int)out.size();
  for (int k = 0; k < kMaxDims; ++k) b.dims[k] = k < kMaxDims - nd ? 1 : out[(size_t)(k - (kMaxDims - nd))];
  const Shape* shapes[3] = {s0, s1, s2};
  for (int o = 0; o < 3; ++o) {
    b.plain[o] = !shapes[o] || *shapes[o] == out;
    if (b.plain[o]) continue;
    const Shape& s = *shapes[o];
    int64_t stride = 1;
    for (int k = kMaxDims - 1; k >= 0; --k) {
      const int ks = k - (kMaxDims - (int)s.size());
      const int64_t d = ks >= 0 ? s[(size_t)ks] : 1;
      b.stride[o][k] = d == 1 ? 0 : stride;
      stride *= d;
    }
  }
  return b;
}

void compare_cpu(CompareOp op, const Tensor& a, const Tensor& b, double s, Tensor& out) {
  dispatch_float(a.dtype(), compare_name(op), [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    T* po = out.data<T>();
    const T ts = (T)s;
    const int64_t n = out.numel();
    const Broadcast3 bc = make_broadcast3(out.shape(), nullptr, b.defined() ? &b.shape() : nullptr, nullptr);
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) po[i] = compare_holds(op, pa[i], pb ? pb[broadcast_offset(bc, 1, i)] : ts) ? T(1) : T(0);
  });
}

void where_cpu(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, Tensor& out) {
  dispatch_float(out.dtype(), "where", [&]<class T>() {
    const T* pm = mask.data<T>();
    const T* pa = a.defined() ? a.data<T>() : nullptr;
    const T* pb = b.defined() ? b.data<T>() : nullptr;
    T* po = out.data<T>();
    const T ta = (T)sa, tb = (T)sb;
    const int64_t n = out.numel();
    const Broadcast3 bc = make_broadcast3(out.shape(), &mask.shape(), pa ? &a.shape() : nullptr, pb ? &b.shape() : nullptr);
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i)
      po[i] = pm[broadcast_offset(bc, 0, i)] != T(0) ? (pa ? pa[broadcast_offset(bc, 1, i)] : ta)
                                                     : (pb ? pb[broadcast_offset(bc, 2, i)] : tb);
  });
}

}  // namespace dasg::kernels
