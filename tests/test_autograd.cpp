// Suite "autograd": graph recording, accumulation, no_grad, detach, freezing, freed graphs, gradcheck.
#include <doctest/doctest.h>

#include "autograd/node.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

TEST_SUITE("autograd") {
  TEST_CASE("autograd: chain rule through a small expression") {
    // L = Σ (a·b + a)  =>  dL/da = b + 1, dL/db = a
    Tensor a = Tensor::from_vector<double>({1, 2, 3}, {3}).requires_grad_();
    Tensor b = Tensor::from_vector<double>({4, 5, 6}, {3}).requires_grad_();
    Tensor L = sum(a * b + a);
    CHECK(L.item() == 1 * 4 + 2 * 5 + 3 * 6 + 6);
    L.backward();
    CHECK(a.grad().to_vector<double>() == std::vector<double>{5, 6, 7});
    CHECK(b.grad().to_vector<double>() == std::vector<double>{1, 2, 3});
  }

  TEST_CASE("autograd: a tensor used twice gets both contributions") {
    Tensor x = Tensor::from_vector<double>({3}, {1}).requires_grad_();
    Tensor y = x * x * x;  // dy/dx = 3x² = 27
    sum(y).backward();
    CHECK(x.grad().item() == 27);
  }

  TEST_CASE("autograd: gradients accumulate across backward calls until zeroed") {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    sum(x * 3.0).backward();
    sum(x * 3.0).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{6, 6});
    x.zero_grad();
    CHECK(!x.grad().defined());
    sum(x * 2.0).backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 2});
  }

  TEST_CASE("autograd: no_grad records nothing") {
    Tensor x = Tensor::ones({2}).requires_grad_();
    Tensor y;
    {
      NoGradGuard ng;
      y = x * 2.0;
    }
    CHECK(!y.requires_grad());
    CHECK(y.grad_fn() == nullptr);
    CHECK(grad_enabled());
    CHECK_ERROR_CONTAINS(sum(y).backward(), "does not require grad");
  }

  TEST_CASE("autograd: detach cuts the graph but shares storage") {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor y = x * 2.0;
    Tensor d = y.detach();
    CHECK(!d.requires_grad());
    CHECK(d.raw_data() == y.raw_data());
    Tensor L = sum(y * d);  // d is a constant: dL/dx = 2·d
    L.backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});
  }

  TEST_CASE("autograd: backward_with_hook names each leaf once, when its gradient is final") {
    // L = Σ (c·(a·b) + a): c's gradient is final after the outer product's node, a's only after
    // the last node touching it (the sum's a path and the inner product), d (no path) never.
    Tensor a = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor b = Tensor::from_vector<double>({3, 4}, {2}).requires_grad_();
    Tensor c = Tensor::from_vector<double>({5, 6}, {2}).requires_grad_();
    Tensor d = Tensor::from_vector<double>({7, 8}, {2}).requires_grad_();
    Tensor L = sum(c * (a * b) + a);
    std::vector<std::pair<const TensorImpl*, std::vector<double>>> seen;  // the gradient when named
    backward_with_hook(L, Tensor(), false, [&](const Tensor& leaf) {
      seen.push_back({&leaf.impl(), leaf.grad().to_vector<double>()});
    });
    REQUIRE(seen.size() == 3);
    for (const Tensor& t : {a, b, c}) {
      int n = 0;
      for (const auto& [impl, g] : seen)
        if (impl == &t.impl()) {
          ++n;
          CHECK(g == t.grad().to_vector<double>());  // nothing was added after the hook
        }
      CHECK(n == 1);
    }
    CHECK(seen[0].first == &c.impl());  // c's only node runs before the inner product's
    CHECK(a.grad().to_vector<double>() == std::vector<double>{3 * 5 + 1, 4 * 6 + 1});
    CHECK(!d.grad().defined());
  }

  TEST_CASE("autograd: a frozen parameter gets no gradient") {
    Tensor w = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor frozen = Tensor::from_vector<double>({3, 4}, {2}).requires_grad_();
    frozen.requires_grad_(false);
    sum(w * frozen).backward();
    CHECK(w.grad().defined());
    CHECK(!frozen.grad().defined());
  }

  TEST_CASE("autograd: second backward through a freed graph is a clear error") {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor L = sum(x * x);
    L.backward();
    CHECK_ERROR_CONTAINS(L.backward(), "already freed", "retain_graph");
    // With retain_graph the second pass works and accumulates.
    Tensor L2 = sum(x * x);
    x.zero_grad();
    L2.backward(Tensor(), true);
    L2.backward();
    CHECK(x.grad().to_vector<double>() == std::vector<double>{4, 8});
  }

  TEST_CASE("autograd: saved tensors are released after backward") {
    Tensor x = Tensor::from_vector<double>({1, 2}, {2}).requires_grad_();
    Tensor y = x * x;
    CHECK(!y.grad_fn()->saved.empty());
    sum(y).backward();
    CHECK(y.grad_fn()->saved.empty());
    CHECK(y.grad_fn()->released);
  }

  TEST_CASE("autograd: backward of a non-scalar needs an explicit gradient") {
    Tensor x = Tensor::ones({3}, DType::f64).requires_grad_();
    Tensor y = x * 2.0;
    CHECK_ERROR_CONTAINS(y.backward(), "not a scalar");
    CHECK_ERROR_CONTAINS(y.backward(Tensor::ones({2}, DType::f64)), "does not match");
    y.backward(Tensor::from_vector<double>({1, 2, 3}, {3}));
    CHECK(x.grad().to_vector<double>() == std::vector<double>{2, 4, 6});
  }

  TEST_CASE("autograd: only leaves change requires_grad") {
    Tensor x = Tensor::ones({2}, DType::f64).requires_grad_();
    Tensor y = x * 2.0;
    CHECK_ERROR_CONTAINS(y.requires_grad_(false), "only leaf tensors");
  }

  TEST_CASE("autograd: gradcheck catches a wrong gradient") {
    // A node whose backward is deliberately off by a factor 2: gradcheck must fail.
    struct WrongBackward : Node {
      const char* name() const override { return "wrong"; }
      std::vector<Tensor> backward(const Tensor& g) override { return {g * 2.0}; }
    };
    auto wrong_identity = [](const std::vector<Tensor>& in) {
      Tensor y = in[0].detach().clone();
      if (needs_grad({in[0]})) attach(y, std::make_shared<WrongBackward>(), {in[0]});
      return y;
    };
    Generator gen(3);
    std::vector<Tensor> inputs{test::rand64({4}, gen)};
    CHECK(!gradcheck(wrong_identity, inputs).ok);
    CHECK(gradcheck([](const std::vector<Tensor>& in) { return in[0] * 2.0; }, inputs).ok);
  }

  TEST_CASE("autograd: a deep chain does not overflow the stack") {
    Tensor x = Tensor::ones({1}, DType::f64).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < 5000; ++i) y = y + 0.0;
    sum(y).backward();
    CHECK(x.grad().item() == 1.0);
  }
}
