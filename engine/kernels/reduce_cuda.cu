// Reductions on CUDA over the [outer, n, inner] view (math in reduce.hpp), accumulating in double.
// Every sum has a fixed order fixed by the shape alone (never by timing, the grid's block order
// or the device), so a sum is the same bits on every run:
//   sum, inner = 1 (row sums; a full reduction is outer = 1):
//     sum_rows_kernel: the row is cut into `chunks` contiguous chunks (1 when there are enough
//       rows to fill the device; up to kMaxRowChunks for few long rows); block (o, c) sums chunk
//       c of row o with block_sum (threads stride over the chunk, then a fixed tree) and writes
//       partial[o, c], or the result when chunks = 1.          grid outer·chunks × 256
//     sum_chunks_kernel: out[o] = scale · Σ_c partial[o, c] in chunk order.  blocks_for(outer) × 256
//   sum, inner > 1 (column sums: the bias gradient of every linear, broadcast gradients):
//     sum_cols_partial_kernel: the n rows are cut into `chunks` chunks; block (32, 8) owns 32
//       columns of one (o, chunk): thread (tx, ty) sums rows ty, ty + 8, … of the chunk for column
//       tx (coalesced over tx), then the 8 sums are added in ty order → partial[o, chunk, i].
//       grid (outer·⌈inner/32⌉, chunks) × (32, 8)  (layer_norm's parameter-gradient scheme)
//     sum_cols_final_kernel: out[o, i] = scale · Σ_chunk partial[o, chunk, i] in chunk order.
//       blocks_for(outer·inner) × 256
//   expand:  one thread per element of out, (o, i) from one 64-bit division pair.  blocks_for(total) × 256
//   max, inner = 1: one row per warp (n ≤ 1024) or per block of 256, lanes striding over the
//     row, combined with the first-index/NaN-first rule below (engine/cuda/row_reduce.cuh).
//   max, inner > 1, and max_backward: one thread per output (o, i), looping over j (coalesced in i).
#include <algorithm>

#include "engine/cuda/row_reduce.cuh"
#include "engine/kernels/reduce.hpp"

namespace dasg::kernels {

namespace {

constexpr int kColRows = 8;                  // threadIdx.y extent of sum_cols_partial_kernel
constexpr int64_t kMaxColChunks = 128;       // row chunks of a column sum
constexpr int64_t kMaxRowChunks = 256;       // chunks of one row of a row sum
constexpr int64_t kRowChunkMin = 8192;       // elements a row chunk has at least
constexpr int64_t kFewRows = 1024;           // fewer rows than this get their rows chunked
constexpr int64_t kPartialBudget = 1 << 22;  // f64 partials a column sum may use (32 MiB)

// Chunks of a row sum: fixed by (outer, n) alone.
int64_t row_chunks(int64_t outer, int64_t n) {
  if (outer >= kFewRows) return 1;
  return std::clamp<int64_t>(n / kRowChunkMin, 1, kMaxRowChunks);
}
// Rows a chunk of a column sum has: fixed by (outer, n, inner) alone.
int64_t col_rows_per_chunk(int64_t outer, int64_t n, int64_t inner) {
  int64_t chunks = std::min(n, kMaxColChunks);
  chunks = std::max<int64_t>(1, std::min(chunks, kPartialBudget / std::max<int64_t>(1, outer * inner)));
  return (n + chunks - 1) / chunks;
}

template <class T>
__global__ void sum_rows_kernel(const T* x, T* out, double* partial, int64_t n, int64_t chunks, int64_t per,
                                double scale) {
  DASG_SHARED(double, red, 32);
  const int64_t o = blockIdx.x / chunks, c = blockIdx.x % chunks;
  const int64_t j0 = c * per, j1 = min(n, j0 + per);
  const T* row = x + o * n;
  double s = 0;
  for (int64_t j = j0 + threadIdx.x; j < j1; j += blockDim.x) s += (double)row[j];
  s = cuda::block_sum(s, red);
  if (threadIdx.x == 0) {
    if (chunks == 1) out[o] = (T)(s * scale);
    else partial[o * chunks + c] = s;
  }
}

template <class T>
__global__ void sum_chunks_kernel(const double* partial, T* out, int64_t outer, int64_t chunks, double scale) {
  for (int64_t o = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; o < outer; o += (int64_t)gridDim.x * blockDim.x) {
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[o * chunks + c];
    out[o] = (T)(s * scale);
  }
}

template <class T>
__global__ void sum_cols_partial_kernel(const T* x, double* partial, int64_t n, int64_t inner, int64_t col_blocks,
                                        int64_t per) {
  DASG_SHARED2(double, acc, kColRows, 32);
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t o = blockIdx.x / col_blocks, i = (int64_t)(blockIdx.x % col_blocks) * 32 + tx;
  const int64_t chunk = blockIdx.y, chunks = gridDim.y;
  const int64_t j0 = chunk * per, j1 = min(n, j0 + per);
  double s = 0;
  if (i < inner) {
    const T* col = x + o * n * inner + i;
    for (int64_t j = j0 + ty; j < j1; j += kColRows) s += (double)col[j * inner];
  }
  acc[ty][tx] = s;
  __syncthreads();
  if (ty == 0 && i < inner) {
    double t = 0;
    for (int r = 0; r < kColRows; ++r) t += acc[r][tx];
    partial[(o * chunks + chunk) * inner + i] = t;
  }
}

template <class T>
__global__ void sum_cols_final_kernel(const double* partial, T* out, int64_t outer, int64_t inner, int64_t chunks,
                                      double scale) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < outer * inner;
       k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / inner, i = k - o * inner;
    double s = 0;
    for (int64_t c = 0; c < chunks; ++c) s += partial[(o * chunks + c) * inner + i];
    out[k] = (T)(s * scale);
  }
}

template <class T>
__global__ void expand_kernel(const T* g, T* out, int64_t n, int64_t inner, int64_t total, T scale) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < total; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / (n * inner), i = k - (k / inner) * inner;
    out[k] = scale * g[o * inner + i];
  }
}

// (value, index) of a maximum, combined so that the result is the sequential scan's: a NaN beats
// any number, the first of equal values (or of NaNs) wins.
template <class T>
__device__ inline bool max_better(T v, int32_t iv, T b, int32_t ib) {
  const bool vn = v != v, bn = b != b;
  if (vn || bn) return vn && (!bn || iv < ib);
  return v > b || (v == b && iv < ib);
}

template <class T, bool kWarp>
__global__ void max_rows_kernel(const T* x, T* out, int32_t* arg, int64_t rows, int64_t n) {
  DASG_SHARED(T, wval, 32);
  DASG_SHARED(int32_t, widx, 32);
  const int lane = cuda::group_lane<kWarp>(), size = cuda::group_size<kWarp>();
  for (int64_t r = cuda::group_first_row<kWarp>(); r < rows; r += cuda::group_row_stride<kWarp>()) {
    const T* row = x + r * n;
    T best = row[0];
    int32_t at = 0;
    for (int64_t j = lane; j < n; j += size) {
      const T v = row[j];
      if (max_better(v, (int32_t)j, best, at)) {
        best = v;
        at = (int32_t)j;
      }
    }
    for (int offset = 16; offset > 0; offset /= 2) {
      const T v = __shfl_xor_sync(0xffffffffu, best, offset);
      const int32_t iv = __shfl_xor_sync(0xffffffffu, at, offset);
      if (max_better(v, iv, best, at)) {
        best = v;
        at = iv;
      }
    }
    if constexpr (!kWarp) {
      const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
      if (threadIdx.x % 32 == 0) {
        wval[warp] = best;
        widx[warp] = at;
      }
      __syncthreads();
      best = wval[0];
      at = widx[0];
      for (int w = 1; w < warps; ++w)
        if (max_better(wval[w], widx[w], best, at)) {
          best = wval[w];
          at = widx[w];
        }
      __syncthreads();  // wval/widx are reused by the next row
    }
    if (lane == 0) {
      out[r] = best;
      arg[r] = at;
    }
  }
}

template <class T>
__global__ void max_kernel(const T* x, T* out, int32_t* arg, int64_t outer, int64_t n, int64_t inner) {
  for (int64_t k = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; k < outer * inner; k += (int64_t)gridDim.x * blockDim.x) {
    const int64_t o = k / inner, i = k - o * inner;
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
    const int64_t o = k / inner, i = k - o * inner;
    gx[(o * n + arg[k]) * inner + i] = g[k];
  }
}

}  // namespace

void sum_dim_cuda(const ReduceShape& r, const Tensor& x, Tensor& out, double scale) {
  if (r.outer * r.inner == 0) return;
  if (r.n == 0) {  // sums of nothing
    out.zero_();
    return;
  }
  const cudaStream_t stream = cuda::stream_of(x);
  dispatch_float(x.dtype(), "sum", [&]<class T>() {
    if (r.inner == 1) {
      const int64_t chunks = row_chunks(r.outer, r.n), per = (r.n + chunks - 1) / chunks;
      Tensor partial;
      if (chunks > 1) partial = Tensor::empty({r.outer, chunks}, DType::f64, x.device());
      double* p = chunks > 1 ? partial.data<double>() : nullptr;
      DASG_LAUNCH(sum_rows_kernel<T>, (unsigned)(r.outer * chunks), cuda::kThreads, 0, stream, x.data<T>(),
                  out.data<T>(), p, r.n, chunks, per, scale);
      if (chunks > 1)
        DASG_LAUNCH(sum_chunks_kernel<T>, cuda::blocks_for(r.outer), cuda::kThreads, 0, stream, (const double*)p,
                    out.data<T>(), r.outer, chunks, scale);
      return;
    }
    const int64_t per = col_rows_per_chunk(r.outer, r.n, r.inner), chunks = (r.n + per - 1) / per;
    const int64_t col_blocks = (r.inner + 31) / 32;
    Tensor partial = Tensor::empty({r.outer, chunks, r.inner}, DType::f64, x.device());
    DASG_LAUNCH(sum_cols_partial_kernel<T>, dim3((unsigned)(r.outer * col_blocks), (unsigned)chunks),
                dim3(32, kColRows), 0, stream, x.data<T>(), partial.data<double>(), r.n, r.inner, col_blocks, per);
    DASG_LAUNCH(sum_cols_final_kernel<T>, cuda::blocks_for(r.outer * r.inner), cuda::kThreads, 0, stream,
                (const double*)partial.data<double>(), out.data<T>(), r.outer, r.inner, chunks, scale);
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
    if (r.inner == 1) {
      const cuda::RowLaunch rl = cuda::row_launch(r.outer, r.n);
      DASG_LAUNCH(rl.warp ? max_rows_kernel<T, true> : max_rows_kernel<T, false>, rl.grid, rl.block, 0,
                  cuda::stream_of(x), x.data<T>(), out.data<T>(), arg.data<int32_t>(), r.outer, r.n);
      return;
    }
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
