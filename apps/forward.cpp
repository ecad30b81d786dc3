// dasg forward — the parity dump (DESIGN §8): reads a batch from token/label/length shards, runs
// the model's evaluation forward with the training graph (model/parity_dump.hpp), differentiates
// loss.total and writes logits, losses, per-layer routing and every trainable parameter's
// gradient to one safetensors file.
#include <cstdio>

#include "apps/flags.hpp"
#include "apps/presets.hpp"
#include "data/shard.hpp"
#include "model/parity_dump.hpp"
#include "model/safetensors.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg forward --config C --weights W.safetensors --tokens X.bin [--targets Y.bin]
                    [--lengths N.bin] --batch B --out O.safetensors
The parity dump (DESIGN.md §8): one evaluation forward (nothing sampled, running statistics
frozen, the middle band decided by pi >= 0.5, dropout off) differentiated with the training
graph (every DSMoE block computed, Switch capacity applied).

  --config NAME|FILE    model config: a preset of train/configs or a JSON file
  --device cpu|cuda|cuda:N  where the model runs (default cpu)
  --weights FILE        model.safetensors with every parameter of DESIGN.md §8; its metadata's
                        deep_active ("true" once the DSSE transfer happened; missing = true)
  --tokens FILE         token shard holding B*T tokens (each < vocab_size); T = count / B
  --targets FILE        optional: B*T next tokens (causal LM) or B class labels (encoder)
  --lengths FILE        optional, encoders only: B sequence lengths in 1..T (absent: all T)
  --batch B             sequences in the batch
  --out FILE            the dump: logits, loss.{total,ce,balance,z,sparsity,policy},
                        layers.l.{C,I,s,pi,tier} (dasg FFN only), grad.<name>; all f32
)";

int forward_main(int argc, char** argv) {
  dasg::app::Flags flags({{"device", FlagKind::value}, {"config", FlagKind::value},
                          {"weights", FlagKind::value},
                          {"tokens", FlagKind::value},
                          {"targets", FlagKind::value},
                          {"lengths", FlagKind::value},
                          {"batch", FlagKind::value},
                          {"out", FlagKind::value}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  for (const char* required : {"config", "weights", "tokens", "batch", "out"})
    if (!flags.has(required)) throw UsageError(dasg::detail::concat("dasg forward: --", required, " is required"));

  const dasg::Config cfg = dasg::app::load_config(flags.str("config", ""));
  dasg::DumpInput in;
  in.batch = flags.integer("batch", 1);
  if (in.batch < 1) throw UsageError(dasg::detail::concat("dasg forward: --batch ", in.batch, "; expected B >= 1"));
  const std::string tokens = flags.str("tokens", ""), targets = flags.str("targets", ""),
                    lengths = flags.str("lengths", "");
  in.tokens_name = "--tokens " + tokens;
  in.targets_name = "--targets " + targets;
  in.lengths_name = "--lengths " + lengths;
  // The shard reader checks each value's range and names the file; the rest is checked by
  // check_dump_input (sizes, T, lengths only for an encoder) before the weights are read.
  in.tokens = dasg::data::read_shard(tokens, dasg::data::ShardKind::tokens, cfg.vocab_size);
  const int64_t T = dasg::dump_seq_len(cfg, in.batch, (int64_t)in.tokens.size(), in.tokens_name);
  if (flags.has("targets"))
    in.targets = cfg.causal ? dasg::data::read_shard(targets, dasg::data::ShardKind::tokens, cfg.vocab_size)
                            : dasg::data::read_shard(targets, dasg::data::ShardKind::labels, cfg.n_classes);
  if (flags.has("lengths")) {
    DASG_CHECK(!cfg.causal, "forward dump: ", in.lengths_name, " given for a causal model; sequence lengths "
               "(padding) are for encoders only (causal: false)");
    in.lengths = dasg::data::read_shard(lengths, dasg::data::ShardKind::lengths, T);
  }
  dasg::check_dump_input(cfg, in);

  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  dasg::Model model(cfg);
  const std::string weights = flags.str("weights", "");
  dasg::check_all_finite(dasg::read_safetensors(weights).tensors, weights);  // no dump of garbage
  model.load(weights);
  model.to(device);
  std::vector<std::pair<std::string, dasg::Tensor>> dump = dasg::parity_dump(model, in);
  const std::string out = flags.str("out", "");
  dasg::write_safetensors(out, dump,
                          {{"config", cfg.to_json().dump()},
                           {"deep_active", model.deep_active() ? "true" : "false"},
                           {"batch", std::to_string(in.batch)},
                           {"seq_len", std::to_string(T)}});
  double total = 0;
  for (const auto& [name, t] : dump)
    if (name == "loss.total") total = t.item();
  std::printf("wrote %zu tensors to %s (B = %lld, T = %lld, loss.total = %.6f)\n", dump.size(), out.c_str(),
              (long long)in.batch, (long long)T, total);
  return 0;
}
