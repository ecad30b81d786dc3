// tests/test_data_shard.cpp — shard writing, reading, the exact byte layout, and every
// way a shard can be bad.
#include <doctest/doctest.h>

#include <filesystem>

#include <cstdint>
#include <string>
#include <vector>

#include "data/shard.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

// The documented layout, byte by byte: 256 little-endian int32, then little-endian uint16.
std::string shard_bytes(int32_t magic, int32_t version, int32_t count, const std::vector<uint16_t>& values) {
  std::string out;
  auto put32 = [&](int32_t v) {
    uint32_t u = uint32_t(v);
    for (int k = 0; k < 4; k++) out += char((u >> (8 * k)) & 0xFF);
  };
  put32(magic);
  put32(version);
  put32(count);
  for (int i = 3; i < 256; i++) put32(0);
  for (uint16_t v : values) {
    out += char(v & 0xFF);
    out += char(v >> 8);
  }
  return out;
}

}  // namespace

TEST_SUITE("data: shards") {
  TEST_CASE("data: shard round trip") {
    TempDir dir;
    std::vector<int32_t> values = {0, 1, 255, 256, 50256, 65535, 7};
    write_shard(dir / "a_train_000000.bin", std::span<const int32_t>(values));
    Shard s(dir / "a_train_000000.bin", ShardKind::tokens, 65536);
    REQUIRE(s.size() == int64_t(values.size()));
    for (size_t i = 0; i < values.size(); i++) CHECK(int32_t(s.data()[i]) == values[i]);
    CHECK(read_shard(dir / "a_train_000000.bin", ShardKind::tokens, 65536) == values);
  }

  TEST_CASE("data: shard bytes match the documented layout") {
    TempDir dir;
    std::vector<uint16_t> values = {1, 2, 0x1234, 0xFFFF, 50256};
    write_shard(dir / "x.bin", std::span<const uint16_t>(values));
    std::string expect = shard_bytes(20240520, 1, 5, values);
    CHECK(expect.size() == 1024 + 10);
    CHECK(dasg_test::read_file(dir / "x.bin") == expect);
    std::vector<uint16_t> none;
    write_shard(dir / "empty.bin", std::span<const uint16_t>(none));
    CHECK(dasg_test::read_file(dir / "empty.bin") == shard_bytes(20240520, 1, 0, {}));
  }

  TEST_CASE("data: labels and lengths shards") {
    TempDir dir;
    std::vector<int32_t> labels = {0, 2, 1}, lengths = {1, 8, 5};
    write_shard(dir / "labels.bin", std::span<const int32_t>(labels));
    write_shard(dir / "lengths.bin", std::span<const int32_t>(lengths));
    CHECK(read_shard(dir / "labels.bin", ShardKind::labels, 3) == labels);
    CHECK(read_shard(dir / "lengths.bin", ShardKind::lengths, 8) == lengths);
    CHECK_THROWS_WITH_AS(read_shard(dir / "labels.bin", ShardKind::labels, 2),
                         dasg_test::has("label 2 at index 1 (byte offset 1026) is outside 0..1"), dasg::Error);
    CHECK_THROWS_WITH_AS(read_shard(dir / "lengths.bin", ShardKind::lengths, 7),
                         dasg_test::has("length 8 at index 1 (byte offset 1026) is outside 1..7"), dasg::Error);
    std::vector<int32_t> zero = {3, 0};
    write_shard(dir / "zero.bin", std::span<const int32_t>(zero));
    CHECK_THROWS_WITH_AS(read_shard(dir / "zero.bin", ShardKind::lengths, 8),
                         dasg_test::has("length 0 at index 1"), dasg::Error);
    // labels and lengths are not held to a vocabulary: a big label is fine with enough classes
    CHECK(read_shard(dir / "lengths.bin", ShardKind::labels, 9) == lengths);
  }

  TEST_CASE("data: bad shards are rejected with the file and the reason") {
    TempDir dir;
    std::string p = dir / "bad.bin";
    auto open = [&] { return Shard(p, ShardKind::tokens, 50257); };

    dasg_test::write_file(p, "");
    CHECK_THROWS_WITH_AS(open(), dasg_test::has(p + ": empty file"), dasg::Error);

    dasg_test::write_file(p, std::string(100, '\0'));
    CHECK_THROWS_WITH_AS(open(), dasg_test::has(p + ": truncated header: the file has 100 bytes"), dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240521, 1, 2, {1, 2}));
    CHECK_THROWS_WITH_AS(open(), dasg_test::has(p + ": wrong magic 20240521 (expected 20240520)"), dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240520, 2, 2, {1, 2}));
    CHECK_THROWS_WITH_AS(open(), dasg_test::has(p + ": wrong version 2 (expected 1)"), dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240520, 1, 10, {1, 2, 3, 4, 5}));  // truncated data
    CHECK_THROWS_WITH_AS(open(),
                         dasg_test::has(p + ": size disagrees with the header: it says 10 values (1044 bytes) "
                                               "but the file has 1034 bytes"),
                         dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240520, 1, 2, {1, 2, 3}));  // trailing bytes
    CHECK_THROWS_WITH_AS(open(), dasg_test::has("size disagrees with the header"), dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240520, 1, -1, {}));
    CHECK_THROWS_WITH_AS(open(), dasg_test::has("it says -1 values"), dasg::Error);

    dasg_test::write_file(p, shard_bytes(20240520, 1, 3, {5, 50257, 6}));
    CHECK_THROWS_WITH_AS(open(),
                         dasg_test::has(p + ": token 50257 at index 1 (byte offset 1026) is outside 0..50256 "
                                               "(vocab size 50257)"),
                         dasg::Error);

    CHECK_THROWS_WITH_AS(Shard(dir / "missing.bin", ShardKind::tokens, 256),
                         dasg_test::has(dir / "missing.bin" + ": cannot open"), dasg::Error);
  }

  TEST_CASE("data: reserved header words 3..255 must be zero, as llm.c writes them") {
    TempDir dir;
    std::string p = dir / "reserved.bin";
    for (int word : {3, 100, 255}) {
      std::string bytes = shard_bytes(20240520, 1, 2, {1, 2});
      bytes[size_t(4 * word)] = 7;
      dasg_test::write_file(p, bytes);
      CHECK_THROWS_WITH_AS(Shard(p, ShardKind::tokens, 256),
                           dasg_test::has(p + ": header word " + std::to_string(word) + " (byte offset " +
                                          std::to_string(4 * word) + ") is 7; expected 0"),
                           dasg::Error);
    }
    dasg_test::write_file(p, shard_bytes(20240520, 1, 2, {1, 2}));
    CHECK(Shard(p, ShardKind::tokens, 256).size() == 2);
  }

  TEST_CASE("data: a directory named like a shard is not a shard") {
    TempDir dir;
    std::filesystem::create_directories(dir / "x_val_000000.bin");
    CHECK_THROWS_WITH_AS(list_shards(dir.str(), "val"), dasg_test::has("no *_val_*.bin files in " + dir.str()),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(Shard(dir / "x_val_000000.bin", ShardKind::tokens, 256), dasg_test::has("not a regular file"),
                         dasg::Error);
  }

  TEST_CASE("data: shard listing by split") {
    TempDir dir;
    std::vector<int32_t> v = {1, 2};
    for (const char* name : {"c_train_000001.bin", "c_train_000000.bin", "c_val_000000.bin", "notes.txt"})
      write_shard(dir / name, std::span<const int32_t>(v));
    auto train = list_shards(dir.str(), "train");
    REQUIRE(train.size() == 2);
    CHECK(train[0] == dir / "c_train_000000.bin");
    CHECK(train[1] == dir / "c_train_000001.bin");
    CHECK(list_shards(dir.str(), "val").size() == 1);
    TempDir empty;
    CHECK_THROWS_WITH_AS(list_shards(empty.str(), "train"),
                         dasg_test::has("no *_train_*.bin files in " + empty.str()), dasg::Error);
    CHECK_THROWS_WITH_AS(list_shards(empty / "nope", "train"), dasg_test::has("is not a directory"), dasg::Error);
  }

  TEST_CASE("data: write_shard rejects values outside uint16") {
    TempDir dir;
    std::vector<int32_t> v = {1, 65536};
    CHECK_THROWS_WITH_AS(write_shard(dir / "x.bin", std::span<const int32_t>(v)),
                         dasg_test::has("value 65536 at index 1 does not fit uint16"), dasg::Error);
  }
}
