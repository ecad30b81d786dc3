// data/shard.hpp — token shards in llm.c's format (DESIGN.md §8):
//   a header of 256 little-endian int32: [0] = 20240520 (magic), [1] = 1 (version),
//   [2] = the value count, [3..255] = 0 (reserved; llm.c writes zeros, and a non-zero one is
//   rejected: it is a file of another format or version); then that many little-endian uint16 values.
// The same layout carries token ids (checked < vocab size), class labels (checked
// 0..C-1) and sequence lengths (checked 1..T). Reading is through mmap and every
// shard is checked whole when opened; a bad one throws dasg::Error naming the file
// and the reason (and the byte offset of a bad value).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace dasg::data {

constexpr int32_t kShardMagic = 20240520;
constexpr int32_t kShardVersion = 1;
constexpr int64_t kShardHeaderBytes = 256 * 4;

// Writes a shard (to path + ".tmp", then renamed). The int32 overload checks that
// every value fits uint16.
void write_shard(const std::string& path, std::span<const uint16_t> values);
void write_shard(const std::string& path, std::span<const int32_t> values);

enum class ShardKind { tokens, labels, lengths };

// A read-only, memory-mapped, checked shard. limit: vocab size (tokens: value < limit),
// number of classes (labels: value < limit) or T (lengths: 1 <= value <= limit).
class Shard {
 public:
  Shard(const std::string& path, ShardKind kind, int64_t limit);
  ~Shard();
  Shard(Shard&& other) noexcept;
  Shard& operator=(Shard&& other) noexcept;
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  int64_t size() const { return count_; }
  const uint16_t* data() const { return values_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  const uint16_t* values_ = nullptr;
  int64_t count_ = 0;
};

// Checks a shard's bytes (all of the file, `bytes` long, 4-byte aligned) as Shard does; returns
// the value count. Shard's constructor and the fuzzer (tests/fuzz/fuzz_shard.cpp) call it.
int64_t check_shard_image(const std::string& path, const void* image, int64_t bytes, ShardKind kind, int64_t limit);

// The whole shard as int32 values (checked as above).
std::vector<int32_t> read_shard(const std::string& path, ShardKind kind, int64_t limit);

// The shards of one split in dir — files named *_<split>_*.bin — sorted by name.
// Throws if dir is missing or holds none.
std::vector<std::string> list_shards(const std::string& dir, const std::string& split);

}  // namespace dasg::data
