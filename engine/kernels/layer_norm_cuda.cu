// Layer normalisation on CUDA (math in layer_norm.hpp), x viewed as rows [N, D]:
//   forward:   μ = mean_d x,  rstd = 1/√(mean_d (x − μ)² + eps),  y = (x − μ)·rstd·w + b
//   backward:  ĝ = dy·w,  x̂ = (x − μ)·rstd
//              dx = rstd·(ĝ − mean_d ĝ − x̂·mean_d(ĝ·x̂)),   dw = Σ_n dy·x̂,   db = Σ_n dy
// Shapes: x, y, gy, gx [N, D];  w, b, gw, gb [D];  mean, rstd [N] (saved by the forward).
// Kernels and launch shapes:
//   layer_norm_kernel, layer_norm_dx_kernel: one row per warp (D ≤ 1024) or per block of 256,
//     grid-stride over rows (engine/cuda/row_reduce.cuh); the row statistics in double, the mean
//     and variance in two passes as on the CPU.
//   param_partial_kernel: dw, db partials. Rows are cut into `chunks` chunks (a count fixed by N
//     alone); block (32, 8) owns 32 columns of one chunk: thread (tx, ty) sums the chunk's rows
//     ty, ty + 8, … for column tx, then the 8 sums are added in ty order.
//     grid (⌈D/32⌉, chunks) × (32, 8).
//   param_sum_kernel: gw[d] = Σ_k partial_w[k, d] in chunk order (and gb).  blocks_for(D) × 256.
// Every sum has a fixed order, so dw and db are the same bits on every run.
#include <algorithm>

#include "engine/cuda/row_reduce.cuh"
#include "engine/kernels/layer_norm.hpp"

namespace dasg::kernels {

namespace {

constexpr int kParamRows = 8;        // threadIdx.y extent of param_partial_kernel
constexpr int64_t kMaxChunks = 128;  // row chunks of the dw/db partials

template <class T, bool kWarp>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, double eps, T* y, T* mean, T* rstd, int64_t N,
                                  int64_t D) {
  DASG_SHARED(double, red, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t n = cuda::group_first_row<kWarp>(); n < N; n += cuda::group_row_stride<kWarp>()) {
    const T* xr = x + n * D;
    T* yr = y + n * D;
    double s = 0;
    for (int64_t d = lane; d < D; d += size) s += (double)xr[d];
    const double mu = cuda::group_reduce<kWarp>(s, red, cuda::SumOp{}) / (double)D;
    double v = 0;
    for (int64_t d = lane; d < D; d += size) {
      const double c = (double)xr[d] - mu;
      v += c * c;
    }
    v = cuda::group_reduce<kWarp>(v, red, cuda::SumOp{});
    const double r = 1.0 / sqrt(v / (double)D + eps);
    const T m_t = (T)mu, r_t = (T)r;
    for (int64_t d = lane; d < D; d += size) {
      T xh = (xr[d] - m_t) * r_t;
      if (w) xh *= w[d];
      if (b) xh += b[d];
      yr[d] = xh;
    }
    if (lane == 0) {
      mean[n] = m_t;
      rstd[n] = r_t;
    }
  }
}

template <class T, bool kWarp>
__global__ void layer_norm_dx_kernel(const T* x, const T* w, const T* mean, const T* rstd, const T* gy, T* gx,
                                     int64_t N, int64_t D) {
  DASG_SHARED(double, red, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t n = cuda::group_first_row<kWarp>(); n < N; n += cuda::group_row_stride<kWarp>()) {
    const T* xr = x + n * D;
    const T* gr = gy + n * D;
    T* gxr = gx + n * D;
    const double mu = (double)mean[n], r = (double)rstd[n];
    // mean_d ĝ and mean_d ĝ·x̂
    double sg = 0, sgx = 0;
    for (int64_t d = lane; d < D; d += size) {
      const double gh = (double)gr[d] * (w ? (double)w[d] : 1.0);
      sg += gh;
      sgx += gh * ((double)xr[d] - mu) * r;
    }
    sg = cuda::group_reduce<kWarp>(sg, red, cuda::SumOp{}) / (double)D;
    sgx = cuda::group_reduce<kWarp>(sgx, red, cuda::SumOp{}) / (double)D;
    for (int64_t d = lane; d < D; d += size) {
      const double gh = (double)gr[d] * (w ? (double)w[d] : 1.0);
      const double xh = ((double)xr[d] - mu) * r;
      gxr[d] = (T)(r * (gh - sg - xh * sgx));
    }
  }
}

// part_w / part_b [chunks, D] (either may be null: not wanted).
template <class T>
__global__ void param_partial_kernel(const T* x, const T* mean, const T* rstd, const T* gy, double* part_w,
                                     double* part_b, int64_t N, int64_t D, int64_t per) {
  DASG_SHARED2(double, sw, kParamRows, 32);
  DASG_SHARED2(double, sb, kParamRows, 32);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t d = (int64_t)blockIdx.x * 32 + tx, k = blockIdx.y;
  const int64_t n0 = k * per, n1 = min(N, n0 + per);
  double aw = 0, ab = 0;
  if (d < D)
    for (int64_t n = n0 + ty; n < n1; n += kParamRows) {
      const double g = (double)gy[n * D + d];
      aw += g * ((double)x[n * D + d] - (double)mean[n]) * (double)rstd[n];
      ab += g;
    }
  sw[ty][tx] = aw;
  sb[ty][tx] = ab;
  __syncthreads();
  if (ty == 0 && d < D) {
    double tw = 0, tb = 0;
    for (int j = 0; j < kParamRows; ++j) {
      tw += sw[j][tx];
      tb += sb[j][tx];
    }
    if (part_w) part_w[k * D + d] = tw;
    if (part_b) part_b[k * D + d] = tb;
  }
}

template <class T>
__global__ void param_sum_kernel(const double* part_w, const double* part_b, T* gw, T* gb, int64_t chunks,
                                 int64_t D) {
  for (int64_t d = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; d < D; d += (int64_t)gridDim.x * blockDim.x) {
    double sw = 0, sb = 0;
    for (int64_t k = 0; k < chunks; ++k) {
      if (part_w) sw += part_w[k * D + d];
      if (part_b) sb += part_b[k * D + d];
    }
    if (gw) gw[d] = (T)sw;
    if (gb) gb[d] = (T)sb;
  }
}

}  // namespace

void layer_norm_cuda(const Tensor& x, const Tensor& w, const Tensor& b, double eps, Tensor& y, Tensor& mean,
                     Tensor& rstd) {
  const int64_t D = x.size(-1), N = D == 0 ? 0 : x.numel() / D;
  if (N == 0) return;
  dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
    const cuda::RowLaunch rl = cuda::row_launch(N, D);
    DASG_LAUNCH(rl.warp ? layer_norm_kernel<T, true> : layer_norm_kernel<T, false>, rl.grid, rl.block, 0,
                 cuda::stream_of(x), x.data<T>(), w.defined() ? w.data<T>() : nullptr,
                 b.defined() ? b.data<T>() : nullptr, eps, y.data<T>(), mean.data<T>(), rstd.data<T>(), N, D);
  });
}

void layer_norm_backward_cuda(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                              const Tensor& gy, Tensor& gx, Tensor& gw, Tensor& gb) {
  const int64_t D = x.size(-1), N = D == 0 ? 0 : x.numel() / D;
  const bool want_w = gw.defined(), want_b = gb.defined();
  if (N == 0) {  // no rows: the parameter gradients are sums of nothing
    if (want_w) gw.zero_();
    if (want_b) gb.zero_();
    return;
  }
  dispatch_float(x.dtype(), "layer_norm", [&]<class T>() {
    const cudaStream_t stream = cuda::stream_of(x);
    if (gx.defined()) {
      const cuda::RowLaunch rl = cuda::row_launch(N, D);
      DASG_LAUNCH(rl.warp ? layer_norm_dx_kernel<T, true> : layer_norm_dx_kernel<T, false>, rl.grid, rl.block, 0,
                   stream, x.data<T>(), w.defined() ? w.data<T>() : nullptr, mean.data<T>(), rstd.data<T>(),
                   gy.data<T>(), gx.data<T>(), N, D);
    }
    if (!want_w && !want_b) return;
    // Chunks of rows: at most kMaxChunks, fixed by N alone.
    const int64_t per = (N + std::min(N, kMaxChunks) - 1) / std::min(N, kMaxChunks);
    const int64_t chunks = (N + per - 1) / per;
    Tensor part_w, part_b;
    if (want_w) part_w = Tensor::empty({chunks, D}, DType::f64, x.device());
    if (want_b) part_b = Tensor::empty({chunks, D}, DType::f64, x.device());
    double* pw = want_w ? part_w.data<double>() : nullptr;
    double* pb = want_b ? part_b.data<double>() : nullptr;
    DASG_LAUNCH(param_partial_kernel<T>, dim3((unsigned)((D + 31) / 32), (unsigned)chunks), dim3(32, kParamRows), 0,
                 stream, x.data<T>(), mean.data<T>(), rstd.data<T>(), gy.data<T>(), pw, pb, N, D, per);
    DASG_LAUNCH(param_sum_kernel<T>, cuda::blocks_for(D), cuda::kThreads, 0, stream, (const double*)pw,
                 (const double*)pb, want_w ? gw.data<T>() : nullptr, want_b ? gb.data<T>() : nullptr, chunks, D);
  });
}

}  // namespace dasg::kernels
