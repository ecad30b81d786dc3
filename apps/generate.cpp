// dasg generate — samples continuations of prompts from a causal checkpoint (train/generate.hpp).
#include <cstdio>
#include <fstream>
#include <string>

#include "apps/flags.hpp"
#include "model/model.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"
#include "train/generate.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg generate --checkpoint DIR (--prompt TEXT | --prompts FILE) [flags]
Samples a continuation of each prompt from a causal checkpoint and prints the prompt followed by it.

  --checkpoint DIR      a checkpoint directory written by dasg train
  --device cpu|cuda|cuda:N  where the model runs (default cpu)
  --precision f32|bf16  bf16: mixed precision on CUDA, the GEMMs in bf16 (default f32)
  --prompt TEXT         the text to continue (at least one token)
  --prompts FILE        batched: one prompt per line of FILE (blank lines skipped), all generated
                        together, each at its own length and position in one decode state (no
                        padding); printed at the end in file order, each after a line "==> N <=="
                        (N = its line number)
  --tokens N            tokens to generate per prompt (default 200)
  --temperature X       softmax temperature, 0 = greedy: always the most likely token
                        (default 0.8)
  --top-k K             sample among the K most likely tokens only, 0 = all (default 0)
  --top-p P             then among the fewest likeliest tokens whose probabilities sum to at least
                        P (nucleus sampling), 1 = all (default 1)
  --seed S              the sampling seed; the same seed, prompts and flags give the same text
                        (default 1337)
  --stop-token ID       a sequence ends after producing this token id (default: none)
  --stop TEXT           a sequence ends once its continuation contains TEXT (printed with it)
  --no-stream           print a single prompt's text at the end instead of token by token
  --recompute           run the whole context through the model for every token (the reference
                        path; same tokens, to round-off, and much slower)

Streaming: with --prompt, the prompt and then every token are written to stdout (flushed) as
they are produced.

Decoding: one forward over each prompt (the prefill) fills a per-layer decode state — the keys
and values a new token may attend to (its group's last window keys under gmha/local, the whole
context under full attention), the running sum of u' over its group and the aggregation keys and
values of the completed groups — and each new token is then one step through that state: work
and memory per token are bounded, whatever the length of the text.

The slide rule: positions are learned and absolute, so the context is at most max_seq_len = M
tokens. When it is full and a token arrives, the oldest half of the groups (S = max(1, G/2)·L
tokens, G = gmha.groups, L = M/G; at least one group) is dropped and the state is rebuilt from
the remaining M − S tokens by one prefill: amortised, about one batched token per generated
token. A sequence of n tokens thus sees tokens [start, n) with start = 0 for n <= M, else
ceil((n − M)/S)·S. --recompute follows the same rule.

The tokenizer is the one the checkpoint was trained with, told by its vocabulary: 256 = byte
(every byte a token), >= 50257 = GPT-2's BPE (encoder.json/vocab.bpe from $DASG_GPT2_DIR or
../shared/data/gpt2); sampling never picks an id beyond the tokenizer's vocabulary. The model runs
in evaluation mode with Switch capacity off.
)";

int generate_main(int argc, char** argv) {
  dasg::app::Flags flags({{"device", FlagKind::value}, {"precision", FlagKind::value}, {"checkpoint", FlagKind::value},
                          {"prompt", FlagKind::value},
                          {"prompts", FlagKind::value},
                          {"tokens", FlagKind::value},
                          {"temperature", FlagKind::value},
                          {"top-k", FlagKind::value},
                          {"top-p", FlagKind::value},
                          {"seed", FlagKind::value},
                          {"stop-token", FlagKind::value},
                          {"stop", FlagKind::value},
                          {"no-stream", FlagKind::toggle},
                          {"recompute", FlagKind::toggle}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.has("checkpoint")) throw UsageError("dasg generate: --checkpoint DIR is required");
  if (flags.has("prompt") == flags.has("prompts"))
    throw UsageError("dasg generate: give exactly one of --prompt TEXT and --prompts FILE");
  dasg::GenerateOptions o;
  o.tokens = flags.integer("tokens", 200);
  o.temperature = flags.number("temperature", 0.8);
  o.top_k = flags.integer("top-k", 0);
  o.top_p = flags.number("top-p", 1.0);
  o.seed = (uint64_t)flags.integer("seed", 1337);
  o.stop_token = (int32_t)flags.integer("stop-token", -1);
  o.cache = !flags.has("recompute");
  if (o.tokens < 0) throw UsageError("dasg generate: --tokens must be >= 0");
  if (!(o.temperature >= 0)) throw UsageError("dasg generate: --temperature must be >= 0 (0 = greedy)");
  if (o.top_k < 0) throw UsageError("dasg generate: --top-k must be >= 0 (0 = every token)");
  if (!(o.top_p > 0 && o.top_p <= 1)) throw UsageError("dasg generate: --top-p must be in (0, 1] (1 = every token)");
  if (flags.has("stop-token") && o.stop_token < 0) throw UsageError("dasg generate: --stop-token must be a token id >= 0");

  // Prompts: one, or one per non-blank line of the file (with their line numbers).
  std::vector<std::string> texts;
  std::vector<int64_t> lines;
  if (flags.has("prompt")) {
    texts.push_back(flags.str("prompt", ""));
    lines.push_back(1);
  } else {
    const std::string path = flags.str("prompts", "");
    std::ifstream in(path);
    DASG_CHECK(in.good(), "dasg generate: cannot open --prompts file '", path, "'");
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (line.empty()) continue;
      texts.push_back(line);
      lines.push_back(n);
    }
    DASG_CHECK(!texts.empty(), "dasg generate: --prompts file '", path, "' holds no prompt (one per line)");
  }

  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  std::unique_ptr<dasg::Model> model = dasg::load_model(flags.str("checkpoint", ""), device);
  model->set_precision(dasg::parse_precision(flags.str("precision", "f32")));
  DASG_CHECK(model->config().causal, "generate: the checkpoint '", flags.str("checkpoint", ""),
             "' is an encoder (causal false); generation needs a language model");
  auto tok = dasg::tokenizer_for_vocab(model->config().vocab_size);
  o.vocab_limit = tok->vocab_size();
  if (o.stop_token >= o.vocab_limit)
    throw UsageError("dasg generate: --stop-token " + std::to_string(o.stop_token) + " is outside the tokenizer's " +
                     std::to_string(o.vocab_limit) + " tokens");
  std::vector<std::vector<int32_t>> prompts(texts.size());
  for (size_t b = 0; b < texts.size(); ++b) {
    tok->encode(texts[b], prompts[b]);
    DASG_CHECK(!prompts[b].empty(), "dasg generate: prompt ", lines[b], " encodes to no token");
  }

  // Streaming (one prompt) and the stop string, from each sequence's decoded continuation.
  const bool stream = flags.has("prompt") && !flags.has("no-stream");
  const std::string stop = flags.str("stop", "");
  std::vector<std::string> continuation(prompts.size());
  if (stream) {
    std::fputs(texts[0].c_str(), stdout);
    std::fflush(stdout);
  }
  o.on_token = [&](int64_t b, int32_t t) {
    const std::string piece = tok->decode(std::vector<int32_t>{t});
    std::string& c = continuation[(size_t)b];
    const size_t from = c.size() >= stop.size() ? c.size() - stop.size() + 1 : 0;
    c += piece;
    if (stream) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
    }
    return !stop.empty() && c.find(stop, from) != std::string::npos;
  };
  std::vector<std::vector<int32_t>> out = dasg::generate_batch(*model, prompts, o);
  if (stream) {
    std::fputc('\n', stdout);
    return 0;
  }
  for (size_t b = 0; b < out.size(); ++b) {
    if (flags.has("prompts")) std::printf("==> %lld <==\n", (long long)lines[b]);
    const std::string text = tok->decode(out[b]);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}
