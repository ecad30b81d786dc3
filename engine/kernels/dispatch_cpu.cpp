// group_by_key on the CPU (see dispatch.hpp for the math): a plain serial counting sort.
//   1. check visit (range, then each row exactly once) and the keys (< n_keys), first failure first;
//   2. counts[e] by one pass; kept[e] = min(counts[e], capacity); base = exclusive scan of kept;
//   3. one pass in visit order (rows visit[0], visit[1], …; c ascending) placing the first kept[e]
//      slots of each key e at base[e], base[e] + 1, …; the tail is −1.
// O(S + R + n_keys), one thread: it is a small integer pass beside the GEMMs it sizes.
#include <algorithm>

#include "engine/kernels/dispatch.hpp"

namespace dasg::kernels {

void group_status_check(const GroupShape& s, const GroupStatus& st) {
  DASG_CHECK(st.visit_pos < 0, "group_by_key: visit[", st.visit_pos, "] = ", st.visit_value,
             " is out of range; expected a permutation of the rows 0..", s.R - 1, " of keys [", s.R, ", ", s.k, "]");
  DASG_CHECK(st.row < 0, "group_by_key: row ", st.row, " appears ", st.row_times,
             " times in visit; expected a permutation of the rows 0..", s.R - 1, " (each exactly once)");
  DASG_CHECK(st.slot < 0, "group_by_key: key ", st.key, " at [", st.slot / std::max<int64_t>(s.k, 1), ", ",
             st.slot % std::max<int64_t>(s.k, 1), "] of keys [", s.R, ", ", s.k,
             "] is out of range; expected key < n_keys = ", s.n_keys, " (or < 0 for no key)");
}

void group_by_key_cpu(const GroupShape& s, const Tensor& keys, const Tensor& visit, Tensor& rows, Tensor& slots,
                      Tensor& counts, Tensor& kept, std::vector<int32_t>& counts_host,
                      std::vector<int32_t>& kept_host) {
  const int64_t S = s.R * s.k, E = s.n_keys;
  const int32_t* pk = keys.data<int32_t>();
  const int32_t* pv = visit.defined() ? visit.data<int32_t>() : nullptr;

  GroupStatus st;
  if (pv) {
    std::vector<int64_t> seen((size_t)s.R, 0);
    for (int64_t j = 0; j < s.R && st.visit_pos < 0; ++j) {
      if (pv[j] < 0 || pv[j] >= s.R) {
        st.visit_pos = j;
        st.visit_value = pv[j];
      } else {
        ++seen[(size_t)pv[j]];
      }
    }
    for (int64_t r = 0; r < s.R && st.visit_pos < 0 && st.row < 0; ++r)
      if (seen[(size_t)r] != 1) {
        st.row = r;
        st.row_times = seen[(size_t)r];
      }
  }
  counts_host.assign((size_t)E, 0);
  for (int64_t i = 0; i < S; ++i) {
    if (pk[i] >= E) {
      st.slot = i;
      st.key = pk[i];
      break;
    }
    if (pk[i] >= 0) ++counts_host[(size_t)pk[i]];
  }
  group_status_check(s, st);

  kept_host.resize((size_t)E);
  std::vector<int64_t> fill((size_t)E);
  int64_t total = 0;
  for (int64_t e = 0; e < E; ++e) {
    kept_host[(size_t)e] = s.capacity < 0 ? counts_host[(size_t)e] : (int32_t)std::min<int64_t>(counts_host[(size_t)e], s.capacity);
    fill[(size_t)e] = total;
    total += kept_host[(size_t)e];
  }
  int32_t* pr = rows.data<int32_t>();
  int32_t* ps = slots.data<int32_t>();
  std::vector<int64_t> taken((size_t)E, 0);
  for (int64_t j = 0; j < s.R; ++j) {
    const int64_t r = pv ? pv[j] : j;
    for (int64_t c = 0; c < s.k; ++c) {
      const int64_t slot = r * s.k + c;
      const int32_t e = pk[slot];
      if (e < 0 || taken[(size_t)e] >= kept_host[(size_t)e]) continue;
      const int64_t p = fill[(size_t)e] + taken[(size_t)e]++;
      pr[p] = (int32_t)r;
      ps[p] = (int32_t)slot;
    }
  }
  std::fill(pr + total, pr + S, -1);
  std::fill(ps + total, ps + S, -1);
  counts = Tensor::from_vector<int32_t>(counts_host, {E});
  kept = Tensor::from_vector<int32_t>(kept_host, {E});
}

}  // namespace dasg::kernels
