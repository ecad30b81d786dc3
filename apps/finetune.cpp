// dasg finetune — fine-tunes an encoder with train/classifier.hpp's loop on a GLUE task (SST-2 or
// MRPC) or on a long-range synthetic task (ListOps or associative recall, data/synthetic.hpp),
// from scratch (a config) or from a pretrained checkpoint (causal or encoder).
#include <cstdio>
#include <filesystem>

#include "apps/flags.hpp"
#include "apps/train_flags.hpp"
#include "apps/presets.hpp"
#include "data/glue.hpp"
#include "data/synthetic.hpp"
#include "model/safetensors.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static std::string usage() {
  const dasg::ClassifierOptions d;
  const dasg::data::SyntheticTask st;
  return std::string(R"(usage: dasg finetune --task sst2|mrpc|listops|recall [flags]
Fine-tunes an encoder (causal false, max_seq_len = --seq-len) on a GLUE task (2 classes) or a
long-range synthetic task, reports dev accuracy and F1 (binary: of class 1; more classes: macro)
beside the majority-class accuracy — and, for the synthetic tasks, the same on a held-out test
split after the last step — and writes a checkpoint. The training loop is `dasg train`'s
(accumulation, clipping, the non-finite guard, periodic evaluation and checkpoints, resume).

  --task NAME           sst2 or mrpc (GLUE), listops (LRA's rules: MIN MAX MED SM over digits,
                        10 classes, vocabulary 16) or recall (associative recall: key-value pairs,
                        then a query key; n_values classes) (required)
  --checkpoint DIR      start from a pretrained checkpoint (causal or encoder): its config made an
                        encoder, every parameter whose name and shape match copied, the head cls.*
                        fresh, wpe.weight cropped to the first seq-len positions (or, when the
                        checkpoint's are fewer, its rows copied and the rest fresh)
  --config NAME|FILE    or start from scratch with a config: a preset of train/configs
                        (dasg-tiny, switch-tiny, ...) or a JSON file (default dasg-tiny)
  --glue-dir DIR        GLUE's folder holding SST-2/ and MRPC/ (default $DASG_GLUE_DIR, else
                        ../shared/data/glue beside the source tree)
  --seq-len T           tokens per sequence (GLUE: longer ones are truncated, default 128;
                        listops: the maximum length, samples kept when --min-len < n < T, default )") +
         std::to_string(st.listops.max_length) + R"(;
                        recall: every sequence's length, even, default )" + std::to_string(st.recall.length) + R"().
                        The group length L = max_seq_len / gmha.groups is kept if it divides T
                        (else the group count)
  --eval-batch N        dev sequences per evaluation batch (default )" +
         std::to_string(d.eval_batch) + R"()
synthetic tasks only (generated from --data-seed, the same splits whatever --seed):
  --train-size N --dev-size N --test-size N   split sizes (default )" +
         std::to_string(st.n_train) + ", " + std::to_string(st.n_dev) + ", " + std::to_string(st.n_test) + R"()
  --data-seed N         the generator's seed (default )" + std::to_string(st.seed) + R"()
  --min-len N           listops: the minimum length, exclusive (default )" + std::to_string(st.listops.min_length) + R"()
  --keys N --values N   recall: distinct keys and values (default )" + std::to_string(st.recall.n_keys) + ", " +
         std::to_string(st.recall.n_values) + ")\n" + dasg::app::training_flags_help(d) + R"(  (--out defaults to runs/finetune-<task>-<name>)

The tokenizer follows the model's vocabulary: 256 = byte, >= 50257 = GPT-2's BPE. The DSSE
transfer of a dasg model happens at its configured step of this run (unless the checkpoint had
already transferred); the evaluator's running statistics and the REINFORCE baselines re-start
from the fine-tuning data. --resume continues a fine-tuning run (give the same --task, --config
or --checkpoint and --seq-len).
)";
}

namespace {

bool is_glue(const std::string& task) { return task == "sst2" || task == "mrpc"; }

// The synthetic task's generator options and split sizes from the flags (defaults: SyntheticTask{}).
dasg::data::SyntheticTask synthetic_task(const dasg::app::Flags& flags, const std::string& name) {
  dasg::data::SyntheticTask t;
  t.name = name;
  t.n_train = flags.integer("train-size", t.n_train);
  t.n_dev = flags.integer("dev-size", t.n_dev);
  t.n_test = flags.integer("test-size", t.n_test);
  t.seed = (uint64_t)flags.integer("data-seed", (int64_t)t.seed);
  t.listops.max_length = flags.integer("seq-len", t.listops.max_length);
  t.listops.min_length = flags.integer("min-len", t.listops.min_length);
  t.recall.length = flags.integer("seq-len", t.recall.length);
  t.recall.n_keys = (int)flags.integer("keys", t.recall.n_keys);
  t.recall.n_values = (int)flags.integer("values", t.recall.n_values);
  if (t.n_train <= 0 || t.n_dev <= 0 || t.n_test <= 0)
    throw UsageError("dasg finetune: --train-size, --dev-size and --test-size must be positive");
  if (name == "listops" && (flags.has("keys") || flags.has("values")))
    throw UsageError("dasg finetune: --keys and --values are recall's flags");
  if (name == "recall" && flags.has("min-len")) throw UsageError("dasg finetune: --min-len is listops' flag");
  if (name == "listops" && !(t.listops.min_length >= 0 && t.listops.min_length + 1 < t.listops.max_length))
    throw UsageError("dasg finetune: listops keeps samples with --min-len < length < --seq-len; --min-len " +
                     std::to_string(t.listops.min_length) + " and --seq-len " + std::to_string(t.listops.max_length) +
                     " leave no length (give a smaller --min-len)");
  return t;
}

}  // namespace

int finetune_main(int argc, char** argv) {
  std::vector<dasg::app::FlagSpec> specs = dasg::app::training_flag_specs();
  specs.insert(specs.end(), {{"task", FlagKind::value},       {"checkpoint", FlagKind::value},
                             {"config", FlagKind::value},     {"glue-dir", FlagKind::value},
                             {"seq-len", FlagKind::value},    {"eval-batch", FlagKind::value},
                             {"train-size", FlagKind::value}, {"dev-size", FlagKind::value},
                             {"test-size", FlagKind::value},  {"data-seed", FlagKind::value},
                             {"min-len", FlagKind::value},    {"keys", FlagKind::value},
                             {"values", FlagKind::value}});
  dasg::app::Flags flags(specs, argc, argv);
  if (flags.help()) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (!flags.has("task")) throw UsageError("dasg finetune: --task sst2|mrpc|listops|recall is required");
  const std::string task = flags.str("task", "");
  if (!is_glue(task) && task != "listops" && task != "recall")
    throw UsageError("dasg finetune: --task '" + task + "'; expected sst2, mrpc, listops or recall");
  if (flags.has("checkpoint") && flags.has("config"))
    throw UsageError("dasg finetune: give --checkpoint or --config, not both");
  if (is_glue(task))
    for (const char* f : {"train-size", "dev-size", "test-size", "data-seed", "min-len", "keys", "values"})
      if (flags.has(f)) throw UsageError(std::string("dasg finetune: --") + f + " is for the synthetic tasks only");
  if (!is_glue(task) && flags.has("glue-dir")) throw UsageError("dasg finetune: --glue-dir is for sst2 and mrpc only");

  dasg::ClassifierOptions o;
  const dasg::data::SyntheticTask st = is_glue(task) ? dasg::data::SyntheticTask{} : synthetic_task(flags, task);
  const int64_t T = is_glue(task) ? flags.integer("seq-len", 128) : st.T();
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
  o.model = dasg::encoder_config(base, T, is_glue(task) ? 2 : st.n_classes());
  if (!is_glue(task)) {
    o.model.vocab_size = st.vocab_size();  // the task's own ids; a checkpoint's wte stays fresh unless it matches
    o.model.validate();
  }
  o.out_dir = "runs/finetune-" + task + "-" + name;
  dasg::app::read_training_flags(flags, o);
  o.extra_state = {{"task", task}, {"seq_len", T}};
  std::shared_ptr<dasg::dist::Communicator> comm = dasg::app::join_ranks(flags, "dasg finetune", o);
  return dasg::dist::run_or_abort(*comm, [&]() -> int {

    dasg::data::ClassificationSet train, dev, test;
    if (is_glue(task)) {
      auto tok = dasg::tokenizer_for_vocab(o.model.vocab_size);
      const std::string glue_dir = flags.str("glue-dir", dasg::default_glue_dir(DASG_SOURCE_DIR));
      const dasg::data::GlueTask gt = dasg::data::parse_glue_task(task);
      train = dasg::data::read_glue(dasg::glue_file(glue_dir, task, "train"), gt, *tok, T);
      dev = dasg::data::read_glue(dasg::glue_file(glue_dir, task, "dev"), gt, *tok, T);
      int64_t truncated = 0;
      for (int32_t n : dev.lengths) truncated += n == T;
      std::printf("finetune %s: %lld train / %lld dev examples (%s tokenizer, seq_len %lld; %lld dev examples fill it)\n",
                  task.c_str(), (long long)train.size(), (long long)dev.size(), tok->name().c_str(), (long long)T,
                  (long long)truncated);
    } else {
      o.extra_state["data"] = {{"seed", st.seed}, {"train", st.n_train}, {"dev", st.n_dev}, {"test", st.n_test}};
      dasg::data::SyntheticSplits s = dasg::data::generate_splits(st);
      train = std::move(s.train), dev = std::move(s.dev), test = std::move(s.test);
      double mean_len = 0;
      for (int32_t n : train.lengths) mean_len += n;
      std::printf("finetune %s: %lld train / %lld dev / %lld test examples (data seed %llu, seq_len %lld, mean train "
                  "length %.0f, %lld classes, vocabulary %lld)\n",
                  task.c_str(), (long long)train.size(), (long long)dev.size(), (long long)test.size(),
                  (unsigned long long)st.seed, (long long)T, mean_len / (double)train.size(),
                  (long long)o.model.n_classes, (long long)o.model.vocab_size);
    }
    std::printf("model: ffn %s, attention %s, %lld layers, d_model %lld, gmha groups %lld (L %lld)%s%s\n",
                o.model.ffn.c_str(), o.model.attention.c_str(), (long long)o.model.n_layer, (long long)o.model.d_model,
                (long long)o.model.gmha.groups, (long long)o.model.group_len(), o.init_checkpoint.empty() ? "" : ", from ",
                o.init_checkpoint.c_str());
    std::fflush(stdout);

    dasg::ClassifierResult r = dasg::train_classifier(o, train, dev, is_glue(task) ? nullptr : &test);
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
    const char* f1 = o.model.n_classes > 2 ? "macro F1" : "F1";
    std::printf("dev accuracy %.4f  %s %.4f  (majority class %.4f; best %.4f at step %lld)\n", r.dev.accuracy, f1,
                r.dev.f1, r.dev.majority, r.best_dev.accuracy, (long long)r.best_step);
    if (r.test.n > 0)
      std::printf("test accuracy %.4f  %s %.4f  (majority class %.4f; %lld examples, the model after the last step)\n",
                  r.test.accuracy, f1, r.test.f1, r.test.majority, (long long)r.test.n);
    return 0;
  });
}
