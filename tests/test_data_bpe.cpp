// tests/test_data_bpe.cpp — GPT-2 BPE on long words: tiktoken's ids on long runs of letters and
// digits (tests/data/gpt2_long_runs.txt, made by tests/data/gen_gpt2_long_runs.py), the two merge
// loops agreeing, and the checks that keep merge_long exact (vocab.bpe in creation order, and not
// cut short).
#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "data/bpe_merges.hpp"
#include "data/tokenizer.hpp"
#include "data/utf8.hpp"
#include "engine/error.hpp"
#include "test_data_util.hpp"

using namespace dasg::data;
using dasg_test::TempDir;

namespace {

Gpt2Tokenizer& gpt2() {
  static Gpt2Tokenizer tok(dasg_test::shared_data("gpt2"));
  return tok;
}

// The text of one case of gpt2_long_runs.txt (see its header).
std::string run_text(uint64_t seed, int n, const std::string& prefix_hex, const std::string& alphabet_cps) {
  std::string text;
  for (size_t i = 0; i + 1 < prefix_hex.size() && prefix_hex != "-"; i += 2)
    text += char(std::stoi(prefix_hex.substr(i, 2), nullptr, 16));
  std::vector<std::string> alphabet;
  std::stringstream ss(alphabet_cps);
  for (std::string cp; std::getline(ss, cp, ',');) {
    std::string ch;
    utf8_append(ch, uint32_t(std::stoul(cp, nullptr, 16)));
    alphabet.push_back(ch);
  }
  uint64_t x = seed;
  for (int i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    text += alphabet[(x >> 33) % alphabet.size()];
  }
  return text;
}

std::vector<int32_t> merged(std::vector<int32_t> parts, bool long_loop) {
  if (long_loop) gpt2().merges().merge_long(parts);
  else gpt2().merges().merge_short(parts);
  return parts;
}

}  // namespace

TEST_SUITE("data: tokenizers") {
  TEST_CASE("data: gpt2 ids match tiktoken on long runs of letters and digits") {
    std::ifstream f("tests/data/gpt2_long_runs.txt");
    REQUIRE(f.good());
    int cases = 0;
    for (std::string line; std::getline(f, line);) {
      if (line.empty() || line[0] == '#') continue;
      std::stringstream ss(line);
      uint64_t seed;
      int n;
      std::string prefix, alphabet, colon;
      ss >> seed >> n >> prefix >> alphabet >> colon;
      REQUIRE(colon == ":");
      std::vector<int32_t> want;
      for (int32_t id; ss >> id;) want.push_back(id);
      const std::string text = run_text(seed, n, prefix, alphabet);
      CAPTURE(seed);
      CAPTURE(text.substr(0, 40));
      std::vector<int32_t> ids;
      gpt2().encode(text, ids);
      CHECK(ids == want);
      CHECK(gpt2().decode(ids) == text);
      cases++;
    }
    CHECK(cases == 8);
  }

  TEST_CASE("data: gpt2 merge loops agree on words of every length") {
    std::mt19937 rng(7);
    const std::vector<std::string> alphabets = {"ab", "abcdefghijklmnopqrstuvwxyz", "0123456789", "e ",
                                                std::string("\x00\xff\x80 aZ", 6)};
    for (int trial = 0; trial < 300; trial++) {
      const std::string& a = alphabets[size_t(trial) % alphabets.size()];
      const size_t n = 1 + rng() % (trial < 200 ? 300 : 3000);
      std::vector<int32_t> parts(n);
      for (int32_t& p : parts) p = gpt2().byte_token((unsigned char)a[rng() % a.size()]);
      CAPTURE(n);
      CHECK(merged(parts, true) == merged(parts, false));
    }
  }

  TEST_CASE("data: gpt2 cutting a long word where no token spans gives the whole word's tokens") {
    std::mt19937 rng(11);
    for (const std::string alphabet : {"abcdefghijklmnopqrstuvwxyz", "qjxzvkbfwh", "etaoin", "0123456789"}) {
      for (int trial = 0; trial < 20; trial++) {
        std::string word(200 + rng() % 3000, 'a');
        for (char& c : word) c = alphabet[rng() % alphabet.size()];
        std::vector<int32_t> ids, whole;
        gpt2().encode(word, ids);  // one pre-tokenised word: cut, then merged piece by piece
        for (unsigned char c : word) whole.push_back(gpt2().byte_token(c));
        gpt2().merges().merge_long(whole);
        CAPTURE(word.substr(0, 30));
        CHECK(ids == whole);
      }
    }
  }

  TEST_CASE("data: gpt2 encodes a 1 MB word without spaces") {
    std::string text(1000000, 'a');
    uint64_t x = 3;
    for (char& c : text) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      c = char('a' + (x >> 33) % 26);
    }
    std::vector<int32_t> ids;
    gpt2().encode(text, ids);
    CHECK(ids.size() > 100000);
    CHECK(ids.size() < 1000000);
    CHECK(gpt2().decode(ids) == text);
  }

  TEST_CASE("data: gpt2 vocab.bpe cut short or out of order is refused") {
    TempDir dir;
    const std::string enc = dir / "encoder.json", bpe = dir / "vocab.bpe";
    dasg_test::write_file(enc, dasg_test::read_file(dasg_test::shared_data("gpt2/encoder.json")));
    const std::string full = dasg_test::read_file(dasg_test::shared_data("gpt2/vocab.bpe"));
    // cut at a line boundary: the first half of the merges
    size_t cut = 0;
    for (int lines = 0; lines < 25001; lines++) cut = full.find('\n', cut) + 1;
    dasg_test::write_file(bpe, full.substr(0, cut));
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()),
                         dasg_test::has(bpe + ": 25000 merges make too few tokens: 25000 tokens of " + enc),
                         dasg::Error);
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has("is vocab.bpe cut short?"), dasg::Error);
    // the last line swapped to the front: it merges tokens no earlier merge has made
    size_t last = full.rfind('\n', full.size() - 2) + 1;
    size_t first = full.find('\n') + 1;
    dasg_test::write_file(bpe, full.substr(0, first) + full.substr(last) + full.substr(first, last - first));
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(bpe + ":2: merge"), dasg::Error);
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has("neither a byte nor made by an earlier merge"),
                         dasg::Error);
    // a merge repeated
    const std::string second_line = full.substr(first, full.find('\n', first) + 1 - first);
    dasg_test::write_file(bpe, full + second_line);
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has("already makes"), dasg::Error);
  }

  TEST_CASE("data: bpe merge table checks each merge") {
    int32_t bytes[256];
    for (int b = 0; b < 256; b++) bytes[b] = b;
    BpeMerges m(260, bytes);
    CHECK(m.add('a', 'b', 256) == "");
    CHECK(m.add(256, 'c', 257) == "");
    CHECK(m.add(258, 'c', 259).find("left token is neither a byte") != std::string::npos);
    CHECK(m.add('c', 258, 259).find("right token is neither a byte") != std::string::npos);
    CHECK(m.add('x', 'y', 256).find("merge 1 already makes") != std::string::npos);
    CHECK(m.add('a', 'b', 258).find("same pair") != std::string::npos);
    CHECK(m.add('a', 'b', 'c').find("single-byte") != std::string::npos);
    CHECK(m.add('a', 'b', 999).find("outside 0..259") != std::string::npos);
    CHECK(m.size() == 2);
    std::vector<int32_t> w = {'a', 'b', 'c', 'a', 'b'};
    m.merge_long(w);
    CHECK(w == std::vector<int32_t>{257, 256});
  }
}
