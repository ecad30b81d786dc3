// Token sampling and the generation loop (see generate.hpp).
#include "train/generate.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/node.hpp"
#include "model/model.hpp"

namespace dasg {

int32_t sample_next(std::span<const float> logits, double temperature, int64_t top_k, Generator& gen) {
  const int64_t V = (int64_t)logits.size();
  DASG_CHECK(V > 0, "sample_next: empty logits");
  DASG_CHECK(temperature >= 0 && std::isfinite(temperature), "sample_next: temperature ", temperature,
             "; expected a finite value >= 0 (0 = greedy)");
  DASG_CHECK(top_k >= 0, "sample_next: top_k ", top_k, "; expected >= 0 (0 = every token)");
  // Candidates: finite logits, by logit descending, ties to the lower id.
  std::vector<int32_t> ids;
  ids.reserve((size_t)V);
  for (int64_t i = 0; i < V; ++i)
    if (std::isfinite(logits[(size_t)i])) ids.push_back((int32_t)i);
  DASG_CHECK(!ids.empty(), "sample_next: no finite logit among ", V);
  auto better = [&](int32_t a, int32_t b) {
    return logits[(size_t)a] > logits[(size_t)b] || (logits[(size_t)a] == logits[(size_t)b] && a < b);
  };
  if (temperature == 0) return *std::min_element(ids.begin(), ids.end(), better);
  const size_t k = top_k > 0 ? std::min<size_t>((size_t)top_k, ids.size()) : ids.size();
  std::partial_sort(ids.begin(), ids.begin() + (ptrdiff_t)k, ids.end(), better);
  ids.resize(k);
  const double top = logits[(size_t)ids[0]];
  std::vector<double> w(k);
  double total = 0;
  for (size_t i = 0; i < k; ++i) total += w[i] = std::exp(((double)logits[(size_t)ids[i]] - top) / temperature);
  const double u = gen.next_uniform() * total;
  double acc = 0;
  for (size_t i = 0; i < k; ++i) {
    acc += w[i];
    if (u < acc) return ids[i];
  }
  return ids[k - 1];  // u rounded up to the total
}

std::vector<int32_t> generate(Model& model, std::vector<int32_t> prompt, const GenerateOptions& o) {
  const Config& cfg = model.config();
  DASG_CHECK(cfg.causal, "generate: the model is an encoder (causal false); generation needs a causal model");
  DASG_CHECK(!prompt.empty(), "generate: the prompt is empty (it must hold at least one token)");
  DASG_CHECK(o.tokens >= 0, "generate: tokens ", o.tokens, "; expected >= 0");
  const int64_t V = o.vocab_limit > 0 ? std::min(o.vocab_limit, cfg.vocab_size) : cfg.vocab_size;
  for (int32_t t : prompt)
    DASG_CHECK(t >= 0 && t < cfg.vocab_size, "generate: prompt token ", t, " is outside the vocabulary 0..",
               cfg.vocab_size - 1);
  Generator gen(o.seed), model_gen(o.seed);  // sampling; the model's own draws (adr.random)
  model.train(false);
  model.set_capacity(false);
  NoGradGuard no_grad;
  for (int64_t n = 0; n < o.tokens; ++n) {
    const int64_t T = std::min<int64_t>((int64_t)prompt.size(), cfg.max_seq_len);
    std::vector<int32_t> ctx(prompt.end() - T, prompt.end());
    ForwardResult r = model.forward(Tensor::from_vector(ctx, {1, T}), Tensor(), Tensor(), model_gen);
    std::vector<float> logits = r.logits.to(kCPU).to_vector<float>();  // [1, T, vocab]
    std::span<const float> last(logits.data() + (size_t)((T - 1) * cfg.vocab_size), (size_t)V);
    prompt.push_back(sample_next(last, o.temperature, o.top_k, gen));
  }
  model.set_capacity(true);
  return prompt;
}

}  // namespace dasg
