// Suite "engine": tensors, dtypes, devices, allocation, RNG.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/allocator.hpp"
#include "engine/kernels/fill.hpp"
#include "engine/kernels/global_norm.hpp"
#include "engine/kernels/optim.hpp"
#include "engine/kernels/vecmath_cpu.hpp"
#include "engine/profiler.hpp"
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

  TEST_CASE("engine: CPU caching allocator reuses freed blocks of a size class") {
    CHECK(cpu_size_class(1) == 64);
    CHECK(cpu_size_class(4096) == 4096);
    CHECK(cpu_size_class(4097) == 4096 + 512);
    CHECK(cpu_size_class(100000) == 65536 + 8192 * 5);  // 98304 + ... rounds up to a 1/8 step of 64 KiB
    for (size_t n : {size_t(1), size_t(5000), size_t(123456), size_t(1) << 22}) {
      const size_t c = cpu_size_class(n);
      CHECK(c >= n);
      CHECK(c <= n + n / 8 + 64);
      CHECK(c % 64 == 0);
    }
    cpu_set_caching(true);
    const CpuAllocStats s0 = cpu_alloc_stats();
    void* first = nullptr;
    {
      Tensor t = Tensor::empty({250000});  // 1,000,000 bytes
      first = t.raw_data();
      CHECK(cpu_alloc_stats().in_use == s0.in_use + (int64_t)cpu_size_class(1000000));
    }
    const CpuAllocStats s1 = cpu_alloc_stats();
    CHECK(s1.in_use == s0.in_use);
    CHECK(s1.cached >= (int64_t)cpu_size_class(1000000));
    {
      Tensor t = Tensor::empty({249990});  // same class: the cached block comes back, no malloc
      CHECK(t.raw_data() == first);
      CHECK(reinterpret_cast<uintptr_t>(t.raw_data()) % 64 == 0);
      const CpuAllocStats s2 = cpu_alloc_stats();
      CHECK(s2.malloc_calls == s1.malloc_calls);
      CHECK(s2.cache_hits == s1.cache_hits + 1);
    }
    cpu_release_cached();
    CHECK(cpu_alloc_stats().cached == 0);
    CHECK(cpu_alloc_stats().in_use == s0.in_use);
  }

  TEST_CASE("engine: multi-tensor AdamW and the global norm against plain loops") {
    Generator g(7);
    std::vector<int64_t> sizes{3, 40000, 17, 70001};  // spans of 16384: whole, cut and short tensors
    std::vector<kernels::AdamWParam> all;
    std::vector<std::vector<float>> ref_p, ref_m, ref_v;
    std::vector<Tensor> grads;
    const kernels::AdamWStep st{1e-2, 0.9, 0.95, 1e-8, 0.0, 1 - 0.9, 1 - 0.95};
    double ss = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      Tensor p = Tensor::randn({sizes[i]}, g), gr = Tensor::randn({sizes[i]}, g);
      Tensor m = Tensor::rand({sizes[i]}, g, -0.1, 0.1), v = Tensor::rand({sizes[i]}, g, 0, 1);
      const double wd = i % 2 ? 0.1 : 0.0;
      // The update of DESIGN.md's AdamW, element by element in double.
      std::vector<float> pp = p.to_vector<float>(), pm = m.to_vector<float>(), pv = v.to_vector<float>();
      const std::vector<float> pg = gr.to_vector<float>();
      for (size_t k = 0; k < pp.size(); ++k) {
        const double mk = 0.9 * pm[k] + 0.1 * pg[k], vk = 0.95 * pv[k] + 0.05 * (double)pg[k] * pg[k];
        pp[k] = (float)(pp[k] - st.lr * ((mk / st.c1) / (std::sqrt(vk / st.c2) + st.eps) + wd * pp[k]));
        pm[k] = (float)mk;
        pv[k] = (float)vk;
        ss += (double)pg[k] * pg[k];
      }
      ref_p.push_back(pp);
      ref_m.push_back(pm);
      ref_v.push_back(pv);
      grads.push_back(gr);
      all.push_back({p, gr, m, v, wd});
    }
    kernels::adamw_all(all, st);
    auto max_diff = [](const Tensor& got, const std::vector<float>& want) {  // relative to max(1, |want|)
      const std::vector<float> v = got.to_vector<float>();
      double d = 0;
      for (size_t k = 0; k < v.size(); ++k) d = std::max(d, std::abs((double)v[k] - want[k]) / std::max(1.0, std::abs((double)want[k])));
      return d;
    };
    for (size_t i = 0; i < sizes.size(); ++i) {
      CHECK(max_diff(all[i].p, ref_p[i]) < 1e-6);
      CHECK(max_diff(all[i].m, ref_m[i]) < 1e-6);
      CHECK(max_diff(all[i].v, ref_v[i]) < 1e-6);
    }
    Tensor norm = Tensor::empty({}, DType::f64);
    kernels::global_norm(grads, norm);
    CHECK(norm.item() == doctest::Approx(std::sqrt(ss)).epsilon(1e-12));
  }

  TEST_CASE("engine: f32 packet math is within a few ulp of libm in double") {
    std::vector<float> x;
    for (int i = -4000; i <= 4000; ++i) x.push_back((float)i * 0.0025f);  // [-10, 10]
    for (float e : {-30.f, -15.f, 15.f, 30.f, 80.f, -80.f}) x.push_back(e);
    const int64_t n = (int64_t)x.size();
    std::vector<float> y(x.size()), gy(x.size(), 1.f), gx(x.size());
    auto close = [](double got, double want, double rel) { return std::abs(got - want) <= rel * (std::abs(want) + 1); };
    kernels::vec::exp(x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) CHECK(close(y[i], std::exp((double)x[i]), 4e-7));
    kernels::vec::tanh(x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) CHECK(close(y[i], std::tanh((double)x[i]), 1e-6));
    kernels::vec::sigmoid(x.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) CHECK(close(y[i], 1 / (1 + std::exp(-(double)x[i])), 1e-6));
    const double c = std::sqrt(2 / M_PI), a = 0.044715;
    for (int64_t b = 0; b < n; b += kernels::vec::kSpan) {
      const int64_t len = std::min(kernels::vec::kSpan, n - b);
      kernels::vec::gelu(x.data() + b, y.data() + b, len);
      kernels::vec::gelu_backward(x.data() + b, gy.data() + b, gx.data() + b, len);
    }
    for (int64_t i = 0; i < n; ++i) {
      const double u = x[i], t = std::tanh(c * (u + a * u * u * u));
      CHECK(close(y[i], 0.5 * u * (1 + t), 2e-6));
      // Eigen's f32 tanh rounds to ±1 once |c(x + a x³)| > ~7.9 (x < −4.8), where the true gelu'
      // is below 4e-6 in magnitude: an absolute error of that size there, relative 2e-6 elsewhere.
      CHECK(close(gx[i], 0.5 * (1 + t) + 0.5 * u * (1 - t * t) * c * (1 + 3 * a * u * u), u < -4.5 ? 4e-6 : 2e-6));
    }
  }

  TEST_CASE("engine: profiler off records nothing; on, it times op kinds once per nest") {
    profiler::reset();
    profiler::enable(false);
    { profiler::Scope s("probe", profiler::forward); }
    CHECK(profiler::entries().empty());
    profiler::enable(true);
    {
      profiler::Scope outer("outer", profiler::forward);
      profiler::Scope inner("inner", profiler::forward);  // nested: counted in outer
    }
    { profiler::Scope s("outer", profiler::backward); }
    profiler::count_flops(10);
    profiler::enable(false);
    std::vector<profiler::Entry> e = profiler::entries();
    REQUIRE(e.size() == 1);
    CHECK(e[0].name == "outer");
    CHECK(e[0].calls[0] == 1);
    CHECK(e[0].calls[1] == 1);
    CHECK(profiler::flops() == 10);
    profiler::reset();
  }
}
