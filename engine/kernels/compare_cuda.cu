// Comparison masks and selection on CUDA (see compare.hpp for the math and Broadcast3):
//   compare: out[i] = [a[i] op b[ib(i)]] (or op s), 1/0 in a's dtype, NaN gives 0;
//   where:   out[i] = mask[im(i)] != 0 ? a[ia(i)] : b[ib(i)] (a or b a scalar when null).
// One thread per output element, grid-stride, each writing only its own element;
// blocks_for(n) × 256. Pure reads and one store per element: deterministic, no races.
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/compare.hpp"

namespace dasg::kernels {

namespace {

template <class T>
__global__ void compare_kernel(const T* a, const T* b, T s, T* out, int64_t n, CompareOp op, Broadcast3 bc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = compare_holds(op, a[i], b ? b[broadcast_offset(bc, 1, i)] : s) ? T(1) : T(0);
}

template <class T>
__global__ void where_kernel(const T* mask, const T* a, T sa, const T* b, T sb, T* out, int64_t n, Broadcast3 bc) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = mask[broadcast_offset(bc, 0, i)] != T(0) ? (a ? a[broadcast_offset(bc, 1, i)] : sa)
                                                      : (b ? b[broadcast_offset(bc, 2, i)] : sb);
}

}  // namespace

void compare_cuda(CompareOp op, const Tensor& a, const Tensor& b, double s, Tensor& out) {
  dispatch_float(a.dtype(), compare_name(op), [&]<class T>() {
    const int64_t n = out.numel();
    if (n == 0) return;
    const Broadcast3 bc = make_broadcast3(out.shape(), nullptr, b.defined() ? &b.shape() : nullptr, nullptr);
    cuda::launch(compare_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out), a.data<T>(),
                 b.defined() ? b.data<T>() : (const T*)nullptr, (T)s, out.data<T>(), n, op, bc);
  });
}

void where_cuda(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, Tensor& out) {
  dispatch_float(out.dtype(), "where", [&]<class T>() {
    const int64_t n = out.numel();
    if (n == 0) return;
    const Broadcast3 bc = make_broadcast3(out.shape(), &mask.shape(), a.defined() ? &a.shape() : nullptr,
                                          b.defined() ? &b.shape() : nullptr);
    cuda::launch(where_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out), mask.data<T>(),
                 a.defined() ? a.data<T>() : (const T*)nullptr, (T)sa, b.defined() ? b.data<T>() : (const T*)nullptr,
                 (T)sb, out.data<T>(), n, bc);
  });
}

}  // namespace dasg::kernels
