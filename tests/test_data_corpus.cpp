// tests/test_data_corpus.cpp — documents, the default corpus (Debian's fortunes) and
// Tiny Shakespeare: text -> shards -> tokens -> decode gives the original bytes back,
// for both tokenizers.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "data/corpus.hpp"
#include "data/shard.hpp"
#include "data/tokenizer.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

// All tokens of one split, shard after shard.
std::vector<int32_t> split_tokens(const std::string& dir, const std::string& split, int64_t vocab) {
  std::vector<int32_t> all;
  for (const std::string& p : list_shards(dir, split)) {
    std::vector<int32_t> t = read_shard(p, ShardKind::tokens, vocab);
    all.insert(all.end(), t.begin(), t.end());
  }
  return all;
}

// Decodes a split back into its documents: at each separator for gpt2; the byte
// tokenizer has none, so the split decodes to its documents concatenated.
std::vector<std::string> decode_split(Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::vector<std::string> docs;
  if (tok.eot() < 0) {
    docs.push_back(tok.decode(ids));
    return docs;
  }
  REQUIRE((!ids.empty() && ids[0] == tok.eot()));
  size_t start = 1;
  for (size_t i = 1; i <= ids.size(); i++) {
    if (i == ids.size() || ids[i] == tok.eot()) {
      docs.push_back(tok.decode(std::span<const int32_t>(ids.data() + start, i - start)));
      start = i + 1;
    }
  }
  return docs;
}

// Tokenizes files, reads the shards back and checks every document comes back exactly.
void check_round_trip(Tokenizer& tok, const std::vector<std::string>& files, DocSplit split, int64_t shard_tokens) {
  TempDir out;
  TokenizeOptions opt;
  opt.name = "rt";
  opt.split = split;
  opt.val_fraction = 0.1;
  opt.shard_tokens = shard_tokens;
  TokenizeSummary sum = tokenize_files(files, tok, out.str(), opt);

  std::vector<std::string> want_train, want_val;
  int64_t index = 0;
  for (const std::string& f : files)
    for (const std::string& doc : split_documents(read_text_file(f), split))
      (is_val_document(index++, opt.val_fraction) ? want_val : want_train).push_back(doc);
  CHECK(sum.files == int64_t(files.size()));
  CHECK(sum.documents == index);
  CHECK(sum.val_documents == int64_t(want_val.size()));
  REQUIRE(!want_val.empty());

  std::vector<int32_t> train = split_tokens(out.str(), "train", tok.vocab_size());
  std::vector<int32_t> val = split_tokens(out.str(), "val", tok.vocab_size());
  CHECK(int64_t(train.size()) == sum.train_tokens);
  CHECK(int64_t(val.size()) == sum.val_tokens);
  CHECK(list_shards(out.str(), "train").size() == size_t((sum.train_tokens + shard_tokens - 1) / shard_tokens));
  if (tok.eot() < 0) {
    std::string all_train, all_val;
    for (const std::string& d : want_train) all_train += d;
    for (const std::string& d : want_val) all_val += d;
    want_train = {all_train};
    want_val = {all_val};
  }
  std::vector<std::string> got_train = decode_split(tok, train), got_val = decode_split(tok, val);
  REQUIRE(got_train.size() == want_train.size());
  for (size_t i = 0; i < want_train.size(); i++) CHECK(got_train[i] == want_train[i]);
  CHECK(got_val == want_val);
}

}  // namespace

TEST_SUITE("data: corpus") {
  TEST_CASE("data: documents of a fortune file") {
    std::string text = "first\nfortune\n%\nsecond\n%\n%\n  third, 100%\n%\n";
    std::vector<std::string> docs = split_documents(text, DocSplit::fortune);
    CHECK(docs == std::vector<std::string>{"first\nfortune\n", "second\n", "  third, 100%\n"});
    std::vector<std::string> paras = split_documents("a\nb\n\nc\n\n\nd", DocSplit::paragraph);
    CHECK(paras == std::vector<std::string>{"a\nb\n\n", "c\n\n", "\nd"});
    CHECK(split_documents("whole\n", DocSplit::file) == std::vector<std::string>{"whole\n"});
    CHECK_THROWS_WITH_AS(parse_doc_split("lines"), dasg_test::has("unknown document split 'lines'"), dasg::Error);
  }

  TEST_CASE("data: the default corpus files") {
    std::vector<std::string> files = fortune_files(default_fortune_dir());
    CHECK(files.size() >= 10);
    for (const std::string& f : files) {
      CAPTURE(f);
      CHECK_FALSE(f.ends_with(".dat"));
      CHECK_FALSE(f.ends_with(".u8"));
      // the documents hold every line of the file but the "%" separators, in order
      // (some files start with "%", hold empty fortunes "%\n%" or lack the final "%")
      std::string text = read_text_file(f), joined, lines;
      for (const std::string& d : split_documents(text, DocSplit::fortune)) joined += d;
      size_t pos = 0;
      while (pos < text.size()) {
        size_t e = std::min(text.find('\n', pos), text.size() - 1) + 1;
        if (text.compare(pos, e - pos, "%\n") != 0 && text.compare(pos, e - pos, "%") != 0)
          lines += text.substr(pos, e - pos);
        pos = e;
      }
      CHECK(joined == lines);
    }
  }

  TEST_CASE("data: default corpus round trip, byte tokenizer") {
    ByteTokenizer tok;
    check_round_trip(tok, fortune_files(default_fortune_dir()), DocSplit::fortune, 1'000'000);
  }

  TEST_CASE("data: default corpus round trip, gpt2 tokenizer") {
    Gpt2Tokenizer tok(dasg_test::shared_data("gpt2"));
    check_round_trip(tok, fortune_files(default_fortune_dir()), DocSplit::fortune, 300'000);
  }

  TEST_CASE("data: Tiny Shakespeare round trip, both tokenizers") {
    std::vector<std::string> files = {dasg_test::shared_data("tinyshakespeare/input.txt")};
    ByteTokenizer byte;
    check_round_trip(byte, files, DocSplit::paragraph, 400'000);
    Gpt2Tokenizer gpt2(dasg_test::shared_data("gpt2"));
    check_round_trip(gpt2, files, DocSplit::paragraph, 100'000);
    // the paragraphs concatenate back to the file
    std::string text = read_text_file(files[0]), joined;
    for (const std::string& d : split_documents(text, DocSplit::paragraph)) joined += d;
    CHECK(joined == text);
  }

  TEST_CASE("data: tokenize errors") {
    TempDir dir;
    ByteTokenizer tok;
    TokenizeOptions opt;
    dasg_test::write_file(dir / "bad.txt", "good line\nbad \xc3( line\n");
    CHECK_THROWS_WITH_AS(tokenize_files({dir / "bad.txt"}, tok, dir / "out", opt),
                         dasg_test::has(dir / "bad.txt" + ": not valid UTF-8 at byte offset 14 (line 2)"),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(tokenize_files({dir / "missing.txt"}, tok, dir / "out", opt),
                         dasg_test::has(dir / "missing.txt" + ": not a readable file"), dasg::Error);
    dasg_test::write_file(dir / "ok.txt", "some text\n");
    tokenize_files({dir / "ok.txt"}, tok, dir / "out2", opt);
    CHECK_THROWS_WITH_AS(tokenize_files({dir / "ok.txt"}, tok, dir / "out2", opt),
                         dasg_test::has("already holds tokens_train_000000.bin"), dasg::Error);
    opt.val_fraction = 1.5;
    CHECK_THROWS_WITH_AS(tokenize_files({dir / "ok.txt"}, tok, dir / "out3", opt),
                         dasg_test::has("val fraction 1.5 is outside 0..1"), dasg::Error);
    CHECK_THROWS_WITH_AS(fortune_files(dir / "nope"), dasg_test::has("is not a directory"), dasg::Error);
  }
}
