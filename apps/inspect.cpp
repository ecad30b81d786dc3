// dasg inspect — a routing report of a checkpoint on a text: per layer the deep-tier rate, each
// expert's share of its tier's assignments, the mean complexity C and importance I of the
// evaluator (DESIGN §7.2–§7.3), and the tokens most often sent to the deep tier.
#include <algorithm>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "autograd/node.hpp"
#include "data/corpus.hpp"
#include "model/model.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"
#include "train/routing_view.hpp"
#include "train/text_file.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg inspect --checkpoint DIR (--text TEXT | --file FILE) [--top N] [--html OUT.html]
Runs a checkpoint on a text in evaluation mode and reports how it routed the text's tokens.

  --checkpoint DIR      a checkpoint directory (dasg train or dasg finetune)
  --device cpu|cuda|cuda:N  where the model runs (default cpu)
  --text TEXT           the text, or
  --file FILE           a UTF-8 text file
  --top N               how many of the tokens most often sent deep to list (default 20)
  --html OUT.html       also write the routing view: the text coloured by each token's tier in
                        every layer, its C, I and s on hover and in a table (one HTML file, no
                        script, nothing fetched)

The text is tokenized as the model was trained (vocab 256 = byte, >= 50257 = GPT-2's BPE) and cut
into windows of max_seq_len tokens, each run as one sequence. Per layer: the share of tokens on
the deep tier (dasg), every expert's share of its tier's assignments (dasg, switch; switch also
the share of tokens dropped by capacity), the mean share of open gates (dsmoe), and the mean C
and I. Then the tokens with the most deep-tier decisions, summed over layers and occurrences:
"deep" of "decisions" = occurrences x layers.
)";

namespace {

// A token's text, quoted, with control bytes (and, for single bytes, bytes >= 0x80) escaped.
std::string show(const std::string& s, bool bytes) {
  std::string out = "'";
  for (unsigned char c : s) {
    char buf[8];
    if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\'') out += "\\'";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c == 0x7f || (bytes && c >= 0x80)) std::snprintf(buf, sizeof buf, "\\x%02x", c), out += buf;
    else out += (char)c;
  }
  return out + "'";
}

struct LayerSum {
  double tokens = 0, deep = 0, C = 0, I = 0, dropped = 0, active = 0, policy_entropy = 0;
  std::vector<double> load_shallow, load_deep;  // weighted by each tier's tokens
  double shallow_w = 0, deep_w = 0;
};

void add_load(std::vector<double>& sum, const std::vector<double>& load, double w) {
  if (sum.size() < load.size()) sum.resize(load.size(), 0.0);
  for (size_t e = 0; e < load.size(); ++e) sum[e] += load[e] * w;
}

void print_load(const char* name, const std::vector<double>& sum, double w) {
  std::printf("    %-8s load:", name);
  for (double v : sum) std::printf(" %.3f", w > 0 ? v / w : 0.0);
  std::printf("%s\n", w > 0 ? "" : "   (no token)");
}

}  // namespace

int inspect_main(int argc, char** argv) {
  dasg::app::Flags flags({{"device", FlagKind::value}, {"checkpoint", FlagKind::value},
                          {"text", FlagKind::value},
                          {"file", FlagKind::value},
                          {"top", FlagKind::value},
                          {"html", FlagKind::value}},
                         argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.has("checkpoint")) throw UsageError("dasg inspect: --checkpoint DIR is required");
  if (flags.has("text") == flags.has("file")) throw UsageError("dasg inspect: give exactly one of --text and --file");
  const int64_t top = flags.integer("top", 20);
  if (top < 0) throw UsageError("dasg inspect: --top must be >= 0");
  const std::string dir = flags.str("checkpoint", "");
  const dasg::Device device = dasg::parse_device(flags.str("device", "cpu"));
  dasg::require_device(device);
  std::unique_ptr<dasg::Model> model = dasg::load_model(dir, device);
  const dasg::Config& cfg = model->config();
  auto tok = dasg::tokenizer_for_vocab(cfg.vocab_size);
  const std::string text = flags.has("text") ? flags.str("text", "") : dasg::data::read_text_file(flags.str("file", ""));
  std::vector<int32_t> ids;
  tok->encode(text, ids);
  DASG_CHECK(!ids.empty(), "inspect: the text holds no token");
  for (int32_t t : ids)
    DASG_CHECK(t < cfg.vocab_size, "inspect: token ", t, " is outside the model's vocabulary of ", cfg.vocab_size);

  const int64_t L = cfg.max_seq_len, n = (int64_t)ids.size();
  const bool dasg = cfg.ffn == "dasg";
  std::vector<LayerSum> sums((size_t)cfg.n_layer);
  std::map<int32_t, std::pair<int64_t, int64_t>> per_token;  // id -> (deep decisions, occurrences)
  const std::string html = flags.str("html", "");
  dasg::RoutingView view;  // filled when --html
  view.n_layer = cfg.n_layer;
  model->train(false);
  dasg::NoGradGuard no_grad;
  // Full windows in batches of up to 16, then the last, shorter one alone.
  for (int64_t start = 0; start < n;) {
    const int64_t T = std::min(L, n - start);
    const int64_t B = T == L ? std::min<int64_t>(16, (n - start) / L) : 1;
    std::vector<int32_t> chunk(ids.begin() + start, ids.begin() + start + B * T);
    dasg::ForwardResult r = model->forward(dasg::Tensor::from_vector(chunk, {B, T}));
    for (int32_t t : chunk) per_token[t].second += cfg.n_layer;
    const size_t first = view.tokens.size();
    if (!html.empty())
      for (int32_t t : chunk) {
        std::vector<int32_t> one = {t};
        view.tokens.push_back({tok->decode(one), {}, {}, {}, {}});
      }
    for (size_t l = 0; l < r.layers.size(); ++l) {
      const dasg::RoutingSummary lr = r.layers[l].summary();
      LayerSum& s = sums[l];
      const double N = (double)(B * T);
      s.tokens += N;
      s.deep += lr.deep_rate * N;
      s.C += lr.mean_C * N;
      s.I += lr.mean_I * N;
      s.dropped += lr.dropped * N;
      s.active += lr.active_blocks * N;
      add_load(s.load_shallow, lr.load_shallow, (1 - lr.deep_rate) * N);
      add_load(s.load_deep, lr.load_deep, lr.deep_rate * N);
      s.shallow_w += (1 - lr.deep_rate) * N;
      s.deep_w += lr.deep_rate * N;
      const std::vector<float> tier = dasg ? r.layers[l].tier.to(dasg::kCPU).to_vector<float>() : std::vector<float>{};
      if (dasg)
        for (size_t i = 0; i < tier.size(); ++i)
          if (tier[i] > 0.5f) per_token[chunk[i]].first++;
      if (!html.empty()) {
        const std::vector<float> C = r.layers[l].C.to(dasg::kCPU).to_vector<float>(),
                                 I = r.layers[l].I.to(dasg::kCPU).to_vector<float>(),
                                 sc = r.layers[l].s.to(dasg::kCPU).to_vector<float>();
        for (size_t i = 0; i < chunk.size(); ++i) {
          dasg::RoutingToken& t = view.tokens[first + i];
          t.C.push_back(C[i]), t.I.push_back(I[i]), t.s.push_back(sc[i]);
          t.tier.push_back(dasg ? (tier[i] > 0.5f ? 1 : 0) : -1);
        }
      }
    }
    start += B * T;
  }

  std::printf("checkpoint: %s (%s, ffn %s, attention %s, %lld layers, deep tier %s)\n", dir.c_str(),
              cfg.causal ? "causal" : "encoder", cfg.ffn.c_str(), cfg.attention.c_str(), (long long)cfg.n_layer,
              dasg ? (model->deep_active() ? "active" : "not yet transferred") : "n/a");
  std::printf("text: %lld tokens (%s tokenizer), in windows of up to %lld\n\n", (long long)n, tok->name().c_str(),
              (long long)L);
  for (size_t l = 0; l < sums.size(); ++l) {
    const LayerSum& s = sums[l];
    std::printf("layer %zu: mean C %.4f, mean I %.4f", l, s.C / s.tokens, s.I / s.tokens);
    if (dasg) std::printf(", deep rate %.4f", s.deep / s.tokens);
    if (cfg.ffn == "switch") std::printf(", dropped by capacity %.4f", s.dropped / s.tokens);
    if (cfg.ffn == "dsmoe") std::printf(", open gates %.4f", s.active / s.tokens);
    std::printf("\n");
    if (dasg) {
      print_load("shallow", s.load_shallow, s.shallow_w);
      print_load("deep", s.load_deep, s.deep_w);
    } else if (cfg.ffn == "switch") {
      print_load("experts", s.load_shallow, s.shallow_w);
    }
  }
  if (!html.empty()) {
    view.title = dir;
    view.about = std::string(cfg.causal ? "causal" : "encoder") + ", ffn " + cfg.ffn + ", attention " + cfg.attention +
                 ", " + std::to_string(cfg.n_layer) + " layers, deep tier " +
                 (dasg ? (model->deep_active() ? "active" : "not yet transferred (every token shallow)") : "n/a (no tiers)") +
                 ", " + tok->name() + " tokenizer";
    dasg::write_text_file(html, dasg::routing_view_html(view));
    std::printf("\nrouting view: %s\n", html.c_str());
  }
  if (!dasg) {
    std::printf("\n(no tiers: ffn is %s, so no token is sent deep)\n", cfg.ffn.c_str());
    return 0;
  }
  std::vector<std::pair<int32_t, std::pair<int64_t, int64_t>>> rows(per_token.begin(), per_token.end());
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.first > b.second.first;
  });
  std::printf("\ntokens most often sent deep (deep / decisions = occurrences x layers):\n");
  int64_t shown = 0;
  for (const auto& [id, c] : rows) {
    if (shown >= top || c.first == 0) break;
    std::vector<int32_t> one = {id};
    std::printf("  %-16s %6lld / %-6lld (%.1f%%)\n", show(tok->decode(one), tok->name() == "byte").c_str(),
                (long long)c.first, (long long)c.second, 100.0 * (double)c.first / (double)c.second);
    ++shown;
  }
  if (shown == 0) std::printf("  (none: every token took the shallow tier)\n");
  return 0;
}
