// data/synthetic.hpp — long-range classification tasks generated from a seed (no download).
//
// ListOps, as Long Range Arena generates it (lra_benchmarks/data/listops.py): a tree of
// operators MIN, MAX, MED (median, rounded down), SM (sum mod 10) over digits 0–9; a node
// below depth 10 is a leaf with probability 0.75 (at depth 10 always), an operator node has
// 2–10 arguments; the sequence is the prefix form "[MAX 2 9 [MIN 4 7 ] 0 ]" without LRA's
// brackets "( )" (which its input pipeline drops; lengths count the tokens here), kept only
// when min_length < length < max_length (LRA: 500, 2000, strict), deduplicated. Answer 0–9.
//   vocab: 0 pad, 1–10 digits 0–9, 11 [MIN, 12 [MAX, 13 [MED, 14 [SM, 15 ]
//
// Associative recall: n key–value pairs "k v k v …", then the query marker and a key that
// occurs among the pairs; the answer is the value bound to it. Each sequence draws its own
// binding key -> value, so every occurrence of a key carries the same value.
//   vocab: 0 pad, 1 query, 2.. keys (n_keys), then values (n_values); classes = n_values.
//   length: even, ≥ 4 (1K to 16K in the experiments), n = length/2 - 1 pairs; no padding.
#pragma once
#include <cstdint>
#include <string>

#include "data/classification.hpp"

namespace dasg::data {

namespace listops {
constexpr int32_t kPad = 0, kDigit0 = 1, kMin = 11, kMax = 12, kMed = 13, kSum = 14, kEnd = 15;
constexpr int32_t kVocab = 16, kClasses = 10;
}  // namespace listops

struct ListOpsOptions {
  int64_t min_length = 500, max_length = 2000;  // kept when min < length < max; T = max_length
  int max_depth = 10, max_args = 10;
};

// n distinct samples (a train and a val split: generate n_train + n_val at once, then split,
// so no val sample is also in train).
ClassificationSet generate_listops(int64_t n, uint64_t seed, const ListOpsOptions& opt = {});

struct RecallOptions {
  int64_t length = 1024;
  int n_keys = 64, n_values = 16;
};

inline int32_t recall_vocab(const RecallOptions& opt) { return 2 + opt.n_keys + opt.n_values; }

ClassificationSet generate_recall(int64_t n, uint64_t seed, const RecallOptions& opt = {});

// A long-range task as `dasg finetune --task listops|recall` trains it: the generator's options,
// the split sizes and the data seed, which is the model's --seed's equal but independent of it, so
// every model seed of an experiment sees the same splits. The defaults are `dasg finetune`'s.
struct SyntheticTask {
  std::string name = "listops";  // "listops" or "recall"
  ListOpsOptions listops;
  RecallOptions recall;
  int64_t n_train = 10000, n_dev = 1000, n_test = 1000;
  uint64_t seed = 1;
  int64_t T() const;          // padded length: listops.max_length or recall.length
  int64_t vocab_size() const;
  int64_t n_classes() const;  // 10 (ListOps) or recall.n_values
};

struct SyntheticSplits {
  ClassificationSet train, dev, test;
};

// n_train + n_dev + n_test samples generated at once from task.seed and cut in that order, so
// (ListOps being deduplicated) no dev or test sample is also a train sample. Throws on an unknown
// name or a non-positive size.
SyntheticSplits generate_splits(const SyntheticTask& task);

}  // namespace dasg::data
