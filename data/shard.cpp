// data/shard.cpp — writing, mmap-reading and checking llm.c-format shards.
#include "data/shard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "engine/error.hpp"

namespace dasg::data {

static_assert(std::endian::native == std::endian::little, "shards are little-endian; this reader maps them as is");

void write_shard(const std::string& path, std::span<const uint16_t> values) {
  DASG_CHECK(values.size() <= size_t(INT32_MAX), "write_shard ", path, ": ", values.size(),
             " values do not fit the int32 count of the header");
  int32_t header[256] = {};
  header[0] = kShardMagic;
  header[1] = kShardVersion;
  header[2] = int32_t(values.size());
  std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  DASG_CHECK(f != nullptr, "write_shard: cannot create ", tmp, ": ", std::strerror(errno));
  bool ok = std::fwrite(header, sizeof(header), 1, f) == 1;
  if (!values.empty()) ok = ok && std::fwrite(values.data(), 2, values.size(), f) == values.size();
  ok = (std::fclose(f) == 0) && ok;
  DASG_CHECK(ok, "write_shard: writing ", tmp, " failed");
  DASG_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0, "write_shard: cannot rename ", tmp, " to ", path, ": ",
             std::strerror(errno));
}

void write_shard(const std::string& path, std::span<const int32_t> values) {
  std::vector<uint16_t> v(values.size());
  for (size_t i = 0; i < values.size(); i++) {
    DASG_CHECK(values[i] >= 0 && values[i] <= 65535, "write_shard ", path, ": value ", values[i], " at index ", i,
               " does not fit uint16");
    v[i] = uint16_t(values[i]);
  }
  write_shard(path, std::span<const uint16_t>(v));
}

int64_t check_shard_image(const std::string& path, const void* map, int64_t bytes, ShardKind kind, int64_t limit) {
  DASG_CHECK(bytes > 0, "shard ", path, ": empty file");
  DASG_CHECK(bytes >= kShardHeaderBytes, "shard ", path, ": truncated header: the file has ", bytes,
             " bytes, a shard starts with a ", kShardHeaderBytes, "-byte header");
  const int32_t* header = static_cast<const int32_t*>(map);
  DASG_CHECK(header[0] == kShardMagic, "shard ", path, ": wrong magic ", header[0], " (expected ", kShardMagic, ")");
  DASG_CHECK(header[1] == kShardVersion, "shard ", path, ": wrong version ", header[1], " (expected ", kShardVersion,
             ")");
  for (int w = 3; w < 256; w++)
    DASG_CHECK(header[w] == 0, "shard ", path, ": header word ", w, " (byte offset ", 4 * w, ") is ", header[w],
               "; expected 0 (words 3..255 are reserved; llm.c writes zeros)");
  int64_t count = header[2];
  int64_t expect = kShardHeaderBytes + 2 * count;
  DASG_CHECK(count >= 0 && expect == bytes, "shard ", path, ": size disagrees with the header: it says ", count,
             " values (", expect, " bytes) but the file has ", bytes, " bytes");
  const uint16_t* values = reinterpret_cast<const uint16_t*>(static_cast<const char*>(map) + kShardHeaderBytes);
  const char* what = kind == ShardKind::tokens ? "token" : kind == ShardKind::labels ? "label" : "length";
  const char* bound = kind == ShardKind::tokens ? "vocab size" : kind == ShardKind::labels ? "classes" : "T";
  int64_t lo = kind == ShardKind::lengths ? 1 : 0;
  int64_t hi = kind == ShardKind::lengths ? limit : limit - 1;
  for (int64_t i = 0; i < count; i++) {
    int64_t v = values[i];
    DASG_CHECK(v >= lo && v <= hi, "shard ", path, ": ", what, " ", v, " at index ", i, " (byte offset ",
               kShardHeaderBytes + 2 * i, ") is outside ", lo, "..", hi, " (", bound, " ", limit, ")");
  }
  return count;
}

Shard::Shard(const std::string& path, ShardKind kind, int64_t limit) : path_(path) {
  DASG_CHECK(limit > 0, "shard ", path, ": the value limit must be positive, got ", limit);
  int fd = ::open(path.c_str(), O_RDONLY);
  DASG_CHECK(fd >= 0, "shard ", path, ": cannot open: ", std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    DASG_FAIL("shard ", path, ": not a regular file");
  }
  int64_t bytes = int64_t(st.st_size);
  if (bytes < kShardHeaderBytes) {
    ::close(fd);
    check_shard_image(path, nullptr, bytes, kind, limit);  // throws: empty or truncated
  }
  void* map = ::mmap(nullptr, size_t(bytes), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  DASG_CHECK(map != MAP_FAILED, "shard ", path, ": mmap failed: ", std::strerror(errno));
  try {
    count_ = check_shard_image(path, map, bytes, kind, limit);
  } catch (...) {
    ::munmap(map, size_t(bytes));
    throw;
  }
  map_ = map;
  map_bytes_ = size_t(bytes);
  values_ = reinterpret_cast<const uint16_t*>(static_cast<const char*>(map) + kShardHeaderBytes);
}

Shard::~Shard() {
  if (map_ != nullptr) ::munmap(map_, map_bytes_);
}

Shard::Shard(Shard&& o) noexcept
    : path_(std::move(o.path_)), map_(o.map_), map_bytes_(o.map_bytes_), values_(o.values_), count_(o.count_) {
  o.map_ = nullptr;
}

Shard& Shard::operator=(Shard&& o) noexcept {
  if (this != &o) {
    if (map_ != nullptr) ::munmap(map_, map_bytes_);
    path_ = std::move(o.path_);
    map_ = o.map_;
    map_bytes_ = o.map_bytes_;
    values_ = o.values_;
    count_ = o.count_;
    o.map_ = nullptr;
  }
  return *this;
}

std::vector<int32_t> read_shard(const std::string& path, ShardKind kind, int64_t limit) {
  Shard s(path, kind, limit);
  return std::vector<int32_t>(s.data(), s.data() + s.size());
}

std::vector<std::string> list_shards(const std::string& dir, const std::string& split) {
  namespace fs = std::filesystem;
  std::error_code ec;
  DASG_CHECK(fs::is_directory(dir, ec), "shards: ", dir, " is not a directory");
  std::string tag = "_" + split + "_";
  std::vector<std::string> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string name = entry.path().filename().string();
    if (name.size() > 4 && name.ends_with(".bin") && name.find(tag) != std::string::npos &&
        entry.is_regular_file())
      out.push_back(entry.path().string());
  }
  DASG_CHECK(!out.empty(), "shards: no *", tag, "*.bin files in ", dir);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace dasg::data
