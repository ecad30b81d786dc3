// tests/test_data_synthetic.cpp — ListOps answers against an independent evaluator,
// associative recall queries, determinism, and classification shards on disk.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "data/classification.hpp"
#include "data/synthetic.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

// An independent ListOps evaluator: a recursive-descent parser over the token ids
// (0 pad, 1–10 digits, 11 MIN, 12 MAX, 13 MED, 14 SM, 15 END). Also reports the tree's
// depth and checks every operator has 2–10 arguments.
struct Eval {
  const int32_t* t;
  int64_t n, i = 0;
  bool ok = true;
  int depth = 0;

  int node(int d) {
    depth = std::max(depth, d);
    if (i >= n) { ok = false; return 0; }
    int32_t tok = t[i++];
    if (tok >= 1 && tok <= 10) return tok - 1;
    if (tok < 11 || tok > 14) { ok = false; return 0; }
    std::vector<int> args;
    while (ok && i < n && t[i] != 15) args.push_back(node(d + 1));
    if (i >= n) { ok = false; return 0; }
    i++;  // END
    if (args.size() < 2 || args.size() > 10) ok = false;
    if (args.empty()) return 0;
    std::sort(args.begin(), args.end());
    int sum = 0;
    for (int a : args) sum += a;
    switch (tok) {
      case 11: return args.front();
      case 12: return args.back();
      case 14: return sum % 10;
      default: {  // median as numpy computes it, truncated like int()
        size_t m = args.size();
        double med = m % 2 ? args[m / 2] : (args[m / 2 - 1] + args[m / 2]) / 2.0;
        return int(med);
      }
    }
  }
};

}  // namespace

TEST_SUITE("data: synthetic tasks") {
  TEST_CASE("data: ListOps answers agree with an independent evaluator") {
    ClassificationSet s = generate_listops(60, 42);
    REQUIRE(s.size() == 60);
    CHECK(s.T == 2000);
    std::set<std::vector<int32_t>> distinct;
    std::set<int32_t> answers;
    for (int64_t k = 0; k < s.size(); k++) {
      CAPTURE(k);
      int64_t len = s.lengths[size_t(k)];
      CHECK((len > 500 && len < 2000));
      const int32_t* row = s.tokens.data() + k * s.T;
      Eval e{row, len};
      int v = e.node(1);
      CHECK(e.ok);
      CHECK(e.i == len);  // one tree, exactly the real length
      CHECK(e.depth <= 10);
      CHECK(v == s.labels[size_t(k)]);
      for (int64_t t = len; t < s.T; t++) CHECK(row[t] == listops::kPad);
      distinct.insert(std::vector<int32_t>(row, row + len));
      answers.insert(s.labels[size_t(k)]);
    }
    CHECK(distinct.size() == 60);
    CHECK(answers.size() >= 5);  // many answers occur, not one degenerate class

    ClassificationSet again = generate_listops(60, 42), other = generate_listops(60, 43);
    CHECK(again.tokens == s.tokens);
    CHECK(again.labels == s.labels);
    CHECK(other.tokens != s.tokens);
  }

  TEST_CASE("data: ListOps with short bounds and bad options") {
    ListOpsOptions opt;
    opt.min_length = 5;
    opt.max_length = 40;
    ClassificationSet s = generate_listops(200, 1, opt);
    for (int64_t k = 0; k < s.size(); k++) {
      Eval e{s.tokens.data() + k * s.T, s.lengths[size_t(k)]};
      CHECK(e.node(1) == s.labels[size_t(k)]);
      CHECK(e.ok);
    }
    opt.max_length = 6;
    CHECK_THROWS_WITH_AS(generate_listops(10, 1, opt), dasg_test::has("listops: need"), dasg::Error);
  }

  TEST_CASE("data: associative recall queries always have their answer present") {
    for (int64_t length : {1024, 16384}) {
      CAPTURE(length);
      RecallOptions opt;
      opt.length = length;
      ClassificationSet s = generate_recall(8, 99, opt);
      REQUIRE(s.size() == 8);
      CHECK(s.T == length);
      int32_t first_value = 2 + opt.n_keys;
      for (int64_t k = 0; k < s.size(); k++) {
        const int32_t* row = s.tokens.data() + k * length;
        CHECK(s.lengths[size_t(k)] == length);
        REQUIRE(row[length - 2] == 1);  // the query marker
        int32_t key = row[length - 1];
        CHECK((key >= 2 && key < first_value));
        int found = 0;
        for (int64_t p = 0; p + 2 < length; p += 2) {
          CHECK((row[p] >= 2 && row[p] < first_value));
          CHECK((row[p + 1] >= first_value && row[p + 1] < recall_vocab(opt)));
          if (row[p] == key) {
            found++;
            CHECK(row[p + 1] - first_value == s.labels[size_t(k)]);
          }
        }
        CHECK(found >= 1);
      }
      CHECK(generate_recall(8, 99, opt).tokens == s.tokens);
    }
    RecallOptions odd;
    odd.length = 1023;
    CHECK_THROWS_WITH_AS(generate_recall(1, 1, odd), dasg_test::has("an even length"), dasg::Error);
  }

  TEST_CASE("data: classification sets round trip through shards") {
    TempDir dir;
    ClassificationSet s = generate_listops(20, 5);
    ClassificationInfo info{s.T, listops::kVocab, listops::kClasses};
    write_classification(dir.str(), "listops", "train", s);
    write_classification_info(dir.str(), "listops", info);
    ClassificationInfo back_info = read_classification_info(dir.str(), "listops");
    CHECK(back_info.T == 2000);
    CHECK(back_info.n_classes == 10);
    ClassificationSet back = read_classification(dir.str(), "listops", "train", back_info);
    CHECK(back.tokens == s.tokens);
    CHECK(back.labels == s.labels);
    CHECK(back.lengths == s.lengths);
    ClassificationInfo narrow{s.T, listops::kVocab, 2};
    CHECK_THROWS_WITH_AS(read_classification(dir.str(), "listops", "train", narrow),
                         dasg_test::has("listops_train_labels.bin: label"), dasg::Error);
    ClassificationInfo short_t{100, listops::kVocab, 10};
    CHECK_THROWS_WITH_AS(read_classification(dir.str(), "listops", "train", short_t),
                         dasg_test::has("listops_train_lengths.bin: length"), dasg::Error);
  }

  TEST_CASE("data: synthetic splits are seeded, disjoint and cut in order") {
    SyntheticTask task;
    task.listops.min_length = 10;
    task.listops.max_length = 64;
    task.n_train = 50, task.n_dev = 20, task.n_test = 10;
    SyntheticSplits a = generate_splits(task);
    CHECK(a.train.size() == 50);
    CHECK(a.dev.size() == 20);
    CHECK(a.test.size() == 10);
    CHECK(a.dev.T == 64);
    ClassificationSet all = generate_listops(80, task.seed, task.listops);
    CHECK(a.test.tokens == slice_set(all, 70, 80).tokens);
    CHECK(a.dev.labels == slice_set(all, 50, 70).labels);
    std::set<std::vector<int32_t>> seen;  // ListOps is deduplicated: no dev/test row is a train row
    for (int64_t i = 0; i < 80; i++) seen.insert(std::vector<int32_t>(all.tokens.begin() + i * 64, all.tokens.begin() + (i + 1) * 64));
    CHECK(seen.size() == 80);
    CHECK(generate_splits(task).train.tokens == a.train.tokens);
    task.seed = 2;
    CHECK(generate_splits(task).train.tokens != a.train.tokens);
    task.name = "recall";
    task.recall.length = 16;
    task.recall.n_keys = 4, task.recall.n_values = 3;
    SyntheticSplits r = generate_splits(task);
    CHECK(r.test.size() == 10);
    CHECK(task.vocab_size() == 2 + 4 + 3);
    CHECK(task.n_classes() == 3);
    task.name = "parity";
    CHECK_THROWS_WITH_AS(generate_splits(task), dasg_test::has("expected listops or recall"), dasg::Error);
  }
}
