// tests/test_data_tokenizer.cpp — the byte and GPT-2 tokenizers, UTF-8 handling, and
// malformed vocabulary files. The expected GPT-2 ids below were written in by hand from
// two independent references run on the same encoder.json/vocab.bpe (OpenAI's encoder.py
// logic with the Python `regex` module, and tiktoken's Rust BPE); this code did not make them.
#include <doctest/doctest.h>

#include <string>
#include <vector>

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

struct Case {
  std::string text;
  std::vector<int32_t> ids;
};

const std::vector<Case> kCases = {
    {"Hello world", {15496, 995}},
    {" leading space", {3756, 2272}},
    {"  two leading spaces", {220, 734, 3756, 9029}},
    {"it's they'll we've I'm you'd don't she're", {270, 338, 484, 1183, 356, 1053, 314, 1101, 345, 1549, 836, 470, 673, 821}},
    {"IT'S caps 'S", {2043, 6, 50, 11022, 705, 50}},
    {"numbers 12345 and 3.14159 and 1,000,000", {77, 17024, 17031, 2231, 290, 513, 13, 1415, 19707, 290, 352, 11, 830, 11, 830}},
    {"emoji 😀👍🏽 done", {368, 31370, 30325, 222, 41840, 235, 8582, 237, 121, 1760}},
    {"CJK 你好世界 日本語", {34, 41, 42, 220, 19526, 254, 25001, 121, 10310, 244, 45911, 234, 10545, 245, 98, 17312, 105, 45739, 252}},
    {"tab\there\nnewline\r\nwindows", {8658, 197, 1456, 198, 3605, 1370, 201, 198, 28457}},
    {"long     whitespace      run   ", {6511, 220, 220, 220, 220, 13216, 10223, 220, 220, 220, 220, 220, 1057, 220, 220, 220}},
    {"trailing newlines\n\n\n", {9535, 4386, 649, 6615, 628, 198}},
    {"mixedéè café naïve", {76, 2966, 2634, 14064, 40304, 41492}},
    {"<|endoftext|>", {27, 91, 437, 1659, 5239, 91, 29}},
    {"a\u00a0b\u2003c", {64, 1849, 65, 447, 225, 66}},
    {"x's!!'s ''", {87, 338, 3228, 6, 82, 10148}},
    {"Ελληνικά и русский текст", {138, 243, 39377, 39377, 138, 115, 26180, 29945, 43000, 138, 105, 12466, 116, 220, 21169, 35072, 21727, 21727, 31583, 18849, 140, 117, 220, 20375, 16843, 31583, 21727, 20375}},
    {"١٢٣ arabic digits ½", {149, 94, 149, 95, 149, 96, 610, 397, 291, 19561, 25208}},
    {"", {}},
    {" ", {220}},
    {"\n", {198}},
};

}  // namespace

TEST_SUITE("data: tokenizers") {
  TEST_CASE("data: gpt2 ids match GPT-2 on tricky strings") {
    CHECK(gpt2().vocab_size() == 50257);
    CHECK(gpt2().eot() == 50256);
    for (const Case& c : kCases) {
      CAPTURE(c.text);
      std::vector<int32_t> ids;
      gpt2().encode(c.text, ids);
      CHECK(ids == c.ids);
      CHECK(gpt2().decode(ids) == c.text);
    }
  }

  TEST_CASE("data: gpt2 encode appends and caches consistently") {
    std::vector<int32_t> once, twice;
    gpt2().encode("Hello world", once);
    gpt2().encode("Hello world", twice);
    gpt2().encode("Hello world", twice);  // second pass comes from the word cache
    REQUIRE(twice.size() == 2 * once.size());
    CHECK(std::vector<int32_t>(twice.begin() + 2, twice.end()) == once);
    std::vector<int32_t> eot = {50256};
    CHECK(gpt2().decode(eot) == "<|endoftext|>");
  }

  TEST_CASE("data: gpt2 pre-tokenisation splits words as GPT-2's pattern") {
    auto words = [](const std::string& s) {
      std::vector<std::string> out;
      size_t i = 0;
      while (i < s.size()) {
        size_t e = gpt2_next_word(s, i);
        out.push_back(s.substr(i, e - i));
        i = e;
      }
      return out;
    };
    CHECK(words("Hello  world's 42!?") == std::vector<std::string>{"Hello", " ", " world", "'s", " 42", "!?"});
    CHECK(words("a \t\nb") == std::vector<std::string>{"a", " \t", "\n", "b"});
    CHECK(words("end   ") == std::vector<std::string>{"end", "   "});
    CHECK(words("x'LL y've") == std::vector<std::string>{"x", "'", "LL", " y", "'ve"});
  }

  TEST_CASE("data: byte tokenizer round trip") {
    ByteTokenizer tok;
    std::string text = "bytes \x01\xff and caf\xc3\xa9";
    std::vector<int32_t> ids;
    tok.encode(text, ids);
    CHECK(ids.size() == text.size());
    CHECK(ids[7] == 0xff);
    CHECK(tok.decode(ids) == text);
    std::vector<int32_t> bad = {65, 256};
    CHECK_THROWS_WITH_AS(tok.decode(bad), dasg_test::has("id 256 at position 1 is outside the vocabulary 0..255"),
                         dasg::Error);
    CHECK(make_tokenizer("byte", "")->vocab_size() == 256);
    CHECK_THROWS_WITH_AS(make_tokenizer("wordpiece", ""), dasg_test::has("unknown tokenizer 'wordpiece'"),
                         dasg::Error);
  }

  TEST_CASE("data: unicode classes") {
    CHECK(is_letter('a'));
    CHECK(is_letter(0x4F60));  // 你
    CHECK(is_letter(0x03BB));  // λ
    CHECK_FALSE(is_letter('1'));
    CHECK(is_number(0x0661));  // Arabic-Indic digit one
    CHECK(is_number(0x00BD));  // ½
    CHECK(is_space(0x00A0));
    CHECK(is_space(0x3000));
    CHECK_FALSE(is_space(0x1F600));
    CHECK_FALSE(is_letter(0x1F600));
  }

  TEST_CASE("data: invalid UTF-8 is an error with its byte offset") {
    CHECK_THROWS_WITH_AS(check_utf8("ok\nline two \xff", "f.txt"),
                         dasg_test::has("f.txt: not valid UTF-8 at byte offset 12 (line 2)"), dasg::Error);
    CHECK_THROWS_WITH_AS(check_utf8("\xc0\xaf", "overlong"), dasg_test::has("byte offset 0"), dasg::Error);
    CHECK_THROWS_WITH_AS(check_utf8("ab\xed\xa0\x80", "surrogate"), dasg_test::has("byte offset 2"), dasg::Error);
    CHECK_THROWS_WITH_AS(check_utf8("abc\xe4\xbd", "cut"), dasg_test::has("byte offset 3"), dasg::Error);
    CHECK_NOTHROW(check_utf8("caf\xc3\xa9 \xf0\x9f\x98\x80", "fine"));
    std::vector<int32_t> ids;
    CHECK_THROWS_WITH_AS(gpt2().encode("hello \xe9t\xe9", ids),
                         dasg_test::has("not valid UTF-8 at byte offset 6"), dasg::Error);
  }

  TEST_CASE("data: malformed encoder.json and vocab.bpe") {
    TempDir dir;
    std::string enc = dir / "encoder.json", bpe = dir / "vocab.bpe";
    // a tiny valid vocabulary: the 256 byte symbols, one merge, <|endoftext|>
    std::string json = "{";
    uint32_t b2u[256];
    int n = 0;
    for (int b = 0; b < 256; b++) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      b2u[b] = printable ? uint32_t(b) : uint32_t(256 + n++);
    }
    for (int b = 0; b < 256; b++) {
      std::string ch;
      utf8_append(ch, b2u[b]);
      if (ch == "\"" || ch == "\\") ch = "\\" + ch;
      json += "\"" + ch + "\": " + std::to_string(b) + ", ";
    }
    json += "\"ab\": 256, \"<|endoftext|>\": 257}";
    dasg_test::write_file(enc, json);
    dasg_test::write_file(bpe, "#version: 0.2\na b\n");
    Gpt2Tokenizer ok(dir.str());
    std::vector<int32_t> ids;
    ok.encode("abc", ids);
    CHECK(ids == std::vector<int32_t>{256, 'c'});
    CHECK(ok.vocab_size() == 258);

    dasg_test::write_file(bpe, "#version: 0.2\na b\nb c d\n");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(bpe + ":3: expected a merge \"left right\""),
                         dasg::Error);
    dasg_test::write_file(bpe, "#version: 0.2\na zz\n");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()),
                         dasg_test::has(bpe + ":2: merge \"a zz\" uses a token missing from encoder.json"),
                         dasg::Error);
    dasg_test::write_file(bpe, "#version: 0.2\n");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(bpe + ": no merges"), dasg::Error);
    dasg_test::write_file(bpe, "#version: 0.2\na b\n");

    dasg_test::write_file(enc, "{\"a\": 0, \"b\": ");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(enc + ": malformed JSON at byte offset 15"),
                         dasg::Error);
    dasg_test::write_file(enc, "[1, 2]");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(enc + ": expected a JSON object"), dasg::Error);
    // Nested 200,000 levels deep: an error naming the file, not a stack overflow in the parser.
    dasg_test::write_file(enc, "{\"a\": " + std::string(200000, '[') + std::string(200000, ']') + "}");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(enc + ": JSON nested deeper than 256 levels"),
                         dasg::Error);
    dasg_test::write_file(enc, "{\"a\": \"zero\"}");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has("token \"a\" maps to \"zero\""), dasg::Error);
    dasg_test::write_file(enc, "{\"a\": 0, \"b\": 0}");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has("expected ids 0..1 each used once"),
                         dasg::Error);
    dasg_test::write_file(enc, "{\"a\": 0, \"b\": 1}");
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir.str()), dasg_test::has(enc + ": no token for byte 0"), dasg::Error);
    CHECK_THROWS_WITH_AS(Gpt2Tokenizer(dir / "nowhere"), dasg_test::has("cannot open " + dir / "nowhere"),
                         dasg::Error);
  }
}
