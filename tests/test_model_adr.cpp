// Suite "model": the ADR tier router in the model — REINFORCE's surrogate moves the policy
// toward the cheaper arm when only the cost differs, evaluation samples nothing, the adr.random
// ablation splits tokens about evenly.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

namespace {

Config adr_config() {
  return Config::parse(R"({"vocab_size": 16, "max_seq_len": 16, "d_model": 16, "n_layer": 1, "n_head": 2,
                           "gmha": {"groups": 2}, "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 8, "top_k": 1},
                           "adr": {"theta_s": 0, "theta_d": 1, "cost_coef": 5, "explore_eps": 0.05}})");
}

Tensor ids(int64_t B, int64_t T, Generator& gen) {
  std::vector<int32_t> v((size_t)(B * T));
  for (auto& x : v) x = (int32_t)(gen.next_uniform() * 16);
  return Tensor::from_vector(v, {B, T});
}

double mean_pi(const ForwardResult& r) {
  std::vector<float> pi = r.layers[0].pi.to_vector<float>();
  double s = 0;
  for (float p : pi) s += p;
  return s / (double)pi.size();
}

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("adr: REINFORCE moves a toy policy toward the better (cheaper) arm") {
    Model m(adr_config(), 31);
    m.transfer_dsse();  // deep = shallow: only the cost tells the arms apart
    m.train(true);
    Generator gen(32);
    Tensor w = m.parameters().get("blocks.0.ffn.policy.w"), b = m.parameters().get("blocks.0.ffn.policy.b");
    double first = -1, last = -1;
    for (int step = 0; step < 40; ++step) {
      Tensor tokens = ids(4, 16, gen);
      ForwardResult r = m.forward(tokens, tokens);
      if (step == 0) first = mean_pi(r);
      last = mean_pi(r);
      for (Tensor p : m.parameters().trainable()) p.zero_grad();
      r.policy.backward();
      NoGradGuard ng;
      for (Tensor p : {w, b}) p.detach().copy_from(p.detach() - p.grad() * 2.0);
      m.end_step();
    }
    INFO("mean π " << first << " → " << last);
    CHECK(first == doctest::Approx(0.5));
    CHECK(last < 0.3);
    CHECK(m.adr_state()[0].baseline_set);
  }

  TEST_CASE("adr: evaluation samples nothing and its policy term is 0; training samples the middle band") {
    Model m(adr_config(), 33);
    m.transfer_dsse();
    Generator gen(34);
    Tensor tokens = ids(2, 16, gen);
    m.train(true);
    ForwardResult t = m.forward(tokens, tokens);
    CHECK(t.layers[0].log_prob.defined());
    int sampled = 0;
    for (uint8_t s : t.layers[0].sampled) sampled += s;
    CHECK(sampled == 32);
    CHECK(t.token_ce.shape() == Shape{2, 16});
    m.train(false);
    ForwardResult e = m.forward(tokens, tokens);
    CHECK(e.policy.item() == 0);
    CHECK(!e.layers[0].log_prob.defined());
    CHECK(e.layers[0].deep_rate == 1);  // π = 0.5 ≥ 0.5
  }

  TEST_CASE("adr: the random ablation splits the tiers about evenly, in evaluation too") {
    Config c = adr_config();
    c.adr.random = true;
    Model m(c, 35);
    m.transfer_dsse();
    m.train(false);
    Generator gen(36);
    ForwardResult r = m.forward(ids(8, 16, gen));
    CHECK(r.layers[0].deep_rate > 0.35);
    CHECK(r.layers[0].deep_rate < 0.65);
    double load = 0;
    for (double l : r.layers[0].load_deep) load += l;
    CHECK(load == doctest::Approx(1.0));
  }
}
