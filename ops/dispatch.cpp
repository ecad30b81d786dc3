// group_by_key: the checks of ops/dispatch.hpp, then engine/kernels/dispatch (the counting sort,
// and on CUDA the device-side validation). Integer outputs only: no gradient, no graph.
#include "ops/dispatch.hpp"

#include <cstdint>

#include "engine/kernels/dispatch.hpp"

namespace dasg {

KeyGroups group_by_key(const Tensor& keys, int64_t n_keys, const Tensor& visit, int64_t capacity) {
  DASG_CHECK(keys.defined() && keys.dtype() == DType::i32 && keys.dim() == 2, "group_by_key: keys are ",
             keys.defined() ? keys.str() : std::string("undefined"),
             "; expected a 2-D i32 tensor [R, k] of keys (< 0 for no key)");
  DASG_CHECK(n_keys >= 1 && n_keys <= INT32_MAX, "group_by_key: n_keys = ", n_keys,
             " for keys ", keys.str(), "; expected 1 <= n_keys <= 2^31 - 1");
  kernels::GroupShape s{keys.shape()[0], keys.shape()[1], n_keys, capacity};
  const int64_t S = s.R * s.k;
  DASG_CHECK(S <= INT32_MAX, "group_by_key: keys ", keys.str(), " have ", S,
             " slots; expected at most 2^31 - 1 (the outputs are i32 slot numbers)");
  if (visit.defined()) {
    DASG_CHECK(visit.dtype() == DType::i32 && visit.dim() == 1 && visit.shape()[0] == s.R,
               "group_by_key: visit is ", visit.str(), " for keys ", keys.str(), "; expected i32 [", s.R,
               "], a permutation of the rows");
    check_same_device("group_by_key", keys, visit);
  }
  KeyGroups out;
  out.rows = Tensor::empty({S}, DType::i32, keys.device());
  out.slots = Tensor::empty({S}, DType::i32, keys.device());
  kernels::group_by_key(s, keys, visit, out.rows, out.slots, out.counts, out.kept, out.counts_host, out.kept_host);
  return out;
}

}  // namespace dasg
