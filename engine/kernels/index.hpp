// Row gather / scatter-add, the MoE dispatch/combine pair (DESIGN §7.5). Tensors are seen as
// rows of D elements (D = the product of the dims after the first); idx is i32 [M]. index_select
// moves any dtype (bf16 too: mixed precision gathers bf16 rows); index_add adds f32, f64 or i32.
//
//   index_select: out[m, :] = x[idx[m], :]             x [N, D], out [M, D]
//   index_add:    out[n, :] += Σ_{m : idx[m] = n} src[m, :]   out [N, D] (holds base), src [M, D]
//
// index_add is deterministic and race-free with duplicate indices: the CPU kernel groups the
// positions m by destination row (a counting sort), then each destination row is owned by one
// thread and sums its sources in ascending m — the same result, bit for bit, as the serial loop,
// for every thread count. A CUDA twin must keep that order (no float atomics).
//
// Both kernels check every index first: one outside [0, N) throws dasg::Error naming the op,
// the index, its position and N (check_index_range; on CUDA index_select checks on the device,
// engine/cuda/range_check.hpp, and index_add on the host copy its grouping needs).
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

// The error text for index `value` at position m (CPU check and the device-side check alike).
inline std::string index_range_error(const char* op, int64_t m, int64_t value, int64_t n) {
  return detail::concat(op, ": index ", value, " at position ", m, " is out of range; expected 0 <= index < N = ", n);
}
// Throws unless 0 <= idx[m] < n for every m < count (host pointer).
inline void check_index_range(const char* op, const int32_t* idx, int64_t count, int64_t n) {
  for (int64_t m = 0; m < count; ++m)
    if (!(idx[m] >= 0 && idx[m] < n)) throw Error(index_range_error(op, m, idx[m], n));
}

// rows = N of x (select) or of out (add); D = elements per row.
void index_select_cpu(const Tensor& x, const Tensor& idx, Tensor& out, int64_t rows, int64_t D);
void index_add_cpu(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D);
DASG_DECLARE_CUDA(void index_select_cuda(const Tensor& x, const Tensor& idx, Tensor& out, int64_t rows, int64_t D);)
DASG_DECLARE_CUDA(void index_add_cuda(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D);)

inline void index_select(const Tensor& x, const Tensor& idx, Tensor& out, int64_t rows, int64_t D) {
  DASG_BACKEND(x, index_select, x, idx, out, rows, D);
}
inline void index_add(Tensor& out, const Tensor& idx, const Tensor& src, int64_t rows, int64_t D) {
  DASG_BACKEND(out, index_add, out, idx, src, rows, D);
}

}  // namespace dasg::kernels
