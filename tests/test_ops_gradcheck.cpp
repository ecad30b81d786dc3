// Suite "gradcheck": one case per differentiable op (f64, central differences), on random
// shapes with odd sizes (1, 3, 17, 129) and broadcasting.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "ops/elementwise.hpp"
#include "ops/fused.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::rand64;
using Inputs = std::vector<Tensor>;

TEST_SUITE("gradcheck") {
  TEST_CASE("gradcheck:matmul") {
    Generator g(11);
    for (auto [m, k, n] : {std::tuple{1, 1, 1}, {3, 17, 1}, {17, 3, 5}, {2, 129, 3}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          Tensor a = rand64(ta ? Shape{k, m} : Shape{m, k}, g), b = rand64(tb ? Shape{n, k} : Shape{k, n}, g);
          CHECK_GRADCHECK([=](const Inputs& in) { return matmul(in[0], in[1], ta, tb); }, (Inputs{a, b}));
        }
  }

  TEST_CASE("gradcheck:bmm") {
    Generator g(12);
    for (bool ta : {false, true})
      for (bool tb : {false, true}) {
        Tensor a = rand64(ta ? Shape{3, 5, 1} : Shape{3, 1, 5}, g), b = rand64(tb ? Shape{3, 17, 5} : Shape{3, 5, 17}, g);
        CHECK_GRADCHECK([=](const Inputs& in) { return bmm(in[0], in[1], ta, tb); }, (Inputs{a, b}));
      }
  }

  TEST_CASE("gradcheck:linear") {
    Generator g(13);
    Tensor x = rand64({2, 3, 17}, g), w = rand64({5, 17}, g), b = rand64({5}, g);
    CHECK_GRADCHECK([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, (Inputs{x, w, b}));
    CHECK_GRADCHECK([](const Inputs& in) { return linear(in[0], in[1]); }, (Inputs{rand64({1, 129}, g), rand64({3, 129}, g)}));
  }

  // add/sub/mul/div: same shapes, trailing and leading broadcasting, scalar-like and outer broadcasts.
  static void check_binary(Tensor (*op)(const Tensor&, const Tensor&), uint64_t seed) {
    Generator g(seed);
    std::vector<std::pair<Shape, Shape>> shapes{{{3, 17}, {3, 17}}, {{2, 3, 17}, {17}}, {{129}, {1}},
                                                {{3, 1}, {1, 5}}, {{2, 3, 4}, {3, 1}}, {{1}, {3, 17}}};
    for (auto& [sa, sb] : shapes) {
      Tensor a = rand64(sa, g), b = rand64(sb, g, 0.5, 2.0);  // b away from 0 for div
      CHECK_GRADCHECK([op](const Inputs& in) { return op(in[0], in[1]); }, (Inputs{a, b}));
    }
  }
  TEST_CASE("gradcheck:add") { check_binary(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(add), 14); }
  TEST_CASE("gradcheck:sub") { check_binary(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(sub), 15); }
  TEST_CASE("gradcheck:mul") { check_binary(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(mul), 16); }
  TEST_CASE("gradcheck:div") { check_binary(static_cast<Tensor (*)(const Tensor&, const Tensor&)>(div), 17); }

  TEST_CASE("gradcheck:scalar ops") {
    Generator g(15);
    Tensor x = rand64({3, 17}, g);
    CHECK_GRADCHECK([](const Inputs& in) { return in[0] * 3.0 + 2.0; }, (Inputs{x}));
    CHECK_GRADCHECK([](const Inputs& in) { return in[0] / 4.0 - 1.0; }, (Inputs{x}));
  }

  // Unary functions on odd sizes; log and sqrt on positive inputs, relu away from its kink.
  static void check_unary(Tensor (*op)(const Tensor&), double lo, double hi, uint64_t seed) {
    Generator g(seed);
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{129}}) {
      Tensor x = rand64(s, g, lo, hi);
      CHECK_GRADCHECK([op](const Inputs& in) { return op(in[0]); }, (Inputs{x}));
    }
  }
  TEST_CASE("gradcheck:neg") { check_unary(neg, -2, 2, 20); }
  TEST_CASE("gradcheck:exp") { check_unary(exp, -2, 2, 21); }
  TEST_CASE("gradcheck:log") { check_unary(log, 0.5, 3, 22); }
  TEST_CASE("gradcheck:sqrt") { check_unary(sqrt, 0.5, 3, 23); }
  TEST_CASE("gradcheck:tanh") { check_unary(tanh, -2, 2, 24); }
  TEST_CASE("gradcheck:sigmoid") { check_unary(sigmoid, -2, 2, 25); }
  TEST_CASE("gradcheck:gelu") { check_unary(gelu, -2, 2, 26); }

  TEST_CASE("gradcheck:bias_gelu") {
    Generator g(27);
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{2, 3, 5}}) {
      Tensor h = rand64(s, g), b = rand64({s.back()}, g);
      CHECK_GRADCHECK([](const Inputs& in) { return bias_gelu(in[0], in[1]); }, (Inputs{h, b}));
    }
    // f32 (packet math) against the unfused chain, and the bias gradient against sum_to.
    Tensor h = Tensor::randn({67, 129}, g), b = Tensor::randn({129}, g);
    h.requires_grad_(true);
    b.requires_grad_(true);
    Tensor gy = Tensor::randn({67, 129}, g);
    Tensor y = bias_gelu(h, b);
    y.backward(gy);
    Tensor h2 = h.detach(), b2 = b.detach();
    h2.requires_grad_(true);
    b2.requires_grad_(true);
    Tensor y2 = gelu(h2 + b2);
    y2.backward(gy);
    auto near = [](const Tensor& a, const Tensor& r, double tol) {
      std::vector<float> x = a.to_vector<float>(), z = r.to_vector<float>();
      double worst = 0;
      for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, std::abs((double)x[i] - z[i]) / (1 + std::abs(z[i])));
      return worst <= tol;
    };
    CHECK(near(y, y2, 2e-6));
    CHECK(near(h.grad(), h2.grad(), 2e-6));
    CHECK(near(b.grad(), b2.grad(), 1e-5));
  }
  TEST_CASE("gradcheck:silu") { check_unary(silu, -2, 2, 27); }
  TEST_CASE("gradcheck:relu") {
    check_unary(relu, 0.1, 2, 28);
    check_unary(relu, -2, -0.1, 29);
  }

  TEST_CASE("gradcheck:sum_mean") {
    Generator g(17);
    Tensor x = rand64({3, 17, 5}, g);
    CHECK_GRADCHECK([](const Inputs& in) { return sum(in[0]); }, (Inputs{x}));
    CHECK_GRADCHECK([](const Inputs& in) { return mean(in[0]); }, (Inputs{x}));
    for (int64_t d : {0, 1, 2, -1}) {
      CHECK_GRADCHECK([d](const Inputs& in) { return sum(in[0], d); }, (Inputs{x}));
      CHECK_GRADCHECK([d](const Inputs& in) { return mean(in[0], d, true); }, (Inputs{x}));
    }
  }

  TEST_CASE("gradcheck:max") {
    Generator g(18);
    Tensor x = rand64({3, 17, 5}, g);  // continuous values: no ties
    for (int64_t d : {0, 1, 2})
      CHECK_GRADCHECK([d](const Inputs& in) { return max(in[0], d).values; }, (Inputs{x}));
  }
}
