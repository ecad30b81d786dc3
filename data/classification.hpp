// data/classification.hpp — sequence classification sets (GLUE, ListOps, associative
// recall): N sequences padded to T, a label and a length each, stored as three shards
//   <name>_<split>_tokens.bin (N·T ids), <name>_<split>_labels.bin (N, 0..C-1),
//   <name>_<split>_lengths.bin (N, 1..T)
// plus <name>.json {"T", "vocab_size", "n_classes"} describing them. ClassLoader cuts
// a set into shuffled batches, with the same save/restore of its position as TokenLoader.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dasg::data {

struct ClassificationSet {
  int64_t T = 0;
  std::vector<int32_t> tokens;   // N·T row-major; padding positions hold 0
  std::vector<int32_t> labels;   // N
  std::vector<int32_t> lengths;  // N real lengths, 1..T
  int64_t size() const { return int64_t(labels.size()); }
  std::vector<int32_t> mask() const;  // N·T: 1 at real positions, 0 at padding
};

// Examples [begin, end) of a set, as a set of their own (same T).
ClassificationSet slice_set(const ClassificationSet& set, int64_t begin, int64_t end);

struct ClassificationInfo {
  int64_t T = 0, vocab_size = 0, n_classes = 0;
};

void write_classification(const std::string& dir, const std::string& name, const std::string& split,
                          const ClassificationSet& set);
void write_classification_info(const std::string& dir, const std::string& name, const ClassificationInfo& info);
ClassificationInfo read_classification_info(const std::string& dir, const std::string& name);
// Reads and checks the three shards against info (token < vocab, label < C, length in 1..T).
ClassificationSet read_classification(const std::string& dir, const std::string& name, const std::string& split,
                                      const ClassificationInfo& info);

struct ClassBatch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> tokens, labels, lengths;  // B·T, B, B
};

// Batches of B examples; each epoch visits the examples in an order drawn from (seed,
// epoch) (or in order, shuffle off). Epochs wrap. state()/restore() as TokenLoader.
class ClassLoader {
 public:
  ClassLoader(const ClassificationSet& set, int64_t B, uint64_t seed, bool shuffle);
  ClassBatch next();
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  const ClassificationSet& set_;
  int64_t B_;
  uint64_t seed_;
  bool shuffle_;
  int64_t epoch_ = 0, pos_ = 0;
  std::vector<int64_t> order_;
  void start_epoch();
};

}  // namespace dasg::data
