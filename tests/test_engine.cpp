// Suite "engine": tensors, dtypes, devices, allocation, RNG.
#include <doctest/doctest.h>

#include <cstdint>

#include "engine/kernels/fill.hpp"
#include "engine/rng.hpp"
#include "engine/tensor.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

TEST_SUITE("engine") {
  TEST_CASE("engine: tensor creation, shape and values") {
    Tensor t = Tensor::full({2, 3}, 1.5);
    CHECK(t.shape() == Shape{2, 3});
    CHECK(t.numel() == 6);
    CHECK(t.dtype() == DType::f32);
    CHECK(t.device() == kCPU);
    for (float v : t.to_vector<float>()) CHECK(v == 1.5f);
    Tensor s = Tensor::scalar(4.0, DType::f64);
    CHECK(s.dim() == 0);
    CHECK(s.item() == 4.0);
    Tensor a = Tensor::arange(5);
    CHECK(a.to_vector<int32_t>() == std::vector<int32_t>{0, 1, 2, 3, 4});
    CHECK(t.size(-1) == 3);
  }

  TEST_CASE("engine: storage is 64-byte aligned") {
    for (int64_t n : {1, 3, 17, 129, 1000}) {
      Tensor t = Tensor::empty({n});
      CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
    }
  }

  TEST_CASE("engine: clone copies, handles share, view shares storage") {
    Tensor a = Tensor::from_vector<float>({1, 2, 3, 4}, {2, 2});
    Tensor b = a;
    Tensor c = a.clone();
    Tensor v = a.view({4});
    a.data<float>()[0] = 9;
    CHECK(b.to_vector<float>()[0] == 9);
    CHECK(v.to_vector<float>()[0] == 9);
    CHECK(c.to_vector<float>()[0] == 1);
  }

  TEST_CASE("engine: dtype conversion") {
    Tensor a = Tensor::from_vector<float>({1.5f, -2.25f}, {2});
    CHECK(a.to(DType::f64).to_vector<double>() == std::vector<double>{1.5, -2.25});
    CHECK(a.to(DType::i32).to_vector<int32_t>() == std::vector<int32_t>{1, -2});
  }

  TEST_CASE("engine: RNG is deterministic and independent of thread count") {
    Generator g1(42), g2(42), g3(43);
    Tensor a = Tensor::rand({1000}, g1);
    Tensor b = Tensor::rand({1000}, g2);
    Tensor c = Tensor::rand({1000}, g3);
    CHECK(a.to_vector<float>() == b.to_vector<float>());
    CHECK(a.to_vector<float>() != c.to_vector<float>());
    // A large draw takes the parallel path; its head equals a small sequential draw of the same state.
    Generator g4(7), g5(7);
    Tensor big = Tensor::rand({100000}, g4);
    Tensor small = Tensor::rand({10}, g5);
    auto vb = big.to_vector<float>(), vs = small.to_vector<float>();
    for (int i = 0; i < 10; ++i) CHECK(vb[i] == vs[i]);
    // Successive draws differ; restoring the state repeats them.
    Generator g6(7);
    Tensor first = Tensor::rand({8}, g6);
    uint64_t off = g6.offset();
    Tensor second = Tensor::rand({8}, g6);
    CHECK(first.to_vector<float>() != second.to_vector<float>());
    g6.set_state(7, off);
    CHECK(Tensor::rand({8}, g6).to_vector<float>() == second.to_vector<float>());
  }

  TEST_CASE("engine: uniform and normal moments") {
    Generator g(1);
    auto u = Tensor::rand({200000}, g, 0, 1, DType::f64).to_vector<double>();
    auto n = Tensor::randn({200000}, g, 0, 1, DType::f64).to_vector<double>();
    double mu = 0, mn = 0, vn = 0;
    for (double x : u) { mu += x; CHECK((x >= 0 && x < 1)); }
    for (double x : n) mn += x;
    mu /= u.size();
    mn /= n.size();
    for (double x : n) vn += (x - mn) * (x - mn);
    vn /= n.size();
    CHECK(mu == doctest::Approx(0.5).epsilon(0.01));
    CHECK(std::abs(mn) < 0.01);
    CHECK(vn == doctest::Approx(1.0).epsilon(0.02));
  }

  TEST_CASE("engine: errors name what went wrong") {
    Tensor f = Tensor::zeros({2, 3});
    CHECK_ERROR_CONTAINS(f.data<double>(), "Tensor::data", "f32[2, 3]", "f64");
    CHECK_ERROR_CONTAINS(Tensor::from_vector<float>({1, 2, 3}, {2, 2}), "from_vector", "3 values", "[2, 2]");
    CHECK_ERROR_CONTAINS(Tensor::empty({1, 1, 1, 1, 1, 1}), "at most 5");
    CHECK_ERROR_CONTAINS(f.item(), "item", "exactly one element");
    CHECK_ERROR_CONTAINS(Tensor().shape(), "undefined tensor");
    CHECK_ERROR_CONTAINS(f.view({4}), "view", "[4]");
    Tensor i = Tensor::arange(3);
    CHECK_ERROR_CONTAINS(i.requires_grad_(true), "not floating point");
#ifndef DASG_WITH_CUDA
    CHECK_ERROR_CONTAINS(Tensor::zeros({2}, DType::f32, Device::cuda(0)), "cuda:0", "no CUDA backend");
#endif
  }
}
