// Row gather / scatter-add on CUDA (see index.hpp for the math); x, out, src any dtype, idx i32.
//   index_select: out[m, c] = x[idx[m], c]; one thread per output element (m, c), grid-stride,
//                 blocks_for(M·D) × 256.
//   index_add:    out[n, c] += Σ_{m : idx[m] = n} src[m, c], deterministic without float atomics,
//     in two kernels and no host copy:
//     1. index_group_kernel, one block of 256: the CPU's counting sort in device memory,
//        groups i32 [start (N + 1) | order (M)] with start[n] = #{m : idx[m] < n} (integer
//        atomics for the histogram, a blocked scan) and order[start[n] ..] = those m ascending
//        (cuda::stable_ranks). O(M + N) a thread; one SM (the rows an expert sees: ~10⁴).
//     2. index_add_kernel: one thread per output element (n, c), grid-stride over N·D (coalesced
//        in c), adds its sources in ascending m into a running value that starts at out[n, c] —
//        the CPU's operation order, so the result is the same bit for bit. blocks_for(N·D) × 256.
// Both check their indices on the device (engine/cuda/range_check.hpp: a bad index is left out —
// a row of 0 for index_select, no contribution for index_add — and reported at the next read of a
// result to the host), with index_range_error's message, the CPU's.
#include <algorithm>
#include <vector>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/cuda/range_check.cuh"
#include "engine/kernels/index.hpp"

namespace dasg::kernels {

namespace {

template <class T>
__global__ void index_select_kernel(const T* x, const int32_t* idx, T* out, int64_t total, int64_t D, int64_t rows,
                                    unsigned long long* bad) {
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < total; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t m = e / D, c = e - m * D;
    const int32_t r = idx[m];
    if (r < 0 || r >= rows) {
      if (c == 0) cuda::report_bad_index(bad, m, r);
      out[e] = T{};
      continue;
    }
    out[e] = x[(int64_t)r * D + c];
  }
}

constexpr int kGroupThreads = 256;

// groups = [start (rows + 1) | order (M)]; cursor i32 [rows] scratch.
__global__ void index_group_kernel(const int32_t* idx, int64_t M, int64_t rows, int32_t* groups, int32_t* cursor,
                                   unsigned long long* bad) {
  DASG_SHARED(int32_t, skey, kGroupThreads);
  DASG_SHARED(int32_t, spart, kGroupThreads);
  int32_t* start = groups;
  int32_t* order = groups + rows + 1;
  const int t = (int)threadIdx.x, nt = (int)blockDim.x;
  for (int64_t n = t; n <= rows; n += nt) start[n] = 0;
  for (int64_t n = t; n < rows; n += nt) cursor[n] = 0;
  __syncthreads();
  for (int64_t m = t; m < M; m += nt) {  // histogram into start[n + 1]
    const int32_t r = idx[m];
    if (r < 0 || r >= rows)
      cuda::report_bad_index(bad, m, r);
    else
      atomicAdd(&start[r + 1], 1);
  }
  __syncthreads();
  // Inclusive scan of start[1 .. rows]: thread t's contiguous chunk, offset by the chunks before.
  const int64_t chunk = (rows + nt - 1) / nt, lo = 1 + t * chunk, hi = lo + chunk < rows + 1 ? lo + chunk : rows + 1;
  int32_t sum = 0;
  for (int64_t n = lo; n < hi; ++n) sum += start[n];
  spart[t] = sum;
  __syncthreads();
  if (t == 0)
    for (int q = 0, run = 0; q < nt; ++q) {
      const int32_t v = spart[q];
      spart[q] = run;
      run += v;
    }
  __syncthreads();
  for (int64_t n = lo, run = spart[t]; n < hi; ++n) {
    run += start[n];
    start[n] = (int32_t)run;
  }
  __syncthreads();
  cuda::stable_ranks(
      M, skey, cursor,
      [&](int64_t m) {
        const int32_t r = idx[m];
        return r < 0 || r >= rows ? -1 : r;
      },
      [&](int64_t m, int32_t r, int64_t q) { order[start[r] + q] = (int32_t)m; });
}

template <class T>
__global__ void index_add_kernel(T* out, const int32_t* groups, const T* src, int64_t rows, int64_t D) {
  const int32_t* order = groups + rows + 1;
  for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < rows * D; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t n = e / D, c = e % D;
    const int32_t p0 = groups[n], p1 = groups[n + 1];
    if (p0 == p1) continue;
    T acc = out[e];
    for (int32_t p = p0; p < p1; ++p) acc += src[(int64_t)order[p] * D + c];
    out[e] = acc;
  }
}

// The indices, copied to the host and range-checked there (the error text of the CPU kernel).
std::vector<int32_t> checked_indices(const char* op, const Tensor& idx, int64_t rows) {
  std::vector<int32_t> host = idx.to_vector<int32_t>();
  check_index_range(op, host.data(), (int64_t)host.size(), rows);
  return host;
}

}  // namespace

void index_select_cuda(const Tensor& x, const Tensor& idx, Tensor& out, int64_t rows, int64_t D) {
  const int64_t M = idx.numel();
  if (M == 0) return;
  if (D == 0) {  // nothing is read: check on the host as the CPU does
    checked_indices("index_select", idx, rows);
    return;
  }
  unsigned long long* bad = cuda::range_slot(out.device().index, [rows](int64_t m, int64_t value) {
    return index_range_error("index_select", m, value, rows);
  });
  dispatch_storage(x.dtype(), "index_select", [&]<class T>() {
    DASG_LAUNCH(index_select_kernel<T>, cuda::blocks_for(M * D), cuda::kThreads, 0, cuda::stream_of(out),
                x.data<T>(), idx.data<int32_t>(), out.data<T>(), M * D, D, rows, bad);
  });
}

void index_add_cuda(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D) {
  const int64_t M = idx.numel();
  if (M == 0) return;
  DASG_CHECK(M <= INT32_MAX - 1 && rows <= INT32_MAX - 1, "index_add: ", M, " indices into ", rows,
             " rows exceed the i32 range of the CUDA grouping");
  unsigned long long* bad = cuda::range_slot(out.device().index, [rows](int64_t m, int64_t value) {
    return index_range_error("index_add", m, value, rows);
  });
  Tensor groups = Tensor::empty({rows + 1 + M}, DType::i32, out.device());
  Tensor cursor = Tensor::empty({std::max<int64_t>(rows, 1)}, DType::i32, out.device());
  DASG_LAUNCH(index_group_kernel, 1, kGroupThreads, 0, cuda::stream_of(out), idx.data<int32_t>(), M, rows,
               groups.data<int32_t>(), cursor.data<int32_t>(), bad);
  if (D == 0 || rows == 0) return;
  dispatch_all(out.dtype(), "index_add", [&]<class T>() {
    DASG_LAUNCH(index_add_kernel<T>, cuda::blocks_for(rows * D), cuda::kThreads, 0, cuda::stream_of(out),
                out.data<T>(), groups.data<int32_t>(), src.data<T>(), rows, D);
  });
}

}  // namespace dasg::kernels
