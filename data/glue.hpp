// data/glue.hpp — GLUE's SST-2 and MRPC TSV files (the standard download; DESIGN.md §8):
//   SST-2: header "sentence\tlabel", rows "<sentence>\t<0|1>";
//   MRPC:  header "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String" (after a UTF-8 BOM),
//          label = Quality, the pair = the two strings.
// Fields are split on tabs only (no CSV quoting: MRPC has stray '"'). Sentences are
// trimmed of surrounding spaces and encoded; a pair is joined as a <sep> b, where sep is
// the tokenizer's document separator (<|endoftext|>) or '\n' for the byte tokenizer.
// Sequences longer than T are truncated (a pair: the longer side loses its last token
// until it fits); shorter ones are padded with 0 — lengths/mask() mark the real part.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "data/classification.hpp"
#include "data/tokenizer.hpp"

namespace dasg::data {

enum class GlueTask { sst2, mrpc };

GlueTask parse_glue_task(const std::string& name);  // "sst2" or "mrpc"

// Bad files throw dasg::Error naming the file and line.
ClassificationSet read_glue(const std::string& path, GlueTask task, Tokenizer& tok, int64_t T);
// The same on a file's text (checked to be UTF-8); `path` names it in errors.
ClassificationSet parse_glue(std::string_view text, const std::string& path, GlueTask task, Tokenizer& tok, int64_t T);

}  // namespace dasg::data
