// tests/test_data_glue.cpp — SST-2 and MRPC readers on the real files, truncation,
// padding, masks, and malformed TSVs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "data/glue.hpp"
#include "data/tokenizer.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

int64_t count_label(const ClassificationSet& s, int label) {
  int64_t n = 0;
  for (int32_t l : s.labels) n += l == label;
  return n;
}

}  // namespace

TEST_SUITE("data: glue") {
  TEST_CASE("data: SST-2 dev and train") {
    ByteTokenizer tok;
    ClassificationSet dev = read_glue(dasg_test::shared_data("glue/SST-2/dev.tsv"), GlueTask::sst2, tok, 128);
    CHECK(dev.size() == 872);
    CHECK(count_label(dev, 0) == 428);
    CHECK(count_label(dev, 1) == 444);
    std::string first = "it 's a charming and often affecting journey .";  // trimmed of its space before the tab
    CHECK(dev.labels[0] == 1);
    CHECK(dev.lengths[0] == int32_t(first.size()));
    CHECK(tok.decode(std::span<const int32_t>(dev.tokens.data(), first.size())) == first);
    CHECK(dev.tokens[first.size()] == 0);  // padding
    std::vector<int32_t> mask = dev.mask();
    CHECK(mask[first.size() - 1] == 1);
    CHECK(mask[first.size()] == 0);
    for (int32_t n : dev.lengths) CHECK((n >= 1 && n <= 128));

    Gpt2Tokenizer gpt2(dasg_test::shared_data("gpt2"));
    ClassificationSet train = read_glue(dasg_test::shared_data("glue/SST-2/train.tsv"), GlueTask::sst2, gpt2, 64);
    CHECK(train.size() == 67349);
    CHECK(count_label(train, 0) == 29780);
    CHECK(train.tokens.size() == size_t(67349 * 64));
  }

  TEST_CASE("data: MRPC pairs, BOM and separator") {
    Gpt2Tokenizer gpt2(dasg_test::shared_data("gpt2"));
    ClassificationSet train = read_glue(dasg_test::shared_data("glue/MRPC/train.tsv"), GlueTask::mrpc, gpt2, 128);
    CHECK(train.size() == 3668);
    CHECK(count_label(train, 0) == 1194);
    CHECK(count_label(train, 1) == 2474);
    ClassificationSet dev = read_glue(dasg_test::shared_data("glue/MRPC/dev.tsv"), GlueTask::mrpc, gpt2, 128);
    CHECK(dev.size() == 408);
    CHECK(count_label(dev, 1) == 279);
    // every pair holds exactly one separator, between two non-empty sides
    for (int64_t i = 0; i < dev.size(); i++) {
      int seps = 0, at = -1;
      for (int32_t t = 0; t < dev.lengths[size_t(i)]; t++)
        if (dev.tokens[size_t(i * 128 + t)] == 50256) { seps++; at = t; }
      CHECK(seps == 1);
      CHECK((at > 0 && at < dev.lengths[size_t(i)] - 1));
    }
  }

  TEST_CASE("data: GLUE truncation keeps both sides of a pair") {
    TempDir dir;
    dasg_test::write_file(dir / "mrpc.tsv", "\xEF\xBB\xBFQuality\t#1 ID\t#2 ID\t#1 String\t#2 String\n"
                                            "1\t1\t2\tabcdefgh\txyz\n0\t3\t4\tab\tc\n");
    ByteTokenizer tok;
    ClassificationSet s = read_glue(dir / "mrpc.tsv", GlueTask::mrpc, tok, 7);
    REQUIRE(s.size() == 2);
    CHECK(tok.decode(std::span<const int32_t>(s.tokens.data(), 7)) == "abc\nxyz");
    CHECK(s.lengths == std::vector<int32_t>{7, 4});
    CHECK(std::vector<int32_t>(s.tokens.begin() + 7, s.tokens.end()) == std::vector<int32_t>{'a', 'b', '\n', 'c', 0, 0, 0});
    dasg_test::write_file(dir / "sst.tsv", "sentence\tlabel\na long sentence \t0\n");
    ClassificationSet t = read_glue(dir / "sst.tsv", GlueTask::sst2, tok, 4);
    CHECK(tok.decode(std::span<const int32_t>(t.tokens.data(), 4)) == "a lo");
    CHECK(t.lengths[0] == 4);
  }

  TEST_CASE("data: malformed GLUE files") {
    TempDir dir;
    ByteTokenizer tok;
    std::string p = dir / "bad.tsv";
    auto read = [&](GlueTask task) { return read_glue(p, task, tok, 32); };
    dasg_test::write_file(p, "sentence\tlabel\ngood \t1\nno label column\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":3: expected 2 tab-separated fields, found 1"),
                         dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\ngood \tpositive\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":2: label \"positive\" is not an integer"),
                         dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\ngood \t1.5\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":2: label \"1.5\" is not an integer"),
                         dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\ngood \t2\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":2: label 2 is outside 0..1"), dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\n \t1\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":2: empty sentence"), dasg::Error);
    dasg_test::write_file(p, "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly one string\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::mrpc), dasg_test::has(p + ":2: expected 5 tab-separated fields, found 4"),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ":1: expected the header"), dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ": no rows after the header"), dasg::Error);
    dasg_test::write_file(p, "sentence\tlabel\nbad \xff" " byte\t1\n");
    CHECK_THROWS_WITH_AS(read(GlueTask::sst2), dasg_test::has(p + ": not valid UTF-8 at byte offset 19 (line 2)"),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(parse_glue_task("qnli"), dasg_test::has("unknown GLUE task 'qnli'"), dasg::Error);
  }
}
