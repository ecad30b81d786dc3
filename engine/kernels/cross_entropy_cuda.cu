// Fused log-softmax + negative log-likelihood on CUDA (math in cross_entropy.hpp).
//   logits, glogits: [N, C]   targets: [N] i32 (checked here, on the device)   losses, lse, g: [N] (g: [1]
//   when one gradient covers all rows)
//   forward:   m = max_c x;  lse = m + ln Σ_c exp(x − m);  loss = lse − x[t]  (0 if t = ignore_index)
//              one row per warp (C ≤ 1024, 8 rows a block of 256) or per block of 256, grid-stride over
//              rows (engine/cuda/row_reduce.cuh); the row sum in double.
//   backward:  gx[n, c] = s_n·exp(x[n, c] − lse_n) − s_n·[c = t_n],  s_n = g·scale  (0 on ignored rows)
//              one thread per element, blocks_for(N·C) × 256. The softmax is never stored.
#include "engine/cuda/range_check.cuh"
#include "engine/cuda/row_reduce.cuh"
#include "engine/kernels/cross_entropy.hpp"

namespace dasg::kernels {

namespace {

template <class T, bool kWarp>
__global__ void cross_entropy_kernel(const T* x, const int32_t* targets, int64_t ignore_index, T* losses, T* lse,
                                     int64_t N, int64_t C, unsigned long long* bad) {
  DASG_SHARED(double, red, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t n = cuda::group_first_row<kWarp>(); n < N; n += cuda::group_row_stride<kWarp>()) {
    const T* xr = x + n * C;
    double mx = -INFINITY;
    for (int64_t c = lane; c < C; c += size) mx = cuda::MaxOp{}(mx, (double)xr[c]);
    const T m = (T)cuda::group_reduce<kWarp>(mx, red, cuda::MaxOp{});
    double s = 0;
    for (int64_t c = lane; c < C; c += size) s += (double)exp(xr[c] - m);
    s = cuda::group_reduce<kWarp>(s, red, cuda::SumOp{});
    if (lane == 0) {
      const double z = (double)m + ::log(s);
      const int32_t t = targets[n];
      lse[n] = (T)z;
      const bool valid = t >= 0 && t < C;
      if (t != ignore_index && !valid) cuda::report_bad_index(bad, n, t);
      losses[n] = t == ignore_index || !valid ? T(0) : (T)(z - (double)xr[t]);
    }
  }
}

template <class T>
__global__ void cross_entropy_backward_kernel(const T* x, const int32_t* targets, const T* lse, const T* g,
                                              bool per_row, double scale, int64_t ignore_index, T* gx, int64_t N,
                                              int64_t C) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < N * C; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t n = i / C, c = i % C;
    const int32_t t = targets[n];
    if (t == ignore_index) {
      gx[i] = T(0);
      continue;
    }
    const T s = (T)((double)g[per_row ? n : 0] * scale);
    T v = s * exp(x[i] - lse[n]);
    if (c == t) v -= s;
    gx[i] = v;
  }
}

}  // namespace

void cross_entropy_cuda(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Tensor& losses,
                        Tensor& lse) {
  const int64_t C = logits.size(-1), N = targets.numel();
  if (N == 0 || C == 0) return;
  unsigned long long* bad = cuda::range_slot(logits.device().index, [shape = targets.shape(), C, ignore_index](
                                                                        int64_t m, int64_t value) {
    return target_range_error(shape, m, value, C, ignore_index);
  });
  dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    const cuda::RowLaunch rl = cuda::row_launch(N, C);
    DASG_LAUNCH(rl.warp ? cross_entropy_kernel<T, true> : cross_entropy_kernel<T, false>, rl.grid, rl.block, 0,
                 cuda::stream_of(logits), logits.data<T>(), targets.data<int32_t>(), ignore_index, losses.data<T>(),
                 lse.data<T>(), N, C, bad);
  });
}

void cross_entropy_backward_cuda(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& g,
                                 bool per_row, double scale, int64_t ignore_index, Tensor& glogits) {
  const int64_t C = logits.size(-1), N = targets.numel();
  if (N * C == 0) return;
  dispatch_float(logits.dtype(), "cross_entropy", [&]<class T>() {
    DASG_LAUNCH(cross_entropy_backward_kernel<T>, cuda::blocks_for(N * C), cuda::kThreads, 0,
                 cuda::stream_of(logits), logits.data<T>(), targets.data<int32_t>(), lse.data<T>(), g.data<T>(),
                 per_row, scale, ignore_index, glogits.data<T>(), N, C);
  });
}

}  // namespace dasg::kernels
