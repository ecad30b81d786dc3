// dasg finetune — fine-tunes an encoder on a GLUE task (SST-2 or MRPC) with train/classifier.hpp's
// loop, from scratch (a config) or from a pretrained checkpoint (causal or encoder).
#include <cstdio>
#include <filesystem>

#include "apps/flags.hpp"
#include "apps/train_flags.hpp"
#include "apps/presets.hpp"
#include "data/glue.hpp"
#include "model/safetensors.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static std::string usage() {
  const dasg::ClassifierOptions d;
  return std::string(R"(usage: dasg finetune --task sst2|mrpc [flags]
Fine-tunes an encoder (causal false, 2 classes, max_seq_len = --seq-len) on a GLUE task, reports
dev accuracy and F1 beside the majority-class accuracy, and writes a checkpoint. The training loop
is `dasg train`'s (accumulation, clipping, the non-finite guard, periodic evaluation and
checkpoints, resume).

  --task sst2|mrpc      the GLUE task (required)
  --checkpoint DIR      start from a pretrained checkpoint (causal or encoder): its config made an
                        encoder, every parameter whose name and shape match copied, the head cls.*
                        fresh, wpe.weight cropped to the first seq-len positions (or, when the
                        checkpoint's are fewer, its rows copied and the rest fresh)
  --config NAME|FILE    or start from scratch with a config: a preset of train/configs
                        (dasg-tiny, switch-tiny, ...) or a JSON file (default dasg-tiny)
  --glue-dir DIR        GLUE's folder holding SST-2/ and MRPC/ (default $DASG_GLUE_DIR, else
                        ../shared/data/glue beside the source tree)
  --seq-len T           tokens per sequence; longer ones are truncated (default 128). The group
                        length L = max_seq_len / gmha.groups is kept if it divides T (else groups)
  --eval-batch N        dev sequences per evaluation batch (default )") +
         std::to_string(d.eval_batch) + ")\n" + dasg::app::training_flags_help(d) + R"(  (--out defaults to runs/finetune-<task>-<name>)

The tokenizer follows the model's vocabulary: 256 = byte, >= 50257 = GPT-2's BPE. The DSSE
transfer of a dasg model happens at its configured step of this run (unless the checkpoint had
already transferred); the evaluator's running statistics and the REINFORCE baselines re-start
from the fine-tuning data. --resume continues a fine-tuning run (give the same --task, --config
or --checkpoint and --seq-len).
)";
}

int finetune_main(int argc, char** argv) {
  std::vector<dasg::app::FlagSpec> specs = dasg::app::training_flag_specs();
  specs.insert(specs.end(), {{"task", FlagKind::value}, {"checkpoint", FlagKind::value}, {"config", FlagKind::value},
                             {"glue-dir", FlagKind::value}, {"seq-len", FlagKind::value}, {"eval-batch", FlagKind::value}});
  dasg::app::Flags flags(specs, argc, argv);
  if (flags.help()) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!flags.has("task")) throw UsageError("dasg finetune: --task sst2|mrpc is required");
  const std::string task = flags.str("task", "");
  if (task != "sst2" && task != "mrpc") throw UsageError("dasg finetune: --task '" + task + "'; expected sst2 or mrpc");
  if (flags.has("checkpoint") && flags.has("config"))
    throw UsageError("dasg finetune: give --checkpoint or --config, not both");

  dasg::ClassifierOptions o;
  const int64_t T = flags.integer("seq-len", 128);
  if (T <= 0) throw UsageError("dasg finetune: --seq-len must be positive");
  o.eval_batch = flags.integer("eval-batch", o.eval_batch);
  if (o.eval_batch <= 0) throw UsageError("dasg finetune: --eval-batch must be positive");

  dasg::Config base;
  std::string name;
  if (flags.has("checkpoint")) {
    o.init_checkpoint = flags.str("checkpoint", "");
    const std::string file = (std::filesystem::path(dasg::checkpoint_path(o.init_checkpoint)) / "model.safetensors").string();
    dasg::SafetensorsFile weights = dasg::read_safetensors(file);
    auto it = weights.metadata.find("config");
    DASG_CHECK(it != weights.metadata.end(), "finetune: ", file, " has no \"config\" in its metadata");
    base = dasg::Config::parse(it->second);
    std::filesystem::path p = std::filesystem::path(o.init_checkpoint).lexically_normal();
    if (!p.has_filename()) p = p.parent_path();
    name = p.parent_path().filename().string();  // runs/<name>/checkpoint
    if (name.empty()) name = "pretrained";
  } else {
    const std::string config_name = flags.str("config", "dasg-tiny");
    base = dasg::app::load_config(config_name);
    name = std::filesystem::path(config_name).stem().string();
  }
  o.model = dasg::encoder_config(base, T, 2);
  o.out_dir = "runs/finetune-" + task + "-" + name;
  dasg::app::read_training_flags(flags, o);
  o.extra_state = {{"task", task}, {"seq_len", T}};

  auto tok = dasg::tokenizer_for_vocab(o.model.vocab_size);
  const std::string glue_dir = flags.str("glue-dir", dasg::default_glue_dir(DASG_SOURCE_DIR));
  const dasg::data::GlueTask gt = dasg::data::parse_glue_task(task);
  dasg::data::ClassificationSet train = dasg::data::read_glue(dasg::glue_file(glue_dir, task, "train"), gt, *tok, T);
  dasg::data::ClassificationSet dev = dasg::data::read_glue(dasg::glue_file(glue_dir, task, "dev"), gt, *tok, T);
  int64_t truncated = 0;
  for (int32_t n : dev.lengths) truncated += n == T;
  std::printf("finetune %s: %lld train / %lld dev examples (%s tokenizer, seq_len %lld; %lld dev examples fill it)\n",
              task.c_str(), (long long)train.size(), (long long)dev.size(), tok->name().c_str(), (long long)T,
              (long long)truncated);
  std::printf("model: ffn %s, attention %s, %lld layers, d_model %lld, gmha groups %lld (L %lld)%s%s\n",
              o.model.ffn.c_str(), o.model.attention.c_str(), (long long)o.model.n_layer, (long long)o.model.d_model,
              (long long)o.model.gmha.groups, (long long)o.model.group_len(), o.init_checkpoint.empty() ? "" : ", from ",
              o.init_checkpoint.c_str());
  std::fflush(stdout);

  dasg::ClassifierResult r = dasg::train_classifier(o, train, dev);
  if (!o.init_checkpoint.empty()) {
    std::printf("pretrained: %zu tensors copied, %zu cropped, %zu fresh:", r.init.copied.size(), r.init.cropped.size(),
                r.init.fresh.size());
    for (size_t i = 0; i < r.init.fresh.size() && i < 6; ++i) std::printf(" %s", r.init.fresh[i].c_str());
    if (r.init.fresh.size() > 6) std::printf(" ... (%zu more)", r.init.fresh.size() - 6);
    std::printf("%s\n", r.init.deep_active ? " (deep tier already transferred)" : "");
  }
  std::printf("trained %lld steps (%lld skipped as non-finite); final train loss %.4f\n", (long long)r.steps_done,
              (long long)r.skipped_steps, r.final_train_loss);
  std::printf("checkpoint: %s\nmetrics:    %s\n", r.checkpoint_dir.c_str(), r.metrics_path.c_str());
  std::printf("dev accuracy %.4f  F1 %.4f  (majority class %.4f; best %.4f at step %lld)\n", r.dev.accuracy, r.dev.f1,
              r.dev.majority, r.best_dev.accuracy, (long long)r.best_step);
  return 0;
}
