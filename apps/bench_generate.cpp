// dasg bench generate — the speed and memory of incremental generation (train/generate.hpp):
// for each N of --tokens, B prompts of P tokens are prefilled and N tokens generated per prompt
// through the decode state (slides included), reporting prefill tokens/s, decode tokens/s and
// time per token, and the decode state's bytes. Then today's recompute path — a forward over
// the last max_seq_len tokens for every token, as `dasg generate` did before issue 15 — is timed
// on a full context, in the same run, for the speed-up. Timings only, never asserted (DESIGN §9).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "apps/presets.hpp"
#include "autograd/node.hpp"
#include "engine/allocator.hpp"
#include "engine/parallel.hpp"
#include "engine/profiler.hpp"
#include "model/model.hpp"
#include "ops/shape.hpp"
#include "train/checkpoint.hpp"
#include "train/generate.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kGenerateUsage = R"(usage: dasg bench generate (--config C | --checkpoint DIR) [flags]
Times incremental generation: for each N of --tokens, --batch prompts of --prompt-len
pseudo-random tokens are prefilled (one forward each), then N tokens are generated per prompt
(greedy) through the decode state, sliding the context by the rule of `dasg generate --help`.
Prints prefill tokens/s, decode tokens/s, decode ms per token (per sequence: wall time / tokens
generated, re-prefills at slides included), the slides, and the decode state's size. Then times
today's recompute path — one forward over the last max_seq_len tokens per token (what `dasg
generate` did before) — on a full context, and the speed-up of the cached decode over it.

  --config NAME|FILE    model config (preset or JSON), random weights from --seed; a dasg FFN
                        gets its DSSE transfer first, so both tiers are in use
  --checkpoint DIR      or a trained checkpoint
  --prompt-len P        prompt tokens (default 64; at most max_seq_len)
  --tokens N...         generated tokens per prompt, one run each (default 256 1024 4096 16384)
  --batch B             prompts generated together (default 1)
  --recompute-tokens R  tokens timed on the recompute path (default 32; 0 = skip it)
  --device D            cpu|cuda|cuda:N (default cpu)
  --threads K           CPU threads (default DASG_NUM_THREADS, else every core)
  --seed S              weights (with --config) and prompts (default 1337)
With DASG_PROFILE=1 in the environment, the engine profiler's per-op table of the generation
runs is printed too.
)";

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

int bench_generate_main(int argc, char** argv) {
  std::string self = "bench generate";
  std::vector<char*> args = {self.data()};
  for (int i = 2; i < argc; ++i) args.push_back(argv[i]);
  dasg::app::Flags flags({{"config", FlagKind::value},
                          {"checkpoint", FlagKind::value},
                          {"prompt-len", FlagKind::value},
                          {"tokens", FlagKind::list},
                          {"batch", FlagKind::value},
                          {"recompute-tokens", FlagKind::value},
                          {"device", FlagKind::value},
                          {"threads", FlagKind::value},
                          {"seed", FlagKind::value}},
                         (int)args.size(), args.data());
  if (flags.help()) {
    std::fputs(kGenerateUsage, stdout);
    return 0;
  }
  if (flags.has("config") == flags.has("checkpoint"))
    throw UsageError("dasg bench generate: give exactly one of --config C and --checkpoint DIR (see --help)");
  if (flags.has("threads")) dasg::set_num_threads((int)flags.integer("threads", 1));
  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  const uint64_t seed = (uint64_t)flags.integer("seed", 1337);
  std::unique_ptr<dasg::Model> model;
  if (flags.has("config")) {
    model = std::make_unique<dasg::Model>(dasg::app::load_config(flags.str("config", "")), seed, device);
    if (model->config().ffn == "dasg") model->transfer_dsse();
  } else {
    model = dasg::load_model(flags.str("checkpoint", ""), device);
  }
  const dasg::Config& cfg = model->config();
  if (!cfg.causal) throw UsageError("dasg bench generate: the model is an encoder; generation needs a causal one");
  const int64_t P = flags.integer("prompt-len", 64), B = flags.integer("batch", 1);
  const int64_t R = flags.integer("recompute-tokens", 32);
  if (P < 1 || P > cfg.max_seq_len || B < 1 || R < 0)
    throw UsageError("dasg bench generate: expected 1 <= --prompt-len <= max_seq_len, --batch >= 1, --recompute-tokens >= 0");
  std::vector<int64_t> counts;
  for (const std::string& s : flags.list("tokens")) counts.push_back(std::stoll(s));
  if (counts.empty()) counts = {256, 1024, 4096, 16384};
  for (int64_t n : counts)
    if (n < 1) throw UsageError("dasg bench generate: every --tokens value must be >= 1");

  dasg::Generator prompt_gen(seed ^ 0x5bd1e995ull);
  const int64_t V = std::min<int64_t>(cfg.vocab_size, 256);
  std::vector<std::vector<int32_t>> prompts((size_t)B);
  for (auto& p : prompts)
    for (int64_t i = 0; i < P; ++i) p.push_back((int32_t)(prompt_gen.next_uniform() * (double)V) % (int32_t)V);

  std::printf("config: ffn %s, attention %s, max_seq_len %lld, d_model %lld, n_layer %lld; device %s, %d threads; "
              "batch %lld, prompt %lld tokens; slide %lld tokens\n",
              cfg.ffn.c_str(), cfg.attention.c_str(), (long long)cfg.max_seq_len, (long long)cfg.d_model,
              (long long)cfg.n_layer, device.str().c_str(), dasg::num_threads(), (long long)B, (long long)P,
              (long long)dasg::slide_tokens(cfg));
  std::printf("%8s %14s %14s %14s %7s %10s\n", "N", "prefill tok/s", "decode tok/s", "decode ms/tok", "slides",
              "state MB");
  dasg::GenerateOptions o;
  o.temperature = 0;
  double fastest = 1e30, slowest = 0;
  for (int64_t n : counts) {
    o.tokens = n;
    dasg::GenerateStats st;
    dasg::generate_batch(*model, prompts, o, &st);
    const double ms = st.decode_s * 1e3 / (double)std::max<int64_t>(st.decode_tokens, 1);
    fastest = std::min(fastest, ms);
    slowest = std::max(slowest, ms);
    std::printf("%8lld %14.0f %14.1f %14.3f %7lld %10.3f\n", (long long)n, (double)st.prefill_tokens / st.prefill_s,
                (double)st.decode_tokens / st.decode_s, ms, (long long)st.slides, (double)st.state_bytes / 1048576.0);
    std::fflush(stdout);
  }
  std::printf("decode ms/token, slowest / fastest over N: %.2f\n", slowest / fastest);
  if (dasg::profiler::enabled()) {  // DASG_PROFILE=1: the ops of the runs above, by total time
    std::printf("%-28s %10s %10s %8s\n", "op (DASG_PROFILE=1)", "calls", "total s", "us/call");
    for (const dasg::profiler::Entry& e : dasg::profiler::entries())
      std::printf("%-28s %10lld %10.3f %8.1f\n", e.name.c_str(), (long long)e.calls[0], e.seconds[0],
                  e.calls[0] ? e.seconds[0] * 1e6 / (double)e.calls[0] : 0.0);
  }
  if (R == 0) return 0;

  // Today's recompute path at a full context: forward over max_seq_len tokens, logits to the
  // host, the next token; once per generated token.
  dasg::NoGradGuard no_grad;
  model->train(false);
  model->set_capacity(false);
  std::vector<int32_t> ctx;
  for (int64_t i = 0; i < cfg.max_seq_len; ++i) ctx.push_back(prompts[0][(size_t)(i % P)]);
  dasg::Generator gen(seed);
  double t0 = 0;
  for (int64_t i = -2; i < R; ++i) {  // two warm-up tokens
    if (i == 0) t0 = now_s();
    const dasg::Tensor logits = model->forward(dasg::Tensor::from_vector(ctx, {1, cfg.max_seq_len}), dasg::Tensor(),
                                               dasg::Tensor(), gen).logits;
    const std::vector<float> last =
        dasg::slice(logits, 1, cfg.max_seq_len - 1, 1).to(dasg::kCPU).to_vector<float>();
    ctx.erase(ctx.begin());
    ctx.push_back(dasg::sample_next(last, 0.0, 0, gen));
  }
  const double recompute_ms = (now_s() - t0) * 1e3 / (double)R;
  model->set_capacity(true);
  std::printf("recompute path (forward over the last %lld tokens per token): %.3f ms/token, %.1f tokens/s\n",
              (long long)cfg.max_seq_len, recompute_ms, 1e3 / recompute_ms);
  std::printf("cached decode vs recompute: %.1fx (fastest N) to %.1fx (slowest N) faster\n", recompute_ms / fastest,
              recompute_ms / slowest);
  return 0;
}
