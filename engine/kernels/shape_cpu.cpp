// Data movement on the CPU (see shape.hpp for the math):
//   permute:    out walked in order (contiguous writes), x read through the permuted strides;
//               rows of the last output dim are the inner loop, the other four dims flattened.
//   block_copy: for each outer index one memcpy-like run of len·inner contiguous elements.
#include <cstring>

#include "engine/kernels/shape.hpp"

namespace dasg::kernels {

PermutePlan permute_plan(const Shape& x_shape, const std::vector<int64_t>& perm) {
  const int nd = (int)x_shape.size();
  DASG_CHECK(nd <= kMaxDims && (int)perm.size() == nd, "permute: plan for ", shape_str(x_shape), " with ",
             perm.size(), " dims; expected one entry per dim and at most ", kMaxDims, " dims");
  int64_t x_strides[kMaxDims];
  int64_t s = 1;
  for (int k = nd - 1; k >= 0; --k) {
    x_strides[k] = s;
    s *= x_shape[(size_t)k];
  }
  PermutePlan p;
  for (int k = 0; k < kMaxDims; ++k) {
    p.out_dims[k] = 1;
    p.in_strides[k] = 0;
  }
  for (int k = 0; k < nd; ++k) {
    const int slot = kMaxDims - nd + k;
    p.out_dims[slot] = x_shape[(size_t)perm[(size_t)k]];
    p.in_strides[slot] = x_strides[perm[(size_t)k]];
  }
  return p;
}

template <class T>
static void permute_loop(const PermutePlan& p, const T* x, T* out) {
  const int64_t* d = p.out_dims;
  const int64_t* s = p.in_strides;
  const int64_t outer = d[0] * d[1] * d[2] * d[3], n4 = d[4], s4 = s[4];
#pragma omp parallel for if (outer * n4 > kParallelGrain)
  for (int64_t o = 0; o < outer; ++o) {
    const int64_t i3 = o % d[3], i2 = (o / d[3]) % d[2], i1 = (o / (d[3] * d[2])) % d[1], i0 = o / (d[3] * d[2] * d[1]);
    const T* src = x + i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3];
    T* dst = out + o * n4;
    for (int64_t i4 = 0; i4 < n4; ++i4) dst[i4] = src[i4 * s4];
  }
}

void permute_cpu(const PermutePlan& p, const Tensor& x, Tensor& out) {
  dispatch_storage(x.dtype(), "permute", [&]<class T>() { permute_loop<T>(p, x.data<T>(), out.data<T>()); });
}

template <class T>
static void block_copy_loop(const BlockCopy& b, const T* src, T* dst) {
  const int64_t run = b.len * b.inner;  // contiguous elements per outer index
  if (run == 0) return;
#pragma omp parallel for if (b.outer * run > kParallelGrain)
  for (int64_t o = 0; o < b.outer; ++o) {
    const T* from = src + (o * b.src_n + b.src_start) * b.inner;
    T* to = dst + (o * b.dst_n + b.dst_start) * b.inner;
    std::memcpy(to, from, (size_t)run * sizeof(T));
  }
}

void block_copy_cpu(const BlockCopy& b, const Tensor& src, Tensor& dst) {
  DASG_CHECK(src.dtype() == dst.dtype(), "block_copy: source ", src.str(), " and destination ", dst.str(),
             " differ in dtype");
  dispatch_storage(src.dtype(), "block_copy", [&]<class T>() { block_copy_loop<T>(b, src.data<T>(), dst.data<T>()); });
}

}  // namespace dasg::kernels
