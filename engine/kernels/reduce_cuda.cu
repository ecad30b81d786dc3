// Reductions on CUDA over the [outer, n, inner] view (math in reduce.hpp), accumulating in double.
//   sum, inner = 1:  one block per output row, threads stride over j, block_sum   grid outer × 256
//   sum, inner > 1:  one thread per output (o, i), looping over j (coalesced in i) blocks_for(outer·inner) × 256
//   expand:          one thread per element of out                                blocks_for(outer·n·inner) × 256
//   max / max_backward: one thread per output (o, i)                              blocks_for(outer·inner) × 256
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/reduce.hpp"

namespace dasg::kernels {

template <class T>
__global__ void sum_rows_kernel(const T* x, T* out, int64_t n, double scale) {
  DASG_SHARED(double, partial, 32);
  const T* row = x + blockIdx.x * n;
  double s = 0;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += (double)row[j];
  s = cuda::block_sum(s, partial);
  if (threadIdx.x == 0) out[blockIdx.x] = (T)(s * scale);
}

template <class T>
__global__ void sum_strided_kernel(const T* x, T* out, int64_t outer, int64_t n, int64_t inner, double scale) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < outer * inner; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / inner, i = k % inner;
    const T* col = x + o * n * inner + i;
    double s = 0;
    for (int64_t j = 0; j < n; ++j) s += (double)col[j * inner];
    out[k] = (T)(s * scale);
  }
}

template <class T>
__global__ void expand_kernel(const T* g, T* out, int64_t n, int64_t inner, int64_t total, T scale) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < total; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = k % inner, o = k / (n * inner);
    out[k] = scale * g[o * inner + i];
  }
}

template <class T>
__global__ void max_kernel(const T* x, T* out, int32_t* arg, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < outer * inner; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / inner, i = k % inner;
    const T* col = x + o * n * inner + i;
    T best = col[0];
    int32_t at = 0;
    for (int64_t j = 1; j < n; ++j) {
      T v = col[j * inner];
      if (v > best || (v != v && best == best)) {  // NaN wins, as on the CPU
        best = v;
        at = (int32_t)j;
      }
    }
    out[k] = best;
    arg[k] = at;
  }
}

template <class T>
__global__ void max_backward_kernel(const T* g, const int32_t* arg, T* gx, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < outer * inner; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / inner, i = k % inner;
    gx[(o * n + arg[k]) * inner + i] = g[k];
  }
}

void sum_dim_cuda(const ReduceShape& r, const Tensor& x, Tensor& out, double scale) {
  if (r.outer * r.inner == 0) return;
  dispatch_float(x.dtype(), "sum", [&]<class T>() {
    if (r.inner == 1)
      DASG_LAUNCH(sum_rows_kernel<T>, (unsigned)r.outer, cuda::kThreads, 0, cuda::stream_of(x), x.data<T>(),
                   out.data<T>(), r.n, scale);
    else
      DASG_LAUNCH(sum_strided_kernel<T>, cuda::blocks_for(r.outer * r.inner), cuda::kThreads, 0, cuda::stream_of(x),
                   x.data<T>(), out.data<T>(), r.outer, r.n, r.inner, scale);
  });
}

void expand_dim_cuda(const ReduceShape& r, const Tensor& g, Tensor& out, double scale) {
  const int64_t total = r.outer * r.n * r.inner;
  if (total == 0) return;
  dispatch_float(g.dtype(), "expand", [&]<class T>() {
    DASG_LAUNCH(expand_kernel<T>, cuda::blocks_for(total), cuda::kThreads, 0, cuda::stream_of(g), g.data<T>(),
                 out.data<T>(), r.n, r.inner, total, (T)scale);
  });
}

void max_dim_cuda(const ReduceShape& r, const Tensor& x, Tensor& out, Tensor& arg) {
  if (r.outer * r.inner == 0) return;
  dispatch_float(x.dtype(), "max", [&]<class T>() {
    DASG_LAUNCH(max_kernel<T>, cuda::blocks_for(r.outer * r.inner), cuda::kThreads, 0, cuda::stream_of(x),
                 x.data<T>(), out.data<T>(), arg.data<int32_t>(), r.outer, r.n, r.inner);
  });
}

void max_dim_backward_cuda(const ReduceShape& r, const Tensor& g, const Tensor& arg, Tensor& gx) {
  gx.zero_();
  if (r.outer * r.inner == 0) return;
  dispatch_float(g.dtype(), "max", [&]<class T>() {
    DASG_LAUNCH(max_backward_kernel<T>, cuda::blocks_for(r.outer * r.inner), cuda::kThreads, 0, cuda::stream_of(g),
                 g.data<T>(), arg.data<int32_t>(), gx.data<T>(), r.outer, r.n, r.inner);
  });
}

}  // namespace dasg::kernels
