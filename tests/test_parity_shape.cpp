// Suite "parity", data movement and selection: reshape, transpose, permute, concat, slice,
// index_select, index_add, topk, hard_threshold and the fused grouped sliding-window attention
// (output, statistics C and I, and the gradients of q, k, v in both layouts) on CUDA(0) against the CPU (tests/parity.hpp),
// forward and backward, on fresh random inputs with odd sizes (1, 3, 17, 129, and more elements
// than one block holds). i32 tensors move too and must come back identical; index_add with
// duplicate indices and topk with ties must match the CPU bit for bit (deterministic order).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "ops/grouped_attention.hpp"
#include "ops/index.hpp"
#include "ops/shape.hpp"
#include "ops/threshold.hpp"
#include "ops/topk.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

namespace {

const Device kGPU = Device::cuda(0);

// Random row numbers in [0, n), with duplicates (CPU, i32).
Tensor random_rows(int64_t m, int64_t n, Generator& g) {
  std::vector<double> u = Tensor::rand({m}, g, 0, (double)n, DType::f64).to_vector<double>();
  std::vector<int32_t> v((size_t)m);
  for (int64_t i = 0; i < m; ++i) v[(size_t)i] = std::min<int32_t>((int32_t)u[(size_t)i], (int32_t)n - 1);
  return Tensor::from_vector<int32_t>(v, {m});
}

// A random i32 CPU tensor in [-1000, 1000).
Tensor rand_i32(const Shape& s, Generator& g) { return Tensor::rand(s, g, -1000, 1000, DType::f64).to(DType::i32); }

// f applied on the CPU and on the device to an i32 tensor gives identical elements.
void check_i32(const std::function<Tensor(const Tensor&)>& f, const Tensor& x) {
  Tensor want = f(x), got = f(x.to(kGPU));
  REQUIRE(got.device() == kGPU);
  CHECK(got.shape() == want.shape());
  CHECK(got.to(kCPU).to_vector<int32_t>() == want.to_vector<int32_t>());
}

// Exact (bitwise) equality of a device result with the CPU result, f32.
void check_exact(const Tensor& got, const Tensor& want) {
  CHECK(got.shape() == want.shape());
  CHECK(got.to(kCPU).to_vector<float>() == want.to_vector<float>());
}

// The message of the dasg::Error `f` throws ("" when none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Values quantized to a few levels, so rows are full of ties.
Tensor tied32(const Shape& s, Generator& g, int levels = 4) {
  std::vector<float> v = Tensor::rand(s, g, 0, 1).to_vector<float>();
  for (float& x : v) x = std::floor(x * (float)levels) / (float)levels;
  Tensor t = Tensor::from_vector<float>(v, s);
  t.requires_grad_(true);
  return t;
}

const std::vector<Shape> kShapes{{1}, {3}, {17, 3}, {3, 129}, {2, 3, 17}, {5000}, {3, 5, 7, 11}, {2, 3, 1, 5, 7}};

}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity:reshape") {
    Generator g(41);
    for (const Shape& s : kShapes) {
      Tensor x = rand32(s, g);
      const int64_t n = x.numel();
      check_parity([n](const Inputs& in) { return reshape(in[0], {n}); }, {x});
      check_parity([](const Inputs& in) { return reshape(in[0], {1, -1}); }, {x});
      // a reshape feeding a copy, so the view's backward reaches a kernel
      check_parity([n](const Inputs& in) { return transpose(reshape(in[0], {n, 1}), 0, 1); }, {x});
      check_i32([](const Tensor& t) { return reshape(t, {-1, 1}); }, rand_i32(s, g));
    }
  }

  TEST_CASE("parity:transpose") {
    Generator g(42);
    for (const Shape& s : kShapes) {
      Tensor x = rand32(s, g);
      Tensor xi = rand_i32(s, g);
      const int64_t nd = (int64_t)s.size();
      for (int64_t d0 = 0; d0 < nd; ++d0)
        for (int64_t d1 = d0; d1 < nd; ++d1) {
          check_parity([=](const Inputs& in) { return transpose(in[0], d0, d1); }, {x});
          check_i32([=](const Tensor& t) { return transpose(t, d0, d1); }, xi);
        }
      check_parity([](const Inputs& in) { return transpose(in[0], -1, 0); }, {x});
    }
    Tensor big = rand32({129, 67}, g);  // 8643 elements: many blocks
    check_parity([](const Inputs& in) { return transpose(in[0], 0, 1); }, {big});
  }

  TEST_CASE("parity:permute") {
    Generator g(43);
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases{
        {{1}, {0}},
        {{3, 17}, {1, 0}},
        {{3, 17, 129}, {2, 0, 1}},
        {{3, 17, 129}, {1, 2, 0}},
        {{2, 3, 5, 7}, {3, 1, 0, 2}},
        {{2, 3, 5, 7, 11}, {4, 2, 0, 3, 1}},
        {{2, 3, 5, 7, 11}, {-1, -2, -3, -4, -5}},
        {{5, 1, 3, 1, 17}, {2, 4, 1, 0, 3}},
    };
    for (const auto& [s, perm] : cases) {
      check_parity([&perm](const Inputs& in) { return permute(in[0], perm); }, {rand32(s, g)});
      check_i32([&perm](const Tensor& t) { return permute(t, perm); }, rand_i32(s, g));
    }
  }

  TEST_CASE("parity:concat") {
    Generator g(44);
    // along every dim of a 3-D tensor, sizes 1, 3, 17 and 129 along the joined dim
    for (int64_t d = 0; d < 3; ++d) {
      std::vector<Tensor> xs, xis;
      for (int64_t n : {1, 3, 17, 129}) {
        Shape s{3, 5, 7};
        s[(size_t)d] = n;
        xs.push_back(rand32(s, g));
        xis.push_back(rand_i32(s, g));
      }
      check_parity([d](const Inputs& in) { return concat(in, d); }, xs);
      check_parity([d](const Inputs& in) { return concat(in, d - 3); }, {xs[2], xs[0]});
      check_parity([d](const Inputs& in) { return concat({in[0]}, d); }, {xs[3]});
      std::vector<Tensor> dev;
      for (const Tensor& t : xis) dev.push_back(t.to(kGPU));
      CHECK(concat(dev, d).to(kCPU).to_vector<int32_t>() == concat(xis, d).to_vector<int32_t>());
    }
    // more elements than one block holds; one input without grad
    Tensor a = rand32({5000}, g), b = rand32({17}, g, false), c = rand32({129}, g);
    check_parity([](const Inputs& in) { return concat(in, 0); }, {a, b, c});
    Tensor p = rand32({2, 3, 1, 5, 7}, g), q = rand32({2, 3, 4, 5, 7}, g);
    check_parity([](const Inputs& in) { return concat(in, 2); }, {p, q});
  }

  TEST_CASE("parity:slice") {
    Generator g(45);
    for (const Shape& s : kShapes) {
      Tensor x = rand32(s, g);
      Tensor xi = rand_i32(s, g);
      for (int64_t d = 0; d < (int64_t)s.size(); ++d) {
        const int64_t size = s[(size_t)d];
        for (auto [start, len] : {std::pair<int64_t, int64_t>{0, size}, {size / 3, size - size / 3}, {size - 1, 1},
                                  {size / 2, size / 4}}) {
          check_parity([=](const Inputs& in) { return slice(in[0], d, start, len); }, {x});
          check_i32([=](const Tensor& t) { return narrow(t, d, start, len); }, xi);
        }
      }
    }
  }

  TEST_CASE("parity:index_select") {
    Generator g(46);
    for (auto [N, M, row] : {std::tuple<int64_t, int64_t, Shape>{1, 1, {}}, {3, 17, {5}}, {17, 3, {129}},
                             {129, 129, {3}}, {5, 5000, {}}, {4, 40, {3, 43}}, {1, 7, {17}}}) {
      Shape xs{N};
      xs.insert(xs.end(), row.begin(), row.end());
      Tensor x = rand32(xs, g), idx = random_rows(M, N, g);
      check_parity([](const Inputs& in) { return index_select(in[0], in[1]); }, {x, idx});
      check_i32([&idx](const Tensor& t) { return index_select(t, idx.to(t.device())); }, rand_i32(xs, g));
      // the backward (an index_add with duplicates) is exact, not just close
      Tensor xc = x.detach().requires_grad_(true), xd = x.detach().to(kGPU).requires_grad_(true);
      Tensor up = Tensor::rand(index_select(xc, idx).shape(), g, -1, 1);
      index_select(xc, idx).backward(up);
      index_select(xd, idx.to(kGPU)).backward(up.to(kGPU));
      check_exact(xd.grad(), xc.grad());
    }
    // an index out of range: the CPU's error, found on the device and reported when a result is
    // next read on the host (the select itself does not wait for the device)
    Tensor x = rand32({4, 3}, g, false);
    Tensor bad = Tensor::from_vector<int32_t>({0, 3, 4, 1}, {4}), neg = Tensor::from_vector<int32_t>({-1}, {1});
    for (const Tensor& b : {bad, neg}) {
      std::string cpu = error_of([&] { index_select(x, b); });
      Tensor y;
      CHECK(error_of([&] { y = index_select(x.to(kGPU), b.to(kGPU)); }).empty());
      std::string dev = error_of([&] { (void)y.to(kCPU); });
      CHECK(!cpu.empty());
      CHECK(dev.rfind(cpu, 0) == 0);  // starts with the CPU's message
      CHECK(dev.find("device-side index check") != std::string::npos);
      CHECK(error_of([&] { (void)y.to(kCPU); }).empty());  // reported once; the device is fine
    }
  }

  TEST_CASE("parity:index_add") {
    Generator g(47);
    for (auto [N, M, row] : {std::tuple<int64_t, int64_t, Shape>{1, 1, {}}, {3, 17, {5}}, {17, 3, {129}},
                             {3, 129, {3}}, {5, 5000, {}}, {2, 300, {17}}, {129, 129, {1, 3}}, {1, 40, {131}}}) {
      Shape bs{N}, ss{M};
      bs.insert(bs.end(), row.begin(), row.end());
      ss.insert(ss.end(), row.begin(), row.end());
      Tensor base = rand32(bs, g), src = rand32(ss, g), idx = random_rows(M, N, g);
      check_parity([](const Inputs& in) { return index_add(in[0], in[1], in[2]); }, {base, idx, src});
      // duplicates summed in ascending position, as on the CPU: identical bits
      check_exact(index_add(base.detach().to(kGPU), idx.to(kGPU), src.detach().to(kGPU)),
                  index_add(base.detach(), idx, src.detach()));
      Tensor bi = rand_i32(bs, g), si = rand_i32(ss, g);
      check_i32([&](const Tensor& t) { return index_add(t, idx.to(t.device()), si.to(t.device())); }, bi);
    }
    // every position into one row
    Tensor base = rand32({3, 7}, g), src = rand32({1000, 7}, g);
    Tensor same = Tensor::from_vector<int32_t>(std::vector<int32_t>(1000, 1), {1000});
    check_parity([](const Inputs& in) { return index_add(in[0], in[1], in[2]); }, {base, same, src});
    check_exact(index_add(base.detach().to(kGPU), same.to(kGPU), src.detach().to(kGPU)),
                index_add(base.detach(), same, src.detach()));
    // an index out of range: the CPU's error, found on the device and reported when a result is
    // next read on the host (as index_select's)
    Tensor s3 = rand32({3, 7}, g, false);
    for (const Tensor& bad : {Tensor::from_vector<int32_t>({0, 2, 5}, {3}), Tensor::from_vector<int32_t>({0, -1, 1}, {3})}) {
      std::string cpu = error_of([&] { index_add(base.detach(), bad, s3); });
      Tensor y;
      CHECK(error_of([&] { y = index_add(base.detach().to(kGPU), bad.to(kGPU), s3.to(kGPU)); }).empty());
      std::string dev = error_of([&] { (void)y.to(kCPU); });
      CHECK(!cpu.empty());
      CHECK(dev.rfind(cpu, 0) == 0);  // starts with the CPU's message
      CHECK(dev.find("device-side index check") != std::string::npos);
      CHECK(error_of([&] { (void)y.to(kCPU); }).empty());  // reported once; the device is fine
    }
  }

  TEST_CASE("parity:topk") {
    Generator g(48);
    auto run = [&](const Tensor& x, int64_t k) {
      INFO("x " << x.str() << ", k = " << k);
      check_parity([k](const Inputs& in) { return topk(in[0], k).values; }, {x});
      CHECK(topk(x.detach().to(kGPU), k).indices.to(kCPU).to_vector<int32_t>() ==
            topk(x.detach(), k).indices.to_vector<int32_t>());
    };
    for (auto [rows, n] : {std::pair<int64_t, int64_t>{1, 1}, {3, 3}, {17, 8}, {5, 17}, {3, 129}, {2, 5000},
                           {5, 33}, {300, 4}, {129, 12}}) {
      for (int64_t k : {int64_t{1}, int64_t{2}, std::min<int64_t>(n, 3), std::min<int64_t>(n, 17), n}) {
        if (k > n || (n == 5000 && k == n)) continue;
        run(rand32({rows, n}, g), k);
        run(tied32({rows, n}, g), k);  // ties go to the lower index
      }
    }
    // the k > 64 path, with ties
    run(tied32({3, 129}, g, 8), 65);
    run(tied32({2, 5000}, g, 16), 100);
    run(rand32({2, 3, 129}, g), 129);
    run(tied32({3, 300}, g), 64);
    // NaN ranks first; several NaNs go to the lower index first
    std::vector<float> v{0.5f, NAN, 2.0f, NAN, 2.0f, -1.0f, 0.5f, NAN};
    for (int64_t k : {1, 2, 3, 5, 8}) {
      Tensor nan = Tensor::from_vector<float>(v, {1, 8});
      nan.requires_grad_(true);
      run(nan, k);
    }
    std::vector<float> big(300);
    for (size_t i = 0; i < big.size(); ++i) big[i] = i % 7 == 3 ? NAN : (float)(i % 5);
    Tensor bn = Tensor::from_vector<float>(big, {1, 300});
    bn.requires_grad_(true);
    run(bn, 3);
    run(bn, 20);
    run(bn, 100);
  }

  TEST_CASE("parity:threshold") {
    Generator g(49);
    for (const Shape& s : kShapes) {
      Tensor x = rand32(s, g);
      for (double t : {-2.0, 0.0, 0.25, 2.0})
        check_parity([t](const Inputs& in) { return hard_threshold(in[0], t); }, {x});
    }
    Tensor nan = Tensor::from_vector<float>({NAN, 0.5f, -0.5f, 0.1f, 0.2f}, {5});
    nan.requires_grad_(true);
    check_parity([](const Inputs& in) { return hard_threshold(in[0], 0.1); }, {nan});
    check_exact(hard_threshold(nan.detach().to(kGPU), 0.1), hard_threshold(nan.detach(), 0.1));
  }

  TEST_CASE("parity:grouped_window_attention") {
    Generator g(50);
    struct Case {
      int64_t B, H, T, d, L, w;
      bool causal;
      std::vector<int32_t> lengths;  // encoder padding (empty: none)
    };
    const std::vector<Case> cases{
        {1, 1, 1, 1, 1, 1, true, {}},         {1, 1, 3, 5, 3, 2, true, {}},
        {2, 2, 17, 5, 4, 3, true, {}},        {1, 2, 17, 33, 5, 5, false, {}},
        {2, 1, 17, 3, 6, 4, false, {17, 9}},  {1, 1, 40, 64, 8, 8, true, {}},
        {2, 1, 19, 3, 19, 19, false, {19, 7}},  // full (encoder) attention, one group
        {1, 1, 25, 4, 25, 25, true, {}},      // full causal attention
        {1, 1, 17, 3, 40, 7, false, {}},      // L > T: the one group is cut at T
    };
    for (const Case& c : cases) {
      INFO("B " << c.B << " H " << c.H << " T " << c.T << " d " << c.d << " L " << c.L << " w " << c.w
                << (c.causal ? " causal" : " encoder") << (c.lengths.empty() ? "" : " with lengths"));
      const AttentionMask mask{c.L, c.w, c.causal};
      Tensor lens = c.lengths.empty() ? Tensor() : Tensor::from_vector<int32_t>(c.lengths, {c.B});
      auto on = [lens](const Tensor& x) { return lens.defined() ? lens.to(x.device()) : Tensor(); };
      // separate [B, H, T, d] q, k, v: u and its gradients, then C and I
      Tensor q = rand32({c.B, c.H, c.T, c.d}, g, true, -2, 2), k = rand32({c.B, c.H, c.T, c.d}, g, true, -2, 2),
             v = rand32({c.B, c.H, c.T, c.d}, g);
      check_parity([&](const Inputs& in) { return grouped_window_attention(in[0], in[1], in[2], mask, on(in[0])).out; },
                   {q, k, v});
      GroupedAttentionResult want = grouped_window_attention(q.detach(), k.detach(), v.detach(), mask, lens);
      GroupedAttentionResult got =
          grouped_window_attention(q.detach().to(kGPU), k.detach().to(kGPU), v.detach().to(kGPU), mask, on(q.to(kGPU)));
      test::check_close_tensors("complexity", got.complexity, want.complexity, 1e-5);
      test::check_close_tensors("importance", got.importance, want.importance, 1e-5);
      // packed [B, T, 3·H·d] qkv
      Tensor qkv = rand32({c.B, c.T, 3 * c.H * c.d}, g, true, -2, 2);
      const int64_t H = c.H;
      check_parity([&](const Inputs& in) { return grouped_window_attention(in[0], H, mask, on(in[0])).out; }, {qkv});
      want = grouped_window_attention(qkv.detach(), H, mask, lens);
      got = grouped_window_attention(qkv.detach().to(kGPU), H, mask, on(qkv.to(kGPU)));
      test::check_close_tensors("complexity (packed)", got.complexity, want.complexity, 1e-5);
      test::check_close_tensors("importance (packed)", got.importance, want.importance, 1e-5);
      // only some inputs requiring grad
      if (!c.lengths.empty()) {
        Tensor kc = k.detach();
        check_parity(
            [&](const Inputs& in) { return grouped_window_attention(in[0], in[1], in[2], mask, on(in[0])).out; },
            {q, kc, v});
      }
    }
  }
}
