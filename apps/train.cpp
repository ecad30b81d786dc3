// dasg train — trains a language model on token shards (train/trainer.hpp). With no flag at all
// it trains dasg-tiny on the default corpus, tokenizing it first when its shards are missing.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>

#include "apps/flags.hpp"
#include "apps/train_flags.hpp"
#include "apps/presets.hpp"
#include "data/corpus.hpp"
#include "data/shard.hpp"
#include "data/tokenizer.hpp"
#include "train/trainer.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static std::string usage() {
  const dasg::TrainOptions d;
  return std::string(R"(usage: dasg train [flags]
Trains a causal language model on token shards; with no flag, dasg-tiny on the default corpus.

  --config NAME|FILE    model config: a preset of train/configs (dasg-tiny, dasg-small,
                        dense-tiny, switch-small, ...) or a JSON file (default dasg-tiny)
  --data DIR            *_train_*.bin / *_val_*.bin shards (default: the default corpus,
                        byte-tokenized into data/default/fortunes_byte when missing)
  --seq-len T           tokens per sequence (default: the config's max_seq_len)
  --eval-batches N      validation batches, 0 = the whole val split (default )") +
         std::to_string(d.eval_batches) + ")\n" +
         "  --no-val              no validation split: nothing is evaluated\n"
         "  --reset-optimizer     with --resume: start the optimizer moments at zero (optim.safetensors unread)\n" + dasg::app::training_flags_help(d) +
         "  (--out defaults to runs/<config name>)\n";
}

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

// Trains, and rank 0 reports.
int run(const dasg::TrainOptions& o) {
  dasg::TrainResult r = dasg::train_language_model(o);
  std::printf("trained %lld steps on %s (%lld skipped as non-finite)\n", (long long)r.steps_done, o.device.c_str(),
              (long long)r.skipped_steps);
  if (r.checkpoint_written)
    std::printf("checkpoint: %s\n", r.checkpoint_dir.c_str());
  else
    std::printf("checkpoint: none written at the end (the last step was skipped); the newest is in %s\n",
                r.checkpoint_dir.c_str());
  std::printf("metrics:    %s\n", r.metrics_path.c_str());
  if (!r.last_eval.is_null())
    std::printf("final validation loss: %.4f nats/token (perplexity %.2f); unigram entropy of the corpus: %.4f nats\n",
                r.final_val_loss, std::exp(r.final_val_loss), unigram_entropy(o.data_dir, o.model.vocab_size));
  else
    std::printf("no validation ran (--no-val)\n");
  return r.checkpoint_written ? 0 : 1;
}
}  // namespace

int train_main(int argc, char** argv) {
  std::vector<dasg::app::FlagSpec> specs = dasg::app::training_flag_specs();
  specs.insert(specs.end(), {{"config", FlagKind::value}, {"data", FlagKind::value}, {"seq-len", FlagKind::value},
                             {"eval-batches", FlagKind::value}, {"no-val", FlagKind::toggle},
                             {"reset-optimizer", FlagKind::toggle}});
  dasg::app::Flags flags(specs, argc, argv);
  if (flags.help()) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  dasg::TrainOptions o;
  const std::string config_name = flags.str("config", "dasg-tiny");
  o.model = dasg::app::load_config(config_name);
  o.data_dir = flags.has("data") ? flags.str("data", "") : dasg::data::default_corpus_dir("byte");
  o.out_dir = "runs/" + std::filesystem::path(config_name).stem().string();
  dasg::app::read_training_flags(flags, o);
  o.seq_len = flags.integer("seq-len", o.seq_len);
  o.eval_batches = flags.integer("eval-batches", o.eval_batches);
  o.no_val = flags.has("no-val");
  o.reset_optimizer = flags.has("reset-optimizer");
  if (o.reset_optimizer && o.resume.empty()) throw UsageError("dasg train: --reset-optimizer needs --resume");
  if (o.seq_len < 0 || o.eval_batches < 0) throw UsageError("dasg train: --seq-len and --eval-batches must be >= 0");

  std::shared_ptr<dasg::dist::Communicator> comm = dasg::app::join_ranks(flags, "dasg train", o);
  return dasg::dist::run_or_abort(*comm, [&] {
    if (!flags.has("data")) {
      if (comm->rank() == 0 && !std::filesystem::exists(o.data_dir)) {
        std::fprintf(stderr, "train: tokenizing the default corpus into %s\n", o.data_dir.c_str());
        auto tok = dasg::data::make_tokenizer("byte", "");
        dasg::data::tokenize_default_corpus(*tok, o.data_dir, {});
      }
      comm->barrier();  // the other ranks read the shards rank 0 wrote
    }
    return run(o);
  });
}

