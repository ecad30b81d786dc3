// Suite "ops_nn": softmax, log_softmax, layer_norm, embedding, cross_entropy, dropout —
// gradient checks (f64, odd sizes), forward values against hand-computed references,
// agreement with the same math composed from elementwise ops, f32 vs f64, and error paths.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "engine/philox.hpp"
#include "ops/cross_entropy.hpp"
#include "ops/dropout.hpp"
#include "ops/elementwise.hpp"
#include "ops/embedding.hpp"
#include "ops/layer_norm.hpp"
#include "ops/reduce.hpp"
#include "ops/softmax.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::check_close;
using test::rand64;
using Inputs = std::vector<Tensor>;

namespace {

Tensor T64(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, s); }
Tensor I32(std::vector<int32_t> v, Shape s) { return Tensor::from_vector<int32_t>(v, s); }

// Random i32 ids in [0, hi) (or ignore where the draw is below ignore_rate).
Tensor rand_ids(const Shape& s, int32_t hi, Generator& g, double ignore_rate = 0, int32_t ignore = -100) {
  std::vector<int32_t> v((size_t)numel(s));
  for (auto& x : v) x = g.next_uniform() < ignore_rate ? ignore : (int32_t)(g.next_uniform() * hi);
  return I32(v, s);
}

// dL/dx for L = Σ w·f(x), w fixed: the analytic gradient the op produces.
std::vector<double> grad_of(const Tensor& x, const Tensor& y, const Tensor& w) {
  x.impl().grad.reset();
  y.backward(w, /*retain_graph=*/true);
  return x.grad().to_vector<double>();
}

// |a − b| ≤ tol·max(1, |b|) everywhere; one assertion, reporting the worst element.
void check_all_close(const std::vector<double>& a, const std::vector<double>& b, double tol) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double e = std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i]));
    if (!(e <= worst)) worst = e, at = i;
  }
  INFO("worst element " << at << ": " << a[at] << " vs " << b[at]);
  CHECK(worst <= tol);
}

}  // namespace

TEST_SUITE("ops_nn") {
  // ---- gradient checks ----------------------------------------------------------------
  TEST_CASE("gradcheck:softmax") {
    Generator g(21);
    for (Shape s : {Shape{1}, Shape{3}, Shape{17}, Shape{3, 1}, Shape{2, 3, 17}, Shape{1, 129}})
      CHECK_GRADCHECK([](const Inputs& in) { return softmax(in[0]); }, (Inputs{rand64(s, g, -3, 3)}));
  }

  TEST_CASE("gradcheck:log_softmax") {
    Generator g(22);
    for (Shape s : {Shape{1}, Shape{3}, Shape{17}, Shape{3, 1}, Shape{2, 3, 17}, Shape{1, 129}})
      CHECK_GRADCHECK([](const Inputs& in) { return log_softmax(in[0]); }, (Inputs{rand64(s, g, -3, 3)}));
  }

  TEST_CASE("gradcheck:layer_norm") {
    Generator g(23);
    for (Shape s : {Shape{1}, Shape{3, 1}, Shape{3}, Shape{17, 3}, Shape{2, 3, 17}, Shape{1, 129}}) {
      const int64_t D = s.back();
      Tensor x = rand64(s, g, -2, 2), w = rand64({D}, g, 0.5, 1.5), b = rand64({D}, g);
      CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); }, (Inputs{x, w, b}));
    }
    // no affine parameters, only one of them, another eps, a row far from 0
    Tensor x = rand64({3, 17}, g), w = rand64({17}, g), b = rand64({17}, g);
    CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], Tensor(), Tensor()); }, (Inputs{x}));
    CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], in[1], Tensor(), 1e-3); }, (Inputs{x, w}));
    CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0], Tensor(), in[1]); }, (Inputs{x, b}));
    CHECK_GRADCHECK([](const Inputs& in) { return layer_norm(in[0] + 100.0, in[1], in[2]); }, (Inputs{x, w, b}));
  }

  TEST_CASE("gradcheck:embedding") {
    Generator g(24);
    // duplicates are likely: 24 ids drawn from 5 rows
    CHECK_GRADCHECK([](const Inputs& in) { return embedding(in[0], I32({4, 0, 4, 4, 1, 0}, {2, 3})); },
                    (Inputs{rand64({5, 3}, g)}));
    for (auto [V, D, ids] : {std::tuple{1, 1, Shape{1}}, {5, 17, Shape{2, 3, 4}}, {129, 3, Shape{17}}, {3, 129, Shape{5}}}) {
      Tensor table = rand64({V, D}, g), id = rand_ids(ids, V, g);
      CHECK_GRADCHECK([id](const Inputs& in) { return embedding(in[0], id); }, (Inputs{table}));
    }
    // a scalar id gives one row
    CHECK_GRADCHECK([](const Inputs& in) { return embedding(in[0], I32({2}, {})); }, (Inputs{rand64({3, 3}, g)}));
  }

  TEST_CASE("gradcheck:cross_entropy") {
    Generator g(25);
    for (auto [N, C] : {std::pair{1, 1}, {3, 17}, {17, 3}, {2, 129}}) {
      Tensor logits = rand64({N, C}, g, -3, 3), t = rand_ids({N}, C, g, 0.25);
      for (Reduction r : {Reduction::mean, Reduction::sum, Reduction::none}) {
        auto f = [t, r](const Inputs& in) { return cross_entropy(in[0], t, -100, r); };
        CHECK_GRADCHECK(f, (Inputs{logits}));
      }
    }
    // [..., C] logits, a custom ignore_index inside [0, C), every target ignored
    Tensor logits = rand64({2, 3, 5}, g, -3, 3), t = rand_ids({2, 3}, 5, g);
    CHECK_GRADCHECK([t](const Inputs& in) { return cross_entropy(in[0], t, 2); }, (Inputs{logits}));
    CHECK_GRADCHECK([t](const Inputs& in) { return cross_entropy(in[0], t, 2, Reduction::none); }, (Inputs{logits}));
    Tensor none = I32({-1, -1, -1}, {3});
    CHECK_GRADCHECK([none](const Inputs& in) { return cross_entropy(in[0], none, -1); }, (Inputs{rand64({3, 4}, g)}));
  }

  TEST_CASE("gradcheck:dropout") {
    Generator g(26);
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{129}, Shape{2, 3, 5}})
      for (double p : {0.0, 0.3, 0.9})
        CHECK_GRADCHECK(
            [p](const Inputs& in) {
              Generator fixed(77);  // the same mask in every evaluation
              return dropout(in[0], p, true, fixed);
            },
            (Inputs{rand64(s, g)}));
  }

  // ---- softmax values -------------------------------------------------------------------
  TEST_CASE("ops_nn: softmax and log_softmax values") {
    const double s = std::exp(1.0) + std::exp(2.0) + std::exp(3.0);
    Tensor x = T64({1, 2, 3, 0, 0, 0}, {2, 3});
    check_close(softmax(x).to_vector<double>(),
                {std::exp(1.0) / s, std::exp(2.0) / s, std::exp(3.0) / s, 1.0 / 3, 1.0 / 3, 1.0 / 3});
    check_close(log_softmax(x).to_vector<double>(),
                {1 - std::log(s), 2 - std::log(s), 3 - std::log(s), -std::log(3.0), -std::log(3.0), -std::log(3.0)});
    // large logits: no overflow, in f64 and f32
    check_close(softmax(T64({1000, 1000, -1000}, {3})).to_vector<double>(), {0.5, 0.5, 0});
    check_close(log_softmax(T64({1000, 0}, {2})).to_vector<double>(), {0, -1000});
    auto f = softmax(Tensor::from_vector<float>({100, 100}, {2})).to_vector<float>();
    CHECK(f[0] == doctest::Approx(0.5));
    CHECK(softmax(T64({7}, {1})).item() == 1.0);
  }

  TEST_CASE("ops_nn: softmax matches the composed ops, f32 matches f64, on many rows") {
    Generator g(31);
    Tensor x = rand64({300, 129}, g, -4, 4), w = Tensor::rand({300, 129}, g, -1, 1, DType::f64);
    Tensor ref = exp(x) / sum(exp(x), -1, true);
    check_all_close(softmax(x).to_vector<double>(), ref.to_vector<double>(), 1e-12);
    check_all_close(grad_of(x, softmax(x), w), grad_of(x, ref, w), 1e-10);
    check_all_close(grad_of(x, log_softmax(x), w), grad_of(x, log(ref), w), 1e-10);
    auto y32 = log_softmax(x.detach().to(DType::f32)).to(DType::f64).to_vector<double>();
    check_all_close(y32, log_softmax(x).to_vector<double>(), 1e-5);
  }

  // ---- layer_norm values ------------------------------------------------------------------
  TEST_CASE("ops_nn: layer_norm values") {
    // row [1, 2, 3, 4]: μ = 2.5, σ² = 1.25
    const double r = 1 / std::sqrt(1.25 + 1e-5);
    Tensor x = T64({1, 2, 3, 4, 5, 5, 5, 5}, {2, 4});
    check_close(layer_norm(x, Tensor(), Tensor()).to_vector<double>(), {-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r, 0, 0, 0, 0});
    Tensor w = T64({1, 2, 1, 1}, {4}), b = T64({0, 0, 1, 0}, {4});
    check_close(layer_norm(x, w, b).to_vector<double>(), {-1.5 * r, -1.0 * r, 0.5 * r + 1, 1.5 * r, 0, 0, 1, 0});
    // eps matters for a constant row only through b; for the first row through r
    const double r2 = 1 / std::sqrt(1.25 + 0.75);
    check_close(layer_norm(x, Tensor(), Tensor(), 0.75).to_vector<double>(), {-1.5 * r2, -0.5 * r2, 0.5 * r2, 1.5 * r2, 0, 0, 0, 0});
    // dbias = Σ_rows dy, dweight = Σ_rows dy·x̂ (dy = 1: Σ x̂ = 0 for each column pair)
    Tensor wl = T64({1, 1, 1, 1}, {4}), bl = T64({0, 0, 0, 0}, {4});
    wl.requires_grad_(true);
    bl.requires_grad_(true);
    layer_norm(x, wl, bl).backward(Tensor::ones({2, 4}, DType::f64));
    check_close(bl.grad().to_vector<double>(), {2, 2, 2, 2});
    check_close(wl.grad().to_vector<double>(), {-1.5 * r, -0.5 * r, 0.5 * r, 1.5 * r});
  }

  TEST_CASE("ops_nn: layer_norm matches the composed ops, f32 matches f64, on many rows") {
    Generator g(32);
    Tensor x = rand64({257, 130}, g, -3, 5), w = rand64({130}, g), b = rand64({130}, g);
    Tensor gy = Tensor::rand({257, 130}, g, -1, 1, DType::f64);
    Tensor xc = x - mean(x, -1, true);
    Tensor ref = xc / sqrt(mean(xc * xc, -1, true) + 1e-5) * w + b;
    Tensor y = layer_norm(x, w, b);
    check_all_close(y.to_vector<double>(), ref.to_vector<double>(), 1e-10);
    y.backward(gy);
    auto gx = x.grad().to_vector<double>(), gw = w.grad().to_vector<double>(), gb = b.grad().to_vector<double>();
    for (Tensor t : {x, w, b}) t.impl().grad.reset();
    ref.backward(gy);
    check_all_close(gx, x.grad().to_vector<double>(), 1e-9);
    check_all_close(gw, w.grad().to_vector<double>(), 1e-9);
    check_all_close(gb, b.grad().to_vector<double>(), 1e-9);
    auto y32 = layer_norm(x.detach().to(DType::f32), w.detach().to(DType::f32), b.detach().to(DType::f32));
    check_all_close(y32.to(DType::f64).to_vector<double>(), y.to_vector<double>(), 1e-4);
  }

  // ---- embedding values -------------------------------------------------------------------
  TEST_CASE("ops_nn: embedding gathers rows and scatter-adds duplicates") {
    Tensor table = T64({1, 2, 3, 4, 5, 6}, {3, 2});
    table.requires_grad_(true);
    Tensor ids = I32({2, 0, 2, 2}, {2, 2});
    Tensor y = embedding(table, ids);
    CHECK(y.shape() == Shape{2, 2, 2});
    check_close(y.to_vector<double>(), {5, 6, 1, 2, 5, 6, 5, 6});
    y.backward(T64({1, 10, 100, 1000, 2, 20, 3, 30}, {2, 2, 2}));
    check_close(table.grad().to_vector<double>(), {100, 1000, 0, 0, 6, 60});
    // f32, more positions than one thread's share, every id the same row
    Generator g(33);
    Tensor t32 = Tensor::rand({7, 100}, g);
    t32.requires_grad_(true);
    Tensor same = Tensor::from_vector<int32_t>(std::vector<int32_t>(1000, 3), {1000});
    Tensor e = embedding(t32, same);
    e.backward(Tensor::ones({1000, 100}));
    auto gt = t32.grad().to_vector<float>();
    for (int64_t v = 0; v < 7; ++v) CHECK(gt[(size_t)(v * 100 + 17)] == (v == 3 ? 1000.f : 0.f));
    CHECK(e.to_vector<float>()[(size_t)(999 * 100 + 5)] == t32.to_vector<float>()[3 * 100 + 5]);
  }

  // ---- cross_entropy values -----------------------------------------------------------------
  TEST_CASE("ops_nn: cross_entropy values, ignore_index and reductions") {
    const double lse0 = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
    const double lse1 = std::log(3.0);
    Tensor logits = T64({1, 2, 3, 0, 0, 0, 5, 1, 1}, {3, 3});
    Tensor t = I32({0, -100, 2}, {3});
    const double l0 = lse0 - 1, l2 = std::log(std::exp(5.0) + 2 * std::exp(1.0)) - 1;
    check_close(cross_entropy(logits, t, -100, Reduction::none).to_vector<double>(), {l0, 0, l2});
    CHECK(cross_entropy(logits, t).item() == doctest::Approx((l0 + l2) / 2).epsilon(1e-12));
    CHECK(cross_entropy(logits, t, -100, Reduction::sum).item() == doctest::Approx(l0 + l2).epsilon(1e-12));
    CHECK(cross_entropy(logits, I32({1, 1, 1}, {3}), 2).item() == doctest::Approx((lse0 - 2 + lse1 + std::log(std::exp(5.0) + 2 * std::exp(1.0)) - 1) / 3).epsilon(1e-12));
    // [B, T, C] logits with [B, T] targets give per-token losses shaped [B, T]
    Tensor l3 = cross_entropy(logits.view({1, 3, 3}), t.view({1, 3}), -100, Reduction::none);
    CHECK(l3.shape() == Shape{1, 3});
    // backward: (softmax − onehot)/count on kept rows, 0 on the ignored one
    Tensor x = logits.clone();
    x.requires_grad_(true);
    cross_entropy(x, t).backward();
    auto gx = x.grad().to_vector<double>();
    check_close({gx[0], gx[1], gx[2]}, {(std::exp(1 - lse0) - 1) / 2, std::exp(2 - lse0) / 2, std::exp(3 - lse0) / 2});
    check_close({gx[3], gx[4], gx[5]}, {0, 0, 0});
    // everything ignored: loss 0, gradient 0
    Tensor x2 = logits.clone();
    x2.requires_grad_(true);
    Tensor all = cross_entropy(x2, I32({-100, -100, -100}, {3}));
    CHECK(all.item() == 0.0);
    all.backward();
    check_close(x2.grad().to_vector<double>(), std::vector<double>(9, 0.0));
    // f32 matches f64 on many rows, with large logits
    Generator g(34);
    Tensor big = Tensor::rand({400, 97}, g, -30, 30, DType::f64);
    Tensor tt = rand_ids({400}, 97, g, 0.1);
    auto a = cross_entropy(big, tt, -100, Reduction::none).to_vector<double>();
    auto b = cross_entropy(big.to(DType::f32), tt, -100, Reduction::none).to(DType::f64).to_vector<double>();
    check_all_close(b, a, 1e-5);
  }

  TEST_CASE("ops_nn: cross_entropy matches log_softmax and a one-hot product") {
    Generator g(35);
    Tensor x = rand64({300, 129}, g, -4, 4);
    Tensor t = rand_ids({300}, 129, g, 0.2);
    auto tv = t.to_vector<int32_t>();
    std::vector<double> onehot(300 * 129, 0.0);
    double count = 0;
    for (size_t n = 0; n < 300; ++n)
      if (tv[n] >= 0) {
        onehot[n * 129 + (size_t)tv[n]] = 1;
        count += 1;
      }
    Tensor ref = neg(sum(log_softmax(x) * T64(onehot, {300, 129}))) / count;
    Tensor y = cross_entropy(x, t);
    CHECK(y.item() == doctest::Approx(ref.item()).epsilon(1e-12));
    Tensor w = Tensor::scalar(1.7, DType::f64);
    check_all_close(grad_of(x, y, w), grad_of(x, ref, w), 1e-10);
  }

  // ---- dropout --------------------------------------------------------------------------
  TEST_CASE("ops_nn: dropout mask statistics, scaling and reproducibility") {
    const int64_t n = 200000;
    Tensor x = Tensor::ones({n});
    Generator gen(5);
    Tensor y = dropout(x, 0.25, true, gen);
    CHECK(gen.offset() == (uint64_t)(n + 3) / 4);  // the draw reserved n numbers
    auto v = y.to_vector<float>();
    int64_t kept = 0, other = 0;
    for (float e : v) {
      kept += e != 0.f;
      other += e != 0.f && e != (float)(1 / 0.75);
    }
    CHECK(other == 0);  // every kept value is exactly 1/(1 − p)
    CHECK((double)kept / (double)n == doctest::Approx(0.75).epsilon(0.01));
    // element i is kept iff philox_uniform(seed, offset, i) ≥ p
    for (int64_t i : {int64_t(0), int64_t(1), int64_t(2), int64_t(3), int64_t(4), int64_t(1001), n - 1}) CHECK((v[(size_t)i] != 0.f) == (philox_uniform(5, 0, (uint64_t)i) >= 0.25));
    // the same state gives the same mask; the next draw a different one
    Generator again(5);
    CHECK(dropout(x, 0.25, true, again).to_vector<float>() == v);
    CHECK(dropout(x, 0.25, true, again).to_vector<float>() != v);
    // the backward applies the same mask and scale
    Tensor xg = Tensor::full({1000}, 2.0, DType::f64);
    xg.requires_grad_(true);
    Generator g3(9);
    Tensor yg = dropout(xg, 0.5, true, g3);
    yg.backward(Tensor::ones({1000}, DType::f64));
    auto gy = xg.grad().to_vector<double>(), yv = yg.to_vector<double>();
    for (double& e : gy) e *= 2;
    CHECK(gy == yv);
    // mean preserved on average: E[y] = x
    CHECK(mean(dropout(Tensor::ones({n}, DType::f64), 0.5, true, gen)).item() == doctest::Approx(1.0).epsilon(0.02));
  }

  TEST_CASE("ops_nn: dropout is the identity when not training or p = 0") {
    Tensor x = T64({1, 2, 3}, {3});
    Generator gen(1);
    CHECK(dropout(x, 0.5, false, gen).same(x));
    CHECK(dropout(x, 0.0, true, gen).same(x));
    CHECK(gen.offset() == 0);
  }

  // ---- errors --------------------------------------------------------------------------
  TEST_CASE("ops_nn: errors name the op, the shapes and what was expected") {
    Generator gen(1);
    CHECK_ERROR_CONTAINS(softmax(Tensor::scalar(1.0)), "softmax", "scalar", "at least one dimension");
    CHECK_ERROR_CONTAINS(log_softmax(Tensor::arange(3)), "log_softmax", "i32", "not floating point");

    Tensor x = Tensor::zeros({2, 4});
    CHECK_ERROR_CONTAINS(layer_norm(x, Tensor::ones({3}), Tensor()), "layer_norm", "weight", "[3]", "expected [4]");
    CHECK_ERROR_CONTAINS(layer_norm(x, Tensor(), Tensor::ones({4}, DType::f64)), "layer_norm", "different dtypes");
    CHECK_ERROR_CONTAINS(layer_norm(x, Tensor(), Tensor(), 0.0), "layer_norm", "eps");
    CHECK_ERROR_CONTAINS(layer_norm(Tensor::zeros({2, 0}), Tensor(), Tensor()), "layer_norm", "[2, 0]");

    Tensor table = Tensor::zeros({5, 3});
    CHECK_ERROR_CONTAINS(embedding(table, I32({0, 7, 1, 2}, {2, 2})), "embedding", "id 7", "position [0, 1]", "V = 5");
    CHECK_ERROR_CONTAINS(embedding(table, I32({-1}, {1})), "embedding", "id -1", "position [0]", "V = 5");
    CHECK_ERROR_CONTAINS(embedding(table, Tensor::zeros({2})), "embedding", "ids", "expected i32");
    CHECK_ERROR_CONTAINS(embedding(Tensor::zeros({5}), I32({0}, {1})), "embedding", "[5]", "2-D table");

    Tensor logits = Tensor::zeros({3, 4});
    CHECK_ERROR_CONTAINS(cross_entropy(logits, I32({0, 4, 1}, {3})), "cross_entropy", "target 4", "position [1]", "C = 4");
    CHECK_ERROR_CONTAINS(cross_entropy(logits, I32({0, -5, 1}, {3})), "cross_entropy", "target -5", "ignore_index (-100)");
    CHECK_ERROR_CONTAINS(cross_entropy(logits, I32({0, 1}, {2})), "cross_entropy", "[3, 4]", "[2]", "expected targets of shape [3]");
    CHECK_ERROR_CONTAINS(cross_entropy(logits, Tensor::zeros({3})), "cross_entropy", "targets", "expected i32");
    CHECK_ERROR_CONTAINS(cross_entropy(Tensor::zeros({3, 0}), I32({0, 0, 0}, {3})), "cross_entropy", "C >= 1");

    CHECK_ERROR_CONTAINS(dropout(x, 1.0, true, gen), "dropout", "p = 1", "0 <= p < 1");
    CHECK_ERROR_CONTAINS(dropout(x, -0.1, false, gen), "dropout", "p = -0.1", "[2, 4]");
    CHECK_ERROR_CONTAINS(dropout(Tensor::arange(3), 0.5, true, gen), "dropout", "not floating point");
  }
}
