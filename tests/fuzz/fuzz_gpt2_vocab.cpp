// Fuzz target: the GPT-2 vocabulary loader. Input: encoder.json's text, a '\0', vocab.bpe's text.
// An accepted vocabulary encodes and decodes a fixed text exactly, with both merge loops agreeing.
#include <string_view>
#include <vector>

#include "data/bpe_merges.hpp"
#include "data/tokenizer.hpp"
#include "engine/error.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int gpt2_vocab(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t sep = in.find('\0');
  std::string_view enc = in.substr(0, sep), bpe = sep == std::string_view::npos ? std::string_view() : in.substr(sep + 1);
  try {
    dasg::data::Gpt2Tokenizer tok(enc, bpe, "encoder.json", "vocab.bpe");
    const std::string text = "hello world, abcabc aaaa 123 \xc3\xa9t\xc3\xa9 \n\n";
    std::vector<int32_t> ids;
    tok.encode(text, ids);
    if (tok.decode(ids) != text) throw PropertyFailure("gpt2_vocab: decode(encode(x)) != x");
    std::vector<int32_t> a, b;
    for (unsigned char c : std::string_view("abcabcabcaaaaaaa hello")) a.push_back(tok.byte_token(c));
    b = a;
    tok.merges().merge_short(a);
    tok.merges().merge_long(b);
    if (a != b) throw PropertyFailure("gpt2_vocab: merge_short and merge_long disagree");
  } catch (const dasg::Error&) {
  }
  return 0;
}

}  // namespace dasg_fuzz
