// data/tokenizer.hpp — text ↔ token ids. Two tokenizers:
//   byte: every byte is its token (vocab 256); no document separator.
//   gpt2: GPT-2's byte-level BPE (vocab 50257) from encoder.json + vocab.bpe, with
//         <|endoftext|> (50256) as the document separator.
// encode() appends to `out`; decode() turns ids back into the exact bytes.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dasg::data {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  virtual int32_t vocab_size() const = 0;
  // The document separator token, or -1 when the vocabulary has none.
  virtual int32_t eot() const = 0;
  virtual void encode(std::string_view text, std::vector<int32_t>& out) = 0;
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
};

class ByteTokenizer : public Tokenizer {
 public:
  std::string name() const override { return "byte"; }
  int32_t vocab_size() const override { return 256; }
  int32_t eot() const override { return -1; }
  void encode(std::string_view text, std::vector<int32_t>& out) override;
  std::string decode(std::span<const int32_t> ids) const override;
};

class BpeMerges;

class Gpt2Tokenizer : public Tokenizer {
 public:
  // Reads <dir>/encoder.json and <dir>/vocab.bpe; malformed files throw dasg::Error
  // naming the file and the byte offset or line. vocab.bpe must list merges in creation order
  // (each input a byte or made earlier, each output made once) and make every token of
  // encoder.json but the bytes and <|endoftext|> (so a file cut short is refused).
  explicit Gpt2Tokenizer(const std::string& dir);
  // The same from the two files' contents; the paths name them in errors.
  Gpt2Tokenizer(std::string_view encoder_json, std::string_view vocab_bpe, const std::string& enc_path,
                const std::string& bpe_path);
  ~Gpt2Tokenizer() override;
  std::string name() const override { return "gpt2"; }
  int32_t vocab_size() const override { return int32_t(token_bytes_.size()); }
  int32_t eot() const override { return eot_; }
  // Not thread-safe: it fills a per-word cache. Invalid UTF-8 throws with the byte offset.
  void encode(std::string_view text, std::vector<int32_t>& out) override;
  std::string decode(std::span<const int32_t> ids) const override;
  // The merge table and each byte's token (tests compare the two merge loops with them).
  BpeMerges& merges() { return *merges_; }
  int32_t byte_token(unsigned char b) const { return byte_id_[b]; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  void bpe(std::string_view word, std::vector<int32_t>& out);
  void bpe_piece(std::string_view word, std::vector<int32_t>& out, size_t cached);

  int32_t eot_ = -1;
  int32_t byte_id_[256];                           // token of each single byte
  std::vector<std::string> token_bytes_;           // id -> the bytes it stands for
  std::unique_ptr<BpeMerges> merges_;
  std::vector<bool> spanned_;                      // [x·256 + y]: some merged token holds bytes x, y in a row
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

// "byte" or "gpt2" (which reads vocab_dir); anything else throws.
std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name, const std::string& vocab_dir);

// Where GPT-2's encoder.json/vocab.bpe are looked for by default: $DASG_GPT2_DIR if set,
// else the repository's ../shared/data/gpt2 (fixed at build time).
std::string default_gpt2_dir();

// GPT-2's pre-tokenisation: the end of the word that starts at s[i] under the pattern
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Throws on invalid UTF-8 (with the byte offset).
size_t gpt2_next_word(std::string_view s, size_t i);

}  // namespace dasg::data
