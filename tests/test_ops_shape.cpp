// Suite "ops_shape": reshape, transpose/permute, concat, slice, index_select/index_add, topk and
// the straight-through hard threshold — gradchecks (f64, odd sizes), forward values against
// hand-computed references, i32 data movement, determinism, and error paths.
#include <doctest/doctest.h>

#include <cmath>
#include <tuple>

#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/threshold.hpp"
#include "ops/topk.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::check_close;
using test::rand64;
using Inputs = std::vector<Tensor>;

static Tensor T64(std::vector<double> v, Shape s) { return Tensor::from_vector<double>(v, s); }
static Tensor I32(std::vector<int32_t> v) { return Tensor::from_vector<int32_t>(v, {(int64_t)v.size()}); }
static std::vector<double> iota64(int64_t n) {
  std::vector<double> v((size_t)n);
  for (int64_t i = 0; i < n; ++i) v[(size_t)i] = (double)i;
  return v;
}
// Random row numbers in [0, n), with duplicates.
static Tensor rand_idx(int64_t m, int64_t n, Generator& g) {
  std::vector<double> u = Tensor::rand({m}, g, 0, (double)n, DType::f64).to_vector<double>();
  std::vector<int32_t> v((size_t)m);
  for (int64_t i = 0; i < m; ++i) v[(size_t)i] = std::min<int32_t>((int32_t)u[(size_t)i], (int32_t)n - 1);
  return I32(v);
}

TEST_SUITE("ops_shape") {
  // ---- gradchecks -------------------------------------------------------------------
  TEST_CASE("gradcheck:reshape") {
    Generator g(21);
    CHECK_GRADCHECK([](const Inputs& in) { return reshape(in[0], {17, -1}); }, (Inputs{rand64({3, 17}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return reshape(in[0], {129}); }, (Inputs{rand64({1, 129}, g)}));
    // Through a following op, so the gradient is not just ones in the right shape.
    CHECK_GRADCHECK([](const Inputs& in) { return exp(reshape(in[0], {3, 1, -1, 2})) * 2.0; },
                    (Inputs{rand64({2, 17, 3}, g)}));
  }

  TEST_CASE("gradcheck:transpose") {
    Generator g(22);
    CHECK_GRADCHECK([](const Inputs& in) { return transpose(in[0], 0, 1); }, (Inputs{rand64({3, 17}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return transpose(in[0], -1, 0); }, (Inputs{rand64({1, 3, 17}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return transpose(in[0], 1, 3); }, (Inputs{rand64({2, 3, 1, 5, 2}, g)}));
  }

  TEST_CASE("gradcheck:permute") {
    Generator g(23);
    CHECK_GRADCHECK([](const Inputs& in) { return permute(in[0], {2, 0, 1}); }, (Inputs{rand64({3, 17, 2}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return permute(in[0], {1, 0}); }, (Inputs{rand64({129, 1}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return permute(in[0], {4, 2, 0, 3, 1}); }, (Inputs{rand64({2, 3, 1, 5, 2}, g)}));
  }

  TEST_CASE("gradcheck:concat") {
    Generator g(24);
    for (int64_t d : {0, 1, 2}) {
      Shape sa{3, 2, 5}, sb{3, 2, 5}, sc{3, 2, 5};
      sa[(size_t)d] = 1, sb[(size_t)d] = 17, sc[(size_t)d] = 3;
      CHECK_GRADCHECK([d](const Inputs& in) { return concat(in, d); }, (Inputs{rand64(sa, g), rand64(sb, g), rand64(sc, g)}));
    }
    // One input without grad: only the others get gradients.
    Tensor fixed = Tensor::rand({129, 1}, g, -1, 1, DType::f64);
    CHECK_GRADCHECK([fixed](const Inputs& in) { return concat({in[0], fixed}, -1); }, (Inputs{rand64({129, 3}, g)}));
  }

  TEST_CASE("gradcheck:slice") {
    Generator g(25);
    CHECK_GRADCHECK([](const Inputs& in) { return slice(in[0], 0, 1, 1); }, (Inputs{rand64({3, 17}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return slice(in[0], 1, 4, 9); }, (Inputs{rand64({3, 17}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return narrow(in[0], -1, 100, 29); }, (Inputs{rand64({1, 129}, g)}));
    CHECK_GRADCHECK([](const Inputs& in) { return slice(in[0], 1, 0, 3) * slice(in[0], 1, 2, 3); },
                    (Inputs{rand64({2, 5, 3}, g)}));  // overlapping slices of one input
  }

  TEST_CASE("gradcheck:index_select") {
    Generator g(26);
    for (auto [n, m] : {std::tuple{1, 3}, {17, 5}, {3, 129}}) {
      Tensor idx = rand_idx(m, n, g);
      CHECK_GRADCHECK([idx](const Inputs& in) { return index_select(in[0], idx); }, (Inputs{rand64({n, 3}, g)}));
    }
    Tensor dup = I32({2, 0, 2, 2, 1});
    CHECK_GRADCHECK([dup](const Inputs& in) { return index_select(in[0], dup); }, (Inputs{rand64({3, 2, 3}, g)}));
    CHECK_GRADCHECK([dup](const Inputs& in) { return index_select(in[0], dup); }, (Inputs{rand64({17}, g)}));
  }

  TEST_CASE("gradcheck:index_add") {
    Generator g(27);
    for (auto [n, m, d] : {std::tuple{1, 3, 5}, {17, 5, 1}, {3, 129, 3}, {5, 17, 17}}) {
      Tensor idx = rand_idx(m, n, g);
      CHECK_GRADCHECK([idx](const Inputs& in) { return index_add(in[0], idx, in[1]); },
                      (Inputs{rand64({n, d}, g), rand64({m, d}, g)}));
    }
    // Gradient only to the source (base a constant), through a nonlinearity of the result.
    Tensor base = Tensor::rand({4, 3}, g, -1, 1, DType::f64), idx = I32({3, 3, 0, 3});
    auto f = [base, idx](const Inputs& in) { return tanh(index_add(base, idx, in[0])); };
    CHECK_GRADCHECK(f, (Inputs{rand64({4, 3}, g)}));
  }

  TEST_CASE("gradcheck:topk") {
    Generator g(28);
    for (auto [rows, n, k] : {std::tuple{1, 1, 1}, {3, 17, 2}, {5, 3, 3}, {2, 129, 7}, {2, 129, 100}}) {
      Tensor x = rand64({rows, n}, g);
      CHECK_GRADCHECK([k](const Inputs& in) { return topk(in[0], k).values; }, (Inputs{x}));
    }
    CHECK_GRADCHECK([](const Inputs& in) { return topk(in[0], 2).values; }, (Inputs{rand64({2, 3, 17}, g)}));
  }

  TEST_CASE("threshold: straight-through rule") {
    Tensor s = T64({0.1, 0.5, 0.7, -2.0, 0.5000001, 3.0}, {2, 3});
    s.requires_grad_(true);
    Tensor y = hard_threshold(s, 0.5);
    check_close(y.to_vector<double>(), {0, 0, 0.7, 0, 0.5000001, 3.0});
    Tensor up = T64({1.5, -2.0, 0.25, 7.0, -0.5, 1e-3}, {2, 3});
    y.backward(up);
    // Every gradient passes unchanged, closed gates (σ ≤ threshold) included — exactly.
    CHECK(s.grad().to_vector<double>() == up.to_vector<double>());
    // f32 and a no-grad input.
    Tensor f = Tensor::from_vector<float>({0.4f, 0.6f}, {2});
    CHECK(hard_threshold(f, 0.5).to_vector<float>() == std::vector<float>{0.0f, 0.6f});
    CHECK_FALSE(hard_threshold(f, 0.5).requires_grad());
  }

  // ---- forward values -------------------------------------------------------------
  TEST_CASE("ops_shape: reshape is a view with one inferred dim") {
    Tensor x = T64(iota64(6), {2, 3});
    Tensor y = reshape(x, {3, -1});
    CHECK(y.shape() == Shape{3, 2});
    CHECK(y.raw_data() == x.raw_data());  // same storage
    CHECK(reshape(x, {-1}).shape() == Shape{6});
    CHECK(reshape(Tensor::arange(6), {1, 2, 3}).to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2, 3, 4, 5});
  }

  TEST_CASE("ops_shape: permute of a 2x3x4 and transpose") {
    Tensor x = T64(iota64(24), {2, 3, 4});  // x[i, j, k] = 12i + 4j + k
    Tensor y = permute(x, {2, 0, 1});        // y[k, i, j] = x[i, j, k]
    CHECK(y.shape() == Shape{4, 2, 3});
    check_close(y.to_vector<double>(), {0, 4, 8, 12, 16, 20, 1, 5, 9, 13, 17, 21,
                                        2, 6, 10, 14, 18, 22, 3, 7, 11, 15, 19, 23});
    Tensor t = transpose(T64(iota64(6), {2, 3}), 0, 1);
    CHECK(t.shape() == Shape{3, 2});
    check_close(t.to_vector<double>(), {0, 3, 1, 4, 2, 5});
    // i32 data moves too.
    Tensor ti = transpose(reshape(Tensor::arange(6), {2, 3}), -1, -2);
    CHECK(ti.to_vector<int32_t>() == std::vector<int32_t>{0, 3, 1, 4, 2, 5});
    // A large permute (parallel path) agrees with the index formula.
    Tensor big = Tensor::arange(3 * 129 * 17 * 2 * 5).view({3, 129, 17, 2, 5});
    auto pv = permute(big, {3, 1, 4, 0, 2}).to_vector<int32_t>();
    size_t at = 0;
    bool ok = true;
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 129; ++b)
        for (int c = 0; c < 5; ++c)
          for (int d = 0; d < 3; ++d)
            for (int e = 0; e < 17; ++e) ok &= pv[at++] == (((d * 129 + b) * 17 + e) * 2 + a) * 5 + c;
    CHECK(ok);
  }

  TEST_CASE("ops_shape: concat of mismatched sizes along dim") {
    Tensor a = T64({1, 2, 3, 4}, {2, 2}), b = T64({5, 6, 7, 8, 9, 10}, {2, 3}), c = T64({11, 12}, {2, 1});
    Tensor y = concat({a, b, c}, 1);
    CHECK(y.shape() == Shape{2, 6});
    check_close(y.to_vector<double>(), {1, 2, 5, 6, 7, 11, 3, 4, 8, 9, 10, 12});
    Tensor z = concat({a, T64({5, 6}, {1, 2})}, 0);
    CHECK(z.shape() == Shape{3, 2});
    check_close(z.to_vector<double>(), {1, 2, 3, 4, 5, 6});
    CHECK(concat({Tensor::arange(2), Tensor::arange(3)}, 0).to_vector<int32_t>() == std::vector<int32_t>{0, 1, 0, 1, 2});
  }

  TEST_CASE("ops_shape: slice values") {
    Tensor x = T64(iota64(24), {2, 3, 4});
    Tensor y = slice(x, 1, 1, 2);
    CHECK(y.shape() == Shape{2, 2, 4});
    check_close(y.to_vector<double>(), {4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23});
    check_close(narrow(x, 2, 3, 1).to_vector<double>(), {3, 7, 11, 15, 19, 23});
    CHECK(slice(x, 0, 2, 0).numel() == 0);
    CHECK(slice(Tensor::arange(5), 0, 1, 3).to_vector<int32_t>() == std::vector<int32_t>{1, 2, 3});
  }

  TEST_CASE("ops_shape: index_select and index_add with duplicate indices") {
    Tensor x = T64({1, 2, 10, 20, 100, 200}, {3, 2});
    Tensor idx = I32({2, 0, 2});
    check_close(index_select(x, idx).to_vector<double>(), {100, 200, 1, 2, 100, 200});
    Tensor base = T64({1, 1, 1, 1, 1, 1}, {3, 2});
    Tensor src = T64({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2});
    Tensor y = index_add(base, I32({2, 0, 2, 2}), src);  // row 2 gets rows 0, 2, 3 of src
    check_close(y.to_vector<double>(), {4, 5, 1, 1, 1 + 1 + 5 + 7, 1 + 2 + 6 + 8});
    check_close(base.to_vector<double>(), {1, 1, 1, 1, 1, 1});  // out of place
    // Gradient of index_select with duplicates sums the rows.
    Tensor xs = T64({1, 2, 3}, {3, 1});
    xs.requires_grad_(true);
    sum(index_select(xs, I32({1, 1, 2, 1}))).backward();
    check_close(xs.grad().to_vector<double>(), {0, 3, 1});
    // i32 rows
    Tensor xi = reshape(Tensor::arange(6), {3, 2});
    CHECK(index_select(xi, I32({1, 1})).to_vector<int32_t>() == std::vector<int32_t>{2, 3, 2, 3});
    CHECK(index_add(xi, I32({0, 0}), reshape(Tensor::arange(4), {2, 2})).to_vector<int32_t>() ==
          std::vector<int32_t>{0 + 0 + 2, 1 + 1 + 3, 2, 3, 4, 5});
  }

  TEST_CASE("ops_shape: index_add is deterministic and equals the serial loop (parallel path)") {
    Generator g(31);
    const int64_t N = 37, M = 4001, D = 129;  // M·D above the parallel grain, many duplicates
    Tensor base = Tensor::rand({N, D}, g), src = Tensor::rand({M, D}, g);
    Tensor idx = rand_idx(M, N, g);
    std::vector<float> want = base.to_vector<float>(), s = src.to_vector<float>();
    std::vector<int32_t> iv = idx.to_vector<int32_t>();
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < D; ++c) want[(size_t)(iv[(size_t)m] * D + c)] += s[(size_t)(m * D + c)];
    auto got = index_add(base, idx, src).to_vector<float>();
    CHECK(got == want);  // bit for bit: each row sums its sources in ascending position
    CHECK(index_add(base, idx, src).to_vector<float>() == got);
  }

  TEST_CASE("ops_shape: topk values, ties to the lower index") {
    Tensor x = T64({1, 3, 3, 2, 3, 0, 5, 5, 5, 5, -1, 4}, {2, 6});
    auto r = topk(x, 3);
    CHECK(r.values.shape() == Shape{2, 3});
    check_close(r.values.to_vector<double>(), {3, 3, 3, 5, 5, 5});
    CHECK(r.indices.to_vector<int32_t>() == std::vector<int32_t>{1, 2, 4, 0, 1, 2});
    CHECK_FALSE(r.indices.requires_grad());
    auto one = topk(T64({0.5, 2, 2, -1}, {4}), 1);
    check_close(one.values.to_vector<double>(), {2});
    CHECK(one.indices.to_vector<int32_t>() == std::vector<int32_t>{1});
    // Gradient lands on the chosen positions only.
    Tensor xg = T64({1, 4, 2, 4}, {1, 4});
    xg.requires_grad_(true);
    topk(xg, 2).values.backward(T64({10, 20}, {1, 2}));
    check_close(xg.grad().to_vector<double>(), {0, 10, 0, 20});
    // Large k (sorting path) agrees with small-k order on ties: all equal → 0, 1, 2, ...
    auto big = topk(Tensor::zeros({2, 100}), 80);
    auto bi = big.indices.to_vector<int32_t>();
    bool in_order = true;
    for (int64_t t = 0; t < 80; ++t) in_order &= bi[(size_t)t] == t && bi[(size_t)(80 + t)] == t;
    CHECK(in_order);
    // NaN ranks first.
    auto nan = topk(T64({1, NAN, 2}, {3}), 2);
    CHECK(nan.indices.to_vector<int32_t>() == std::vector<int32_t>{1, 2});
  }

  TEST_CASE("ops_shape: topk small and large k agree on random rows") {
    Generator g(32);
    Tensor x = Tensor::rand({300, 129}, g);
    auto a = topk(x, 64), b = topk(x, 65);  // insertion path vs sort path
    auto ia = a.indices.to_vector<int32_t>(), ib = b.indices.to_vector<int32_t>();
    bool same = true;
    for (int64_t r = 0; r < 300; ++r)
      for (int64_t t = 0; t < 64; ++t) same &= ia[(size_t)(r * 64 + t)] == ib[(size_t)(r * 65 + t)];
    CHECK(same);
  }

  // ---- errors -----------------------------------------------------------------------
  TEST_CASE("ops_shape: errors name the op, the shapes and what was expected") {
    Tensor x = Tensor::zeros({2, 3});
    CHECK_ERROR_CONTAINS(reshape(x, {4, 2}), "reshape", "[2, 3]", "[4, 2]", "same number of elements");
    CHECK_ERROR_CONTAINS(reshape(x, {-1, -1}), "reshape", "more than one -1");
    CHECK_ERROR_CONTAINS(reshape(x, {4, -1}), "reshape", "[4, -1]", "must divide");
    CHECK_ERROR_CONTAINS(reshape(x, {1, 1, 1, 1, 2, 3}), "reshape", "6 dims", "at most 5");
    CHECK_ERROR_CONTAINS(transpose(x, 0, 2), "transpose", "dim 2 out of range");
    CHECK_ERROR_CONTAINS(permute(x, {0, 0}), "permute", "[0, 0]", "exactly once");
    CHECK_ERROR_CONTAINS(permute(x, {0}), "permute", "[0]", "permutation of 2 dims");
    CHECK_ERROR_CONTAINS(concat({x, Tensor::zeros({3, 3})}, 1), "concat", "tensor 1", "[3, 3]", "except dim 1");
    CHECK_ERROR_CONTAINS(concat({x, Tensor::zeros({2, 3}, DType::f64)}, 0), "concat", "different dtypes");
    CHECK_ERROR_CONTAINS(concat({}, 0), "concat", "empty list");
    CHECK_ERROR_CONTAINS(slice(x, 1, 2, 2), "slice", "start 2, length 2", "[2, 3]", "<= 3");
    CHECK_ERROR_CONTAINS(slice(x, 0, -1, 1), "slice", "0 <= start");
    CHECK_ERROR_CONTAINS(index_select(x, I32({0, 5, 1})), "index_select", "index 5", "position 1", "N = 2");
    CHECK_ERROR_CONTAINS(index_select(x, I32({-1})), "index_select", "index -1", "position 0");
    CHECK_ERROR_CONTAINS(index_select(x, Tensor::zeros({2})), "index_select", "1-D i32");
    CHECK_ERROR_CONTAINS(index_add(x, I32({0, 2}), Tensor::zeros({2, 3})), "index_add", "index 2", "position 1", "N = 2");
    CHECK_ERROR_CONTAINS(index_add(x, I32({0}), Tensor::zeros({2, 3})), "index_add", "[2, 3]", "expected source [1, 3]");
    CHECK_ERROR_CONTAINS(topk(x, 4), "topk", "k = 4", "[2, 3]", "1 <= k <= 3");
    CHECK_ERROR_CONTAINS(topk(x, 0), "topk", "k = 0");
    CHECK_ERROR_CONTAINS(topk(Tensor::arange(3), 1), "topk", "not floating point");
    CHECK_ERROR_CONTAINS(hard_threshold(Tensor::arange(3), 0.5), "hard_threshold", "not floating point");
  }
}
