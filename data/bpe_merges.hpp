// data/bpe_merges.hpp — a BPE merge table and the merge loop over one pre-tokenised word.
//
// The rule (GPT-2's encoder.py, and tiktoken's): repeatedly merge the adjacent pair with the
// lowest rank; of equal pairs, the leftmost first. Two implementations that give the same result:
//   merge_short: rescan the word for its best pair after each round, O(n²) in the word's length
//     but the fastest for the short words of real text;
//   merge_long:  the symbols in a linked list and the pairs' positions bucketed by rank, processed
//     in increasing rank: O(n) after the buckets are filled (plus a pass over the ranks), so a
//     50 MB word without a space (random letters) encodes in seconds instead of never.
// merge_long relies on what add() checks of every merge table (vocab.bpe lists merges in the
// order training made them): a merge's inputs are bytes or outputs of earlier merges, and each
// output is made by one merge only. Then a pair formed by a merge of rank r has a rank > r (it
// holds the token that merge created), so no bucket grows after it is processed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasg::data {

class BpeMerges {
 public:
  // vocab_size: ids are < vocab_size; byte_ids: the token of each single byte.
  BpeMerges(int32_t vocab_size, const int32_t byte_ids[256]);

  // Appends merge (left, right) -> merged at the next rank. Returns "" or why the merge is
  // inconsistent (an input no earlier merge makes, an output already made, an id out of range).
  std::string add(int32_t left, int32_t right, int32_t merged);
  int32_t size() const { return next_rank_; }
  // Whether token id is a single byte or made by a merge.
  bool reachable(int32_t id) const;

  // Merges parts (token ids) in place. Dispatches on the length.
  void merge(std::vector<int32_t>& parts);
  void merge_short(std::vector<int32_t>& parts) const;
  void merge_long(std::vector<int32_t>& parts);

 private:
  struct Entry {
    uint64_t key;  // left << 32 | right; kEmpty when free
    int32_t rank, merged;
  };
  static constexpr uint64_t kEmpty = ~uint64_t(0);
  static uint64_t key(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  const Entry* find(int32_t l, int32_t r) const;
  void grow();

  std::vector<Entry> table_;  // open addressing, linear probing, power-of-two size
  int64_t used_ = 0;
  int32_t next_rank_ = 0;
  std::vector<int32_t> rank_of_made_;  // id -> the rank that made it; -1 single bytes, -2 none yet
  int32_t vocab_size_;

  // merge_long's scratch, reused between calls: pairs made by merges, per block of ranks
  // (rank << 32 | position), and per rank of the block being processed (position).
  std::vector<std::vector<uint64_t>> waiting_;
  std::vector<std::vector<uint32_t>> in_block_;
};

}  // namespace dasg::data
