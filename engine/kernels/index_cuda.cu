// Row gather / scatter-add on CUDA (see index.hpp for the math); x, out, src any dtype, idx i32.
//   index_select: out[m, c] = x[idx[m], c]; one thread per output element (m, c), grid-stride,
//                 blocks_for(M·D) × 256.
//   index_add:    out[n, c] += Σ_{m : idx[m] = n} src[m, c], deterministic without float atomics:
//     on the host (from the copy of idx the range check needs anyway), the CPU's counting sort:
//     start[n] = #{m : idx[m] < n}, order[start[n] ..] = those m ascending; uploaded as one i32
//     array [start (N + 1) | order (M)]. Then one thread per output element (n, c), grid-stride
//     over N·D (coalesced in c), adds its sources in ascending m into a running value that starts
//     at out[n, c] — the CPU's operation order, so the result is the same bit for bit.
//     blocks_for(N·D) × 256.
// index_select checks its indices on the device (engine/cuda/range_check.hpp: a bad index gives
// a row of 0 and is reported at the next read of a result to the host); index_add on the host
// copy its grouping needs. Both with index_range_error's message, the CPU's.
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
      out[e] = T(0);
      continue;
    }
    out[e] = x[(int64_t)r * D + c];
  }
}

// groups = [start (rows + 1) | order (M)]
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
  dispatch_all(x.dtype(), "index_select", [&]<class T>() {
    DASG_LAUNCH(index_select_kernel<T>, cuda::blocks_for(M * D), cuda::kThreads, 0, cuda::stream_of(out),
                x.data<T>(), idx.data<int32_t>(), out.data<T>(), M * D, D, rows, bad);
  });
}

void index_add_cuda(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D) {
  const int64_t M = idx.numel();
  if (M == 0) return;
  const std::vector<int32_t> pi = checked_indices("index_add", idx, rows);
  if (D == 0 || rows == 0) return;
  DASG_CHECK(M <= INT32_MAX - 1, "index_add: ", M, " indices exceed the i32 range of the CUDA grouping");
  // Counting sort of the positions by destination row (stable: ascending m within a row).
  std::vector<int32_t> groups((size_t)(rows + 1 + M), 0);
  int32_t* start = groups.data();
  int32_t* order = start + rows + 1;
  for (int64_t m = 0; m < M; ++m) ++start[pi[(size_t)m] + 1];
  for (int64_t n = 0; n < rows; ++n) start[n + 1] += start[n];
  std::vector<int32_t> fill(start, start + rows);
  for (int64_t m = 0; m < M; ++m) order[fill[(size_t)pi[(size_t)m]]++] = (int32_t)m;
  Tensor dev_groups = Tensor::from_vector<int32_t>(groups, {(int64_t)groups.size()}, out.device());
  dispatch_all(out.dtype(), "index_add", [&]<class T>() {
    DASG_LAUNCH(index_add_kernel<T>, cuda::blocks_for(rows * D), cuda::kThreads, 0, cuda::stream_of(out),
                 out.data<T>(), dev_groups.data<int32_t>(), src.data<T>(), rows, D);
  });
}

}  // namespace dasg::kernels
