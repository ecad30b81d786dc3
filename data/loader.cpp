// data/loader.cpp — the shard loaders: sample orders, batches, state save/restore.
#include "data/loader.hpp"

#include <filesystem>

#include "data/rng.hpp"
#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg::data {

TokenLoader::TokenLoader(const std::string& dir, const std::string& split, const LoaderOptions& opt)
    : opt_(opt), split_(split) {
  DASG_CHECK(opt.B > 0 && opt.T > 0, "loader: B and T must be positive, got B=", opt.B, " T=", opt.T);
  for (const std::string& path : list_shards(dir, split)) {
    shards_.emplace_back(path, ShardKind::tokens, opt.vocab_size);
    total_samples_ += shard_samples(int64_t(shards_.size()) - 1);
  }
  DASG_CHECK(total_samples_ >= opt.B, "loader: the ", split, " shards of ", dir, " hold ", total_samples_,
             " samples of T+1=", opt.T + 1, " tokens; a batch needs B=", opt.B);
  start_shard();
  skip_exhausted();
}

// The order of the shards in an epoch, and of the samples of shard s in an epoch.
std::vector<int64_t> TokenLoader::shard_order(int64_t epoch) const {
  int64_t n = int64_t(shards_.size());
  if (opt_.shuffle) return permutation(n, mix(opt_.seed, uint64_t(epoch)));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; i++) order[size_t(i)] = i;
  return order;
}

std::vector<int64_t> TokenLoader::sample_order(int64_t epoch, int64_t s) const {
  int64_t m = shard_samples(s);
  if (opt_.shuffle) return permutation(m, mix(opt_.seed, uint64_t(epoch), uint64_t(s) + 1));
  std::vector<int64_t> order(static_cast<size_t>(m));
  for (int64_t j = 0; j < m; j++) order[size_t(j)] = j;
  return order;
}

void TokenLoader::start_shard() {
  if (shard_pos_ == 0) shard_order_ = shard_order(epoch_);
  sample_order_ = sample_order(epoch_, shard_order_[size_t(shard_pos_)]);
}

Batch TokenLoader::next() {
  Batch b;
  b.B = opt_.B;
  b.T = opt_.T;
  b.inputs.resize(size_t(opt_.B * opt_.T));
  b.targets.resize(size_t(opt_.B * opt_.T));
  for (int64_t row = 0; row < opt_.B; row++) {
    const Shard& shard = shards_[size_t(shard_order_[size_t(shard_pos_)])];
    const uint16_t* src = shard.data() + sample_order_[size_t(sample_pos_)] * opt_.T;
    int32_t* in = b.inputs.data() + row * opt_.T;
    int32_t* tg = b.targets.data() + row * opt_.T;
    for (int64_t t = 0; t < opt_.T; t++) {
      in[t] = src[t];
      tg[t] = src[t + 1];
    }
    sample_pos_++;
    skip_exhausted();
  }
  return b;
}

// Moves past the end of the current shard (and epoch), so the position always names a sample.
void TokenLoader::skip_exhausted() {
  while (sample_pos_ >= int64_t(sample_order_.size())) {
    sample_pos_ = 0;
    shard_pos_++;
    if (shard_pos_ == int64_t(shards_.size())) {
      shard_pos_ = 0;
      epoch_++;
    }
    start_shard();
  }
}

nlohmann::json TokenLoader::state() const {
  int64_t s = shard_order_[size_t(shard_pos_)];
  int64_t offset = sample_order_[size_t(sample_pos_)] * opt_.T;
  return {{"split", split_},
          {"seed", opt_.seed},
          {"shuffle", opt_.shuffle},
          {"B", opt_.B},
          {"T", opt_.T},
          {"num_shards", shards_.size()},
          {"epoch", epoch_},
          {"shard", shard_pos_},
          {"shard_file", std::filesystem::path(shards_[size_t(s)].path()).filename().string()},
          {"sample", sample_pos_},
          {"offset", offset}};
}

void TokenLoader::restore(const nlohmann::json& st) {
  const std::string where = "loader state";
  DASG_CHECK(json_string(st, "split", where) == split_ && json_uint(st, "seed", where) == opt_.seed &&
                 json_bool(st, "shuffle", where) == opt_.shuffle && json_int(st, "B", where) == opt_.B &&
                 json_int(st, "T", where) == opt_.T && json_int(st, "num_shards", where) == int64_t(shards_.size()),
             "loader: state ", json_excerpt(st, 200), " was saved for other options (split ", split_, ", seed ",
             opt_.seed, ", shuffle ", opt_.shuffle, ", B ", opt_.B, ", T ", opt_.T, ", ", shards_.size(), " shards)");
  const int64_t epoch = json_int(st, "epoch", where, 0, INT64_MAX);
  const int64_t shard = json_int(st, "shard", where, 0, int64_t(shards_.size()) - 1);
  const int64_t sample = json_int(st, "sample", where, 0, INT64_MAX);
  const std::string file = json_string(st, "shard_file", where);
  // rebuild the orders at that position, check them, and only then move there
  std::vector<int64_t> shards = shard_order(epoch);
  std::vector<int64_t> samples = sample_order(epoch, shards[size_t(shard)]);
  DASG_CHECK(sample < int64_t(samples.size()), "loader: state sample ", sample, " is past the ", samples.size(),
             " samples of its shard");
  std::string here = std::filesystem::path(shards_[size_t(shards[size_t(shard)])].path()).filename().string();
  DASG_CHECK(here == file, "loader: state was saved at shard ", file, " but that position now holds ", here,
             "; the set of shards changed");
  epoch_ = epoch;
  shard_pos_ = shard;
  sample_pos_ = sample;
  shard_order_ = std::move(shards);
  sample_order_ = std::move(samples);
}

int64_t check_split(const std::string& dir, const std::string& split, int64_t B, int64_t T, int64_t vocab_size) {
  try {
    TokenLoader l(dir, split, LoaderOptions{B, T, vocab_size, 0, false});
    return l.samples_per_epoch() / B;
  } catch (const Error& e) {
    if (split != "val") throw;
    DASG_FAIL(e.what(), "; a run evaluates on the val split: give it val shards, or train with --eval-every 0 "
              "--no-val to measure no validation loss");
  }
}

ValLoader::ValLoader(const std::string& dir, int64_t B, int64_t T, int64_t vocab_size)
    : walker_(dir, "val", LoaderOptions{B, T, vocab_size, 0, false}) {
  num_batches_ = walker_.samples_per_epoch() / B;
  start_ = walker_.state();
}

bool ValLoader::next(Batch& batch) {
  if (served_ == num_batches_) return false;
  batch = walker_.next();
  served_++;
  return true;
}

void ValLoader::reset() {
  walker_.restore(start_);
  served_ = 0;
}

}  // namespace dasg::data
