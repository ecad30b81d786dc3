// data/corpus.hpp — text corpora to token shards.
// Documents: a file is cut into documents by a split rule —
//   file:      the whole file is one document;
//   fortune:   fortune(6) files: documents separated by lines holding only "%"
//              (the "%" lines are dropped; each fortune keeps its final newline);
//   paragraph: sections ending in a blank line ("\n\n"), which each keep, so the
//              documents concatenate back to the file (llm.c's Tiny Shakespeare split).
// Empty documents are skipped. Every file must be valid UTF-8.
// Shards: each document is encoded on its own, preceded by the tokenizer's document
// separator (<|endoftext|> for gpt2; the byte tokenizer has none), and appended to the
// train or the val stream; a stream is cut into shards of shard_tokens tokens named
// <name>_train_000000.bin, <name>_train_000001.bin, … and <name>_val_000000.bin, ….
// Document i goes to val when ⌊(i+1)·f⌋ > ⌊i·f⌋ (f = val_fraction): an evenly
// spread, deterministic f of the documents, in every topic of the corpus.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.hpp"

namespace dasg::data {

enum class DocSplit { file, fortune, paragraph };

DocSplit parse_doc_split(const std::string& name);  // "file", "fortune" or "paragraph"

// The file's bytes; throws if it cannot be read or is not valid UTF-8 (byte offset, line).
std::string read_text_file(const std::string& path);

std::vector<std::string> split_documents(const std::string& text, DocSplit split);

// The default corpus: Debian's fortunes (/usr/share/games/fortunes, or $DASG_FORTUNES_DIR).
std::string default_fortune_dir();
// Its text files, sorted: regular files only, without the .dat indexes. The .u8 names
// are symlinks to the same files (fortune's UTF-8 variants), so skipping symlinks
// counts every fortune once.
std::vector<std::string> fortune_files(const std::string& dir);

bool is_val_document(int64_t index, double val_fraction);

struct TokenizeOptions {
  std::string name = "tokens";  // shard file prefix
  DocSplit split = DocSplit::file;
  double val_fraction = 0.05;
  int64_t shard_tokens = 100'000'000;
  bool progress = false;  // a line on stderr per file
};

struct TokenizeSummary {
  int64_t files = 0, documents = 0, val_documents = 0;
  int64_t train_tokens = 0, val_tokens = 0;
  std::vector<std::string> shards;  // paths written, train then val
};

// Encodes the files into shards in out_dir (created if missing).
TokenizeSummary tokenize_files(const std::vector<std::string>& files, Tokenizer& tok, const std::string& out_dir,
                               const TokenizeOptions& opt);

// The default corpus (Debian's fortunes, one document per fortune): where its shards go for a
// tokenizer ($DASG_DATA/fortunes_<tokenizer>, else data/default/fortunes_<tokenizer>), and the
// tokenization itself.
std::string default_corpus_dir(const std::string& tokenizer_name);
TokenizeSummary tokenize_default_corpus(Tokenizer& tok, const std::string& out_dir, TokenizeOptions opt);

}  // namespace dasg::data
