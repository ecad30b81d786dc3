// data/bpe_merges.cpp — the merge table and the two merge loops (see bpe_merges.hpp).
#include "data/bpe_merges.hpp"

#include <algorithm>
#include <functional>
#include <queue>

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

void BpeMerges::merge_short(std::vector<int32_t>& parts) const {
  while (parts.size() > 1) {
    const Entry* best = nullptr;
    for (size_t i = 0; i + 1 < parts.size(); i++) {
      const Entry* m = find(parts[i], parts[i + 1]);
      if (m && (!best || m->rank < best->rank)) best = m;
    }
    if (!best) return;
    // merge every occurrence, left to right
    const int32_t a = int32_t(best->key >> 32), b = int32_t(best->key & 0xFFFFFFFFu);
    size_t w = 0;
    for (size_t i = 0; i < parts.size(); i++) {
      if (i + 1 < parts.size() && parts[i] == a && parts[i + 1] == b) {
        parts[w++] = best->merged;
        i++;
      } else {
        parts[w++] = parts[i];
      }
    }
    parts.resize(w);
  }
}

void BpeMerges::merge_long(std::vector<int32_t>& parts) {
  const size_t n = parts.size();
  if (n < 2) return;
  DASG_CHECK(n < size_t(UINT32_MAX), "gpt2 encode: a word of ", n, " bytes is longer than 4 GiB");
  if (bucket_of_rank_.size() < size_t(next_rank_)) bucket_of_rank_.assign(size_t(next_rank_), -1);
  constexpr uint32_t kNone = UINT32_MAX;
  // Symbol i starts at byte i while it is alive (id[i] >= 0); nxt/prv link the alive ones;
  // rank[i] is the rank of the pair (i, nxt[i]), or -1.
  std::vector<int32_t>& id = parts;
  std::vector<uint32_t> nxt(n), prv(n);
  std::vector<int32_t> rank(n, -1);
  std::priority_queue<int32_t, std::vector<int32_t>, std::greater<int32_t>> ranks;  // ranks with a bucket
  auto push = [&](uint32_t pos, int32_t r) {
    int32_t& b = bucket_of_rank_[size_t(r)];
    if (b < 0) {
      if (free_buckets_.empty()) {
        free_buckets_.push_back(int32_t(buckets_.size()));
        buckets_.emplace_back();
      }
      b = free_buckets_.back();
      free_buckets_.pop_back();
      ranks.push(r);
    }
    buckets_[size_t(b)].push_back(pos);
  };
  auto pair_rank = [&](uint32_t i) {
    const Entry* m = nxt[i] == kNone ? nullptr : find(id[i], id[nxt[i]]);
    rank[i] = m ? m->rank : -1;
    if (m) push(i, m->rank);
  };
  for (size_t i = 0; i < n; i++) {
    nxt[i] = i + 1 < n ? uint32_t(i + 1) : kNone;
    prv[i] = i > 0 ? uint32_t(i - 1) : kNone;
  }
  for (uint32_t i = 0; i + 1 < n; i++) pair_rank(i);

  std::vector<uint32_t> todo;
  while (!ranks.empty()) {
    const int32_t r = ranks.top();
    ranks.pop();
    const int32_t b = bucket_of_rank_[size_t(r)];
    bucket_of_rank_[size_t(r)] = -1;
    todo.swap(buckets_[size_t(b)]);
    buckets_[size_t(b)].clear();
    free_buckets_.push_back(b);
    std::sort(todo.begin(), todo.end());
    for (uint32_t p : todo) {
      if (id[p] < 0 || rank[p] != r) continue;  // absorbed, or its pair changed since
      const uint32_t q = nxt[p];
      id[p] = find(id[p], id[q])->merged;
      id[q] = -1;
      nxt[p] = nxt[q];
      if (nxt[p] != kNone) prv[nxt[p]] = p;
      if (prv[p] != kNone) pair_rank(prv[p]);
      pair_rank(p);
    }
    todo.clear();
  }
  size_t w = 0;
  for (uint32_t i = 0; i != kNone; i = nxt[i]) parts[w++] = id[i];
  parts.resize(w);
}

}  // namespace dasg::data
