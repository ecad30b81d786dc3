// Suite "ops": forward values against hand-computed references, and error paths.
#include <doctest/doctest.h>

#include <array>
#include <cmath>

#include "engine/kernels/gemm_packed_cpu.hpp"
#include "engine/parallel.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::check_close;

static Tensor T64(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, s); }

// The packed f32 GEMM (engine/kernels/gemm_packed_cpu.cpp) against a double-accumulated loop.
// Tolerance: f32 rounding of a K-term sum, 1e-6·√K·max|a|·max|b|·|alpha| + 1e-6·|beta·c| (entries
// are uniform in [-1, 1), so the products' scale is 1).
namespace {
struct GemmCase {
  int64_t M, N, K;
  bool ta, tb;
};

std::vector<float> uniform(int64_t n, Generator& g) { return Tensor::rand({n}, g, -1, 1).to_vector<float>(); }

// op(A)·op(B) in double, A stored M×K (K×M when ta), B stored K×N (N×K when tb).
std::vector<double> product64(const GemmCase& g, const float* a, const float* b) {
  std::vector<double> out((size_t)(g.M * g.N));
  for (int64_t i = 0; i < g.M; ++i)
    for (int64_t j = 0; j < g.N; ++j) {
      double acc = 0;
      for (int64_t p = 0; p < g.K; ++p)
        acc += (double)(g.ta ? a[p * g.M + i] : a[i * g.K + p]) * (double)(g.tb ? b[j * g.K + p] : b[p * g.N + j]);
      out[(size_t)(i * g.N + j)] = acc;
    }
  return out;
}

// CHECKs got = alpha·ab + beta·c0 (+ bias[j] when given; beta 0: c0 not used) within the
// tolerance above.
void check_gemm(const std::vector<float>& got, const std::vector<double>& ab, const std::vector<float>& c0,
                int64_t K, float alpha, float beta, const std::vector<float>& bias = {}) {
  REQUIRE(got.size() == ab.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double cterm = (beta == 0 ? 0.0 : (double)beta * c0[i]) + (bias.empty() ? 0.0 : bias[i % bias.size()]);
    const double want = alpha * ab[i] + cterm;
    const double tol = 1e-6 * std::sqrt((double)K) * std::fabs(alpha) + 1e-6 * std::fabs(cterm);
    worst = std::max(worst, std::isfinite(got[i]) ? std::fabs(got[i] - want) / tol : 1e30);
  }
  CHECK(worst <= 1.0);  // worst error as a fraction of its tolerance
}
}  // namespace

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

  TEST_CASE("ops: packed f32 GEMM matches a double loop, every kernel, flag pair, edge size and thread count") {
    // Sizes off every multiple of MR (4, 6), NR (4, 16, 32), KC (256), MC (144) and NC (2048):
    // 600 = 2·KC + 88 deep, 300 rows = 3 M blocks, 2100 columns = 2 B panels, 4200 rows;
    // all but the smallest (under 64³ multiply-adds) are threaded when given 2 threads.
    const std::vector<std::array<int64_t, 3>> sizes = {{1, 1, 1},    {5, 17, 63},  {17, 5, 257}, {63, 257, 5},
                                                       {257, 63, 17}, {1, 257, 300}, {130, 33, 600}, {300, 40, 33},
                                                       {7, 2100, 20}, {4200, 20, 20}};
    const std::vector<std::pair<float, float>> alpha_beta = {{1, 0}, {-0.5f, 1}, {2, -1.5f}};
    Generator gen(13);
    for (auto [M, N, K] : sizes)
      for (int flags = 0; flags < 4; ++flags) {
        const GemmCase g{M, N, K, (flags & 1) != 0, (flags & 2) != 0};
        const std::vector<float> a = uniform(M * K, gen), b = uniform(K * N, gen), c0 = uniform(M * N, gen);
        const std::vector<double> ab = product64(g, a.data(), b.data());
        kernels::GemmShape s{1, M, N, K, g.ta, g.tb, 0, 0, 0};
        for (kernels::GemmKernel k : kernels::gemm_kernels_compiled())
          for (int threads : {1, 2})
            for (auto [alpha, beta] : alpha_beta) {
              INFO(kernels::gemm_kernel_name(k) << ", " << threads << " threads, M=" << M << " N=" << N << " K=" << K
                                                << " ta=" << g.ta << " tb=" << g.tb << " alpha=" << alpha
                                                << " beta=" << beta);
              // beta = 0 must not read C: it starts as NaN then.
              std::vector<float> c = beta == 0 ? std::vector<float>(c0.size(), NAN) : c0;
              kernels::gemm_packed_f32(s, a.data(), b.data(), c.data(), alpha, beta, threads, k);
              check_gemm(c, ab, c0, K, alpha, beta);
              // With a bias (linear's forward), added on the first K block.
              const std::vector<float> bias = uniform(N, gen);
              c = beta == 0 ? std::vector<float>(c0.size(), NAN) : c0;
              kernels::gemm_packed_f32(s, a.data(), b.data(), c.data(), alpha, beta, threads, k, bias.data());
              check_gemm(c, ab, c0, K, alpha, beta, bias);
            }
      }
  }

  TEST_CASE("ops: f32 GEMM kernel, batched with strides and a shared operand, at 1 and 2 threads") {
    // Through kernels::gemm (the f32 path matmul takes): batch entries placed `gap` elements apart,
    // B shared (stride 0); batch 3 at 2 threads runs its GEMMs one after the other, each threaded,
    // and batch 8 spreads whole GEMMs over the threads.
    const int before = num_threads();
    Generator gen(14);
    for (int threads : {1, 2})
      for (int64_t batch : {3, 8})
        for (int flags = 0; flags < 4; ++flags) {
          set_num_threads(threads);
          const GemmCase g{65, 70, 67, (flags & 1) != 0, (flags & 2) != 0};
          const int64_t gap = 5, sa = g.M * g.K + gap, sc = g.M * g.N + gap;
          kernels::GemmShape s{batch, g.M, g.N, g.K, g.ta, g.tb, sa, 0, sc};
          const std::vector<float> a = uniform(batch * sa, gen), b = uniform(g.K * g.N, gen);
          const std::vector<float> c0 = uniform(batch * sc, gen);
          Tensor A = Tensor::from_vector<float>(a, {batch * sa}), B = Tensor::from_vector<float>(b, {g.K * g.N});
          Tensor C = Tensor::from_vector<float>(c0, {batch * sc});
          kernels::gemm(s, A, B, C, 0.75, -1);
          const std::vector<float> c = C.to_vector<float>();
          for (int64_t i = 0; i < batch; ++i) {
            INFO(threads << " threads, batch " << batch << ", entry " << i << ", ta=" << g.ta << " tb=" << g.tb);
            const std::vector<float> got(c.begin() + i * sc, c.begin() + i * sc + g.M * g.N);
            const std::vector<float> c0_i(c0.begin() + i * sc, c0.begin() + i * sc + g.M * g.N);
            check_gemm(got, product64(g, a.data() + i * sa, b.data()), c0_i, g.K, 0.75f, -1);
            if (i + 1 < batch) CHECK(c[(size_t)(i * sc + g.M * g.N)] == c0[(size_t)(i * sc + g.M * g.N)]);  // gap kept
          }
        }
    set_num_threads(before);
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
