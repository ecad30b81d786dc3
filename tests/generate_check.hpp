// The check shared by the CPU and CUDA generation tests (tests/test_generate.cpp,
// tests/test_device_train.cpp): cached decoding against the recompute path, greedy, token for
// token, with the logits of every sequence compared at every step.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "train/generate.hpp"

namespace dasg::test {

// A small causal model of every FFN kind × attention kind: max_seq_len 16 in 4 groups of L = 4,
// window 3 (< L), group MLPs and aggregation on (gmha), the deep tier active from the start;
// two layers unless asked.
inline Config decode_config(const std::string& ffn, const std::string& attention, int64_t n_layer = 2) {
  nlohmann::json j = {{"vocab_size", 32}, {"max_seq_len", 16}, {"d_model", 16}, {"n_layer", n_layer}, {"n_head", 2},
                      {"attention", attention}, {"ffn", ffn},
                      {"gmha", {{"groups", 4}, {"window", 3}, {"group_mlp_hidden", 4}}},
                      {"moe", {{"n_shallow", 4}, {"n_deep", 4}, {"d_ff", 16}, {"top_k", ffn == "switch" ? 1 : 2}}},
                      {"dsse", {{"transfer_step", 0}}},
                      {"dsmoe", {{"blocks", 4}}}};
  return Config::from_json(j);
}

// dasg: peakier attention (C and I then vary from token to token), running statistics set from
// the model's own raw scores, and a policy leaning on C and I, so that tokens fall on every
// branch of the tier rule (shallow, deep, and the policy both ways) instead of the initial
// near-uniform attention's one band.
inline void spread_tiers(Model& m) {
  if (m.config().ffn != "dasg") return;
  NoGradGuard no_grad;
  for (int64_t l = 0; l < m.config().n_layer; ++l) {
    Tensor w = m.parameters().get("blocks." + std::to_string(l) + ".attn.qkv.weight").detach();
    w.copy_from(w.to(kCPU) * 10.0);
  }
  m.train(false);
  std::vector<int32_t> probe;
  for (int32_t i = 0; i < (int32_t)m.config().max_seq_len; ++i) probe.push_back((5 * i + 3) % 32);
  ForwardResult r = m.forward(Tensor::from_vector(probe, {1, (int64_t)probe.size()}));
  for (int64_t l = 0; l < m.config().n_layer; ++l) {
    const LayerRouting& lr = r.layers[(size_t)l];
    const std::vector<float> raw = lr.raw.to_vector<float>(), counted = lr.counted.to_vector<float>();
    const std::vector<float> C = lr.C.to_vector<float>(), I = lr.I.to_vector<float>();
    double n = 0, s1 = 0, s2 = 0, gap = 0;  // gap: Σ (C − I)
    for (size_t i = 0; i < raw.size(); ++i)
      if (counted[i] > 0) n += 1, s1 += raw[i], s2 += (double)raw[i] * raw[i], gap += (double)C[i] - I[i];
    const double mean = s1 / n, sd = std::sqrt(std::max(s2 / n - mean * mean, 1e-8));
    const std::string p = "blocks." + std::to_string(l) + ".ffn.";
    m.parameters().get(p + "evaluator.mean").detach().fill_(mean);
    m.parameters().get(p + "evaluator.std").detach().fill_(sd);
    m.parameters().get(p + "policy.v").detach().copy_from(
        Tensor::from_vector(std::vector<float>{(float)(1 / sd), (float)(-1 / sd), 0.f}, {3}).to(m.device()));
    m.parameters().get(p + "policy.b").detach().fill_(-gap / n / sd);
  }
}

// Normwise relative difference of two logit rows: max |a − b| / max |b|.
inline double row_error(const float* a, const float* b, int64_t V) {
  double diff = 0, scale = 1e-30;
  for (int64_t v = 0; v < V; ++v) {
    diff = std::max(diff, std::abs((double)a[v] - (double)b[v]));
    scale = std::max(scale, std::abs((double)b[v]));
  }
  return diff / scale;
}

// Greedy decoding of `tokens` tokens after `prompts`, cached on m and recomputed on `reference`
// (m itself when null; a model with m's weights on another device, else): the same tokens,
// logits within tol at every step; returns the slides the sessions made.
inline int64_t check_cached_equals_recompute(Model& m, const std::vector<std::vector<int32_t>>& prompts, int64_t tokens,
                                             double tol = 1e-5, Model* reference = nullptr) {
  Generator g_cached(1), g_full(1);
  DecodeSession cached(m, prompts, true, g_cached), full(reference ? *reference : m, prompts, false, g_full);
  const int64_t B = cached.batch(), V = cached.vocab();
  double worst = 0;
  int64_t mismatches = 0;
  for (int64_t i = 0; i < tokens; ++i) {
    std::vector<int32_t> next((size_t)B);
    for (int64_t b = 0; b < B; ++b) {
      const float* c = cached.logits().data() + b * V;
      const float* f = full.logits().data() + b * V;
      worst = std::max(worst, row_error(c, f, V));
      Generator unused(0);
      next[(size_t)b] = sample_next(std::span<const float>(f, (size_t)V), 0.0, 0, unused);
      mismatches += sample_next(std::span<const float>(c, (size_t)V), 0.0, 0, unused) != next[(size_t)b];
    }
    cached.append(next);
    full.append(next);
  }
  INFO(m.config().ffn << " / " << m.config().attention << ": worst relative logit error " << worst << " over "
                      << tokens << " steps, " << mismatches << " greedy tokens differ");
  CHECK(mismatches == 0);
  CHECK(worst <= tol);
  CHECK(cached.slides() == full.slides());
  for (int64_t b = 0; b < B; ++b) CHECK(cached.tokens(b) == full.tokens(b));
  return cached.slides();
}

}  // namespace dasg::test
