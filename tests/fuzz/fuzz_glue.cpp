// Fuzz target: the GLUE TSV reader (SST-2 or MRPC by the first byte, T by the second), with the
// byte tokenizer; an accepted file gives N sequences of T tokens with lengths in 1..T.
#include <string_view>

#include "data/glue.hpp"
#include "engine/error.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int glue(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const auto task = data[0] & 1 ? dasg::data::GlueTask::mrpc : dasg::data::GlueTask::sst2;
  const int64_t T = 1 + data[1] % 64;
  dasg::data::ByteTokenizer tok;
  try {
    dasg::data::ClassificationSet s =
        dasg::data::parse_glue(std::string_view(reinterpret_cast<const char*>(data) + 2, size - 2), "fuzz.tsv", task, tok, T);
    if (int64_t(s.tokens.size()) != s.size() * T || s.lengths.size() != s.labels.size())
      throw PropertyFailure("glue: sizes disagree");
    for (int32_t n : s.lengths)
      if (n < 1 || n > T) throw PropertyFailure("glue: a length outside 1..T");
  } catch (const dasg::Error&) {
  }
  return 0;
}

}  // namespace dasg_fuzz
