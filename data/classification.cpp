// data/classification.cpp — classification sets as shards, and their batch loader.
#include "data/classification.hpp"

#include <filesystem>
#include <fstream>

#include "data/rng.hpp"
#include "data/shard.hpp"
#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg::data {

namespace fs = std::filesystem;

std::vector<int32_t> ClassificationSet::mask() const {
  std::vector<int32_t> m(tokens.size(), 0);
  for (int64_t i = 0; i < size(); i++)
    for (int64_t t = 0; t < lengths[size_t(i)]; t++) m[size_t(i * T + t)] = 1;
  return m;
}

ClassificationSet slice_set(const ClassificationSet& set, int64_t begin, int64_t end) {
  DASG_CHECK(0 <= begin && begin <= end && end <= set.size(), "slice_set: examples [", begin, ", ", end,
             ") of a set of ", set.size());
  ClassificationSet out;
  out.T = set.T;
  out.tokens.assign(set.tokens.begin() + begin * set.T, set.tokens.begin() + end * set.T);
  out.labels.assign(set.labels.begin() + begin, set.labels.begin() + end);
  out.lengths.assign(set.lengths.begin() + begin, set.lengths.begin() + end);
  return out;
}

static std::string shard_path(const std::string& dir, const std::string& name, const std::string& split,
                              const char* what) {
  return (fs::path(dir) / (name + "_" + split + "_" + what + ".bin")).string();
}

void write_classification(const std::string& dir, const std::string& name, const std::string& split,
                          const ClassificationSet& set) {
  DASG_CHECK(int64_t(set.tokens.size()) == set.size() * set.T && set.lengths.size() == set.labels.size(),
             "write_classification ", name, "_", split, ": ", set.tokens.size(), " tokens, ", set.labels.size(),
             " labels and ", set.lengths.size(), " lengths do not make N sequences of T=", set.T);
  std::error_code ec;
  fs::create_directories(dir, ec);
  write_shard(shard_path(dir, name, split, "tokens"), std::span<const int32_t>(set.tokens));
  write_shard(shard_path(dir, name, split, "labels"), std::span<const int32_t>(set.labels));
  write_shard(shard_path(dir, name, split, "lengths"), std::span<const int32_t>(set.lengths));
}

void write_classification_info(const std::string& dir, const std::string& name, const ClassificationInfo& info) {
  std::string path = (fs::path(dir) / (name + ".json")).string();
  std::ofstream f(path);
  f << nlohmann::json{{"T", info.T}, {"vocab_size", info.vocab_size}, {"n_classes", info.n_classes}}.dump(2) << "\n";
  DASG_CHECK(f.good(), "write_classification_info: cannot write ", path);
}

ClassificationInfo read_classification_info(const std::string& dir, const std::string& name) {
  std::string path = (fs::path(dir) / (name + ".json")).string();
  const nlohmann::json j = read_json_file(path);
  ClassificationInfo info{json_int(j, "T", path, 1, INT32_MAX), json_int(j, "vocab_size", path, 1, 65536),
                          json_int(j, "n_classes", path, 2, 65536)};
  return info;
}

ClassificationSet read_classification(const std::string& dir, const std::string& name, const std::string& split,
                                      const ClassificationInfo& info) {
  ClassificationSet set;
  set.T = info.T;
  set.tokens = read_shard(shard_path(dir, name, split, "tokens"), ShardKind::tokens, info.vocab_size);
  set.labels = read_shard(shard_path(dir, name, split, "labels"), ShardKind::labels, info.n_classes);
  set.lengths = read_shard(shard_path(dir, name, split, "lengths"), ShardKind::lengths, info.T);
  DASG_CHECK(set.lengths.size() == set.labels.size() && int64_t(set.tokens.size()) == set.size() * info.T,
             "classification ", name, "_", split, " in ", dir, ": ", set.tokens.size(), " tokens, ",
             set.labels.size(), " labels and ", set.lengths.size(), " lengths do not make N sequences of T=",
             info.T);
  return set;
}

ClassLoader::ClassLoader(const ClassificationSet& set, int64_t B, uint64_t seed, bool shuffle)
    : set_(set), B_(B), seed_(seed), shuffle_(shuffle) {
  DASG_CHECK(B > 0 && set.size() >= B, "ClassLoader: batch size ", B, " needs 1..", set.size(), " (the set's size)");
  start_epoch();
}

void ClassLoader::start_epoch() {
  if (shuffle_) {
    order_ = permutation(set_.size(), mix(seed_, uint64_t(epoch_)));
  } else {
    order_.resize(size_t(set_.size()));
    for (int64_t i = 0; i < set_.size(); i++) order_[size_t(i)] = i;
  }
}

ClassBatch ClassLoader::next() {
  ClassBatch b;
  b.B = B_;
  b.T = set_.T;
  for (int64_t row = 0; row < B_; row++) {
    int64_t i = order_[size_t(pos_)];
    b.tokens.insert(b.tokens.end(), set_.tokens.begin() + i * set_.T, set_.tokens.begin() + (i + 1) * set_.T);
    b.labels.push_back(set_.labels[size_t(i)]);
    b.lengths.push_back(set_.lengths[size_t(i)]);
    if (++pos_ == set_.size()) {
      pos_ = 0;
      epoch_++;
      start_epoch();
    }
  }
  return b;
}

nlohmann::json ClassLoader::state() const {
  return {{"seed", seed_}, {"shuffle", shuffle_}, {"B", B_}, {"size", set_.size()}, {"epoch", epoch_}, {"pos", pos_}};
}

void ClassLoader::restore(const nlohmann::json& st) {
  const std::string where = "ClassLoader state";
  DASG_CHECK(json_uint(st, "seed", where) == seed_ && json_bool(st, "shuffle", where) == shuffle_ &&
                 json_int(st, "B", where) == B_ && json_int(st, "size", where) == set_.size(),
             "ClassLoader: state ", json_excerpt(st, 200), " was saved for other options (seed ", seed_, ", shuffle ",
             shuffle_, ", B ", B_, ", size ", set_.size(), ")");
  const int64_t epoch = json_int(st, "epoch", where, 0, INT64_MAX), pos = json_int(st, "pos", where, 0, set_.size() - 1);
  epoch_ = epoch;
  pos_ = pos;
  start_epoch();
}

}  // namespace dasg::data
