// Suite "model": mixture-of-experts invariants (DESIGN §7.5, §7.6, §9) — dropless dispatch equal
// to a per-token loop, Switch capacity dropping exactly the overflow in position-major order,
// DSMoE equal to its dense FFN when saturated open with exact zero gradients for closed blocks,
// and the balance / z losses' values.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "autograd/node.hpp"
#include "model/experts.hpp"
#include "model/ffn.hpp"
#include "ops/dispatch.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

namespace {

// A batch of B sequences of T positions, padded to lengths when given.
BatchInfo make_batch(int64_t B, int64_t T, std::vector<int32_t> lengths = {}) {
  static Generator gen(5);
  BatchInfo b;
  b.B = B;
  b.T = T;
  b.N = B * T;
  b.gen = &gen;
  if (lengths.empty()) lengths.assign((size_t)B, (int32_t)T);
  else b.lengths = Tensor::from_vector(lengths, {B});
  b.length = lengths;
  std::vector<float> mask((size_t)b.N, 0.f);
  std::vector<int32_t> rows;
  for (int64_t s = 0; s < B; ++s)
    for (int64_t t = 0; t < lengths[(size_t)s]; ++t) {
      rows.push_back((int32_t)(s * T + t));
      mask[(size_t)(s * T + t)] = 1.f;
    }
  b.n_real = (int64_t)rows.size();
  b.real_mask = Tensor::from_vector(mask, {b.N, 1});
  if (b.padded()) b.real_rows = Tensor::from_vector(rows, {b.n_real});
  return b;
}

FfnInput make_input(const Tensor& x, const BatchInfo& b) {
  FfnInput in;
  in.x = x;
  in.C = Tensor::full({b.N}, 0.5) * reshape(b.real_mask, {b.N});
  in.I = in.C;
  in.has_context = reshape(b.real_mask, {b.N});
  in.batch = &b;
  return in;
}

// route_top_k over every row, grouped, and its losses.
struct Routed {
  Routing r;
  KeyGroups g;
  RouterLosses l;
};
Routed route_all(const Tensor& x, const Tensor& W, int64_t k, double balance, double z, const Tensor& second = Tensor()) {
  const Tensor rows = Tensor::ones({x.size(0)});
  Routed o;
  o.r = route_top_k(x, W, rows, k, second);
  o.g = group_by_key(o.r.keys, W.size(0));
  o.l = router_losses(o.r, rows, o.g.counts, balance, z);
  return o;
}

void set(const Tensor& t, const std::vector<float>& v) {
  NoGradGuard ng;
  t.detach().copy_from(Tensor::from_vector(v, t.shape()));
}

std::vector<float> grad_of(const Tensor& t) {
  return t.grad().defined() ? t.grad().to_vector<float>() : std::vector<float>((size_t)t.numel(), 0.f);
}

void check_near(const std::vector<float>& a, const std::vector<float>& b, double tol) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, (double)std::abs(a[i] - b[i]));
  INFO("largest difference " << worst);
  CHECK(worst <= tol);
}

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("moe: dropless dispatch equals a per-token loop over experts, values and gradients") {
    const int64_t N = 12, D = 8, F = 6, E = 4;
    Generator gen(21);
    Parameters p;
    std::vector<ShallowExpert> experts;
    for (int64_t e = 0; e < E; ++e) experts.push_back(ShallowExpert::make(p, std::string("e").append(std::to_string(e)), D, F, 0.3, gen));
    Tensor W = p.normal("router", {E, D}, 1.0, gen);
    Tensor x = Tensor::randn({N, D}, gen).requires_grad_();
    Tensor G = Tensor::randn({N, D}, gen);
    std::vector<int32_t> k_per_token((size_t)N);
    std::vector<float> second((size_t)N);
    for (int64_t i = 0; i < N; ++i) k_per_token[(size_t)i] = i % 3 == 0 ? 1 : 2;  // mixed, as dynamic_k makes it
    for (int64_t i = 0; i < N; ++i) second[(size_t)i] = k_per_token[(size_t)i] == 2 ? 1.f : 0.f;
    std::vector<Tensor> params = p.trainable();
    params.push_back(x);

    Routed o = route_all(x, W, 2, 0, 0, Tensor::from_vector(second, {N}));
    const Routing& r = o.r;
    Tensor y = run_experts(Tensor::zeros({N, D}), x, o.g.rows, o.g.slots, o.g.kept.to_vector<int32_t>(), r.weights,
                           [&](int64_t e, const Tensor& xe) { return experts[(size_t)e](xe); });
    sum(y * G).backward();
    std::vector<std::vector<float>> grads;
    for (Tensor& t : params) grads.push_back(grad_of(t)), t.zero_grad();

    // Reference: one token at a time, every chosen expert called on that token alone.
    std::vector<Tensor> outs;
    for (int64_t i = 0; i < N; ++i) {
      Tensor xi = slice(x, 0, i, 1);
      Tensor pi = softmax(matmul(xi, W, false, true));  // [1, E]
      std::vector<float> pv = pi.to_vector<float>();
      std::vector<int> order(E);
      for (int e = 0; e < E; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return pv[a] > pv[b]; });
      const int k = k_per_token[(size_t)i];
      Tensor denom;
      for (int c = 0; c < k; ++c) denom = c ? denom + slice(pi, 1, order[c], 1) : slice(pi, 1, order[c], 1);
      Tensor yi;
      for (int c = 0; c < k; ++c) {
        Tensor w = slice(pi, 1, order[c], 1);
        if (k >= 2) w = w / denom;
        Tensor term = experts[(size_t)order[c]](xi) * w;
        yi = c ? yi + term : term;
      }
      outs.push_back(yi);
    }
    Tensor y_ref = concat(outs, 0);
    check_near(y.to_vector<float>(), y_ref.to_vector<float>(), 1e-5);
    sum(y_ref * G).backward();
    for (size_t i = 0; i < params.size(); ++i) check_near(grads[i], grad_of(params[i]), 1e-5);
    // k = 1 keeps the raw probability as the weight (the router keeps a gradient).
    std::vector<float> w = r.weights.to_vector<float>();
    std::vector<float> p0 = softmax(matmul(slice(x, 0, 0, 1), W, false, true)).to_vector<float>();
    CHECK(w[0] == doctest::Approx(*std::max_element(p0.begin(), p0.end())));
    CHECK(r.keys.to_vector<int32_t>()[1] == -1);  // token 0's unused second slot
  }

  TEST_CASE("moe: balance loss is balance_coef for uniform routing and never below it when f = P") {
    const int64_t E = 4;
    Tensor eye = Tensor::from_vector<float>({1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, {E, E});
    // f = P = 1/E: token i prefers expert i.
    Routed u = route_all(eye * 10.0, eye, 1, 0.01, 0.001);
    CHECK(u.l.balance.item() == doctest::Approx(0.01).epsilon(1e-5));
    CHECK(u.g.counts.to_vector<int32_t>() == std::vector<int32_t>{1, 1, 1, 1});
    // One-hot router probabilities (f = P exactly) with skewed assignments.
    Generator gen(22);
    for (int trial = 0; trial < 20; ++trial) {
      const int64_t N = 3 + trial;
      std::vector<float> x((size_t)(N * E), 0.f);
      for (int64_t i = 0; i < N; ++i) x[(size_t)(i * E + std::min<int64_t>((int64_t)(gen.next_uniform() * E), E - 1))] = 60.f;
      Routed r = route_all(Tensor::from_vector(x, {N, E}), eye, 1, 0.01, 0);
      CHECK(r.l.balance.item() >= 0.01 * (1 - 1e-6));
    }
    // z-loss: z = 0 gives z_coef·(ln E)².
    Routed z = route_all(eye, Tensor::zeros({E, E}), 2, 0.01, 0.001);
    CHECK(z.l.z.item() == doctest::Approx(0.001 * std::log(4.0) * std::log(4.0)).epsilon(1e-5));
    // A tier with no token adds nothing.
    const Tensor no_rows = Tensor::zeros({E});
    Routing none = route_top_k(eye, eye, no_rows, 1);
    RouterLosses nl = router_losses(none, no_rows, group_by_key(none.keys, E).counts, 0.01, 0.001);
    CHECK(nl.balance.item() == 0);
    CHECK(nl.z.item() == 0);
  }

  TEST_CASE("moe: Switch drops exactly the overflow, admitting position-major; padding takes no capacity") {
    Config c = Config::parse(R"({"d_model": 8, "n_head": 2, "ffn": "switch", "attention": "full", "causal": false,
                                 "moe": {"n_shallow": 4, "d_ff": 8, "top_k": 1, "capacity_factor": 1.0}})");
    Generator gen(23);
    Parameters p;
    auto ffn = make_ffn(c, p, "ffn", gen);
    std::vector<float> router(4 * 8, 0.f);
    for (int d = 0; d < 8; ++d) router[(size_t)d] = 5.f;  // every token picks expert 0
    set(p.get("ffn.router.weight"), router);
    Tensor x = add(Tensor::rand({8, 8}, gen, 0, 1), 0.1);
    for (bool padded : {false, true}) {
      // B = 2, T = 4; padded: sequence 0 has one real token. N real = 8 or 5, capacity 2.
      BatchInfo b = padded ? make_batch(2, 4, {1, 4}) : make_batch(2, 4);
      FfnInput in = make_input(x, b);
      FfnOutput out = ffn->forward(in);
      std::vector<float> y = out.y.to_vector<float>();
      for (int64_t row = 0; row < 8; ++row) {
        double norm = 0;
        for (int d = 0; d < 8; ++d) norm += std::abs(y[(size_t)(row * 8 + d)]);
        INFO("row " << row << " padded " << padded);
        CHECK((norm > 0) == (row == 0 || row == 4));  // (b0, t0) and (b1, t0), the first two position-major
      }
      const RoutingSummary sum = out.routing.summary();
      CHECK(sum.dropped == doctest::Approx(padded ? 3.0 / 5 : 6.0 / 8));
      CHECK(sum.load_shallow[0] == 1.0);  // f counted before capacity
      // Without capacity (generation) every real token gets its expert.
      b.capacity = false;
      std::vector<float> all = ffn->forward(in).y.to_vector<float>();
      for (int64_t row = 0; row < 8; ++row) CHECK((all[(size_t)(row * 8)] != 0) == b.real(row));
    }
  }

  TEST_CASE("moe: DSMoE saturated open equals its dense FFN; closed blocks get exactly zero gradient") {
    Config c = Config::parse(R"({"d_model": 8, "n_head": 2, "d_ff": 16, "n_layer": 2, "ffn": "dsmoe",
                                 "dsmoe": {"blocks": 4, "sparsity_coef": 1.0}})");
    Generator gen(24);
    Parameters p;
    auto ffn = make_ffn(c, p, "ffn", gen);
    const Tensor gw = p.get("ffn.gate.weight"), gb = p.get("ffn.gate.bias"), w1 = p.get("ffn.fc1.weight"),
                 b1 = p.get("ffn.fc1.bias"), w2 = p.get("ffn.fc2.weight"), b2 = p.get("ffn.fc2.bias");
    set(b1, std::vector<float>(16, 0.05f));
    set(b2, std::vector<float>(8, 0.1f));
    set(gw, std::vector<float>(4 * 8, 0.f));
    Tensor x = Tensor::randn({6, 8}, gen);
    BatchInfo b = make_batch(2, 3);
    Tensor G = Tensor::randn({6, 8}, gen);
    std::vector<Tensor> params = p.trainable();

    SUBCASE("saturated open equals dense") {
      set(gb, std::vector<float>(4, 20.f));  // σ = 1 in f32
      Tensor y = ffn->forward(make_input(x, b)).y;
      Tensor dense = linear(gelu(linear(x, w1, b1)), w2, b2);
      check_near(y.to_vector<float>(), dense.to_vector<float>(), 1e-6);
    }
    SUBCASE("blocks 1 and 3 closed") {
      set(gb, {3.f, -3.f, 3.f, -3.f});
      FfnOutput out = ffn->forward(make_input(x, b));
      const double s3 = 1 / (1 + std::exp(-3.0));
      CHECK(out.sparsity.item() == doctest::Approx(s3 / 2 / 2).epsilon(1e-5));  // mean G over blocks, / n_layer
      CHECK(out.routing.summary().active_blocks == doctest::Approx(0.5));
      (sum(out.y * G) + out.sparsity).backward();
      std::vector<float> g1 = grad_of(w1), gb1 = grad_of(b1), g2 = grad_of(w2), ggate = grad_of(gb);
      for (int64_t f = 0; f < 16; ++f) {
        const bool closed = (f / 4) % 2 == 1;
        for (int64_t d = 0; d < 8; ++d) {
          CHECK((g1[(size_t)(f * 8 + d)] == 0) == closed);
          CHECK((g2[(size_t)(d * 16 + f)] == 0) == closed);
        }
        CHECK((gb1[(size_t)f] == 0) == closed);
      }
      for (float g : ggate) CHECK(g != 0);  // closed gates still learn
    }
    SUBCASE("all gates closed: y = b2, the gates still get a gradient") {
      set(gb, std::vector<float>(4, -3.f));
      FfnOutput out = ffn->forward(make_input(x, b));
      for (size_t i = 0; i < 48; ++i) CHECK(out.y.to_vector<float>()[i] == doctest::Approx(0.1f));
      CHECK(out.sparsity.item() == 0);
      sum(out.y * G).backward();
      for (float g : grad_of(w1)) CHECK(g == 0);
      for (float g : grad_of(w2)) CHECK(g == 0);
      for (float g : grad_of(gb)) CHECK(g != 0);
    }
  }
}
