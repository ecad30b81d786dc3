// tests/test_data_loader.cpp — batches from shards, deterministic shuffling, exact resume
// from saved state, the val walk, and the classification loader.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "data/classification.hpp"
#include "data/loader.hpp"
#include "data/shard.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

// Shards whose token at global position g is g % 1000, so a window names its origin.
void make_shards(const TempDir& dir, const std::string& split, const std::vector<int64_t>& sizes) {
  int64_t g = 0;
  for (size_t s = 0; s < sizes.size(); s++) {
    std::vector<int32_t> t;
    for (int64_t i = 0; i < sizes[s]; i++) t.push_back(int32_t(g++ % 1000));
    write_shard(dir / ("d_" + split + "_00000" + std::to_string(s) + ".bin"), std::span<const int32_t>(t));
  }
}

bool same(const Batch& a, const Batch& b) { return a.inputs == b.inputs && a.targets == b.targets; }

}  // namespace

TEST_SUITE("data: loaders") {
  TEST_CASE("data: loader batches are shifted windows, in order without shuffle") {
    TempDir dir;
    make_shards(dir, "train", {33, 17});  // T=8: 4 samples, then 2 samples
    LoaderOptions opt{2, 8, 1000, 0, false};
    TokenLoader loader(dir.str(), "train", opt);
    CHECK(loader.samples_per_epoch() == 6);
    Batch b = loader.next();
    CHECK(b.B == 2);
    CHECK(b.T == 8);
    for (int64_t i = 0; i < 16; i++) {
      CHECK(b.inputs[size_t(i)] == i);
      CHECK(b.targets[size_t(i)] == i + 1);
    }
    loader.next();
    b = loader.next();  // the second shard starts at global token 33
    CHECK(b.inputs[0] == 33);
    CHECK(b.targets[15] == 33 + 16);
    CHECK(loader.epoch() == 1);
    b = loader.next();
    CHECK(b.inputs[0] == 0);
  }

  TEST_CASE("data: shuffled loader visits every sample once per epoch, deterministically") {
    TempDir dir;
    make_shards(dir, "train", {101, 65, 41});  // T=10: 10 + 6 + 4 samples
    LoaderOptions opt{4, 10, 1000, 7, true};
    TokenLoader a(dir.str(), "train", opt), b(dir.str(), "train", opt);
    opt.seed = 8;
    TokenLoader c(dir.str(), "train", opt);
    std::multiset<int32_t> starts;
    bool differs = false;
    for (int k = 0; k < 5; k++) {
      Batch x = a.next(), y = b.next(), z = c.next();
      CHECK(same(x, y));
      differs = differs || !same(x, z);
      for (int r = 0; r < 4; r++) starts.insert(x.inputs[size_t(r * 10)]);
    }
    CHECK(differs);
    std::multiset<int32_t> expect;
    for (int s : {0, 101, 166}) {
      int64_t n = s == 0 ? 10 : s == 101 ? 6 : 4;
      for (int64_t j = 0; j < n; j++) expect.insert(int32_t((s + j * 10) % 1000));
    }
    CHECK(starts == expect);
    CHECK(a.epoch() == 1);
  }

  TEST_CASE("data: loader resume gives the batches of an uninterrupted run") {
    TempDir dir;
    make_shards(dir, "train", {300, 129, 250});
    LoaderOptions opt{3, 16, 1000, 1234, true};
    for (int n : {0, 1, 5, 9, 13}) {  // 13 batches cross an epoch boundary (40 samples)
      CAPTURE(n);
      TokenLoader straight(dir.str(), "train", opt);
      for (int k = 0; k < n; k++) straight.next();
      std::string saved = straight.state().dump();
      std::vector<Batch> want;
      for (int k = 0; k < 20; k++) want.push_back(straight.next());

      TokenLoader resumed(dir.str(), "train", opt);
      resumed.next();  // a different position, to be overwritten
      resumed.restore(nlohmann::json::parse(saved));
      for (int k = 0; k < 20; k++) CHECK(same(resumed.next(), want[size_t(k)]));
    }
  }

  TEST_CASE("data: loader state errors") {
    TempDir dir;
    make_shards(dir, "train", {100});
    LoaderOptions opt{2, 8, 1000, 1, true};
    TokenLoader loader(dir.str(), "train", opt);
    nlohmann::json st = loader.state();
    opt.seed = 2;
    TokenLoader other(dir.str(), "train", opt);
    CHECK_THROWS_WITH_AS(other.restore(st), dasg_test::has("was saved for other options"), dasg::Error);
    st["sample"] = 1000;
    CHECK_THROWS_WITH_AS(loader.restore(st), dasg_test::has("is past the"), dasg::Error);
    st.erase("epoch");
    CHECK_THROWS_WITH_AS(loader.restore(st), dasg_test::has("loader state: key 'epoch' is missing"), dasg::Error);
    st = loader.state();
    st["shard_file"] = "x_train_000009.bin";
    CHECK_THROWS_WITH_AS(loader.restore(st), dasg_test::has("the set of shards changed"), dasg::Error);
    LoaderOptions big{20, 8, 1000, 1, true};
    CHECK_THROWS_WITH_AS(TokenLoader(dir.str(), "train", big), dasg_test::has("a batch needs B=20"), dasg::Error);
    LoaderOptions small_vocab{2, 8, 50, 1, true};
    CHECK_THROWS_WITH_AS(TokenLoader(dir.str(), "train", small_vocab), dasg_test::has("token 50 at index 50"),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(TokenLoader(dir.str(), "val", opt), dasg_test::has("no *_val_*.bin files"), dasg::Error);
  }

  TEST_CASE("data: val loader walks the val shards in order and resets") {
    TempDir dir;
    make_shards(dir, "val", {41, 25});  // T=4: 10 + 6 samples -> 5 batches of 3
    ValLoader val(dir.str(), 3, 4, 1000);
    CHECK(val.num_batches() == 5);
    Batch b;
    std::vector<int32_t> firsts;
    while (val.next(b)) firsts.push_back(b.inputs[0]);
    CHECK(firsts == std::vector<int32_t>{0, 12, 24, 36, 41 + 8});
    CHECK_FALSE(val.next(b));
    val.reset();
    REQUIRE(val.next(b));
    CHECK(b.inputs[0] == 0);
  }

  TEST_CASE("data: classification loader batches and resumes") {
    ClassificationSet set;
    set.T = 3;
    for (int i = 0; i < 10; i++) {
      set.tokens.insert(set.tokens.end(), {i, i, 0});
      set.labels.push_back(i % 2);
      set.lengths.push_back(2);
    }
    CHECK(set.mask()[0] == 1);
    CHECK(set.mask()[2] == 0);
    ClassLoader a(set, 4, 5, true);
    std::set<int32_t> seen;  // the example each row came from
    for (int k = 0; k < 2; k++) {
      ClassBatch x = a.next();
      for (int r = 0; r < 4; r++) seen.insert(x.tokens[size_t(r * 3)]);
    }
    nlohmann::json st = a.state();
    std::vector<ClassBatch> want;
    for (int k = 0; k < 6; k++) want.push_back(a.next());
    ClassLoader b(set, 4, 5, true);
    b.restore(st);
    for (int k = 0; k < 6; k++) {
      ClassBatch x = b.next();
      CHECK(x.tokens == want[size_t(k)].tokens);
      CHECK(x.labels == want[size_t(k)].labels);
    }
    CHECK(seen.size() == 8);  // no example twice within an epoch
  }
}
