// group_by_key on CUDA (see dispatch.hpp for the math). One block of 256 threads (grid 1), one
// kernel, all in device memory; then one device→host copy of [counts | kept | status].
//   info    i32 [2E + 6] = [counts E | kept E | visit_pos, row, slot, visit_value, row_times, key]
//   scratch i32 [2E (+ R)] = [base E | cursor E | seen R (with visit)]
// Phases, barrier-separated (every thread of the one block sees the others' global writes after
// __syncthreads; all loop bounds and the early exit are uniform over the block):
//   1. zero counts, cursor, seen; status minima = none.
//   2. validation and histogram, integer atomics only (so order-free and exact): visit[j] out of
//      range → atomicMin(visit_pos, j), else atomicAdd(seen[visit[j]]); key ≥ E → atomicMin(slot, i),
//      key ≥ 0 → atomicAdd(counts[key]). Then a row with seen ≠ 1 → atomicMin(row, r).
//   3. thread 0: on a failure, the offending values (visit[visit_pos], seen[row], keys[slot]) and
//      every thread returns; else the serial scan kept[e] = min(counts[e], capacity),
//      base[e] = Σ_{e'<e} kept[e'] (O(E)). The tail Σ kept .. S − 1 gets −1.
//   4. ordered pass over the S positions p = j·k + c in visit order (cuda::stable_ranks, a chunk
//      of 256 at a time): the rank q of p among the earlier positions of its key e; q < kept[e]
//      writes rows/slots[base[e] + q].
//   Stable in visit order and deterministic: each output element has one writer, decided by
//   integers. Cost: ⌈S/256⌉ chunks of 256 shared reads and two barriers each (O(S) a thread),
//   O(S/256 + R/256) atomics a thread, O(E) serial for the scan; one SM only (unmeasured: the
//   router's S is ~10⁴, small beside the GEMMs it sizes; a multi-block version can come with a
//   benchmark). Launch: grid 1 × 256, no dynamic shared memory.
#include <climits>
#include <vector>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/dispatch.hpp"

namespace dasg::kernels {

namespace {

constexpr int kGroupThreads = 256;
constexpr int32_t kNone = INT_MAX;

__global__ void group_by_key_kernel(const int32_t* keys, const int32_t* visit, int32_t* rows, int32_t* slots,
                                    int32_t* info, int32_t* scratch, int64_t R, int64_t k, int64_t E,
                                    int64_t capacity) {
  DASG_SHARED(int32_t, skey, kGroupThreads);
  DASG_SHARED(int64_t, stotal, 1);
  const int64_t S = R * k;
  int32_t* counts = info;
  int32_t* kept = info + E;
  int32_t* status = info + 2 * E;
  int32_t* base = scratch;
  int32_t* cursor = scratch + E;
  int32_t* seen = scratch + 2 * E;
  const int t = (int)threadIdx.x, nt = (int)blockDim.x;

  // 1. zero
  for (int64_t e = t; e < E; e += nt) counts[e] = cursor[e] = 0;
  if (visit)
    for (int64_t r = t; r < R; r += nt) seen[r] = 0;
  if (t == 0) status[0] = status[1] = status[2] = kNone;
  __syncthreads();

  // 2. validation and histogram
  if (visit)
    for (int64_t j = t; j < R; j += nt) {
      const int32_t v = visit[j];
      if (v < 0 || v >= R)
        atomicMin(&status[0], (int32_t)j);
      else
        atomicAdd(&seen[v], 1);
    }
  for (int64_t i = t; i < S; i += nt) {
    const int32_t e = keys[i];
    if (e >= E)
      atomicMin(&status[2], (int32_t)i);
    else if (e >= 0)
      atomicAdd(&counts[e], 1);
  }
  __syncthreads();
  if (visit && status[0] == kNone)
    for (int64_t r = t; r < R; r += nt)
      if (seen[r] != 1) atomicMin(&status[1], (int32_t)r);
  __syncthreads();

  // 3. report, or scan
  const bool bad = status[0] != kNone || status[1] != kNone || status[2] != kNone;
  if (t == 0) {
    if (bad) {
      status[3] = status[0] != kNone ? visit[status[0]] : 0;
      status[4] = status[1] != kNone ? seen[status[1]] : 0;
      status[5] = status[2] != kNone ? keys[status[2]] : 0;
    } else {
      int64_t total = 0;
      for (int64_t e = 0; e < E; ++e) {
        const int32_t c = counts[e];
        kept[e] = capacity < 0 || c < capacity ? c : (int32_t)capacity;
        base[e] = (int32_t)total;
        total += kept[e];
      }
      stotal[0] = total;
    }
  }
  if (bad) return;  // uniform: every thread read the same status after the barrier
  __syncthreads();
  const int64_t total = stotal[0];
  for (int64_t p = total + t; p < S; p += nt) rows[p] = slots[p] = -1;

  // 4. ordered pass: the q-th slot of key e in visit order goes to base[e] + q while q < kept[e]
  auto slot_of = [&](int64_t p) {
    const int64_t j = p / k, r = visit ? visit[j] : j;
    return r * k + p % k;
  };
  cuda::stable_ranks(
      S, skey, cursor, [&](int64_t p) { return keys[slot_of(p)]; },
      [&](int64_t p, int32_t e, int64_t q) {
        if (q >= kept[e]) return;
        const int64_t slot = slot_of(p);
        rows[base[e] + q] = (int32_t)(slot / k);
        slots[base[e] + q] = (int32_t)slot;
      });
}

// Elements [offset, offset + n) of t as a 1-D tensor sharing its storage.
Tensor view_range(const Tensor& t, int64_t offset, int64_t n) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.impl().storage;
  impl->offset = t.impl().offset + offset;
  impl->shape = {n};
  impl->dtype = t.dtype();
  return Tensor(impl);
}

}  // namespace

void group_by_key_cuda(const GroupShape& s, const Tensor& keys, const Tensor& visit, Tensor& rows, Tensor& slots,
                       Tensor& counts, Tensor& kept, std::vector<int32_t>& counts_host,
                       std::vector<int32_t>& kept_host) {
  const int64_t E = s.n_keys;
  Tensor info = Tensor::empty({2 * E + 6}, DType::i32, keys.device());
  Tensor scratch = Tensor::empty({2 * E + (visit.defined() ? s.R : 0)}, DType::i32, keys.device());
  cuda::launch(group_by_key_kernel, 1, kGroupThreads, 0, cuda::stream_of(keys), keys.data<int32_t>(),
               visit.defined() ? visit.data<int32_t>() : (const int32_t*)nullptr, rows.data<int32_t>(),
               slots.data<int32_t>(), info.data<int32_t>(), scratch.data<int32_t>(), s.R, s.k, E, s.capacity);
  // The op's one device→host copy: counts, kept and the status together.
  const std::vector<int32_t> host = info.to_vector<int32_t>();
  const int32_t* st = host.data() + 2 * E;
  GroupStatus status;
  if (st[0] != kNone) status.visit_pos = st[0], status.visit_value = st[3];
  if (st[1] != kNone) status.row = st[1], status.row_times = st[4];
  if (st[2] != kNone) status.slot = st[2], status.key = st[5];
  group_status_check(s, status);
  counts_host.assign(host.begin(), host.begin() + E);
  kept_host.assign(host.begin() + E, host.begin() + 2 * E);
  counts = view_range(info, 0, E);
  kept = view_range(info, E, E);
}

}  // namespace dasg::kernels
