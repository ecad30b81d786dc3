// data/tokenizer.cpp — the byte tokenizer and the tokenizer factory.
#include "data/tokenizer.hpp"

#include <cstdlib>

#include "engine/error.hpp"

#ifndef DASG_SHARED_DATA_DIR
#define DASG_SHARED_DATA_DIR "../shared/data"
#endif

namespace dasg::data {

void ByteTokenizer::encode(std::string_view text, std::vector<int32_t>& out) {
  for (char c : text) out.push_back(int32_t(static_cast<unsigned char>(c)));
}

std::string ByteTokenizer::decode(std::span<const int32_t> ids) const {
  std::string s;
  s.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); i++) {
    DASG_CHECK(ids[i] >= 0 && ids[i] < 256, "byte tokenizer: decode: id ", ids[i], " at position ", i,
               " is outside the vocabulary 0..255");
    s += char(ids[i]);
  }
  return s;
}

std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const std::string& vocab_dir) {
  if (name == "byte") return std::make_unique<ByteTokenizer>();
  if (name == "gpt2") return std::make_unique<Gpt2Tokenizer>(vocab_dir.empty() ? default_gpt2_dir() : vocab_dir);
  DASG_FAIL("unknown tokenizer '", name, "'; expected byte or gpt2");
}

std::string default_gpt2_dir() {
  const char* env = std::getenv("DASG_GPT2_DIR");
  if (env && *env) return env;
  return std::string(DASG_SHARED_DATA_DIR) + "/gpt2";
}

}  // namespace dasg::data
