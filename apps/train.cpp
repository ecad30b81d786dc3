// dasg train — trains a language model on token shards (train/trainer.hpp). With no flag at all
// it trains dasg-tiny on the default corpus, tokenizing it first when its shards are missing.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "apps/flags.hpp"
#include "apps/presets.hpp"
#include "data/corpus.hpp"
#include "data/shard.hpp"
#include "data/tokenizer.hpp"
#include "train/trainer.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg train [flags]
Trains a causal language model on token shards; with no flag, dasg-tiny on the default corpus.

  --config NAME|FILE    model config: a preset of train/configs (dasg-tiny, dasg-small,
                        dense-tiny, switch-small, ...) or a JSON file (default dasg-tiny)
  --data DIR            *_train_*.bin / *_val_*.bin shards (default: the default corpus,
                        byte-tokenized into data/default/fortunes_byte when missing)
  --out DIR             checkpoint/ and metrics.jsonl go here (default runs/<config name>)
  --resume DIR          continue from a checkpoint directory (bit-identical on the CPU)
  --steps N             optimizer steps (default 1000)
  --batch B             sequences per micro-batch (default 16)
  --seq-len T           tokens per sequence (default: the config's max_seq_len)
  --grad-accum K        micro-batches per step (default 1)
  --lr X                peak learning rate (default 3e-3); --min-lr X (default lr/10)
  --warmup N            linear warm-up steps (default 20)
  --weight-decay X      AdamW's decoupled decay on matrices (default 0.1)
  --grad-clip X         global gradient-norm clip, 0 = off (default 1.0)
  --optimizer adamw|sgd (default adamw); --momentum X for sgd (default 0.9)
  --eval-every N        validation every N steps (default 250; always at the end)
  --eval-batches N      validation batches, 0 = the whole val split (default 20)
  --ckpt-every N        checkpoint every N steps (default 250; always at the end)
  --seed N              initialisation, data order and sampling (default 1337)
  --quiet               no progress display
)";

namespace {
// Unigram entropy of the train shards in nats: the loss of the best model that ignores context.
double unigram_entropy(const std::string& dir, int64_t vocab) {
  std::vector<double> counts((size_t)vocab, 0.0);
  double total = 0;
  for (const std::string& path : dasg::data::list_shards(dir, "train"))
    for (int32_t t : dasg::data::read_shard(path, dasg::data::ShardKind::tokens, vocab)) {
      counts[(size_t)t] += 1;
      total += 1;
    }
  double h = 0;
  for (double c : counts)
    if (c > 0) h -= c / total * std::log(c / total);
  return h;
}
}  // namespace

int train_main(int argc, char** argv) {
  dasg::app::Flags flags({{"config", FlagKind::value},      {"data", FlagKind::value},
                          {"out", FlagKind::value},         {"resume", FlagKind::value},
                          {"steps", FlagKind::value},       {"batch", FlagKind::value},
                          {"seq-len", FlagKind::value},     {"grad-accum", FlagKind::value},
                          {"lr", FlagKind::value},          {"min-lr", FlagKind::value},
                          {"warmup", FlagKind::value},      {"weight-decay", FlagKind::value},
                          {"grad-clip", FlagKind::value},   {"optimizer", FlagKind::value},
                          {"momentum", FlagKind::value},    {"eval-every", FlagKind::value},
                          {"eval-batches", FlagKind::value}, {"ckpt-every", FlagKind::value},
                          {"seed", FlagKind::value},        {"quiet", FlagKind::toggle}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  dasg::TrainOptions o;
  const std::string config_name = flags.str("config", "dasg-tiny");
  o.model = dasg::app::load_config(config_name);
  if (flags.has("data")) {
    o.data_dir = flags.str("data", "");
  } else {
    o.data_dir = dasg::data::default_corpus_dir("byte");
    if (!std::filesystem::exists(o.data_dir)) {
      std::fprintf(stderr, "train: tokenizing the default corpus into %s\n", o.data_dir.c_str());
      auto tok = dasg::data::make_tokenizer("byte", "");
      dasg::data::tokenize_default_corpus(*tok, o.data_dir, {});
    }
  }
  o.out_dir = flags.str("out", "runs/" + std::filesystem::path(config_name).stem().string());
  o.resume = flags.str("resume", "");
  o.steps = flags.integer("steps", 1000);
  o.batch = flags.integer("batch", 16);
  o.seq_len = flags.integer("seq-len", 0);
  o.grad_accum = flags.integer("grad-accum", 1);
  o.lr = flags.number("lr", 3e-3);
  o.min_lr = flags.number("min-lr", o.lr / 10);
  o.warmup = flags.integer("warmup", 20);
  o.weight_decay = flags.number("weight-decay", 0.1);
  o.grad_clip = flags.number("grad-clip", 1.0);
  o.optimizer = flags.str("optimizer", "adamw");
  o.momentum = flags.number("momentum", 0.9);
  o.eval_every = flags.integer("eval-every", 250);
  o.eval_batches = flags.integer("eval-batches", 20);
  o.ckpt_every = flags.integer("ckpt-every", 250);
  o.seed = (uint64_t)flags.integer("seed", 1337);
  o.quiet = flags.has("quiet");

  dasg::TrainResult r = dasg::train_language_model(o);
  std::printf("trained %lld steps (%lld skipped as non-finite)\n", (long long)r.steps_done, (long long)r.skipped_steps);
  std::printf("checkpoint: %s\nmetrics:    %s\n", r.checkpoint_dir.c_str(), r.metrics_path.c_str());
  std::printf("final validation loss: %.4f nats/token (perplexity %.2f); unigram entropy of the corpus: %.4f nats\n",
              r.final_val_loss, std::exp(r.final_val_loss), unigram_entropy(o.data_dir, o.model.vocab_size));
  return 0;
}
