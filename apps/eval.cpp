// dasg eval — evaluates a checkpoint: a causal model's validation loss and perplexity on token
// shards (train/trainer.hpp's evaluate_lm, the same code as the training loop's evaluation), or
// an encoder's accuracy and F1 on a GLUE dev set (train/classifier.hpp's evaluate_classifier).
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "apps/flags.hpp"
#include "data/corpus.hpp"
#include "data/glue.hpp"
#include "model/model.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"
#include "train/trainer.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg eval --checkpoint DIR [flags]
  --device cpu|cuda|cuda:N  where the model runs (default cpu)
  --precision f32|bf16  bf16: mixed precision on CUDA, the GEMMs in bf16 (default f32)
Evaluates a checkpoint (a directory written by dasg train or dasg finetune) in evaluation mode.

Causal (language-model) checkpoint: mean validation loss and perplexity on token shards.
  --data DIR            *_val_*.bin shards (default: the default corpus for the checkpoint's
                        tokenizer, data/default/fortunes_byte for a byte-level model)
  --batch B             sequences per batch (default 8)
  --seq-len T           tokens per sequence (default: the model's max_seq_len)
  --batches N           batches to evaluate, 0 = the whole val split (default 0)

Encoder (classification) checkpoint: accuracy and F1 (of class 1) on a GLUE dev set.
  --glue sst2|mrpc      the task (required for an encoder)
  --glue-dir DIR        GLUE's folder holding SST-2/ and MRPC/ (default $DASG_GLUE_DIR, else
                        ../shared/data/glue beside the source tree)
  --batch B             sequences per batch (default 8)
  --seq-len T           tokens per sequence; longer sentences are truncated (default: the
                        model's max_seq_len)

The tokenizer follows the model's vocabulary: 256 = byte, >= 50257 = GPT-2's BPE.
)";

int eval_main(int argc, char** argv) {
  dasg::app::Flags flags({{"device", FlagKind::value}, {"precision", FlagKind::value}, {"checkpoint", FlagKind::value},
                          {"data", FlagKind::value},
                          {"batch", FlagKind::value},
                          {"seq-len", FlagKind::value},
                          {"batches", FlagKind::value},
                          {"glue", FlagKind::value},
                          {"glue-dir", FlagKind::value}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.has("checkpoint")) throw UsageError("dasg eval: --checkpoint DIR is required");
  const std::string dir = flags.str("checkpoint", "");
  const int64_t batch = flags.integer("batch", 8);
  if (batch <= 0) throw UsageError("dasg eval: --batch must be positive");
  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  std::unique_ptr<dasg::Model> model = dasg::load_model(dir, device);
  model->set_precision(dasg::parse_precision(flags.str("precision", "f32")));
  const dasg::Config& cfg = model->config();
  const int64_t T = flags.integer("seq-len", cfg.max_seq_len);
  if (T <= 0 || T > cfg.max_seq_len)
    throw UsageError(dasg::detail::concat("dasg eval: --seq-len ", T, " must be in 1..", cfg.max_seq_len,
                                          " (the model's max_seq_len)"));
  auto describe = [&] {
    std::printf("checkpoint: %s (%s, ffn %s, attention %s, %lld layers, d_model %lld, %lld parameters)\n", dir.c_str(),
                cfg.causal ? "causal" : "encoder", cfg.ffn.c_str(), cfg.attention.c_str(), (long long)cfg.n_layer,
                (long long)cfg.d_model, (long long)model->parameters().count());
  };

  if (cfg.causal) {
    if (flags.has("glue") || flags.has("glue-dir"))
      throw UsageError("dasg eval: --glue/--glue-dir are for encoder checkpoints; this one is causal (use --data)");
    const int64_t batches = flags.integer("batches", 0);
    if (batches < 0) throw UsageError("dasg eval: --batches must be >= 0 (0 = the whole val split)");
    std::string data = flags.str("data", "");
    if (data.empty()) {  // as dasg train's default, else the same path in the source tree
      data = dasg::data::default_corpus_dir(dasg::tokenizer_for_vocab(cfg.vocab_size)->name());
      const std::filesystem::path in_source = std::filesystem::path(DASG_SOURCE_DIR) / data;
      if (!std::filesystem::exists(data) && std::filesystem::path(data).is_relative() && std::filesystem::exists(in_source))
        data = in_source.string();
      DASG_CHECK(std::filesystem::exists(data), "eval: the default corpus '", data, "' has not been tokenized yet; ",
                 "run `dasg train` or `dasg tokenize` first, or give --data DIR");
    }
    const double loss = dasg::evaluate_lm(*model, data, batch, T, batches);
    describe();
    std::printf("data: %s (batch %lld x seq_len %lld%s)\n", data.c_str(), (long long)batch, (long long)T,
                batches == 0 ? ", the whole val split" : "");
    std::printf("validation loss: %.4f nats/token (perplexity %.3f)\n", loss, std::exp(loss));
    return 0;
  }

  if (flags.has("data") || flags.has("batches"))
    throw UsageError("dasg eval: --data/--batches are for causal checkpoints; this one is an encoder (use --glue)");
  if (!flags.has("glue")) throw UsageError("dasg eval: an encoder checkpoint needs --glue sst2|mrpc");
  const std::string task = flags.str("glue", "");
  if (task != "sst2" && task != "mrpc") throw UsageError("dasg eval: --glue '" + task + "'; expected sst2 or mrpc");
  const std::string path = dasg::glue_file(flags.str("glue-dir", dasg::default_glue_dir(DASG_SOURCE_DIR)), task, "dev");
  auto tok = dasg::tokenizer_for_vocab(cfg.vocab_size);
  dasg::data::ClassificationSet dev = dasg::data::read_glue(path, dasg::data::parse_glue_task(task), *tok, T);
  dasg::ClassifierEval e = dasg::evaluate_classifier(*model, dev, batch);
  describe();
  std::printf("data: %s (%lld examples, %s tokenizer, seq_len %lld)\n", path.c_str(), (long long)e.n,
              tok->name().c_str(), (long long)T);
  std::printf("dev accuracy: %.4f   F1: %.4f   loss: %.4f   majority-class accuracy: %.4f\n", e.accuracy, e.f1, e.loss,
              e.majority);
  return 0;
}
