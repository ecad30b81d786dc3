// data/utf8.cpp — UTF-8 decoding/validation and Unicode class look-ups (binary search
// over the generated range tables).
#include "data/utf8.hpp"

#include "engine/error.hpp"

namespace dasg::data {

int32_t utf8_decode(std::string_view s, size_t i, int* len) {
  const unsigned char* p = reinterpret_cast<const unsigned char*>(s.data()) + i;
  size_t left = s.size() - i;
  unsigned char c = p[0];
  if (c < 0x80) { *len = 1; return c; }
  int n;
  uint32_t cp, min;
  if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
  else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
  else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
  else return -1;
  if (left < size_t(n)) return -1;
  for (int k = 1; k < n; k++) {
    if ((p[k] & 0xC0) != 0x80) return -1;
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
  *len = n;
  return int32_t(cp);
}

void utf8_append(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

void check_utf8(std::string_view s, const std::string& where) {
  size_t i = 0;
  int64_t line = 1;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\n') line++;
      i++;
      continue;
    }
    int len = 0;
    if (utf8_decode(s, i, &len) < 0)
      DASG_FAIL(where, ": not valid UTF-8 at byte offset ", i, " (line ", line, ")");
    i += size_t(len);
  }
}

static bool in_ranges(uint32_t cp, const detail::CodeRange* r, int n) {
  int lo = 0, hi = n - 1;
  while (lo <= hi) {
    int mid = (lo + hi) / 2;
    if (cp < r[mid].first) hi = mid - 1;
    else if (cp > r[mid].last) lo = mid + 1;
    else return true;
  }
  return false;
}

bool is_letter(uint32_t cp) { return in_ranges(cp, detail::kLetters, detail::kLettersCount); }
bool is_number(uint32_t cp) { return in_ranges(cp, detail::kNumbers, detail::kNumbersCount); }
bool is_space(uint32_t cp) { return in_ranges(cp, detail::kSpaces, detail::kSpacesCount); }

}  // namespace dasg::data
