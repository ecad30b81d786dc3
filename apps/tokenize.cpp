// apps/tokenize.cpp — `dasg tokenize`: text files -> train/val token shards (data/corpus.hpp).
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "apps/flags.hpp"
#include "data/corpus.hpp"
#include "data/tokenizer.hpp"

namespace {

const char* kUsage = R"(usage: dasg tokenize --tokenizer byte|gpt2 --input FILE... --out DIR [flags]
       dasg tokenize --default [--tokenizer byte|gpt2] [--out DIR]

Encodes text files into llm.c-format token shards: DIR/NAME_train_000000.bin, ...,
DIR/NAME_val_000000.bin, ... Each document is preceded by <|endoftext|> (gpt2; the byte
tokenizer has no separator). Progress goes to stderr, a summary to stdout.

  --tokenizer byte|gpt2   byte: vocab 256; gpt2: GPT-2 BPE, vocab 50257 (default with --default: byte)
  --vocab-dir D           where encoder.json and vocab.bpe are (default: $DASG_GPT2_DIR,
                          else the repository's ../shared/data/gpt2)
  --input FILE...         UTF-8 text files
  --out DIR               output directory (created; must not already hold NAME_* shards)
  --split file|fortune|paragraph
                          how a file is cut into documents: whole file (default), fortune
                          files' "%" lines, or blank lines (paragraphs)
  --name NAME             shard name prefix (default: tokens; fortunes with --default)
  --val-fraction F        share of documents for validation, evenly spread (default 0.05)
  --shard-tokens N        tokens per shard (default 100000000)
  --default               the default corpus: Debian's fortunes in /usr/share/games/fortunes
                          ($DASG_FORTUNES_DIR), one document per fortune, written to
                          $DASG_DATA/fortunes_<tokenizer>, or data/default/fortunes_<tokenizer>
                          under the current directory when $DASG_DATA is unset
)";

}  // namespace

int tokenize_main(int argc, char** argv) {
  using dasg::app::FlagKind;
  using dasg::app::UsageError;
  dasg::app::Flags flags({{"tokenizer", FlagKind::value},
                          {"vocab-dir", FlagKind::value},
                          {"input", FlagKind::list},
                          {"out", FlagKind::value},
                          {"split", FlagKind::value},
                          {"name", FlagKind::value},
                          {"val-fraction", FlagKind::value},
                          {"shard-tokens", FlagKind::value},
                          {"default", FlagKind::toggle}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  bool def = flags.has("default");
  std::string tok_name = flags.str("tokenizer", def ? "byte" : "");
  if (tok_name.empty()) throw UsageError("dasg tokenize: --tokenizer is required (byte or gpt2)");

  dasg::data::TokenizeOptions opt;
  opt.name = flags.str("name", def ? "fortunes" : opt.name);
  opt.val_fraction = flags.number("val-fraction", opt.val_fraction);
  opt.shard_tokens = flags.integer("shard-tokens", opt.shard_tokens);
  opt.progress = true;
  auto tok = dasg::data::make_tokenizer(tok_name, flags.str("vocab-dir", ""));
  std::string out;
  dasg::data::TokenizeSummary s;
  if (def) {
    if (flags.has("input") || flags.has("split"))
      throw UsageError("dasg tokenize: --default chooses the inputs and the split itself; drop --input/--split");
    out = flags.str("out", dasg::data::default_corpus_dir(tok_name));
    s = dasg::data::tokenize_default_corpus(*tok, out, opt);
  } else {
    std::vector<std::string> files = flags.list("input");
    if (files.empty()) throw UsageError("dasg tokenize: --input is required (or --default)");
    if (!flags.has("out")) throw UsageError("dasg tokenize: --out is required (or --default)");
    out = flags.str("out", "");
    opt.split = dasg::data::parse_doc_split(flags.str("split", "file"));
    s = dasg::data::tokenize_files(files, *tok, out, opt);
  }
  int64_t train_shards = 0;
  for (const std::string& p : s.shards) train_shards += p.find("_train_") != std::string::npos;
  std::printf("tokenize: %lld files, %lld documents (%lld val), tokenizer %s (vocab %d)\n", (long long)s.files,
              (long long)s.documents, (long long)s.val_documents, tok->name().c_str(), tok->vocab_size());
  std::printf("tokens: %lld (train %lld, val %lld); shards: %zu (train %lld, val %lld) in %s\n",
              (long long)(s.train_tokens + s.val_tokens), (long long)s.train_tokens, (long long)s.val_tokens,
              s.shards.size(), (long long)train_shards, (long long)(s.shards.size() - train_shards), out.c_str());
  if (s.val_documents == 0)
    std::fprintf(stderr, "tokenize: warning: no validation documents (too few documents for --val-fraction %g;"
                         " try --split paragraph)\n", opt.val_fraction);
  return 0;
}
