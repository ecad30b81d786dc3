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
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "engine/allocator.hpp"
#include "engine/parallel.hpp"
#include "model/attention.hpp"
#include "ops/reduce.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg bench attention [flags]
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
Threads: DASG_NUM_THREADS (default: every core).
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
};

struct Options {
  int64_t group_len = 256, window = 0, d_model = 256, heads = 4, reps = 3;
  double max_seconds = 60;
};

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
  const Run first = run_once(attn, params, x, batch);
  p.ms = first.wall_s * 1e3;
  p.cpu_ms = first.cpu_s * 1e3;
  p.mb = first.peak_bytes / (1024.0 * 1024.0);
  if (first.wall_s <= 2.0) {  // the first run was the warm-up
    p.ms = p.cpu_ms = 1e300;
    for (int64_t r = 0; r < std::max<int64_t>(o.reps, 1); ++r) {
      const Run run = run_once(attn, params, x, batch);
      p.ms = std::min(p.ms, run.wall_s * 1e3);
      p.cpu_ms = std::min(p.cpu_ms, run.cpu_s * 1e3);
      p.mb = std::max(p.mb, run.peak_bytes / (1024.0 * 1024.0));
    }
  }
  return p;
}

}  // namespace

int bench_main(int argc, char** argv) {
  const bool help_only = argc >= 2 && (!std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h"));
  if (help_only) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc < 2) throw UsageError("dasg bench: name a benchmark: dasg bench attention [flags]");
  if (std::strcmp(argv[1], "attention") != 0)
    throw UsageError(dasg::detail::concat("dasg bench: unknown benchmark '", argv[1], "'; expected attention"));
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
      last[k] = p;
      last_T[k] = T;
    }
    std::printf("\n");
  }
  for (const std::string& n : notes) std::printf("note: %s\n", n.c_str());
  return 0;
}
