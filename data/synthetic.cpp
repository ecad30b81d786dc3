// data/synthetic.cpp — the ListOps and associative-recall generators.
#include "data/synthetic.hpp"

#include <algorithm>
#include <string>
#include <unordered_set>

#include "data/rng.hpp"
#include "engine/error.hpp"

namespace dasg::data {

// Appends the tree's tokens to out (prefix order) and returns its value. Returns -1
// once out holds max_length tokens: the sample is too long and generation stops.
static int listops_tree(Rng& rng, int depth, const ListOpsOptions& opt, std::vector<int32_t>& out) {
  if (int64_t(out.size()) >= opt.max_length) return -1;
  double r = depth < opt.max_depth ? rng.uniform() : 1.0;
  if (r > 0.25) {
    int v = int(rng.below(10));
    out.push_back(listops::kDigit0 + v);
    return v;
  }
  int n_args = 2 + int(rng.below(uint64_t(opt.max_args - 1)));
  size_t op_at = out.size();
  out.push_back(listops::kPad);  // the operator, drawn after its arguments as LRA does
  std::vector<int> args;
  for (int a = 0; a < n_args; a++) {
    int v = listops_tree(rng, depth + 1, opt, out);
    if (v < 0) return -1;
    args.push_back(v);
  }
  int op = listops::kMin + int(rng.below(4));
  out[op_at] = op;
  out.push_back(listops::kEnd);
  if (op == listops::kMin) return *std::min_element(args.begin(), args.end());
  if (op == listops::kMax) return *std::max_element(args.begin(), args.end());
  if (op == listops::kSum) {
    int s = 0;
    for (int v : args) s += v;
    return s % 10;
  }
  std::sort(args.begin(), args.end());  // median, the mean of the middle two rounded down
  size_t m = args.size() / 2;
  return args.size() % 2 ? args[m] : (args[m - 1] + args[m]) / 2;
}

ClassificationSet generate_listops(int64_t n, uint64_t seed, const ListOpsOptions& opt) {
  DASG_CHECK(n > 0 && opt.min_length >= 0 && opt.max_length > opt.min_length + 1 && opt.max_length <= 65535 &&
                 opt.max_depth >= 1 && opt.max_args >= 2,
             "listops: need n > 0, 0 <= min_length < max_length - 1 <= 65534, max_depth >= 1, max_args >= 2; got n=",
             n, " min_length=", opt.min_length, " max_length=", opt.max_length, " max_depth=", opt.max_depth,
             " max_args=", opt.max_args);
  ClassificationSet set;
  set.T = opt.max_length;
  Rng rng(seed);
  std::unordered_set<std::string> seen;
  std::vector<int32_t> seq;
  int64_t tries = 0;
  while (set.size() < n) {
    DASG_CHECK(++tries <= 10000 * n + 1000000, "listops: found only ", set.size(), " of ", n,
               " samples with min_length < length < max_length; widen the length range");
    seq.clear();
    int v = listops_tree(rng, 1, opt, seq);
    int64_t len = int64_t(seq.size());
    if (v < 0 || len <= opt.min_length || len >= opt.max_length) continue;
    if (!seen.insert(std::string(seq.begin(), seq.end())).second) continue;  // ids < 16 fit a char
    set.labels.push_back(v);
    set.lengths.push_back(int32_t(len));
    seq.resize(size_t(set.T), listops::kPad);
    set.tokens.insert(set.tokens.end(), seq.begin(), seq.end());
  }
  return set;
}

ClassificationSet generate_recall(int64_t n, uint64_t seed, const RecallOptions& opt) {
  DASG_CHECK(n > 0 && opt.length >= 4 && opt.length % 2 == 0 && opt.length <= 65535 && opt.n_keys >= 1 &&
                 opt.n_values >= 2 && recall_vocab(opt) <= 65536,
             "recall: need n > 0, an even length in 4..65534, n_keys >= 1, 2 <= n_values, vocab <= 65536; got n=", n,
             " length=", opt.length, " n_keys=", opt.n_keys, " n_values=", opt.n_values);
  ClassificationSet set;
  set.T = opt.length;
  Rng rng(seed);
  int64_t n_pairs = opt.length / 2 - 1;
  std::vector<int32_t> value_of(size_t(opt.n_keys));
  for (int64_t s = 0; s < n; s++) {
    for (int k = 0; k < opt.n_keys; k++) value_of[size_t(k)] = int32_t(rng.below(uint64_t(opt.n_values)));
    size_t start = set.tokens.size();
    for (int64_t p = 0; p < n_pairs; p++) {
      int32_t k = int32_t(rng.below(uint64_t(opt.n_keys)));
      set.tokens.push_back(2 + k);
      set.tokens.push_back(2 + opt.n_keys + value_of[size_t(k)]);
    }
    int64_t q = int64_t(rng.below(uint64_t(n_pairs)));  // query a key that occurs
    int32_t key = set.tokens[start + size_t(2 * q)] - 2;
    set.tokens.push_back(1);
    set.tokens.push_back(2 + key);
    set.labels.push_back(value_of[size_t(key)]);
    set.lengths.push_back(int32_t(opt.length));
  }
  return set;
}

int64_t SyntheticTask::T() const { return name == "recall" ? recall.length : listops.max_length; }
int64_t SyntheticTask::vocab_size() const { return name == "recall" ? recall_vocab(recall) : listops::kVocab; }
int64_t SyntheticTask::n_classes() const { return name == "recall" ? recall.n_values : listops::kClasses; }

SyntheticSplits generate_splits(const SyntheticTask& task) {
  DASG_CHECK(task.name == "listops" || task.name == "recall", "synthetic task '", task.name,
             "'; expected listops or recall");
  DASG_CHECK(task.n_train > 0 && task.n_dev > 0 && task.n_test > 0, task.name, ": split sizes train ", task.n_train,
             ", dev ", task.n_dev, ", test ", task.n_test, "; expected each > 0");
  const int64_t n = task.n_train + task.n_dev + task.n_test;
  const ClassificationSet all = task.name == "recall" ? generate_recall(n, task.seed, task.recall)
                                                      : generate_listops(n, task.seed, task.listops);
  return {slice_set(all, 0, task.n_train), slice_set(all, task.n_train, task.n_train + task.n_dev),
          slice_set(all, task.n_train + task.n_dev, n)};
}

}  // namespace dasg::data
