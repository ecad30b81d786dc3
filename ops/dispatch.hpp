// Grouping routing slots by expert, the MoE dispatch (DESIGN §7.5, §7.6), on the keys' device:
// a stable counting sort, no host round-trip but the caller's one copy of the counts.
//
//   keys i32 [R, k]: slot (r, c) of row r goes to expert keys[r, c] (0 <= key < n_keys), or
//                    nowhere (key < 0);
//   visit i32 [R] (optional): the order in which rows are admitted (a permutation of 0..R−1;
//                    undefined = ascending rows); slots of one row in ascending c;
//   capacity:        at most `capacity` slots are kept per key, the first ones in visit order
//                    (< 0: no limit; Switch's capacity, §7.6).
// Returns, with S = R·k:
//   rows  i32 [S]: the kept slots' rows, grouped by key ascending, in visit order within a key,
//                  then −1 for the unused tail;
//   slots i32 [S]: the kept slots' flat index r·k + c, in the same order, −1 in the tail;
//   counts i32 [n_keys]: slots per key before capacity (every slot with that key);
//   kept   i32 [n_keys]: slots per key after capacity (the sizes of the groups in rows/slots).
// Deterministic: the same output on every device and thread count. No gradient.
//
// Also returned: counts_host and kept_host, host copies of counts and kept (to size the dispatch
// GEMMs without another copy). On CUDA they come from the op's one device→host copy, of
// [counts | kept | a validation status] together: the keys are checked on the device (no host
// copy of keys), and so is visit (range, and each row exactly once). Errors (dasg::Error):
// keys not i32 2-D, n_keys < 1, R·k or n_keys beyond i32, visit not i32 [R] or not a
// permutation, a key ≥ n_keys (naming its [r, c]), inputs on different devices.
#pragma once
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct KeyGroups {
  Tensor rows, slots, counts, kept;
  std::vector<int32_t> counts_host, kept_host;  // the values of counts and kept, on the host
};

KeyGroups group_by_key(const Tensor& keys, int64_t n_keys, const Tensor& visit = Tensor(), int64_t capacity = -1);

}  // namespace dasg
