// Fuzz target: GPT-2 BPE encoding with GPT-2's own vocabulary (../shared/data/gpt2, or
// $DASG_GPT2_DIR): any valid UTF-8 text encodes, decodes back to itself, and both merge loops give
// the same tokens for the input taken as one word (up to 300 bytes); invalid UTF-8 is an Error.
#include <string_view>
#include <vector>

#include "data/bpe_merges.hpp"
#include "data/tokenizer.hpp"
#include "data/utf8.hpp"
#include "engine/error.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int bpe(const uint8_t* data, size_t size) {
  static dasg::data::Gpt2Tokenizer tok(dasg::data::default_gpt2_dir());
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> ids;
  bool valid = true;
  try {
    dasg::data::check_utf8(text, "fuzz");
  } catch (const dasg::Error&) {
    valid = false;
  }
  try {
    tok.encode(text, ids);
    if (!valid) throw PropertyFailure("bpe: encoded invalid UTF-8");
    if (tok.decode(ids) != text) throw PropertyFailure("bpe: decode(encode(x)) != x");
  } catch (const dasg::Error&) {
    if (valid) throw PropertyFailure("bpe: valid UTF-8 was refused");
  }
  if (size > 300) return 0;  // merge_short is quadratic: keep executions fast (merge_long is used above 128)
  std::vector<int32_t> a;
  for (unsigned char c : text) a.push_back(tok.byte_token(c));
  std::vector<int32_t> b = a;
  tok.merges().merge_short(a);
  tok.merges().merge_long(b);
  if (a != b) throw PropertyFailure("bpe: merge_short and merge_long disagree");
  return 0;
}

}  // namespace dasg_fuzz
