// Data movement on CUDA (math in shape.hpp); any dtype (f32, f64, i32).
//   permute:    out[e] = x[Σ_k i_k·in_strides[k]], (i_0..i_4) the 5-D coordinates of e in out_dims,
//               over the collapsed dimensions, by 32-bit FastDiv where the sizes fit
//               (engine/cuda/index_math.cuh); one thread per output element (contiguous, coalesced
//               writes), grid-stride.
//   block_copy: both tensors as [outer, n, inner]; per outer index o one run of len·inner
//               contiguous elements, dst[(o·dst_n + dst_start)·inner + r] = src[(o·src_n + src_start)·inner + r];
//               one thread per copied element (o, r), grid-stride.
// Launch: blocks_for(count) × 256 for both.
#include "engine/cuda/index_math.cuh"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/shape.hpp"

namespace dasg::kernels {

namespace {

template <class T>
__global__ void permute_kernel(const T* x, T* out, int64_t n, cuda::Strided st) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
    if (st.fits32) {
      uint32_t from;
      cuda::offsets32<1>(st, (uint32_t)e, &from);
      out[e] = x[from];
    } else {
      int64_t from;
      cuda::offsets64<1>(st, e, &from);
      out[e] = x[from];
    }
  }
}

template <class T>
__global__ void block_copy_kernel(const T* src, T* dst, int64_t total, int64_t run, BlockCopy b) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = e / run, r = e % run;
    dst[(o * b.dst_n + b.dst_start) * b.inner + r] = src[(o * b.src_n + b.src_start) * b.inner + r];
  }
}

}  // namespace

void permute_cuda(const PermutePlan& p, const Tensor& x, Tensor& out) {
  const int64_t n = out.numel();
  if (n == 0) return;
  const cuda::Strided st = cuda::collapse(p.out_dims, p.in_strides, p.in_strides, 1);
  dispatch_storage(x.dtype(), "permute", [&]<class T>() {
    DASG_LAUNCH(permute_kernel<T>, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out), x.data<T>(),
                 out.data<T>(), n, st);
  });
}

void block_copy_cuda(const BlockCopy& b, const Tensor& src, Tensor& dst) {
  DASG_CHECK(src.dtype() == dst.dtype(), "block_copy: source ", src.str(), " and destination ", dst.str(),
             " differ in dtype");
  const int64_t run = b.len * b.inner, total = b.outer * run;
  if (total == 0) return;
  dispatch_storage(src.dtype(), "block_copy", [&]<class T>() {
    DASG_LAUNCH(block_copy_kernel<T>, cuda::blocks_for(total), cuda::kThreads, 0, cuda::stream_of(dst),
                 src.data<T>(), dst.data<T>(), total, run, b);
  });
}

}  // namespace dasg::kernels
