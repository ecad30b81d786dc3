// data/gpt2.cpp — GPT-2's byte-level BPE tokenizer, as OpenAI's encoder.py does it:
// 1. pre-tokenise the text into words with GPT-2's pattern (hand-written below);
// 2. map each byte of a word to its token (the byte↔unicode table makes every byte a
//    printable character, e.g. ' ' -> 'Ġ');
// 3. repeatedly merge the adjacent pair with the lowest rank in vocab.bpe (data/bpe_merges.hpp:
//    linear in the word's length, so a long run without spaces cannot hang it). A long word is
//    first cut between bytes that no token holds side by side ("qx"): no merge can join the
//    sides, so the pieces merge to exactly the whole word's tokens, and faster.
// Words repeat a lot in text, so the result of step 3 is cached per (short) word.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/bpe_merges.hpp"
#include "data/tokenizer.hpp"
#include "data/utf8.hpp"
#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg::data {

// ---- pre-tokenisation ---------------------------------------------------------

enum CharClass { kLetter, kNumber, kSpace, kOther };

// Class of the code point at s[i]; its byte length in *len.
static CharClass char_class(std::string_view s, size_t i, int* len) {
  unsigned char c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *len = 1;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return kLetter;
    if (c >= '0' && c <= '9') return kNumber;
    if (c == ' ' || (c >= '\t' && c <= '\r')) return kSpace;
    return kOther;
  }
  int32_t cp = utf8_decode(s, i, len);
  DASG_CHECK(cp >= 0, "gpt2 encode: text is not valid UTF-8 at byte offset ", i);
  if (is_letter(uint32_t(cp))) return kLetter;
  if (is_number(uint32_t(cp))) return kNumber;
  if (is_space(uint32_t(cp))) return kSpace;
  return kOther;
}

size_t gpt2_next_word(std::string_view s, size_t i) {
  size_t n = s.size();
  // 's 't 're 've 'm 'll 'd (case-sensitive, as in GPT-2)
  if (s[i] == '\'' && i + 1 < n) {
    char a = s[i + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
    if (i + 2 < n) {
      char b = s[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional leading space, then a run of one class
  int len = 0;
  size_t j = i;
  CharClass k = char_class(s, i, &len);
  if (s[i] == ' ' && i + 1 < n) {
    int len2 = 0;
    CharClass k2 = char_class(s, i + 1, &len2);
    if (k2 != kSpace) { j = i + 1; k = k2; len = len2; }
  }
  if (k != kSpace) {
    size_t e = j + size_t(len);
    while (e < n && char_class(s, e, &len) == k) e += size_t(len);
    return e;
  }
  // `\s+(?!\S)|\s+`: a whitespace run; if a non-space follows, leave the run's last
  // character to it (as the leading space of the next word), unless the run is one character.
  size_t last = i, e = i + size_t(len);
  while (e < n && char_class(s, e, &len) == kSpace) { last = e; e += size_t(len); }
  if (e == n || last == i) return e;
  return last;
}

// ---- loading encoder.json and vocab.bpe ----------------------------------------

static std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DASG_CHECK(f.good(), "gpt2 tokenizer: cannot open ", path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// GPT-2's byte↔unicode table: printable bytes map to themselves, the others to U+0100 onwards.
static void byte_to_unicode(uint32_t table[256]) {
  int n = 0;
  for (int b = 0; b < 256; b++) {
    bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    table[b] = printable ? uint32_t(b) : uint32_t(256 + n++);
  }
}

Gpt2Tokenizer::Gpt2Tokenizer(const std::string& dir)
    : Gpt2Tokenizer(read_file(dir + "/encoder.json"), read_file(dir + "/vocab.bpe"), dir + "/encoder.json",
                    dir + "/vocab.bpe") {}

Gpt2Tokenizer::Gpt2Tokenizer(std::string_view encoder_json, std::string_view vocab_bpe, const std::string& enc_path,
                             const std::string& bpe_path) {
  const nlohmann::json enc = parse_json(encoder_json, enc_path);
  DASG_CHECK(enc.is_object() && !enc.empty(), enc_path, ": expected a JSON object mapping token strings to ids");

  // id -> token string, checked: ids are 0..n-1, each once
  int64_t n = int64_t(enc.size());
  std::vector<std::string> token_str(static_cast<size_t>(n));
  std::vector<bool> seen(static_cast<size_t>(n), false);
  std::unordered_map<std::string, int32_t> id_of;
  for (auto it = enc.begin(); it != enc.end(); ++it) {
    DASG_CHECK(it.value().is_number_integer(), enc_path, ": token \"", it.key(), "\" maps to ", json_excerpt(it.value()),
               "; expected an integer id");
    int64_t id = it.value().get<int64_t>();
    DASG_CHECK(id >= 0 && id < n && !seen[size_t(id)], enc_path, ": token \"", it.key(), "\" has id ", id,
               "; expected ids 0..", n - 1, " each used once");
    seen[size_t(id)] = true;
    token_str[size_t(id)] = it.key();
    id_of[it.key()] = int32_t(id);
  }
  DASG_CHECK(n <= 65536, enc_path, ": ", n, " tokens do not fit the uint16 shards (at most 65536)");

  // bytes of each token through the inverse byte↔unicode table
  uint32_t b2u[256];
  byte_to_unicode(b2u);
  std::unordered_map<uint32_t, int> u2b;
  for (int b = 0; b < 256; b++) u2b[b2u[b]] = b;
  for (int b = 0; b < 256; b++) {
    std::string ch;
    utf8_append(ch, b2u[b]);
    auto it = id_of.find(ch);
    DASG_CHECK(it != id_of.end(), enc_path, ": no token for byte ", b, " (\"", ch, "\")");
    byte_id_[b] = it->second;
  }
  token_bytes_.resize(size_t(n));
  for (int64_t id = 0; id < n; id++) {
    const std::string& s = token_str[size_t(id)];
    std::string bytes;
    bool mapped = true;
    size_t i = 0;
    while (i < s.size() && mapped) {
      int len = 0;
      int32_t cp = utf8_decode(s, i, &len);
      auto it = cp < 0 ? u2b.end() : u2b.find(uint32_t(cp));
      mapped = it != u2b.end();
      if (mapped) bytes += char(it->second);
      i += size_t(cp < 0 ? 1 : len);
    }
    token_bytes_[size_t(id)] = mapped ? bytes : s;  // special tokens decode as their own text
  }
  auto e = id_of.find("<|endoftext|>");
  DASG_CHECK(e != id_of.end(), enc_path, ": no <|endoftext|> token");
  eot_ = e->second;

  // merges: "left right" per line, rank = order of appearance, checked to be in creation order
  merges_ = std::make_unique<BpeMerges>(int32_t(n), byte_id_);
  const std::string_view bpe = vocab_bpe;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < bpe.size()) {
    size_t end = bpe.find('\n', pos);
    if (end == std::string::npos) end = bpe.size();
    std::string_view line(bpe.data() + pos, end - pos);
    pos = end + 1;
    line_no++;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.empty() || (line_no == 1 && line.rfind("#version", 0) == 0)) continue;
    const std::string shown(line.substr(0, 80));
    size_t sp = line.find(' ');
    DASG_CHECK(sp != std::string_view::npos && sp > 0 && sp + 1 < line.size() &&
                   line.find(' ', sp + 1) == std::string_view::npos,
               bpe_path, ":", line_no, ": expected a merge \"left right\", got \"", shown, "\"");
    std::string left(line.substr(0, sp)), right(line.substr(sp + 1));
    auto l = id_of.find(left), r = id_of.find(right), m = id_of.find(left + right);
    DASG_CHECK(l != id_of.end() && r != id_of.end() && m != id_of.end(), bpe_path, ":", line_no, ": merge \"", shown,
               "\" uses a token missing from encoder.json");
    std::string why = merges_->add(l->second, r->second, m->second);
    DASG_CHECK(why.empty(), bpe_path, ":", line_no, ": merge \"", shown, "\": ", why,
               "; expected the merges in the order training made them");
  }
  DASG_CHECK(merges_->size() > 0, bpe_path, ": no merges");
  // Every token but the bytes and the special ones (<|endoftext|>, or text outside the byte
  // alphabet) must come from a merge: a vocab.bpe cut short leaves tokens no merge makes.
  int64_t unmade = 0;
  std::string first;
  for (int64_t id = 0; id < n; id++) {
    if (id == eot_ || merges_->reachable(int32_t(id)))
      continue;
    bool alphabet = true;  // the token's text is all byte↔unicode characters
    const std::string& s = token_str[size_t(id)];
    for (size_t i = 0; i < s.size() && alphabet;) {
      int len = 0;
      int32_t cp = utf8_decode(s, i, &len);
      alphabet = cp >= 0 && u2b.count(uint32_t(cp));
      i += size_t(cp < 0 ? 1 : len);
    }
    if (!alphabet) continue;
    if (unmade++ == 0) first = s;
  }
  DASG_CHECK(unmade == 0, bpe_path, ": ", merges_->size(), " merges make too few tokens: ", unmade,
             " tokens of ", enc_path, " (the first: \"", first.substr(0, 40), "\") are made by no merge; expected ",
             merges_->size() + unmade, " merges (is vocab.bpe cut short?)");
  // The byte pairs some merged token holds side by side (bpe() cuts long words elsewhere).
  spanned_.assign(256 * 256, false);
  for (int64_t id = 0; id < n; id++) {
    if (!merges_->reachable(int32_t(id))) continue;
    const std::string& b = token_bytes_[size_t(id)];
    for (size_t i = 0; i + 1 < b.size(); i++)
      spanned_[size_t(static_cast<unsigned char>(b[i])) * 256 + static_cast<unsigned char>(b[i + 1])] = true;
  }
}

Gpt2Tokenizer::~Gpt2Tokenizer() = default;

// ---- encode / decode --------------------------------------------------------------

void Gpt2Tokenizer::bpe(std::string_view word, std::vector<int32_t>& out) {
  constexpr size_t kCachedWord = 256;  // longer words are rare and would bloat the cache
  constexpr size_t kSplitWord = 128;   // longer words are first cut where no token can span
  if (word.size() > kSplitWord) {
    // Between bytes x and y that no token's bytes hold side by side, no merge ever joins the two
    // sides, so each side merges on its own and the result is the same (exactly) as the whole's.
    size_t begin = 0;
    for (size_t i = 0; i + 1 < word.size(); i++) {
      const unsigned x = static_cast<unsigned char>(word[i]), y = static_cast<unsigned char>(word[i + 1]);
      if (spanned_[x * 256 + y]) continue;
      bpe_piece(word.substr(begin, i + 1 - begin), out, 0);  // pieces of such words rarely repeat
      begin = i + 1;
    }
    bpe_piece(word.substr(begin), out, 0);
    return;
  }
  bpe_piece(word, out, kCachedWord);
}

// Merges one word (or piece of one); words up to `cached` bytes go through the per-word cache.
void Gpt2Tokenizer::bpe_piece(std::string_view word, std::vector<int32_t>& out, size_t cached) {
  if (word.size() <= cached) {
    auto hit = cache_.find(word);
    if (hit != cache_.end()) {
      out.insert(out.end(), hit->second.begin(), hit->second.end());
      return;
    }
  }
  std::vector<int32_t> parts(word.size());
  for (size_t i = 0; i < word.size(); i++) parts[i] = byte_id_[static_cast<unsigned char>(word[i])];
  merges_->merge(parts);
  out.insert(out.end(), parts.begin(), parts.end());
  if (word.size() > cached) return;
  if (cache_.size() > (1u << 20)) cache_.clear();  // bound the memory on huge vocabularies of words
  cache_.emplace(std::string(word), std::move(parts));
}

void Gpt2Tokenizer::encode(std::string_view text, std::vector<int32_t>& out) {
  size_t i = 0;
  while (i < text.size()) {
    size_t e = gpt2_next_word(text, i);
    bpe(text.substr(i, e - i), out);
    i = e;
  }
}

std::string Gpt2Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string s;
  for (size_t i = 0; i < ids.size(); i++) {
    DASG_CHECK(ids[i] >= 0 && ids[i] < vocab_size(), "gpt2 tokenizer: decode: id ", ids[i], " at position ", i,
               " is outside the vocabulary 0..", vocab_size() - 1);
    s += token_bytes_[size_t(ids[i])];
  }
  return s;
}

}  // namespace dasg::data
