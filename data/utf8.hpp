// data/utf8.hpp — UTF-8 decoding and validation, and the Unicode classes (letter,
// number, whitespace) that GPT-2's pre-tokenisation needs, from compact range tables
// (data/unicode_tables.cpp, generated).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace dasg::data {

// Decodes the code point starting at s[i] and stores its byte length in *len.
// Returns -1 for an invalid sequence (bad lead or continuation byte, truncated,
// overlong, surrogate, above U+10FFFF).
int32_t utf8_decode(std::string_view s, size_t i, int* len);

// Appends the UTF-8 encoding of code point cp to out.
void utf8_append(std::string& out, uint32_t cp);

// Throws dasg::Error "<where>: not valid UTF-8 at byte offset N (line L)" for the
// first invalid sequence in s.
void check_utf8(std::string_view s, const std::string& where);

bool is_letter(uint32_t cp);  // \p{L}
bool is_number(uint32_t cp);  // \p{N}
bool is_space(uint32_t cp);   // \s

namespace detail {
struct CodeRange {
  uint32_t first, last;
};
extern const CodeRange kLetters[];
extern const int kLettersCount;
extern const CodeRange kNumbers[];
extern const int kNumbersCount;
extern const CodeRange kSpaces[];
extern const int kSpacesCount;
}  // namespace detail

}  // namespace dasg::data
