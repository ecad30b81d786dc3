// dasg generate — samples a continuation of a prompt from a causal checkpoint (train/generate.hpp).
#include <cstdio>
#include <string>

#include "apps/flags.hpp"
#include "model/model.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"
#include "train/generate.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg generate --checkpoint DIR --prompt TEXT [flags]
Samples a continuation of TEXT from a causal checkpoint and prints the prompt followed by it.

  --checkpoint DIR      a checkpoint directory written by dasg train
  --device cpu|cuda|cuda:N  where the model runs (default cpu)
  --prompt TEXT         the text to continue (at least one token)
  --tokens N            tokens to generate (default 200)
  --temperature X       softmax temperature, 0 = greedy: always the most likely token
                        (default 0.8)
  --top-k K             sample among the K most likely tokens only, 0 = all (default 0)
  --seed S              the sampling seed; the same seed gives the same text (default 1337)

The tokenizer is the one the checkpoint was trained with, told by its vocabulary: 256 = byte
(every byte a token), >= 50257 = GPT-2's BPE (encoder.json/vocab.bpe from $DASG_GPT2_DIR or
../shared/data/gpt2); sampling never picks an id beyond the tokenizer's vocabulary. The model runs
in evaluation mode with Switch capacity off, on the last max_seq_len tokens of the context.
)";

int generate_main(int argc, char** argv) {
  dasg::app::Flags flags({{"device", FlagKind::value}, {"checkpoint", FlagKind::value},
                          {"prompt", FlagKind::value},
                          {"tokens", FlagKind::value},
                          {"temperature", FlagKind::value},
                          {"top-k", FlagKind::value},
                          {"seed", FlagKind::value}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.has("checkpoint")) throw UsageError("dasg generate: --checkpoint DIR is required");
  if (!flags.has("prompt")) throw UsageError("dasg generate: --prompt TEXT is required");
  dasg::GenerateOptions o;
  o.tokens = flags.integer("tokens", 200);
  o.temperature = flags.number("temperature", 0.8);
  o.top_k = flags.integer("top-k", 0);
  o.seed = (uint64_t)flags.integer("seed", 1337);
  if (o.tokens < 0) throw UsageError("dasg generate: --tokens must be >= 0");
  if (!(o.temperature >= 0)) throw UsageError("dasg generate: --temperature must be >= 0 (0 = greedy)");
  if (o.top_k < 0) throw UsageError("dasg generate: --top-k must be >= 0 (0 = every token)");

  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  std::unique_ptr<dasg::Model> model = dasg::load_model(flags.str("checkpoint", ""), device);
  DASG_CHECK(model->config().causal, "generate: the checkpoint '", flags.str("checkpoint", ""),
             "' is an encoder (causal false); generation needs a language model");
  auto tok = dasg::tokenizer_for_vocab(model->config().vocab_size);
  std::vector<int32_t> prompt;
  tok->encode(flags.str("prompt", ""), prompt);
  o.vocab_limit = tok->vocab_size();
  std::vector<int32_t> out = dasg::generate(*model, prompt, o);
  std::string text = tok->decode(out);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  return 0;
}
