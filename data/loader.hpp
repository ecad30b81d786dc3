// data/loader.hpp — B×T batches of (inputs, targets) from token shards, as llm.c's
// DataLoader. A shard of n tokens holds (n-1)/T samples; sample j is the T+1 tokens
// starting at j·T (inputs = the first T, targets = the last T). A batch is B samples.
//
// TokenLoader (training) walks the shards of a split epoch after epoch. With shuffle on,
// epoch e visits the shards in an order drawn from (seed, e) and the samples of each
// shard in an order drawn from (seed, e, shard); off, it walks them in name order.
// The position (epoch, shard, sample) plus the seed — from which every random order is a
// pure function, so it is the whole RNG state — is saved with state() as JSON and
// restored exactly with restore(): the next batches are those of an uninterrupted run.
//
// ValLoader walks the val shards once, in order, without shuffling; reset() restarts it.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.hpp"

namespace dasg::data {

// B·T row-major token ids; targets are the inputs shifted by one.
struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> inputs, targets;
};

struct LoaderOptions {
  int64_t B = 4, T = 64;
  int64_t vocab_size = 256;  // every token is checked to be below it
  uint64_t seed = 0;
  bool shuffle = true;
};

class TokenLoader {
 public:
  // Reads the *_<split>_*.bin shards of dir.
  TokenLoader(const std::string& dir, const std::string& split, const LoaderOptions& opt);

  Batch next();
  int64_t epoch() const { return epoch_; }
  int64_t samples_per_epoch() const { return total_samples_; }

  nlohmann::json state() const;
  // Throws if the state was saved for other options or another set of shards.
  void restore(const nlohmann::json& state);

 private:
  std::vector<int64_t> shard_order(int64_t epoch) const;
  std::vector<int64_t> sample_order(int64_t epoch, int64_t shard) const;
  void start_shard();
  void skip_exhausted();
  int64_t shard_samples(int64_t s) const {
    int64_t n = shards_[size_t(s)].size();
    return n > 0 ? (n - 1) / opt_.T : 0;
  }

  LoaderOptions opt_;
  std::string split_;
  std::vector<Shard> shards_;
  int64_t total_samples_ = 0;
  int64_t epoch_ = 0;
  int64_t shard_pos_ = 0;   // position in shard_order_
  int64_t sample_pos_ = 0;  // position in sample_order_
  std::vector<int64_t> shard_order_, sample_order_;
};

// The up-front check of a split a run will read, so a run never trains for hours and then fails
// at its first evaluation: the *_<split>_*.bin shards of dir exist, are valid shards of tokens
// below vocab_size and hold at least one full batch of B samples of T+1 tokens. Returns the
// number of full batches. Throws naming dir and the split; for "val" the message says how to run
// without one (--eval-every 0 --no-val).
int64_t check_split(const std::string& dir, const std::string& split, int64_t B, int64_t T, int64_t vocab_size);

class ValLoader {
 public:
  ValLoader(const std::string& dir, int64_t B, int64_t T, int64_t vocab_size);
  // Fills the next batch; false once every full batch of the val split has been served.
  bool next(Batch& batch);
  void reset();
  int64_t num_batches() const { return num_batches_; }

 private:
  TokenLoader walker_;
  int64_t num_batches_ = 0, served_ = 0;
  nlohmann::json start_;
};

}  // namespace dasg::data
