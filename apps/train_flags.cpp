// The shared training flags (see train_flags.hpp).
#include "apps/train_flags.hpp"

#include <cstdio>
#include <sstream>

namespace dasg::app {

std::vector<FlagSpec> training_flag_specs() {
  return {{"device", FlagKind::value},     {"precision", FlagKind::value}, {"out", FlagKind::value},          {"resume", FlagKind::value},
          {"steps", FlagKind::value},      {"batch", FlagKind::value},        {"grad-accum", FlagKind::value},
          {"lr", FlagKind::value},         {"min-lr", FlagKind::value},       {"warmup", FlagKind::value},
          {"optimizer", FlagKind::value},  {"beta1", FlagKind::value},        {"beta2", FlagKind::value},
          {"momentum", FlagKind::value},   {"weight-decay", FlagKind::value}, {"grad-clip", FlagKind::value},
          {"eval-every", FlagKind::value}, {"ckpt-every", FlagKind::value},   {"seed", FlagKind::value},
          {"quiet", FlagKind::toggle},     {"tensorboard", FlagKind::toggle}, {"no-tensorboard", FlagKind::toggle},
          {"dist-timeout", FlagKind::value}, {"expert-parallel", FlagKind::toggle}};
}

void read_training_flags(const Flags& f, TrainOptions& o) {
  o.device = f.str("device", o.device);
  o.precision = f.str("precision", o.precision);
  o.out_dir = f.str("out", o.out_dir);
  o.resume = f.str("resume", o.resume);
  o.steps = f.integer("steps", o.steps);
  o.batch = f.integer("batch", o.batch);
  o.grad_accum = f.integer("grad-accum", o.grad_accum);
  o.lr = f.number("lr", o.lr);
  o.min_lr = f.number("min-lr", o.min_lr);
  o.warmup = f.integer("warmup", o.warmup);
  o.optimizer = f.str("optimizer", o.optimizer);
  o.beta1 = f.number("beta1", o.beta1);
  o.beta2 = f.number("beta2", o.beta2);
  o.momentum = f.number("momentum", o.momentum);
  o.weight_decay = f.number("weight-decay", o.weight_decay);
  o.grad_clip = f.number("grad-clip", o.grad_clip);
  o.eval_every = f.integer("eval-every", o.eval_every);
  o.ckpt_every = f.integer("ckpt-every", o.ckpt_every);
  o.seed = (uint64_t)f.integer("seed", (int64_t)o.seed);
  o.quiet = o.quiet || f.has("quiet");
  o.expert_parallel = o.expert_parallel || f.has("expert-parallel");
  if (f.has("tensorboard") && f.has("no-tensorboard")) throw UsageError("give --tensorboard or --no-tensorboard, not both");
  if (f.has("tensorboard")) o.tensorboard = true;
  if (f.has("no-tensorboard")) o.tensorboard = false;
  if (o.steps <= 0 || o.batch <= 0 || o.grad_accum <= 0)
    throw UsageError("--steps, --batch and --grad-accum must be positive");
  if (o.warmup < 0 || o.eval_every < 0 || o.ckpt_every < 0)
    throw UsageError("--warmup, --eval-every and --ckpt-every must be >= 0");
  if (!(o.lr > 0) || !(o.weight_decay >= 0) || !(o.grad_clip >= 0))
    throw UsageError("--lr must be > 0, --weight-decay and --grad-clip >= 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1) || !(o.momentum >= 0 && o.momentum < 1))
    throw UsageError("--beta1, --beta2 and --momentum must be in [0, 1)");
  if (o.optimizer != "adamw" && o.optimizer != "sgd") throw UsageError("--optimizer '" + o.optimizer + "'; expected adamw or sgd");
  if (o.precision != "f32" && o.precision != "bf16")
    throw UsageError("--precision '" + o.precision + "'; expected f32 or bf16");
  parse_device(o.device);  // a bad name is a usage error here; a missing backend is reported by the run
}

std::shared_ptr<dist::Communicator> join_ranks(const Flags& f, const std::string& who, TrainOptions& o) {
  dist::CommOptions c;
  c.timeout_s = f.number("dist-timeout", c.timeout_s);
  if (!(c.timeout_s > 0)) throw UsageError("--dist-timeout must be > 0");
  std::shared_ptr<dist::Communicator> comm = dist::from_launcher(who, c);
  o.comm = comm;
  if (comm->rank() != 0) {  // rank 0 reports; the others only train
    o.quiet = true;
    if (!std::freopen("/dev/null", "w", stdout)) throw Error(who + ": cannot silence the output of rank " +
                                                            std::to_string(comm->rank()));
  }
  return comm;
}

std::string training_flags_help(const TrainOptions& d) {
  std::ostringstream s;
  s << "  --device cpu|cuda|cuda:N  where the model, its optimizer state and every activation live\n"
       "                        (default " << d.device << ")\n"
       "  --precision f32|bf16  bf16: mixed precision on CUDA — the GEMMs take bf16 operands cast\n"
       "                        from the f32 weights, which the checkpoint keeps (default " << d.precision << ")\n"
       "  --out DIR             checkpoint/ and metrics.jsonl go here\n"
       "  --resume DIR          continue from a checkpoint directory (bit-identical on the CPU; any\n"
       "                        device may resume a checkpoint written on any other)\n"
       "  --steps N             optimizer steps (default " << d.steps << ")\n"
       "  --batch B             sequences per micro-batch (default " << d.batch << ")\n"
       "  --grad-accum K        micro-batches per step (default " << d.grad_accum << ")\n"
       "  --lr X                peak learning rate (default " << d.lr << "); --min-lr X (default lr/10)\n"
       "  --warmup N            linear warm-up steps (default " << d.warmup << ")\n"
       "  --optimizer adamw|sgd (default " << d.optimizer << ")\n"
       "  --beta1 X --beta2 X   AdamW's moment decays (default " << d.beta1 << ", " << d.beta2 << ")\n"
       "  --momentum X          SGD's momentum (default " << d.momentum << ")\n"
       "  --weight-decay X      decoupled decay on matrices (default " << d.weight_decay << ")\n"
       "  --grad-clip X         global gradient-norm clip, 0 = off (default " << d.grad_clip << ")\n"
       "  --eval-every N        evaluation every N steps, 0 = only at the end (default " << d.eval_every << ")\n"
       "  --ckpt-every N        checkpoint every N steps, 0 = only at the end (default " << d.ckpt_every << ")\n"
       "  --seed N              initialisation, data order and sampling (default " << d.seed << ")\n"
       "  --quiet               no progress display\n"
       "  --tensorboard, --no-tensorboard  write (or not) a TensorBoard event file of every metric\n"
       "                        beside metrics.jsonl (default " << (d.tensorboard ? "on" : "off") << ")\n"
       "  --dist-timeout S      under mpirun: a collective waiting longer than S seconds (a rank died\n"
       "                        or hangs) aborts every rank (default " << dist::CommOptions{}.timeout_s << ")\n"
       "Data parallel: mpirun -np N dasg ... runs N ranks; --batch stays each rank's micro-batch (the\n"
       "global batch, N x batch x grad-accum, is printed); rank 0 writes the checkpoint and metrics.\n"
       "  --expert-parallel     with N ranks: each holds n_experts/N of every tier's experts (dasg,\n"
       "                        switch); tokens reach them by all-to-all; the checkpoint is one process's\n";
  return s.str();
}

}  // namespace dasg::app
