// data/corpus.cpp — reading text files, cutting documents, writing train/val shards.
#include "data/corpus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/shard.hpp"
#include "data/utf8.hpp"
#include "engine/error.hpp"

namespace dasg::data {

namespace fs = std::filesystem;

DocSplit parse_doc_split(const std::string& name) {
  if (name == "file") return DocSplit::file;
  if (name == "fortune") return DocSplit::fortune;
  if (name == "paragraph") return DocSplit::paragraph;
  DASG_FAIL("unknown document split '", name, "'; expected file, fortune or paragraph");
}

std::string read_text_file(const std::string& path) {
  std::error_code ec;
  DASG_CHECK(fs::is_regular_file(path, ec), path, ": not a readable file");
  std::ifstream f(path, std::ios::binary);
  DASG_CHECK(f.good(), path, ": cannot open");
  std::ostringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  check_utf8(text, path);
  return text;
}

std::vector<std::string> split_documents(const std::string& text, DocSplit split) {
  std::vector<std::string> docs;
  if (split == DocSplit::file) {
    if (!text.empty()) docs.push_back(text);
  } else if (split == DocSplit::paragraph) {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t e = text.find("\n\n", pos);
      e = e == std::string::npos ? text.size() : e + 2;
      docs.push_back(text.substr(pos, e - pos));
      pos = e;
    }
  } else {
    std::string doc;
    size_t pos = 0;
    while (pos < text.size()) {
      size_t e = text.find('\n', pos);
      e = e == std::string::npos ? text.size() : e + 1;
      std::string_view line(text.data() + pos, e - pos);
      if (line == "%\n" || line == "%") {
        if (!doc.empty()) docs.push_back(doc);
        doc.clear();
      } else {
        doc += line;
      }
      pos = e;
    }
    if (!doc.empty()) docs.push_back(doc);
  }
  return docs;
}

std::string default_fortune_dir() {
  const char* env = std::getenv("DASG_FORTUNES_DIR");
  return env && *env ? env : "/usr/share/games/fortunes";
}

std::vector<std::string> fortune_files(const std::string& dir) {
  std::error_code ec;
  DASG_CHECK(fs::is_directory(dir, ec), "fortunes: ", dir,
             " is not a directory (install Debian's fortunes package: third_party/install.sh)");
  std::vector<std::string> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_symlink() || !entry.is_regular_file()) continue;
    if (entry.path().extension() == ".dat") continue;
    files.push_back(entry.path().string());
  }
  DASG_CHECK(!files.empty(), "fortunes: no fortune files in ", dir);
  std::sort(files.begin(), files.end());
  return files;
}

bool is_val_document(int64_t index, double f) {
  return std::floor(double(index + 1) * f) > std::floor(double(index) * f);
}

// Buffers one split's tokens and writes a shard each time shard_tokens are ready.
struct ShardStream {
  std::string prefix;  // <dir>/<name>_<split>_
  int64_t shard_tokens;
  std::vector<int32_t> buf;
  int64_t total = 0;
  std::vector<std::string> paths;

  void flush() {
    char num[16];
    std::snprintf(num, sizeof(num), "%06zu", paths.size());
    paths.push_back(prefix + num + ".bin");
    write_shard(paths.back(), std::span<const int32_t>(buf));
    buf.clear();
  }
  void add(const std::vector<int32_t>& tokens) {
    for (int32_t t : tokens) {
      buf.push_back(t);
      if (int64_t(buf.size()) == shard_tokens) flush();
    }
    total += int64_t(tokens.size());
  }
};

TokenizeSummary tokenize_files(const std::vector<std::string>& files, Tokenizer& tok, const std::string& out_dir,
                               const TokenizeOptions& opt) {
  DASG_CHECK(!files.empty(), "tokenize: no input files");
  DASG_CHECK(opt.val_fraction >= 0 && opt.val_fraction <= 1, "tokenize: val fraction ", opt.val_fraction,
             " is outside 0..1");
  DASG_CHECK(opt.shard_tokens > 0 && opt.shard_tokens <= INT32_MAX, "tokenize: shard tokens ", opt.shard_tokens,
             " is outside 1..", INT32_MAX);
  DASG_CHECK(tok.vocab_size() <= 65536, "tokenize: vocab ", tok.vocab_size(), " does not fit uint16 shards");
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  DASG_CHECK(fs::is_directory(out_dir, ec), "tokenize: cannot create the output directory ", out_dir);
  for (const char* split : {"train", "val"})  // stale shards of an earlier run would be read as ours
    for (const auto& entry : fs::directory_iterator(out_dir)) {
      std::string name = entry.path().filename().string();
      DASG_CHECK(!(name.rfind(opt.name + "_" + split + "_", 0) == 0 && name.ends_with(".bin")), "tokenize: ",
                 out_dir, " already holds ", name, "; remove the old shards or choose another --out");
    }

  TokenizeSummary sum;
  std::string base = (fs::path(out_dir) / opt.name).string();
  ShardStream train{base + "_train_", opt.shard_tokens, {}, 0, {}};
  ShardStream val{base + "_val_", opt.shard_tokens, {}, 0, {}};
  std::vector<int32_t> tokens;
  for (const std::string& path : files) {
    std::string text = read_text_file(path);
    for (const std::string& doc : split_documents(text, opt.split)) {
      tokens.clear();
      if (tok.eot() >= 0) tokens.push_back(tok.eot());
      tok.encode(doc, tokens);
      bool is_val = is_val_document(sum.documents, opt.val_fraction);
      (is_val ? val : train).add(tokens);
      sum.val_documents += is_val;
      sum.documents++;
    }
    sum.files++;
    if (opt.progress)
      std::fprintf(stderr, "tokenize: %lld/%zu files, %lld documents, %lld tokens  %s\n", (long long)sum.files,
                   files.size(), (long long)sum.documents, (long long)(train.total + val.total), path.c_str());
  }
  if (!train.buf.empty()) train.flush();
  if (!val.buf.empty()) val.flush();
  DASG_CHECK(train.total > 0, "tokenize: the train split got no tokens (", sum.documents, " documents, ",
             sum.val_documents, " of them for validation); give more text or a smaller --val-fraction");
  if (val.total == 0 && opt.val_fraction > 0)
    std::fprintf(stderr, "tokenize: warning: the val split got no tokens (%lld documents x val fraction %g < 1 "
                 "document); `dasg train` on %s will need --eval-every 0 --no-val\n",
                 (long long)sum.documents, opt.val_fraction, out_dir.c_str());
  sum.train_tokens = train.total;
  sum.val_tokens = val.total;
  sum.shards = train.paths;
  sum.shards.insert(sum.shards.end(), val.paths.begin(), val.paths.end());
  return sum;
}

std::string default_corpus_dir(const std::string& tokenizer_name) {
  const char* env = std::getenv("DASG_DATA");
  std::string root = env && *env ? env : "data/default";
  return (fs::path(root) / ("fortunes_" + tokenizer_name)).string();
}

TokenizeSummary tokenize_default_corpus(Tokenizer& tok, const std::string& out_dir, TokenizeOptions opt) {
  opt.split = DocSplit::fortune;
  if (opt.name == TokenizeOptions{}.name) opt.name = "fortunes";
  return tokenize_files(fortune_files(default_fortune_dir()), tok, out_dir, opt);
}

}  // namespace dasg::data
