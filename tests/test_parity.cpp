// Suite "parity": every CUDA kernel against its CPU twin on fresh random inputs with odd sizes
// (1, 3, 17, 129, and more elements than one block holds), forward and backward (tests/parity.hpp).
// Runs on the emulator in the emulated build and on a GPU natively (skipped without one).
#include <doctest/doctest.h>

#include "engine/cuda/device_memory.hpp"
#include "engine/kernels/optim.hpp"
#include "engine/kernels/random.hpp"
#include "ops/elementwise.hpp"
#include "ops/fused.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

static const Device kGPU = Device::cuda(0);

TEST_SUITE("parity") {
  TEST_CASE("parity:fill_convert_copy") {
    for (int64_t n : {1, 3, 17, 129, 5000}) {
      Tensor d = Tensor::full({n}, 2.5, DType::f32, kGPU);
      CHECK(d.to_vector<float>() == std::vector<float>((size_t)n, 2.5f));
      Generator g(n);
      Tensor c = Tensor::rand({n}, g, -3, 3);
      CHECK(c.to(kGPU).to(DType::f64).to(kCPU).to_vector<double>() == c.to(DType::f64).to_vector<double>());
      CHECK(c.to(kGPU).to(DType::i32).to(kCPU).to_vector<int32_t>() == c.to(DType::i32).to_vector<int32_t>());
    }
  }

  TEST_CASE("parity:random") {
    for (int64_t n : {1, 3, 17, 129, 5000}) {
      Generator g1(5), g2(5);
      Tensor cpu = Tensor::empty({n}), dev = Tensor::empty({n}, DType::f32, kGPU);
      kernels::uniform(cpu, g1, -2, 2);
      kernels::uniform(dev, g2, -2, 2);
      CHECK(dev.to(kCPU).to_vector<float>() == cpu.to_vector<float>());
      kernels::normal(cpu, g1, 1, 3);
      kernels::normal(dev, g2, 1, 3);
      test::check_close_tensors("normal", dev, cpu, 1e-6);
    }
  }

  TEST_CASE("parity:add_sub_mul_div") {
    Generator g(21);
    std::vector<std::pair<Shape, Shape>> shapes{{{1}, {1}}, {{3, 17}, {3, 17}}, {{2, 3, 129}, {129}},
                                                {{5000}, {1}}, {{3, 1}, {1, 17}}, {{2, 3, 4}, {3, 1}}};
    for (auto& [sa, sb] : shapes) {
      Tensor a = rand32(sa, g), b = rand32(sb, g, true, 0.5, 2);
      check_parity([](const Inputs& in) { return add(in[0], in[1]); }, {a, b});
      check_parity([](const Inputs& in) { return sub(in[0], in[1]); }, {a, b});
      check_parity([](const Inputs& in) { return mul(in[0], in[1]); }, {a, b});
      check_parity([](const Inputs& in) { return div(in[0], in[1]); }, {a, b});
      check_parity([](const Inputs& in) { return (in[0] * 3.0 - 1.0) / 2.0 + 0.5; }, {a});
    }
  }

  TEST_CASE("parity:unary") {
    Generator g(22);
    for (int64_t n : {1, 3, 17, 129, 5000}) {
      Tensor x = rand32({n}, g, true, -3, 3), pos = rand32({n}, g, true, 0.2, 4);
      check_parity([](const Inputs& in) { return neg(in[0]); }, {x});
      check_parity([](const Inputs& in) { return exp(in[0]); }, {x});
      check_parity([](const Inputs& in) { return log(in[0]); }, {pos});
      check_parity([](const Inputs& in) { return sqrt(in[0]); }, {pos});
      check_parity([](const Inputs& in) { return tanh(in[0]); }, {x});
      check_parity([](const Inputs& in) { return sigmoid(in[0]); }, {x});
      check_parity([](const Inputs& in) { return relu(in[0]); }, {x});
      check_parity([](const Inputs& in) { return gelu(in[0]); }, {x});
      check_parity([](const Inputs& in) { return silu(in[0]); }, {x});
    }
  }

  // The fused bias + GELU kernel (engine/kernels/fused_cuda.cu) against the CPU's, f32 and f64,
  // rows that do not fill a block, the bias gradient summed over rows.
  TEST_CASE("parity:bias_gelu") {
    Generator g(23);
    for (Shape s : {Shape{1, 3}, Shape{7, 65}, Shape{3, 40, 130}}) {
      Tensor h = rand32(s, g, true, -3, 3), b = rand32({s.back()}, g, true, -1, 1);
      check_parity([](const Inputs& in) { return bias_gelu(in[0], in[1]); }, {h, b});
      Tensor h64 = h.detach().to(DType::f64).requires_grad_(true), b64 = b.detach().to(DType::f64).requires_grad_(true);
      check_parity([](const Inputs& in) { return bias_gelu(in[0], in[1]); }, {h64, b64}, 1e-12);
    }
  }

  TEST_CASE("parity:sum_mean_max") {
    Generator g(23);
    for (Shape s : {Shape{1}, Shape{3, 17}, Shape{129, 3}, Shape{2, 3, 129}, Shape{5000}}) {
      Tensor x = rand32(s, g);
      check_parity([](const Inputs& in) { return sum(in[0]); }, {x});
      check_parity([](const Inputs& in) { return mean(in[0]); }, {x});
      for (int64_t d = 0; d < (int64_t)s.size(); ++d) {
        check_parity([d](const Inputs& in) { return sum(in[0], d); }, {x});
        check_parity([d](const Inputs& in) { return mean(in[0], d, true); }, {x});
        check_parity([d](const Inputs& in) { return max(in[0], d).values; }, {x});
        CHECK(max(x.to(kGPU), d).indices.to(kCPU).to_vector<int32_t>() == max(x, d).indices.to_vector<int32_t>());
      }
    }
  }

  TEST_CASE("parity:matmul_bmm_linear") {
    Generator g(24);
    for (auto [m, k, n] : {std::tuple{1, 1, 1}, {3, 17, 1}, {17, 3, 5}, {129, 33, 17}})
      for (bool ta : {false, true})
        for (bool tb : {false, true}) {
          Tensor a = rand32(ta ? Shape{k, m} : Shape{m, k}, g), b = rand32(tb ? Shape{n, k} : Shape{k, n}, g);
          check_parity([=](const Inputs& in) { return matmul(in[0], in[1], ta, tb); }, {a, b});
          Tensor ba = rand32(ta ? Shape{3, k, m} : Shape{3, m, k}, g), bb = rand32(tb ? Shape{3, n, k} : Shape{3, k, n}, g);
          check_parity([=](const Inputs& in) { return bmm(in[0], in[1], ta, tb); }, {ba, bb});
        }
    Tensor x = rand32({2, 65, 17}, g), w = rand32({129, 17}, g), bias = rand32({129}, g);
    check_parity([](const Inputs& in) { return linear(in[0], in[1], in[2]); }, {x, w, bias});
    check_parity([](const Inputs& in) { return linear(in[0], in[1]); }, {x, w});
  }

  TEST_CASE("parity:optimizers") {
    Generator g(25);
    for (int64_t n : {1, 17, 5000}) {
      Tensor p = Tensor::rand({n}, g), gr = Tensor::rand({n}, g), m = Tensor::rand({n}, g), v = Tensor::rand({n}, g, 0, 1);
      Tensor pd = p.to(kGPU), gd = gr.to(kGPU), md = m.to(kGPU), vd = v.to(kGPU);
      kernels::AdamWStep s{0.01, 0.9, 0.95, 1e-8, 0.1, 0.5, 0.3};
      kernels::adamw(p, gr, m, v, s);
      kernels::adamw(pd, gd, md, vd, s);
      test::check_close_tensors("adamw p", pd, p, 1e-6);
      test::check_close_tensors("adamw v", vd, v, 1e-6);
      kernels::sgd(p, gr, m, 0.1, 0.9, 0.01);
      kernels::sgd(pd, gd, md, 0.1, 0.9, 0.01);
      test::check_close_tensors("sgd p", pd, p, 1e-6);
    }
  }

  TEST_CASE("parity: mixing devices is an error naming both") {
    Tensor a = Tensor::zeros({2}), b = Tensor::zeros({2}, DType::f32, kGPU);
    CHECK_ERROR_CONTAINS(add(a, b), "add", "different devices", "cpu", "cuda:0");
    CHECK_ERROR_CONTAINS(matmul(a.view({1, 2}), b.view({2, 1})), "matmul", "different devices");
  }
}
