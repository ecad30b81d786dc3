// Suite "ops": forward values against hand-computed references, and error paths.
#include <doctest/doctest.h>

#include <cmath>

#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::check_close;

static Tensor T64(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, s); }

TEST_SUITE("ops") {
  TEST_CASE("ops: matmul values, all transpose flags") {
    Tensor a = T64({1, 2, 3, 4, 5, 6}, {2, 3});      // [[1,2,3],[4,5,6]]
    Tensor b = T64({7, 8, 9, 10, 11, 12}, {3, 2});   // [[7,8],[9,10],[11,12]]
    check_close(matmul(a, b).to_vector<double>(), {58, 64, 139, 154});
    Tensor at = T64({1, 4, 2, 5, 3, 6}, {3, 2});     // aᵀ stored
    Tensor bt = T64({7, 9, 11, 8, 10, 12}, {2, 3});  // bᵀ stored
    check_close(matmul(at, b, true, false).to_vector<double>(), {58, 64, 139, 154});
    check_close(matmul(a, bt, false, true).to_vector<double>(), {58, 64, 139, 154});
    check_close(matmul(at, bt, true, true).to_vector<double>(), {58, 64, 139, 154});
    CHECK(matmul(a, b).shape() == Shape{2, 2});
  }

  TEST_CASE("ops: bmm and linear values") {
    Tensor a = T64({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});
    Tensor b = T64({1, 2, 3, 4, 1, 2, 3, 4}, {2, 2, 2});
    check_close(bmm(a, b).to_vector<double>(), {1, 2, 3, 4, 2, 4, 6, 8});
    Tensor x = T64({1, 2, 3, 4, 5, 6}, {1, 2, 3});
    Tensor w = T64({1, 0, 0, 0, 1, 1}, {2, 3});
    Tensor bias = T64({10, 20}, {2});
    Tensor y = linear(x, w, bias);
    CHECK(y.shape() == Shape{1, 2, 2});
    check_close(y.to_vector<double>(), {11, 25, 14, 31});
    check_close(linear(x, w).to_vector<double>(), {1, 5, 4, 11});
  }

  TEST_CASE("ops: matmul of large f32 matches f64") {
    Generator g(5);
    Tensor a = Tensor::rand({129, 65}, g), b = Tensor::rand({65, 17}, g);
    auto c32 = matmul(a, b).to_vector<float>();
    auto c64 = matmul(a.to(DType::f64), b.to(DType::f64)).to_vector<double>();
    for (size_t i = 0; i < c32.size(); ++i) CHECK(c32[i] == doctest::Approx(c64[i]).epsilon(1e-5));
  }

  TEST_CASE("ops: broadcasting add/sub/mul/div") {
    Tensor x = T64({1, 2, 3, 4, 5, 6}, {2, 3});
    check_close(add(x, T64({10, 20, 30}, {3})).to_vector<double>(), {11, 22, 33, 14, 25, 36});
    check_close(sub(x, T64({1, 2}, {2, 1})).to_vector<double>(), {0, 1, 2, 2, 3, 4});
    check_close(mul(x, T64({2}, {1})).to_vector<double>(), {2, 4, 6, 8, 10, 12});
    check_close(div(T64({1, 2, 3}, {3}), T64({1, 2}, {2, 1})).to_vector<double>(), {1, 2, 3, 0.5, 1, 1.5});
    check_close((x * 2.0 + 1.0).to_vector<double>(), {3, 5, 7, 9, 11, 13});
    check_close((x / 2.0 - 1.0).to_vector<double>(), {-0.5, 0, 0.5, 1, 1.5, 2});
  }

  TEST_CASE("ops: unary values") {
    Tensor x = T64({-1, 0.5, 2}, {3});
    check_close(neg(x).to_vector<double>(), {1, -0.5, -2});
    check_close(exp(x).to_vector<double>(), {std::exp(-1.0), std::exp(0.5), std::exp(2.0)});
    check_close(relu(x).to_vector<double>(), {0, 0.5, 2});
    check_close(sigmoid(x).to_vector<double>(), {1 / (1 + std::exp(1.0)), 1 / (1 + std::exp(-0.5)), 1 / (1 + std::exp(-2.0))});
    check_close(tanh(x).to_vector<double>(), {std::tanh(-1.0), std::tanh(0.5), std::tanh(2.0)});
    check_close(silu(x).to_vector<double>(), {-1 / (1 + std::exp(1.0)), 0.5 / (1 + std::exp(-0.5)), 2 / (1 + std::exp(-2.0))});
    // GELU, tanh form, at 1: 0.5·(1 + tanh(√(2/π)·1.044715)) = 0.8411919906
    check_close(gelu(T64({1}, {1})).to_vector<double>(), {0.8411919906082768}, 1e-10);
    Tensor p = T64({4, 0.25}, {2});
    check_close(sqrt(p).to_vector<double>(), {2, 0.5});
    check_close(log(p).to_vector<double>(), {std::log(4.0), std::log(0.25)});
  }

  TEST_CASE("ops: sum, mean, max") {
    Tensor x = T64({1, 5, 3, 4, 2, 6}, {2, 3});
    CHECK(sum(x).item() == 21);
    CHECK(mean(x).item() == 3.5);
    check_close(sum(x, 0).to_vector<double>(), {5, 7, 9});
    check_close(sum(x, 1).to_vector<double>(), {9, 12});
    check_close(mean(x, -1).to_vector<double>(), {3, 4});
    CHECK(sum(x, 1, true).shape() == Shape{2, 1});
    CHECK(sum(x, 0).shape() == Shape{3});
    auto m = max(x, 1);
    check_close(m.values.to_vector<double>(), {5, 6});
    CHECK(m.indices.to_vector<int32_t>() == std::vector<int32_t>{1, 2});
    auto m0 = max(x, 0, true);
    CHECK(m0.values.shape() == Shape{1, 3});
    CHECK(m0.indices.to_vector<int32_t>() == std::vector<int32_t>{1, 0, 1});
    // ties go to the first index
    CHECK(max(T64({2, 2, 1}, {3}), 0).indices.to_vector<int32_t>() == std::vector<int32_t>{0});
  }

  TEST_CASE("ops: f32 sum of many elements keeps precision") {
    Tensor x = Tensor::full({1 << 22}, 0.1);
    CHECK(sum(x).item() == doctest::Approx(419430.4).epsilon(1e-6));
  }

  TEST_CASE("ops: shape, dtype and device errors name the op and the shapes") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
    CHECK_ERROR_CONTAINS(matmul(a, b), "matmul", "inner dimensions", "[2, 3]", "[4, 5]");
    CHECK_ERROR_CONTAINS(matmul(a, Tensor::zeros({3})), "matmul", "2-D");
    CHECK_ERROR_CONTAINS(bmm(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 2})), "bmm", "batch sizes");
    CHECK_ERROR_CONTAINS(add(a, Tensor::zeros({2})), "add", "[2, 3]", "[2]", "broadcast");
    CHECK_ERROR_CONTAINS(mul(a, Tensor::zeros({2, 3}, DType::f64)), "mul", "different dtypes");
    CHECK_ERROR_CONTAINS(exp(Tensor::arange(3)), "exp", "not floating point");
    CHECK_ERROR_CONTAINS(linear(a, Tensor::zeros({4, 2})), "linear", "weight", "[4, 2]");
    CHECK_ERROR_CONTAINS(linear(a, Tensor::zeros({4, 3}), Tensor::zeros({3})), "linear", "bias");
    CHECK_ERROR_CONTAINS(sum(a, 2), "sum", "dim 2 out of range");
    CHECK_ERROR_CONTAINS(mean(Tensor::zeros({0})), "mean", "empty");
    // Mixing devices is checked in the parity suite, which always has a device (emulated or real).
  }
}
