// Suite "train" (incremental generation, issue 15): cached decoding gives the recompute path's
// greedy tokens and logits for every FFN kind × attention kind over 3 × max_seq_len tokens (so
// across several slides), one prompt and a batch of prompts of different lengths (one longer
// than max_seq_len); the decode state's memory is the same after N and 4N tokens (allocator
// statistics); the default window w = L, and gmha without refinement or aggregation; the slide
// rule; top-p sampling; stop token and stop callback; batching.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "engine/allocator.hpp"
#include "tests/generate_check.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using dasg::test::check_cached_equals_recompute;
using dasg::test::decode_config;

namespace {

std::vector<int32_t> counting(int64_t n, int32_t from, int32_t vocab) {
  std::vector<int32_t> v;
  for (int64_t i = 0; i < n; ++i) v.push_back((int32_t)((from + 7 * i) % vocab));
  return v;
}

// dasg: the tier rule's every branch occurs — shallow below θ_s, deep above θ_d, and in the
// middle band the policy both ways.
void check_tiers_spread(Model& m) {
  m.train(false);
  int shallow = 0, deep = 0, policy_deep = 0, policy_shallow = 0;
  for (int32_t from = 0; from < 4; ++from) {
    ForwardResult r = m.forward(Tensor::from_vector(counting(16, from, 32), {1, 16}));
    for (const LayerRouting& l : r.layers) {
      const std::vector<float> s = l.s.to_vector<float>(), pi = l.pi.to_vector<float>(), tier = l.tier.to_vector<float>();
      for (size_t i = 0; i < s.size(); ++i) {
        const bool middle = s[i] >= m.config().adr.theta_s && s[i] <= m.config().adr.theta_d;
        shallow += !middle && tier[i] == 0;
        deep += !middle && tier[i] == 1;
        policy_deep += middle && pi[i] >= 0.5;
        policy_shallow += middle && pi[i] < 0.5;
      }
    }
  }
  INFO("shallow " << shallow << ", deep " << deep << ", policy deep " << policy_deep << ", policy shallow "
                  << policy_shallow);
  CHECK(shallow > 0);
  CHECK(deep > 0);
  CHECK(policy_deep > 0);
  CHECK(policy_shallow > 0);
}

void check_every_attention(const std::string& ffn) {
  for (const char* attention : {"gmha", "local", "full"}) {
    CAPTURE(attention);
    Model m(decode_config(ffn, attention), 11);
    dasg::test::spread_tiers(m);
    if (ffn == "dasg") check_tiers_spread(m);
    const int64_t M = m.config().max_seq_len;
    // One prompt: 3·M tokens from 5, five slides.
    CHECK(check_cached_equals_recompute(m, {counting(5, 3, 32)}, 3 * M) == 5);
    // Three prompts of lengths 1, 6 and M + 4 (its context starts slid): different positions,
    // groups and slide times in one state.
    CHECK(check_cached_equals_recompute(m, {{9}, counting(6, 1, 32), counting(M + 4, 2, 32)}, 3 * M) >= 12);
  }
}

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("generate: cached decoding equals recompute token for token, logits to 1e-5 (dasg × gmha, local, full)") {
    check_every_attention("dasg");
  }
  TEST_CASE("generate: cached decoding equals recompute token for token, logits to 1e-5 (dense × gmha, local, full)") {
    check_every_attention("dense");
  }
  TEST_CASE("generate: cached decoding equals recompute token for token, logits to 1e-5 (switch × gmha, local, full)") {
    check_every_attention("switch");
  }
  TEST_CASE("generate: cached decoding equals recompute token for token, logits to 1e-5 (dsmoe × gmha, local, full)") {
    check_every_attention("dsmoe");
  }

  TEST_CASE("generate: cached decoding equals recompute with the default window w = L, without group MLPs or aggregation") {
    for (const char* ffn : {"dasg", "dense"})
      for (int variant = 0; variant < 3; ++variant) {
        CAPTURE(ffn);
        CAPTURE(variant);
        Config c = decode_config(ffn, "gmha");
        c.gmha.window = c.group_len();                   // the default: the whole group
        if (variant >= 1) c.gmha.group_mlp_hidden = 0;   // no refinement
        if (variant == 2) c.gmha.aggregate = false;      // no aggregation either
        c.validate();
        Model m(c, 3);
        dasg::test::spread_tiers(m);
        CHECK(check_cached_equals_recompute(m, {counting(7, 5, 32), {4}}, 3 * c.max_seq_len) >= 10);
      }
  }

  TEST_CASE("generate: the decode state holds the same memory after N and 4N tokens (allocator statistics)") {
    for (const char* attention : {"gmha", "full"}) {
      CAPTURE(attention);
      Model m(decode_config("dasg", attention), 5);
      const int64_t N = 2 * m.config().max_seq_len;  // past max_seq_len: slides included
      Generator gen(1);
      DecodeSession s(m, {counting(3, 1, 32), counting(7, 2, 32)}, true, gen);
      auto advance = [&](int64_t n) {
        for (int64_t i = 0; i < n; ++i) s.append({(int32_t)(i % 32), (int32_t)((i * 5) % 32)});
      };
      advance(N);
      const int64_t in_use_n = cpu_alloc_stats().in_use;
      const size_t bytes_n = s.state().nbytes();
      advance(3 * N);
      CHECK(s.tokens(0).size() == 3 + 4 * N);
      CHECK(s.slides() >= 2 * 4 * N / slide_tokens(m.config()) - 2);
      CHECK(cpu_alloc_stats().in_use == in_use_n);
      CHECK(s.state().nbytes() == bytes_n);
      // Two sequences, two layers: keys and values of cap slots, plus gmha's sums and group k/v.
      const int64_t D = 16, cap = attention == std::string("full") ? 16 : 3;
      const size_t want = 2 * (2 * 2 * cap * D + (attention == std::string("gmha") ? 2 * D + 2 * 2 * 4 * D : 0)) * 4;
      CHECK(bytes_n == want);
    }
  }

  TEST_CASE("generate: the slide rule drops the oldest half of the groups when the context is full") {
    const Config c = decode_config("dense", "gmha");  // M = 16, G = 4, L = 4: S = 8
    CHECK(slide_tokens(c) == 8);
    CHECK(context_start(1, c) == 0);
    CHECK(context_start(16, c) == 0);
    CHECK(context_start(17, c) == 8);  // 9 tokens left
    CHECK(context_start(24, c) == 8);
    CHECK(context_start(25, c) == 16);
    Config one = c;
    one.gmha.groups = 1;  // G = 1: S = L = M, the context restarts from the newest token
    CHECK(slide_tokens(one) == 16);
    CHECK(context_start(17, one) == 16);
  }

  TEST_CASE("generate: top-p keeps the smallest set of likeliest tokens reaching p") {
    // p = softmax(log [0.5, 0.3, 0.15, 0.05]).
    std::vector<float> logits = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
    Generator g(3);
    std::vector<int> count(4, 0);
    const int n = 6000;
    for (int i = 0; i < n; ++i) count[(size_t)sample_next(logits, 1.0, 0, g, 0.75)]++;  // keeps {0, 1}
    CHECK(count[2] == 0);
    CHECK(count[3] == 0);
    CHECK((double)count[0] / n == doctest::Approx(0.625).epsilon(0.04));
    for (int i = 0; i < 100; ++i) CHECK(sample_next(logits, 1.0, 0, g, 0.4) == 0);  // the top token alone
    Generator a(5), b(5);
    for (int i = 0; i < 50; ++i) CHECK(sample_next(logits, 0.7, 3, a, 0.9) == sample_next(logits, 0.7, 3, b, 0.9));
    CHECK_ERROR_CONTAINS(sample_next(logits, 1.0, 0, g, 0.0), "top_p");
    CHECK_ERROR_CONTAINS(sample_next(logits, 1.0, 0, g, 1.5), "top_p");
  }

  TEST_CASE("generate: batched prompts give what each gives alone, seeds, stop token and stop callback") {
    Model m(decode_config("dasg", "gmha"), 7);
    GenerateOptions o;
    o.tokens = 40;
    o.temperature = 0;
    const std::vector<std::vector<int32_t>> prompts = {counting(4, 1, 32), {5}, counting(20, 3, 32)};
    const std::vector<std::vector<int32_t>> together = generate_batch(m, prompts, o);
    REQUIRE(together.size() == 3);
    for (size_t b = 0; b < prompts.size(); ++b) {
      CHECK(together[b].size() == prompts[b].size() + 40);
      CHECK(generate(m, prompts[b], o) == together[b]);
    }
    o.cache = false;
    CHECK(generate_batch(m, prompts, o) == together);
    o.cache = true;
    // Sampling: the same seed, the same text; another seed, another.
    o.temperature = 1.0;
    o.top_p = 0.9;
    o.seed = 4;
    const std::vector<int32_t> a = generate(m, prompts[0], o);
    CHECK(generate(m, prompts[0], o) == a);
    o.seed = 5;
    CHECK(generate(m, prompts[0], o) != a);
    // A stop token ends the sequence after it; the callback sees every produced token and can stop.
    o.seed = 4;
    o.stop_token = a[prompts[0].size() + 3];
    std::vector<int32_t> stopped = generate(m, prompts[0], o);
    CHECK(stopped.size() <= prompts[0].size() + 4);
    CHECK(stopped.back() == o.stop_token);
    o.stop_token = -1;
    std::vector<int32_t> seen;
    o.on_token = [&](int64_t seq, int32_t t) {
      CHECK(seq == 0);
      seen.push_back(t);
      return seen.size() == 6;
    };
    const std::vector<int32_t> six = generate(m, prompts[0], o);
    CHECK(six.size() == prompts[0].size() + 6);
    CHECK(std::vector<int32_t>(six.begin() + (int64_t)prompts[0].size(), six.end()) == seen);
    CHECK(std::vector<int32_t>(a.begin(), a.begin() + (int64_t)six.size()) == six);
  }
}
