// Suite "train": optimizer steps against hand-computed values, frozen parameters, the schedule,
// gradient clipping, checkpoints.
#include <doctest/doctest.h>

#include <cmath>

#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"
#include <filesystem>

#include "train/checkpoint.hpp"
#include "train/optimizer.hpp"

using namespace dasg;

static Tensor param(std::vector<double> v) {
  return Tensor::from_vector<double>(v, {(int64_t)v.size()}).requires_grad_();
}

TEST_SUITE("train") {
  TEST_CASE("train: AdamW step matches the formula, decay only where asked") {
    Tensor w = param({1.0, -2.0}), b = param({0.5});
    AdamW opt({{"w", w, true}, {"b", b, false}}, {0.9, 0.999, 1e-8, 0.1});
    for (int step = 1; step <= 2; ++step) {
      opt.zero_grad();
      sum(w * w + b * 3.0).backward();  // g_w = 2w; b is broadcast over w's 2 elements: g_b = 6
      opt.step(0.01);
    }
    // Reference, by hand in double: two steps of AdamW.
    auto ref = [](double p, double wd, bool is_b) {
      double m = 0, v = 0;
      for (int t = 1; t <= 2; ++t) {
        double g = is_b ? 6.0 : 2 * p;
        m = 0.9 * m + 0.1 * g;
        v = 0.999 * v + 0.001 * g * g;
        double mh = m / (1 - std::pow(0.9, t)), vh = v / (1 - std::pow(0.999, t));
        p -= 0.01 * (mh / (std::sqrt(vh) + 1e-8) + wd * p);
      }
      return p;
    };
    auto wv = w.to_vector<double>();
    CHECK(wv[0] == doctest::Approx(ref(1.0, 0.1, false)).epsilon(1e-12));
    CHECK(wv[1] == doctest::Approx(ref(-2.0, 0.1, false)).epsilon(1e-12));
    CHECK(b.to_vector<double>()[0] == doctest::Approx(ref(0.5, 0.0, true)).epsilon(1e-12));
    CHECK(opt.steps() == 2);
    CHECK(opt.has_state("w"));
  }

  TEST_CASE("train: a frozen parameter gets no update and no optimizer state") {
    Tensor w = param({1.0, 2.0}), f = param({3.0});
    AdamW opt({{"w", w}, {"f", f}});
    sum(w * f).backward();
    opt.step(0.1);
    CHECK(opt.has_state("f"));
    f.requires_grad_(false);  // freeze: state is dropped at the next step, value never changes again
    std::vector<double> before = f.to_vector<double>();
    opt.zero_grad();
    sum(w * f).backward();
    opt.step(0.1);
    CHECK(!opt.has_state("f"));
    CHECK(f.to_vector<double>() == before);
    CHECK(opt.has_state("w"));
  }

  TEST_CASE("train: SGD with momentum") {
    Tensor w = param({1.0});
    SGD opt({{"w", w}}, {0.5, 0.0});
    // g = 2w each step; buf = 0.5·buf + g; w -= 0.1·buf
    double ref = 1.0, buf = 0;
    for (int i = 0; i < 3; ++i) {
      opt.zero_grad();
      sum(w * w).backward();
      opt.step(0.1);
      buf = 0.5 * buf + 2 * ref;
      ref -= 0.1 * buf;
    }
    CHECK(w.to_vector<double>()[0] == doctest::Approx(ref).epsilon(1e-12));
  }

  TEST_CASE("train: warm-up then cosine schedule") {
    CHECK(learning_rate(0, 10, 110, 1.0, 0.1) == doctest::Approx(0.1));
    CHECK(learning_rate(9, 10, 110, 1.0, 0.1) == doctest::Approx(1.0));
    CHECK(learning_rate(10, 10, 110, 1.0, 0.1) == doctest::Approx(1.0));
    CHECK(learning_rate(60, 10, 110, 1.0, 0.1) == doctest::Approx(0.55));
    CHECK(learning_rate(110, 10, 110, 1.0, 0.1) == doctest::Approx(0.1));
    CHECK(learning_rate(500, 10, 110, 1.0, 0.1) == doctest::Approx(0.1));
  }

  TEST_CASE("train: global-norm clipping, and non-finite gradients are reported, not scaled") {
    Tensor a = param({3.0}), b = param({4.0});
    std::vector<NamedParam> ps{{"a", a}, {"b", b}};
    sum(a * a * 0.5 + b * b * 0.5).backward();  // grads 3, 4: norm 5
    CHECK(clip_grad_norm(ps, 10.0) == doctest::Approx(5.0));
    CHECK(a.grad().item() == doctest::Approx(3.0));
    CHECK(clip_grad_norm(ps, 1.0) == doctest::Approx(5.0));
    CHECK(a.grad().item() == doctest::Approx(0.6).epsilon(1e-5));
    CHECK(b.grad().item() == doctest::Approx(0.8).epsilon(1e-5));
    a.grad().data<double>()[0] = NAN;
    CHECK(std::isnan(clip_grad_norm(ps, 1.0)));
    CHECK(b.grad().item() == doctest::Approx(0.8).epsilon(1e-5));
  }
  // Checkpoints: tests/test_checkpoint.cpp.
}
