// data/bpe_merges.cpp — the merge table and the two merge loops (see bpe_merges.hpp).
#include "data/bpe_merges.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <new>

#include "engine/error.hpp"

namespace dasg::data {

// Words up to this many bytes take merge_short (measured: below it the rescans are cheaper than
// merge_long's set-up; above it the quadratic term wins).
constexpr size_t kShortWord = 128;

BpeMerges::BpeMerges(int32_t vocab_size, const int32_t byte_ids[256])
    : rank_of_made_(size_t(vocab_size), -2), vocab_size_(vocab_size) {
  for (int b = 0; b < 256; b++) rank_of_made_[size_t(byte_ids[b])] = -1;
  table_.assign(1024, Entry{kEmpty, 0, 0});
}

bool BpeMerges::reachable(int32_t id) const { return id >= 0 && id < vocab_size_ && rank_of_made_[size_t(id)] != -2; }

const BpeMerges::Entry* BpeMerges::find(int32_t l, int32_t r) const {
  const uint64_t k = key(l, r);
  const size_t mask = table_.size() - 1;
  for (size_t i = size_t((k * 0x9E3779B97F4A7C15ull) >> 20) & mask;; i = (i + 1) & mask) {
    const Entry& e = table_[i];
    if (e.key == k) return &e;
    if (e.key == kEmpty) return nullptr;
  }
}

void BpeMerges::grow() {
  std::vector<Entry> old = std::move(table_);
  table_.assign(old.size() * 2, Entry{kEmpty, 0, 0});
  const size_t mask = table_.size() - 1;
  for (const Entry& e : old) {
    if (e.key == kEmpty) continue;
    size_t i = size_t((e.key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (table_[i].key != kEmpty) i = (i + 1) & mask;
    table_[i] = e;
  }
}

std::string BpeMerges::add(int32_t left, int32_t right, int32_t merged) {
  for (int32_t x : {left, right, merged})
    if (x < 0 || x >= vocab_size_) return detail::concat("token id ", x, " is outside 0..", vocab_size_ - 1);
  if (rank_of_made_[size_t(left)] == -2) return "its left token is neither a byte nor made by an earlier merge";
  if (rank_of_made_[size_t(right)] == -2) return "its right token is neither a byte nor made by an earlier merge";
  const int32_t before = rank_of_made_[size_t(merged)];
  if (before == -1) return "it makes a single-byte token";
  if (before >= 0) return detail::concat("it makes a token that merge ", before + 1, " already makes");
  if (find(left, right)) return "the same pair is merged earlier";
  if (2 * (used_ + 1) > int64_t(table_.size())) grow();
  const uint64_t k = key(left, right);
  const size_t mask = table_.size() - 1;
  size_t i = size_t((k * 0x9E3779B97F4A7C15ull) >> 20) & mask;
  while (table_[i].key != kEmpty) i = (i + 1) & mask;
  table_[i] = Entry{k, next_rank_, merged};
  used_++;
  rank_of_made_[size_t(merged)] = next_rank_++;
  return "";
}

void BpeMerges::merge(std::vector<int32_t>& parts) {
  if (parts.size() <= kShortWord) merge_short(parts);
  else merge_long(parts);
}

// merge_short: rank[i] holds the rank of the pair (i, i+1) (INT32_MAX: no merge), so a round is
// a scan for the smallest rank and one pass that merges every pair of that rank left to right,
// looking up only the pairs that pass changed.
void BpeMerges::merge_short(std::vector<int32_t>& parts) const {
  size_t n = parts.size();
  if (n < 2) return;
  std::vector<int32_t> rank(n - 1);
  for (size_t i = 0; i + 1 < n; i++) {
    const Entry* e = find(parts[i], parts[i + 1]);
    rank[i] = e ? e->rank : INT32_MAX;
  }
  while (n > 1) {
    size_t at = 0;
    for (size_t i = 1; i + 1 < n; i++)
      if (rank[i] < rank[at]) at = i;
    const int32_t best = rank[at];
    if (best == INT32_MAX) break;
    const int32_t merged = find(parts[at], parts[at + 1])->merged;
    // In place: output w <= input i; rank[i - 1] is read before rank[w - 1] overwrites it.
    size_t w = 0;
    bool prev_changed = false;
    for (size_t i = 0; i < n;) {
      const bool changed = i + 1 < n && rank[i] == best;  // a rank names one pair
      const int32_t sym = changed ? merged : parts[i];
      if (w > 0) {
        if (changed || prev_changed) {
          const Entry* e = find(parts[w - 1], sym);
          rank[w - 1] = e ? e->rank : INT32_MAX;
        } else {
          rank[w - 1] = rank[i - 1];  // the same two symbols as before
        }
      }
      parts[w++] = sym;
      prev_changed = changed;
      i += changed ? 2 : 1;
    }
    n = w;
  }
  parts.resize(n);
}

// merge_long: symbol i starts at byte i while alive (id[i] >= 0), nxt/prv link the alive symbols,
// rank[i] is the rank of the pair (i, nxt[i]) or -1. The positions of the initial pairs are
// counting-sorted by rank into one array; pairs made by merges go to per-rank lists. Ranks are
// processed in increasing order (a merge of rank r only makes pairs of rank > r). Within a rank,
// only a run of overlapping equal pairs ("aaaa" with the merge a+a) depends on the order: such a
// run is merged from its left end, every other pair, as the left-to-right rule says.
namespace {

// n uninitialised Ts of a trivial type, on 2 MB-aligned memory advised for huge pages when big.
template <class T>
class HugeArray {
 public:
  explicit HugeArray(size_t n) {
    constexpr size_t kHuge = size_t(2) << 20;
    const size_t bytes = std::max<size_t>(n * sizeof(T), 1);
    if (bytes >= kHuge) {
      const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
      p_ = static_cast<T*>(std::aligned_alloc(kHuge, rounded));
      if (p_) ::madvise(p_, rounded, MADV_HUGEPAGE);
    }
    if (!p_) p_ = static_cast<T*>(std::malloc(bytes));
    if (!p_) throw std::bad_alloc();
  }
  ~HugeArray() { std::free(p_); }
  HugeArray(const HugeArray&) = delete;
  HugeArray& operator=(const HugeArray&) = delete;
  T* data() { return p_; }

 private:
  T* p_ = nullptr;
};

}  // namespace

void BpeMerges::merge_long(std::vector<int32_t>& parts) {
  const size_t n = parts.size();
  if (n < 2) return;
  DASG_CHECK(n < size_t(UINT32_MAX), "gpt2 encode: a word of ", n, " bytes is longer than 4 GiB");
  constexpr uint32_t kNone = UINT32_MAX;
  const size_t R = size_t(next_rank_);
  // One 16-byte record per symbol, so visiting a position costs one cache miss, not four.
  struct Sym {
    int32_t id, rank;
    uint32_t nxt, prv;
  };
  // Visited in rank order, i.e. at random: on a long word, ask for 2 MB pages (transparent huge
  // pages in madvise mode) so most visits are not TLB misses too.
  HugeArray<Sym> sym_mem(n);
  Sym* sym = sym_mem.data();
  // Pairs made by merges wait in one list per block of kBlock ranks (few, so their tails stay in
  // cache), and are spread by rank when their block comes up.
  constexpr int32_t kBlock = 256;
  const size_t blocks = (R + kBlock - 1) / kBlock;
  if (waiting_.size() < blocks) waiting_.resize(blocks);
  if (in_block_.size() < size_t(kBlock)) in_block_.resize(kBlock);
  std::vector<uint32_t> start(R + 1, 0);  // counting sort of the initial pairs by rank
  int32_t lo = INT32_MAX, hi = -1;
  for (size_t i = 0; i < n; i++) {
    const Entry* m = i + 1 < n ? find(parts[i], parts[i + 1]) : nullptr;
    sym[i] = Sym{parts[i], m ? m->rank : -1, i + 1 < n ? uint32_t(i + 1) : kNone, i > 0 ? uint32_t(i - 1) : kNone};
    if (m) {
      start[size_t(m->rank) + 1]++;
      lo = std::min(lo, m->rank);
      hi = std::max(hi, m->rank);
    }
  }
  if (hi < 0) return;
  for (size_t r = 1; r <= R; r++) start[r] += start[r - 1];
  std::vector<uint32_t> initial(start[R]);
  {
    std::vector<uint32_t> fill(start.begin(), start.end() - 1);
    for (size_t i = 0; i + 1 < n; i++)
      if (sym[i].rank >= 0) initial[fill[size_t(sym[i].rank)]++] = uint32_t(i);
  }
  int32_t current = lo;
  auto update = [&](uint32_t i) {  // the pair (i, nxt) changed
    Sym& s = sym[i];
    const Entry* m = s.nxt == kNone ? nullptr : find(s.id, sym[s.nxt].id);
    s.rank = m ? m->rank : -1;
    if (!m) return;
    DASG_CHECK(m->rank > current, "bpe: merge table out of creation order (internal error)");
    if (m->rank / kBlock == current / kBlock) in_block_[size_t(m->rank % kBlock)].push_back(i);
    else waiting_[size_t(m->rank / kBlock)].push_back((uint64_t(m->rank) << 32) | i);
    hi = std::max(hi, m->rank);
  };
  auto merge_run = [&](uint32_t p, int32_t r) {
    while (sym[p].prv != kNone && sym[sym[p].prv].rank == r) p = sym[p].prv;  // the left end of a run of equal pairs
    while (p != kNone && sym[p].rank == r) {
      Sym& a = sym[p];
      Sym& b = sym[a.nxt];
      a.id = find(a.id, b.id)->merged;
      b.id = -1;
      a.nxt = b.nxt;
      if (a.nxt != kNone) sym[a.nxt].prv = p;
      if (a.prv != kNone) update(a.prv);
      update(p);
      p = a.nxt;
    }
  };
  auto visit = [&](const std::vector<uint32_t>& pos, size_t begin, size_t end) {
    constexpr size_t kAhead = 32;  // positions are scattered over the word: fetch ahead
    for (size_t k = begin; k < end; k++) {
      if (k + kAhead < end) __builtin_prefetch(&sym[pos[k + kAhead]]);
      const uint32_t p = pos[k];
      if (sym[p].id >= 0 && sym[p].rank == current) merge_run(p, current);
    }
  };
  for (int32_t block = lo / kBlock; block * kBlock <= hi; block++) {
    std::vector<uint64_t>& wait = waiting_[size_t(block)];
    for (uint64_t e : wait) in_block_[size_t((e >> 32) % kBlock)].push_back(uint32_t(e));
    wait.clear();
    if (wait.capacity() > (1u << 16)) std::vector<uint64_t>().swap(wait);
    const int32_t end = std::min<int32_t>(int32_t(R), (block + 1) * kBlock);
    for (current = std::max(lo, block * kBlock); current < end; current++) {
      const size_t r = size_t(current);
      visit(initial, start[r], start[r + 1]);
      std::vector<uint32_t>& more = in_block_[r % kBlock];
      visit(more, 0, more.size());
      more.clear();
      if (more.capacity() > (1u << 16)) std::vector<uint32_t>().swap(more);
    }
  }
  size_t w = 0;
  for (uint32_t i = 0; i != kNone; i = sym[i].nxt) parts[w++] = sym[i].id;
  parts.resize(w);
}

}  // namespace dasg::data
