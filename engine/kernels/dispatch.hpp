// group_by_key, the MoE dispatch grouping (ops/dispatch.hpp): a stable counting sort of the
// S = R·k slots of keys i32 [R, k] by key, rows admitted in visit order (visit i32 [R], or
// ascending rows when undefined), slots of a row in ascending c:
//   counts[e] = #{(r, c) : keys[r, c] = e}                           (before capacity)
//   kept[e]   = min(counts[e], capacity)  (counts[e] when capacity < 0)
//   base[e]   = Σ_{e' < e} kept[e']
//   the q-th slot of key e in visit order (q < kept[e]) goes to position base[e] + q:
//     rows[p] = r, slots[p] = r·k + c;   positions Σ kept .. S − 1 hold −1.
// Keys < 0 go nowhere. Every output is an integer function of the inputs: the same on every
// device and thread count.
//
// Validation happens inside the kernels (the CUDA one on the device, without a host copy of
// keys): visit, when given, must be a permutation of 0..R−1, and every key < n_keys. The
// kernels report the first failure in a GroupStatus and group_status_check throws the op's
// error; both backends find the same first failure, so the message is the same too.
// The kernels also return host copies of counts and kept (CUDA: one device→host copy of
// [counts | kept | status] per call, the op's only one).
#pragma once
#include <vector>

#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct GroupShape {
  int64_t R = 0, k = 0, n_keys = 1, capacity = -1;
};

// The first failure found; -1 fields mean none. Order of precedence: visit out of range (the
// smallest j with visit[j] ∉ [0, R)), then a row visited other than once (the smallest such
// row), then a key ≥ n_keys (the smallest flat slot index).
struct GroupStatus {
  int64_t visit_pos = -1, visit_value = 0;  // visit[visit_pos] = visit_value is out of range
  int64_t row = -1, row_times = 0;          // row appears row_times times in visit
  int64_t slot = -1, key = 0;               // keys at flat slot has value key ≥ n_keys
};

// Throws the op's dasg::Error for the first failure in st (none: returns).
void group_status_check(const GroupShape& s, const GroupStatus& st);

// rows, slots i32 [S]; counts, kept i32 [n_keys]; visit undefined or i32 [R]. On return
// counts_host and kept_host hold the values of counts and kept; throws on invalid input.
void group_by_key_cpu(const GroupShape& s, const Tensor& keys, const Tensor& visit, Tensor& rows, Tensor& slots,
                      Tensor& counts, Tensor& kept, std::vector<int32_t>& counts_host, std::vector<int32_t>& kept_host);
DASG_DECLARE_CUDA(void group_by_key_cuda(const GroupShape& s, const Tensor& keys, const Tensor& visit, Tensor& rows,
                                         Tensor& slots, Tensor& counts, Tensor& kept, std::vector<int32_t>& counts_host,
                                         std::vector<int32_t>& kept_host);)

// counts and kept may be left undefined: the CUDA kernel allocates them as views of one
// device buffer with its status (so one copy brings all back); the CPU kernel allocates them too.
inline void group_by_key(const GroupShape& s, const Tensor& keys, const Tensor& visit, Tensor& rows, Tensor& slots,
                         Tensor& counts, Tensor& kept, std::vector<int32_t>& counts_host,
                         std::vector<int32_t>& kept_host) {
  DASG_BACKEND(keys, group_by_key, s, keys, visit, rows, slots, counts, kept, counts_host, kept_host);
}

}  // namespace dasg::kernels
