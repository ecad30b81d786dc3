// Fuzz target: the shard reader's checks on a whole file image, as tokens, labels and lengths.
#include <cstring>
#include <vector>

#include "data/shard.hpp"
#include "engine/error.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int shard(const uint8_t* data, size_t size) {
  using dasg::data::ShardKind;
  std::vector<int32_t> image((size + 3) / 4);  // 4-byte aligned, as an mmap is
  if (size) std::memcpy(image.data(), data, size);
  const int64_t limit = size > 1031 ? 1 + data[1030] * 256 + data[1031] : 50257;
  for (ShardKind kind : {ShardKind::tokens, ShardKind::labels, ShardKind::lengths}) {
    try {
      const int64_t n = dasg::data::check_shard_image("fuzz.bin", image.data(), int64_t(size), kind, limit);
      if (n < 0 || dasg::data::kShardHeaderBytes + 2 * n != int64_t(size))
        throw PropertyFailure("shard: accepted a size that disagrees with its header");
    } catch (const dasg::Error&) {
    }
  }
  return 0;
}

}  // namespace dasg_fuzz
