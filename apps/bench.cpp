// dasg bench — timings that tests must not assert (DESIGN §9). `dasg bench attention` times the
// forward and backward of one attention layer (model/attention.hpp) at growing lengths T, batch 1:
//   gmha: groups of a fixed length L (groups = T / L), window w — the local attention costs
//         O(T·w·D), the per-group MLPs O(T·Hg·D), the aggregation O(T·(T/L)·D): linear in T while
//         T/L stays small;
//   full: standard multi-head attention, O(T²·D).
// For each it reports the best wall time of forward+backward and the CPU allocator's peak bytes
// above what was live before the step (engine/allocator.hpp), i.e. activations, saved tensors
// and gradients.
#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "dist/communicator.hpp"
#include "engine/allocator.hpp"
#include "engine/parallel.hpp"
#include "data/corpus.hpp"
#include "data/loader.hpp"
#include "data/tokenizer.hpp"
#include "engine/profiler.hpp"
#include "model/attention.hpp"
#include "model/model.hpp"
#include "apps/presets.hpp"
#include "ops/elementwise.hpp"
#include "train/optimizer.hpp"
#include "train/router_state.hpp"
#include "train/trainer.hpp"
#include "train/data_parallel.hpp"
#include "ops/reduce.hpp"

int bench_train_main(int argc, char** argv);     // below
int bench_generate_main(int argc, char** argv);  // apps/bench_generate.cpp

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg bench attention [flags]   (or: dasg bench train|generate --help)
Times forward+backward of one attention layer, batch 1, at each length T, and measures the CPU
allocator's peak memory above the step's start. ms is wall time, cpu-ms the process's CPU time
over all threads (steadier than wall time on a shared, loaded machine). GMHA keeps its group length L fixed (groups =
T / L), so it grows linearly in T; full attention grows quadratically.

  --layers LIST         comma-separated, of gmha, full, local (default gmha,full)
  --lengths LIST        comma-separated T values (default 1024,2048,4096,8192,16384)
  --group-len L         GMHA group length (default 256; T < L uses one group of length T)
  --window W            local window w, 1 <= w <= L (default L)
  --d-model D           model width (default 256)
  --heads H             attention heads, dividing D (default 4)
  --max-seconds S       above T = 8192, skip a run whose predicted time (from the previous
                        length, scaled by T for gmha/local and T^2 for full) exceeds S (default 60)
  --reps N              timed repetitions per point after one warm-up, best kept (default 3;
                        a point whose first run took over 2 s is run once)
Threads: DASG_NUM_THREADS (default: every core). DASG_PROFILE=1 adds the engine profiler's per-op-kind
table of each point's last run.
)";

namespace {

std::vector<std::string> split_commas(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& v : values) {
    std::stringstream ss(v);
    for (std::string item; std::getline(ss, item, ',');)
      if (!item.empty()) out.push_back(item);
  }
  return out;
}

// Lengths up to this always run; longer ones may be skipped by --max-seconds.
constexpr int64_t kAlwaysRunUpTo = 8192;

struct Point {
  bool ran = false;
  double ms = 0, cpu_ms = 0, mb = 0;  // wall time, process CPU time (all threads), peak MB
  std::string note;
  std::vector<dasg::profiler::Entry> profile;  // of the last run, when profiling
};

struct Options {
  int64_t group_len = 256, window = 0, d_model = 256, heads = 4, reps = 3;
  double max_seconds = 60;
  bool profile = false;  // DASG_PROFILE=1: the profiler's table of each point's last run
};

// The profiler's per-op-kind table, per step over `steps` profiled steps of `total_s` seconds;
// returns the summed forward and backward op seconds per step.
std::pair<double, double> print_profile(const std::vector<dasg::profiler::Entry>& entries, int64_t steps,
                                        double total_s) {
  std::printf("  %-26s %10s %8s %10s %8s %7s\n", "op kind", "fwd ms", "calls", "bwd ms", "calls", "share");
  double fsum = 0, bsum = 0;
  const double k = 1.0 / (double)steps;
  for (const dasg::profiler::Entry& e : entries) {
    fsum += e.seconds[0] * k;
    bsum += e.seconds[1] * k;
    std::printf("  %-26s %10.2f %8lld %10.2f %8lld %6.1f%%\n", e.name.c_str(), e.seconds[0] * k * 1e3,
                (long long)(e.calls[0] / steps), e.seconds[1] * k * 1e3, (long long)(e.calls[1] / steps),
                100.0 * (e.seconds[0] + e.seconds[1]) / total_s);
  }
  std::printf("  %-26s %10.2f %8s %10.2f\n", "(ops, summed)", fsum * 1e3, "", bsum * 1e3);
  return {fsum, bsum};
}

// One attention layer of `kind` for inputs of length T.
dasg::Config layer_config(const std::string& kind, int64_t T, const Options& o) {
  dasg::Config c;
  c.vocab_size = 16;
  c.max_seq_len = T;
  c.d_model = o.d_model;
  c.n_head = o.heads;
  c.n_layer = 1;
  c.d_ff = 4 * o.d_model;
  c.attention = kind;
  c.ffn = "dense";
  const int64_t L = kind == "full" ? T : std::min(o.group_len, T);
  DASG_CHECK(T % L == 0, "bench attention: T = ", T, " is not a multiple of the group length L = ", L,
             "; expected lengths divisible by --group-len");
  c.gmha.groups = T / L;
  c.gmha.window = kind == "full" ? T : std::min(o.window > 0 ? o.window : L, L);
  c.gmha.group_mlp_hidden = o.d_model / 8;
  c.moe.d_ff = c.moe.d_ff_deep = 2 * o.d_model;
  c.validate();
  return c;
}

struct Run {
  double wall_s, cpu_s, peak_bytes;
};

// Forward + backward once: wall and CPU seconds, peak bytes above the start.
Run run_once(const dasg::Attention& attn, dasg::Parameters& params, const dasg::Tensor& x,
                                   const dasg::BatchInfo& batch) {
  for (dasg::NamedTensor e : params.all()) e.tensor.zero_grad();
  dasg::Tensor xx = x;
  xx.zero_grad();
  const int64_t before = dasg::cpu_alloc_stats().in_use;
  dasg::cpu_reset_peak();
  const std::clock_t c0 = std::clock();
  const auto t0 = std::chrono::steady_clock::now();
  dasg::AttentionOutput out = attn.forward(x, batch);
  dasg::sum(out.out).backward();
  const auto t1 = std::chrono::steady_clock::now();
  const std::clock_t c1 = std::clock();
  const double peak = (double)(dasg::cpu_alloc_stats().peak - before);
  return {std::chrono::duration<double>(t1 - t0).count(), (double)(c1 - c0) / CLOCKS_PER_SEC, peak};
}

Point bench_point(const std::string& kind, int64_t T, const Options& o) {
  const dasg::Config cfg = layer_config(kind, T, o);
  dasg::Parameters params;
  dasg::Generator gen(1234);
  dasg::Attention attn(cfg, params, "attn", gen);
  dasg::Tensor x = dasg::Tensor::randn({1, T, o.d_model}, gen);
  x.requires_grad_(true);
  dasg::BatchInfo batch;
  batch.B = 1;
  batch.T = batch.N = T;
  batch.training = true;
  batch.length = {(int32_t)T};
  batch.n_real = T;
  batch.real_mask = dasg::Tensor::ones({T, 1});

  Point p;
  p.ran = true;
  if (o.profile) dasg::profiler::reset();  // a point run once is profiled whole
  const Run first = run_once(attn, params, x, batch);
  p.ms = first.wall_s * 1e3;
  p.cpu_ms = first.cpu_s * 1e3;
  p.mb = first.peak_bytes / (1024.0 * 1024.0);
  if (first.wall_s <= 2.0) {  // the first run was the warm-up
    p.ms = p.cpu_ms = 1e300;
    for (int64_t r = 0; r < std::max<int64_t>(o.reps, 1); ++r) {
      if (o.profile && r == std::max<int64_t>(o.reps, 1) - 1) dasg::profiler::reset();
      const Run run = run_once(attn, params, x, batch);
      p.ms = std::min(p.ms, run.wall_s * 1e3);
      p.cpu_ms = std::min(p.cpu_ms, run.cpu_s * 1e3);
      p.mb = std::max(p.mb, run.peak_bytes / (1024.0 * 1024.0));
    }
  }
  if (o.profile) p.profile = dasg::profiler::entries();
  return p;
}

}  // namespace

static int attention_main(int argc, char** argv) {
  std::string self = "bench attention";
  std::vector<char*> args = {self.data()};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  dasg::app::Flags flags({{"layers", FlagKind::list},
                          {"lengths", FlagKind::list},
                          {"group-len", FlagKind::value},
                          {"window", FlagKind::value},
                          {"d-model", FlagKind::value},
                          {"heads", FlagKind::value},
                          {"max-seconds", FlagKind::value},
                          {"reps", FlagKind::value}},
                         (int)args.size(), args.data());
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  Options o;
  o.group_len = flags.integer("group-len", 256);
  o.window = flags.integer("window", 0);
  o.d_model = flags.integer("d-model", 256);
  o.heads = flags.integer("heads", 4);
  o.max_seconds = flags.number("max-seconds", 60);
  o.reps = flags.integer("reps", 3);
  o.profile = dasg::profiler::enabled();
  if (o.group_len < 1 || o.d_model < 1 || o.heads < 1 || o.d_model % o.heads != 0)
    throw UsageError("dasg bench attention: expected --group-len >= 1 and --heads dividing --d-model");
  if (o.window != 0 && (o.window < 1 || o.window > o.group_len))
    throw UsageError(dasg::detail::concat("dasg bench attention: --window ", o.window, "; expected 1..", o.group_len,
                                          " (the group length)"));
  std::vector<std::string> layers = split_commas(flags.list("layers"));
  if (layers.empty()) layers = {"gmha", "full"};
  for (const std::string& l : layers)
    if (l != "gmha" && l != "full" && l != "local")
      throw UsageError("dasg bench attention: unknown layer '" + l + "'; expected gmha, full or local");
  std::vector<int64_t> lengths;
  std::vector<std::string> length_items = split_commas(flags.list("lengths"));
  if (length_items.empty()) length_items = {"1024", "2048", "4096", "8192", "16384"};
  for (const std::string& s : length_items) {
    char* end = nullptr;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (end == s.c_str() || *end != '\0' || v < 1)
      throw UsageError("dasg bench attention: --lengths holds '" + s + "'; expected positive integers");
    lengths.push_back(v);
  }

  std::printf("attention forward+backward, batch 1, d_model %lld, %lld heads, gmha L = %lld, w = %lld, "
              "group MLP %lld; %d threads\n",
              (long long)o.d_model, (long long)o.heads, (long long)o.group_len,
              (long long)(o.window > 0 ? o.window : o.group_len), (long long)(o.d_model / 8), dasg::num_threads());
  std::printf("%8s", "T");
  for (const std::string& l : layers)
    std::printf(" %10s %11s %10s", (l + " ms").c_str(), (l + " cpu-ms").c_str(), (l + " MB").c_str());
  std::printf("\n");
  std::fflush(stdout);

  std::vector<Point> last(layers.size());
  std::vector<int64_t> last_T(layers.size(), 0);
  std::vector<std::string> notes;
  std::vector<std::pair<std::string, Point>> profiles;
  for (int64_t T : lengths) {
    std::printf("%8lld", (long long)T);
    std::fflush(stdout);
    for (size_t k = 0; k < layers.size(); ++k) {
      const std::string& kind = layers[k];
      if (T > kAlwaysRunUpTo && last[k].ran && last_T[k] > 0) {
        const double r = (double)T / (double)last_T[k];
        const double predicted_s = last[k].ms / 1e3 * (kind == "full" ? r * r : r);
        if (predicted_s > o.max_seconds) {
          std::printf(" %10s %11s %10s", "skipped", "-", "-");
          notes.push_back(dasg::detail::concat(kind, " at T = ", T, " skipped: predicted ~", (int64_t)predicted_s,
                                               " s > --max-seconds ", o.max_seconds));
          continue;
        }
      }
      Point p = bench_point(kind, T, o);
      std::printf(" %10.1f %11.1f %10.1f", p.ms, p.cpu_ms, p.mb);
      std::fflush(stdout);
      if (o.profile) profiles.emplace_back(dasg::detail::concat(kind, " at T = ", T), p);
      last[k] = p;
      last_T[k] = T;
    }
    std::printf("\n");
  }
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  for (const auto& [what, p] : profiles) {
    std::printf("profile of %s (one forward+backward, %.1f ms):\n", what.c_str(), p.ms);
    print_profile(p.profile, 1, p.ms / 1e3);
  }
  return 0;
}

int bench_main(int argc, char** argv) {
  const bool help_only = argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"));
  if (help_only) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc < 2) throw UsageError("dasg bench: name a benchmark: dasg bench attention|train [flags]");
  if (!std::strcmp(argv[1], "attention")) return attention_main(argc, argv);
  if (!std::strcmp(argv[1], "train")) return bench_train_main(argc, argv);
  if (!std::strcmp(argv[1], "generate")) return bench_generate_main(argc, argv);
  throw UsageError(dasg::detail::concat("dasg bench: unknown benchmark '", argv[1],
                                        "'; expected attention, train or generate"));
}

// ---- dasg bench train ----------------------------------------------------------------------
// Thin driver over the model and optimizer API (model/model.hpp, train/optimizer.hpp): the same
// step as train/trainer.cpp (forward, backward, clip, AdamW, the router-state update) on Tiny Shakespeare bytes.

static const char* kTrainUsage = R"(usage: dasg bench train --config C [flags]
Times training steps of a model config: forward, backward, gradient clipping (1.0) and AdamW, on
batches of the default corpus (Tiny Shakespeare, bytes). Prints the median tokens/s of the steps
after the warm-up ones, the model GFLOP/s, and the engine profiler's per-op-kind breakdown of
forward and backward time (over --profile-steps extra steps, after the timed ones).
Model FLOPs: every GEMM of the step, forward and backward, 2·M·N·K, plus the attention kernel's
4·d per query-key pair forward and 8·d backward (the backward's recompute of the scores not counted).

  --config NAME|FILE    model config (a preset of train/configs or a JSON file), required;
                        engine/bench/configs/ holds the issue-13 rows
  --batch B             sequences per step (default 8)
  --seq-len T           tokens per sequence (default: the config's max_seq_len)
  --steps N             timed steps (default 10); the first --warmup-steps (default 2) are not counted
  --threads K           CPU threads (default DASG_NUM_THREADS, else every core)
  --route deep|shallow  dasg FFN only: force every token's tier (θs = θd = 0 or 1) and transfer at step 0
  --profile-steps P     profiled steps after the timed ones (default 2; 0 = no breakdown)
  --seed N              initialisation and data order (default 1337)
  --data DIR            token shards (default: the default corpus, byte tokenizer)
Under mpirun -np N (data parallel): --batch is each rank's, rank r reads its own order (seed + r),
the gradients are all-reduced every step (the trainer's all_reduce_gradients, timed apart), and
rank 0 reports the global tokens/s, the bytes all-reduced per step and the bandwidth of a lone
all-reduce of that many bytes. The 1-minute load average is printed with the timings.
)";

namespace {

// The 1-minute load average (the machine may be shared: timings are read beside it).
double load_average() {
  double l = -1;
  if (std::FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

struct StepTimes {
  double forward = 0, backward = 0, allreduce = 0, optimizer = 0, total = 0, cpu = 0;  // wall s; cpu: process CPU s
};

}  // namespace

int bench_train_main(int argc, char** argv) {
  std::string self = "bench train";
  std::vector<char*> args = {self.data()};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  dasg::app::Flags flags({{"config", FlagKind::value},
                          {"batch", FlagKind::value},
                          {"seq-len", FlagKind::value},
                          {"steps", FlagKind::value},
                          {"warmup-steps", FlagKind::value},
                          {"threads", FlagKind::value},
                          {"route", FlagKind::value},
                          {"profile-steps", FlagKind::value},
                          {"seed", FlagKind::value},
                          {"data", FlagKind::value}},
                         (int)args.size(), args.data());
  if (flags.help()) {
    std::fputs(kTrainUsage, stdout);
    return 0;
  }
  if (!flags.has("config")) throw UsageError("dasg bench train: --config is required (see --help)");
  dasg::Config cfg = dasg::app::load_config(flags.str("config", ""));
  const std::string route = flags.str("route", "");
  if (!route.empty()) {
    if (cfg.ffn != "dasg") throw UsageError("dasg bench train: --route needs a dasg FFN config");
    if (route != "deep" && route != "shallow")
      throw UsageError("dasg bench train: --route '" + route + "'; expected deep or shallow");
    cfg.adr.theta_s = cfg.adr.theta_d = route == "deep" ? 0.0 : 1.0;
    cfg.dsse.transfer_step = 0;
  }
  cfg.validate();
  const int64_t B = flags.integer("batch", 8), T = flags.integer("seq-len", cfg.max_seq_len);
  const int64_t steps = flags.integer("steps", 10), warm = flags.integer("warmup-steps", 2);
  const int64_t prof_steps = flags.integer("profile-steps", 2);
  if (B < 1 || T < 1 || T > cfg.max_seq_len || steps <= warm || warm < 0 || prof_steps < 0)
    throw UsageError("dasg bench train: expected --batch >= 1, 1 <= --seq-len <= max_seq_len, --steps > --warmup-steps");
  if (flags.has("threads")) dasg::set_num_threads((int)flags.integer("threads", 1));
  const uint64_t seed = (uint64_t)flags.integer("seed", 1337);
  std::string data_dir = flags.str("data", "");
  if (data_dir.empty()) {
    data_dir = dasg::data::default_corpus_dir("byte");
    if (!std::filesystem::exists(data_dir)) {
      auto tok = dasg::data::make_tokenizer("byte", "");
      dasg::data::tokenize_default_corpus(*tok, data_dir, {});
    }
  }

  const std::shared_ptr<dasg::dist::Communicator> comm = dasg::dist::from_launcher("dasg bench train");
  const int world = comm->size();
  if (comm->rank() != 0 && !std::freopen("/dev/null", "w", stdout))  // rank 0 reports
    throw dasg::Error("dasg bench train: cannot silence rank " + std::to_string(comm->rank()));
  const double load_start = load_average();
  dasg::Model model(cfg, seed);
  dasg::AdamW opt(dasg::optimizer_params(model.parameters()), dasg::AdamWOptions{0.9, 0.95, 1e-8, 0.1});
  dasg::data::TokenLoader loader(data_dir, "train", {B, T, cfg.vocab_size, seed + (uint64_t)comm->rank(), true});
  const int64_t total = steps + prof_steps;
  dasg::RouterState router(cfg);
  dasg::Generator gen(seed ^ 0x9E3779B97F4A7C15ull);
  model.train(true);
  const bool prof_env = dasg::profiler::enabled();
  std::vector<StepTimes> times;
  double last_loss = 0;
  for (int64_t step = 0; step < total; ++step) {
    if (step == steps) {  // the profiled steps
      dasg::profiler::reset();
      dasg::profiler::enable(true);
    }
    router.begin_step(model, step, total);
    dasg::data::Batch b = loader.next();
    dasg::Tensor tokens = dasg::Tensor::from_vector(b.inputs, {B, T});
    dasg::Tensor targets = dasg::Tensor::from_vector(b.targets, {B, T});
    StepTimes st;
    const std::clock_t c0 = std::clock();
    const double t0 = now_s();
    opt.zero_grad();
    dasg::ForwardResult r = model.forward(tokens, targets, dasg::Tensor(), gen);
    const dasg::Tensor loss = r.loss + router.policy_loss(r);
    const double t1 = now_s();
    (world > 1 ? loss * (1.0 / world) : loss).backward();  // Σ over ranks: the global mean's gradient
    const double t2 = now_s();
    dasg::all_reduce_gradients(*comm, opt.params());
    const double t2r = now_s();
    dasg::clip_grad_norm(opt.params(), 1.0);
    opt.step(dasg::learning_rate(step, 2, total, 1e-3, 1e-4));
    router.end_step(model);
    const double t3 = now_s();
    last_loss = loss.item();
    st = {t1 - t0, t2 - t1, t2r - t2, t3 - t2r, t3 - t0, (double)(std::clock() - c0) / CLOCKS_PER_SEC};
    times.push_back(st);
  }
  dasg::profiler::enable(prof_env);

  // Median of the timed steps after the warm-up.
  auto median = [&](double StepTimes::*f) {
    std::vector<double> v;
    for (int64_t i = warm; i < steps; ++i) v.push_back(times[(size_t)i].*f);
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  };
  const double med = median(&StepTimes::total);
  const double tokens = (double)(B * T * world);
  std::printf("bench train: %s, batch %lld x %lld, %d threads, %lld timed steps (median of the last %lld)%s\n",
              flags.str("config", "").c_str(), (long long)B, (long long)T, dasg::num_threads(), (long long)steps,
              (long long)(steps - warm), world > 1 ? (", per rank of " + std::to_string(world)).c_str() : "");
  std::printf("step %.1f ms (forward %.1f, backward %.1f, all-reduce %.1f, clip+optimizer %.1f): %.0f tok/s%s; "
              "last loss %.4f; load average %.2f -> %.2f\n",
              med * 1e3, median(&StepTimes::forward) * 1e3, median(&StepTimes::backward) * 1e3,
              median(&StepTimes::allreduce) * 1e3, median(&StepTimes::optimizer) * 1e3, tokens / med,
              world > 1 ? " (all ranks)" : "", last_loss, load_start, load_average());
  if (world > 1) {
    // The gradients' bytes, and a lone all-reduce of that many bytes (median of 5) for its bandwidth.
    int64_t bytes = 0;
    for (const dasg::NamedParam& p : opt.params())  // those some rank reached (all_reduce_gradients sends no others)
      if (p.tensor.grad().defined()) bytes += p.tensor.numel() * (int64_t)dasg::dtype_size(p.tensor.dtype());
    dasg::Tensor flat = dasg::Tensor::zeros({bytes / 4});
    std::vector<double> t;
    for (int i = 0; i < 5; ++i) {
      comm->barrier();
      const double a = now_s();
      comm->all_reduce_sum(std::vector<dasg::Tensor>{flat});
      t.push_back(now_s() - a);
    }
    std::sort(t.begin(), t.end());
    const double algbw = (double)bytes / t[2] / 1e9;
    std::printf("data parallel over %d ranks (%s): global batch %lld sequences; %.2f MB of gradients all-reduced per "
                "step (f32); a lone all-reduce of them %.2f ms = %.2f GB/s algorithm bandwidth, %.2f GB/s bus "
                "bandwidth (x 2(N-1)/N, the ring's traffic per rank)\n",
                world, comm->backend().c_str(), (long long)(B * world), (double)bytes / 1e6, t[2] * 1e3, algbw,
                algbw * 2.0 * (world - 1) / world);
  }
  const double cpu = median(&StepTimes::cpu);
  std::printf("process CPU time %.1f ms/step over all threads (%.2f cores busy; steadier than wall time on a "
              "shared machine)\n", cpu * 1e3, cpu / med);
  if (prof_steps == 0) return 0;
  const double flops = dasg::profiler::flops() / (double)prof_steps;
  double prof_total = 0;
  for (int64_t i = steps; i < total; ++i) prof_total += times[(size_t)i].total;
  std::printf("model FLOPs %.2f MFLOP/token, %.1f GFLOP/s at the median step\n", flops / tokens / 1e6,
              flops / med / 1e9);
  std::printf("profile over %lld steps (%.1f ms/step), per step:\n", (long long)prof_steps,
              prof_total / (double)prof_steps * 1e3);
  const auto [fsum, bsum] = print_profile(dasg::profiler::entries(), prof_steps, prof_total);
  const double k = 1.0 / (double)prof_steps;
  double pf = 0, pb = 0, po = 0;
  for (int64_t i = steps; i < total; ++i) {
    pf += times[(size_t)i].forward * k;
    pb += times[(size_t)i].backward * k;
    po += times[(size_t)i].optimizer * k;
  }
  std::printf("  %-26s %10.2f %8s %10.2f   (model code between ops, graph walk)\n", "(outside ops)",
              (pf - fsum) * 1e3, "", (pb - bsum) * 1e3);
  std::printf("  %-26s %10.2f   (clip + AdamW + end_step)\n", "(optimizer)", po * 1e3);
  return 0;
}
