// Suite "train": the ADR tier router trained by train/router_state — REINFORCE's surrogate moves
// the policy toward the cheaper arm when only the cost differs, evaluation samples nothing, the
// adr.random ablation splits tokens about evenly.
#include <doctest/doctest.h>

#include <cmath>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "train/router_state.hpp"
#include "ops/reduce.hpp"
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

// A toy policy: one logit θ shared by M tokens, π = σ(θ); token i goes deep when u_i < π. The
// surrogate, rewards and baseline are the trainer's own (train/reinforce.hpp). Returns π after
// `steps` REINFORCE steps of plain SGD, given each arm's loss.
static double train_toy_policy(double loss_deep, double loss_shallow, double cost_coef, int steps) {
  Tensor theta = Tensor::zeros({1}, DType::f64).requires_grad_();
  PolicyBaseline baseline;
  Generator gen(99);
  const int M = 64;
  for (int step = 0; step < steps; ++step) {
    const double pi = 1 / (1 + std::exp(-theta.item()));
    std::vector<double> deep(M), loss(M);
    for (int i = 0; i < M; ++i) {
      deep[i] = gen.next_uniform() < pi ? 1 : 0;
      loss[i] = deep[i] ? loss_deep : loss_shallow;
    }
    Tensor d = Tensor::from_vector(deep, {M});
    Tensor reward = tier_reward(Tensor::from_vector(loss, {M}), d, cost_coef, 0.5);
    const double mean_r = mean(reward).item();
    Tensor adv = reward - (baseline.set ? baseline.value : mean_r);
    Tensor p = sigmoid(theta);
    Tensor log_prob = d * log(p) + (d * -1.0 + 1.0) * log(p * -1.0 + 1.0);  // log π̃(a_i), [M]
    theta.zero_grad();
    reinforce_surrogate(log_prob, adv, Tensor::scalar(M, DType::f64), 1.0).backward();
    theta.data<double>()[0] -= 0.5 * theta.grad().item();  // plain SGD
    baseline.update(mean_r, 0.9);
  }
  return 1 / (1 + std::exp(-theta.item()));
}

TEST_SUITE("train") {
  TEST_CASE("adr: REINFORCE prefers the cheaper tier when both give equal loss (toy policy)") {
    CHECK(train_toy_policy(1.0, 1.0, 0.5, 200) < 0.2);
  }

  TEST_CASE("adr: REINFORCE prefers the better tier when cost_coef is 0 (toy policy)") {
    CHECK(train_toy_policy(0.5, 1.5, 0.0, 200) > 0.8);
    CHECK(train_toy_policy(1.5, 0.5, 0.0, 200) < 0.2);
  }

  TEST_CASE("adr: the baseline is the first step's mean reward, then an EMA") {
    PolicyBaseline b;
    CHECK(!b.set);  // none yet: the batch's own mean stands in (RouterState::policy_loss)
    b.update(-2.0, 0.5);
    CHECK(b.value == -2.0);
    b.update(-4.0, 0.5);
    CHECK(b.value == doctest::Approx(-3.0));
    const std::vector<float> r = tier_reward(Tensor::from_vector<float>({1, 1}, {2}), Tensor::from_vector<float>({1, 0}, {2}),
                                             0.1, 0.5).to_vector<float>();
    CHECK(r[0] == doctest::Approx(-1.1));
    CHECK(r[1] == doctest::Approx(-1.05));
    Tensor lp = Tensor::zeros({2}, DType::f64).requires_grad_();
    CHECK(reinforce_surrogate(lp, Tensor::zeros({2}, DType::f64), Tensor::scalar(0, DType::f64), 1.0).item() == 0.0);
  }

  TEST_CASE("adr: REINFORCE moves a toy policy toward the better (cheaper) arm") {
    Model m(adr_config(), 31);
    m.transfer_dsse();  // deep = shallow: only the cost tells the arms apart
    m.train(true);
    RouterState router(m.config());
    Generator gen(32), sample(320);
    Tensor w = m.parameters().get("blocks.0.ffn.policy.w"), b = m.parameters().get("blocks.0.ffn.policy.b");
    double first = -1, last = -1;
    for (int step = 0; step < 40; ++step) {
      Tensor tokens = ids(4, 16, gen);
      ForwardResult r = m.forward(tokens, tokens, Tensor(), sample);
      if (step == 0) first = mean_pi(r);
      last = mean_pi(r);
      for (Tensor p : m.parameters().trainable()) p.zero_grad();
      router.policy_loss(r).backward();
      NoGradGuard ng;
      for (Tensor p : {w, b}) p.detach().copy_from(p.detach() - p.grad() * 2.0);
      router.end_step(m);
    }
    INFO("mean π " << first << " → " << last);
    CHECK(first == doctest::Approx(0.5));
    CHECK(last < 0.3);
    CHECK(router.to_json()[0]["baseline_set"] == true);
  }

  TEST_CASE("adr: evaluation samples nothing and its policy term is 0; training samples the middle band") {
    Model m(adr_config(), 33);
    m.transfer_dsse();
    Generator gen(34);
    Tensor tokens = ids(2, 16, gen);
    m.train(true);
    ForwardResult t = m.forward(tokens, tokens);
    CHECK(t.layers[0].log_prob.defined());
    CHECK(sum(t.layers[0].sampled).item() == 32);
    CHECK(t.token_ce.shape() == Shape{2, 16});
    m.train(false);
    ForwardResult e = m.forward(tokens, tokens);
    RouterState router(m.config());
    CHECK(router.policy_loss(e).item() == 0);
    CHECK(!e.layers[0].log_prob.defined());
    CHECK(e.layers[0].summary().deep_rate == 1);  // π = 0.5 ≥ 0.5
  }

  TEST_CASE("adr: an encoder's reward is its sequence's CE; padded tokens are never sampled") {
    Config c = adr_config();
    c.causal = false;
    Model m(c, 37);
    m.transfer_dsse();
    m.train(true);
    Generator gen(38);
    ForwardResult r = m.forward(ids(2, 16, gen), Tensor::from_vector<int32_t>({0, 1}, {2}),
                                Tensor::from_vector<int32_t>({16, 7}, {2}));
    CHECK(r.token_ce.shape() == Shape{2});
    const std::vector<float> sampled = r.layers[0].sampled.to_vector<float>();
    double n = 0;
    for (size_t i = 0; i < sampled.size(); ++i) {
      n += sampled[i];
      if (i >= 16 + 7) CHECK(sampled[i] == 0);
    }
    CHECK(n == 16 + 7);
    const double cost_shallow = 16.0 / (16.0 + 8.0), ce0 = r.token_ce.to_vector<float>()[0],
                 ce1 = r.token_ce.to_vector<float>()[1];
    RouterState router(m.config());
    Tensor policy = router.policy_loss(r);
    CHECK(std::isfinite(policy.item()));
    (r.loss + policy).backward();
    CHECK(m.parameters().get("blocks.0.ffn.policy.b").grad().defined());
    router.end_step(m);
    // The mean reward lies between the two sequences' rewards at the extreme costs.
    CHECK(router.mean_reward()[0] <= -std::min(ce0, ce1) - 5 * cost_shallow + 1e-5);
    CHECK(router.mean_reward()[0] >= -std::max(ce0, ce1) - 5 * 1.0 - 1e-5);
  }

  TEST_CASE("adr: the running statistics change only in end_step, the first step sets them") {
    Config c = adr_config();
    c.adr.theta_s = 0.2;
    c.adr.theta_d = 0.8;
    Model m(c, 7);
    m.train(true);
    RouterState router(c);
    Generator gen(15);
    Tensor tokens = ids(2, 16, gen);
    ForwardResult r = m.forward(tokens, tokens);
    router.policy_loss(r);
    Tensor mean = m.parameters().get("blocks.0.ffn.evaluator.mean"), std = m.parameters().get("blocks.0.ffn.evaluator.std");
    CHECK(mean.item() == 0.5);
    router.end_step(m);
    // The first step sets μ and σ_r to the mean and population std of the counted raw scores.
    const std::vector<float> raw = r.layers[0].raw.to_vector<float>(), counted = r.layers[0].counted.to_vector<float>();
    double n = 0, s = 0, ss = 0;
    for (size_t i = 0; i < raw.size(); ++i) n += counted[i], s += counted[i] * raw[i];
    for (size_t i = 0; i < raw.size(); ++i) ss += counted[i] * (raw[i] - s / n) * (raw[i] - s / n);
    CHECK(n == 2 * 14);  // a causal group's first token has one key: not counted
    CHECK(mean.item() == doctest::Approx(s / n).epsilon(1e-5));
    CHECK(std.item() == doctest::Approx(std::sqrt(ss / n)).epsilon(1e-4));
    CHECK(router.to_json()[0]["stats_set"] == true);
    // The next step blends with stats_momentum.
    const double mu0 = mean.item();
    ForwardResult r2 = m.forward(tokens, tokens);
    router.policy_loss(r2);
    router.end_step(m);
    const double k = c.adr.stats_momentum;
    CHECK(mean.item() == doctest::Approx(k * mu0 + (1 - k) * s / n).epsilon(1e-5));
    // A skipped step changes nothing.
    const double before = mean.item();
    router.policy_loss(m.forward(tokens, tokens));
    router.discard_step();
    router.end_step(m);
    CHECK(mean.item() == before);
  }

  TEST_CASE("adr: the random ablation splits the tiers about evenly, in evaluation too") {
    Config c = adr_config();
    c.adr.random = true;
    Model m(c, 35);
    m.transfer_dsse();
    m.train(false);
    Generator gen(36);
    const RoutingSummary r = m.forward(ids(8, 16, gen)).layers[0].summary();
    CHECK(r.deep_rate > 0.35);
    CHECK(r.deep_rate < 0.65);
    double load = 0;
    for (double l : r.load_deep) load += l;
    CHECK(load == doctest::Approx(1.0));
  }
}
