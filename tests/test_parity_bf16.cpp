// Suite "parity", bf16 (mixed precision on the GPU, DESIGN.md §3): the f32 ↔ bf16 conversions bit
// for bit against hand-derived patterns (ties, subnormals, the largest value, inf, NaN) on the CPU
// and on CUDA(0), the bf16 GEMM (cublasGemmEx, f32 accumulation) against the f32 CPU GEMM within a
// stated bound, and the kernels that store activations in bf16 or read them (bias + GELU, add/sub,
// the gathers, slices, concatenations and permutes that move bf16 rows, the attention over a bf16
// qkv). Runs on the emulator in the emulated
// build and on a GPU natively.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engine/cuda/context.hpp"
#include "engine/kernels/fill.hpp"
#include "engine/kernels/matmul.hpp"
#include "ops/cast.hpp"
#include "ops/elementwise.hpp"
#include "ops/fused.hpp"
#include "ops/grouped_attention.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/shape.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;
using test::check_parity;
using test::rand32;
using Inputs = std::vector<Tensor>;

namespace {

const Device kGPU = Device::cuda(0);

Tensor f32_from_bits(const std::vector<uint32_t>& bits) {
  std::vector<float> v;
  for (uint32_t b : bits) v.push_back(std::bit_cast<float>(b));
  return Tensor::from_vector(v, {(int64_t)v.size()});
}

std::vector<uint16_t> bf16_bits(const Tensor& t) {
  std::vector<uint16_t> out;
  for (bf16 h : t.to(kCPU).to_vector<bf16>()) out.push_back(h.bits);
  return out;
}

std::vector<uint32_t> f32_bits(const Tensor& t) {
  std::vector<uint32_t> out;
  for (float f : t.to(kCPU).to_vector<float>()) out.push_back(std::bit_cast<uint32_t>(f));
  return out;
}

// (f32 bits, the bf16 bits round-to-nearest-even gives), each derived by hand from the 16
// dropped bits: above 0x8000 rounds up, below rounds down, exactly 0x8000 rounds to the even
// neighbour; a carry may run into the exponent (to the smallest normal, or to inf).
const std::vector<std::pair<uint32_t, uint16_t>> kCases = {
    {0x00000000, 0x0000}, {0x80000000, 0x8000},                        // ±0
    {0x3F800000, 0x3F80}, {0xBF800000, 0xBF80},                        // ±1, exact
    {0x3F807FFF, 0x3F80}, {0x3F808001, 0x3F81},                        // just below / above half
    {0x3F808000, 0x3F80}, {0x3F818000, 0x3F82},                        // ties: to even (down, up)
    {0xBF808000, 0xBF80}, {0xBF818000, 0xBF82},                        // negative ties
    {0x3FFF8000, 0x4000},                                              // tie carrying into the exponent
    {0x00000001, 0x0000}, {0x00008000, 0x0000}, {0x00018000, 0x0002},  // subnormals: tiny, ties
    {0x00008001, 0x0001}, {0x00010000, 0x0001}, {0x807F7FFF, 0x807F},  // smallest bf16 subnormal exact
    {0x007FFFFF, 0x0080}, {0x807FFFFF, 0x8080},                        // largest subnormal → smallest normal
    {0x7F7F0000, 0x7F7F}, {0x7F7F7FFF, 0x7F7F},                        // the largest bf16 and just above
    {0x7F7F8000, 0x7F80}, {0x7F7FFFFF, 0x7F80}, {0xFF7FFFFF, 0xFF80},  // past it: overflow to ±inf
    {0x7F800000, 0x7F80}, {0xFF800000, 0xFF80},                        // ±inf
    {0x7FC00000, 0x7FFF}, {0xFFC00000, 0x7FFF}, {0x7FFFFFFF, 0x7FFF},  // NaN → canonical NaN
    {0x7F800001, 0x7FFF}, {0xFF808000, 0x7FFF},                        // NaNs a truncation would make inf
};

}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity:convert_bf16 — round to nearest even, NaN kept NaN, bit for bit on CPU and CUDA") {
    std::vector<uint32_t> in;
    std::vector<uint16_t> want;
    for (auto [f, h] : kCases) {
      in.push_back(f);
      want.push_back(h);
    }
    const Tensor x = f32_from_bits(in);
    CHECK(bf16_bits(x.to(DType::bf16)) == want);
    CHECK(bf16_bits(x.to(kGPU).to(DType::bf16)) == want);
    for (auto [f, h] : kCases) CHECK(bf16_from_float(std::bit_cast<float>(f)).bits == h);

    // Every one of the 65536 bf16 patterns widens exactly (the bits shifted up, NaN payloads too)
    // and narrows back to itself, except that a NaN comes back canonical.
    std::vector<bf16> all;
    std::vector<uint32_t> widened;
    std::vector<uint16_t> back;
    for (uint32_t b = 0; b < 65536; ++b) {
      all.push_back(bf16{(uint16_t)b});
      widened.push_back(b << 16);
      back.push_back(std::isnan(std::bit_cast<float>(b << 16)) ? kBf16CanonicalNaN : (uint16_t)b);
    }
    const Tensor h = Tensor::from_vector(all, {65536});
    CHECK(f32_bits(h.to(DType::f32)) == widened);
    CHECK(f32_bits(h.to(kGPU).to(DType::f32)) == widened);
    CHECK(bf16_bits(h.to(DType::f32).to(DType::bf16)) == back);
    CHECK(bf16_bits(h.to(kGPU).to(DType::f32).to(DType::bf16)) == back);
    // To f64 (for comparisons) exactly; NaN stays NaN (its payload is the hardware's business).
    const std::vector<double> w64 = h.to(DType::f64).to_vector<double>();
    const std::vector<double> d64 = h.to(kGPU).to(DType::f64).to(kCPU).to_vector<double>();
    int64_t wrong = 0;
    for (size_t i = 0; i < w64.size(); ++i) {
      const double want64 = (double)std::bit_cast<float>(widened[i]);
      if (std::isnan(want64) ? !(std::isnan(w64[i]) && std::isnan(d64[i])) : (w64[i] != want64 || d64[i] != want64))
        ++wrong;
    }
    CHECK(wrong == 0);

    // Random bit patterns over the whole f32 range (every exponent, NaNs included): CPU = CUDA.
    Generator g(18);
    std::vector<uint32_t> rnd;
    const std::vector<float> u = Tensor::rand({20000}, g, 0, 1).to_vector<float>();
    for (float v : u) rnd.push_back((uint32_t)(v * 4294967296.0));
    const Tensor r = f32_from_bits(rnd);
    CHECK(bf16_bits(r.to(kGPU).to(DType::bf16)) == bf16_bits(r.to(DType::bf16)));
  }

  TEST_CASE("parity:fill_bf16, and the conversions bf16 has not") {
    for (Device d : {kCPU, kGPU}) {
      Tensor t = Tensor::full({129}, 1.0 + 3.0 / 256, DType::bf16, d);  // a tie between 1+2/128 and 1+1/128
      CHECK(bf16_bits(t) == std::vector<uint16_t>(129, 0x3F82));
      CHECK(t.to(DType::f32).to(kCPU).to_vector<float>() == std::vector<float>(129, 1.0f + 2.0f / 128));
      CHECK_ERROR_CONTAINS(Tensor::zeros({3}, DType::i32, d).to(DType::bf16), "convert", "i32", "bf16",
                           "bf16 converts from f32");
      CHECK_ERROR_CONTAINS(Tensor::zeros({3}, DType::f64, d).to(DType::bf16), "convert", "f64", "bf16");
      CHECK_ERROR_CONTAINS(Tensor::zeros({3}, DType::bf16, d).to(DType::i32), "convert", "bf16", "i32");
    }
  }

  // The reference is the CPU GEMM of the same f32 inputs, computed in f64 so it adds no error of its own.
  // C = op(A)·op(B) with A, B rounded to bf16 (8 significant bits: unit round-off u = 2^-8 each)
  // and f32 accumulation. Against the reference, each element obeys
  //   |C_dev − C_cpu| ≤ (2^-7 + 2^-16 + (K + 2)·2^-23) · Σ_l |a_il|·|b_lj|  (+ 2^-8·|C| for a bf16 C)
  // (each product is off by at most (1 + u)² − 1 = 2u + u² relative, the f32 sum by γ_K = K·2^-24,
  // doubled for the device's own summation order), and, normwise,
  //   max |C_dev − C_cpu| ≤ √K · 2^-8 · max|a| · max|b|  (+ 2^-8·max|C| for a bf16 C):
  // the rounding errors are independent, so they add as √K (for inputs uniform in [-1, 1] their
  // standard deviation is about 0.2·√K·2^-8; the bound is ~5 of them).
  // Against the f32 product of the *rounded* inputs only the accumulation differs: γ·Σ|a||b|.
  TEST_CASE("parity:gemm_bf16 — cublasGemmEx against the f32 CPU GEMM, every transpose, batches") {
    struct Case {
      int64_t batch, M, N, K;
      bool ta, tb, shared_b;
      double beta;
      DType out;
    };
    const std::vector<Case> cases = {
        {1, 1, 1, 1, false, false, false, 0, DType::f32},     {1, 17, 33, 129, false, false, false, 0, DType::f32},
        {1, 33, 17, 64, true, false, false, 0, DType::f32},   {1, 9, 70, 100, false, true, false, 0, DType::f32},
        {1, 20, 13, 257, true, true, false, 0, DType::f32},   {3, 7, 19, 48, false, false, false, 0, DType::f32},
        {4, 11, 5, 31, false, true, true, 0, DType::f32},     {1, 17, 33, 129, false, false, false, 1, DType::f32},
        {1, 17, 33, 129, false, false, false, 0, DType::bf16}, {2, 9, 40, 96, true, false, false, 0, DType::bf16},
    };
    Generator g(1818);
    for (const Case& c : cases) {
      INFO("batch " << c.batch << " M " << c.M << " N " << c.N << " K " << c.K << " ta " << c.ta << " tb " << c.tb
                    << " beta " << c.beta << " out " << std::string(dtype_name(c.out)));
      kernels::GemmShape s{c.batch, c.M, c.N, c.K, c.ta, c.tb, c.M * c.K, c.shared_b ? 0 : c.K * c.N, c.M * c.N};
      const Tensor a = Tensor::rand({c.batch, c.M, c.K}, g, -1, 1);
      const Tensor b = Tensor::rand({c.shared_b ? 1 : c.batch, c.K, c.N}, g, -1, 1);
      const Tensor c0 = Tensor::rand({c.batch, c.M, c.N}, g, -1, 1);
      auto cpu_gemm = [&](const Tensor& x, const Tensor& y, DType t) {
        Tensor out = c0.to(t).clone();
        kernels::gemm(s, x.to(t), y.to(t), out, 1, c.beta);
        return out.to_vector<double>();
      };
      const std::vector<double> want = cpu_gemm(a, b, DType::f64);
      const std::vector<double> want_rounded = cpu_gemm(a.to(DType::bf16).to(DType::f32),
                                                        b.to(DType::bf16).to(DType::f32), DType::f64);
      auto abs_of = [](const Tensor& t) {
        std::vector<double> v = t.to(DType::f64).to_vector<double>();
        for (double& x : v) x = std::abs(x);
        return Tensor::from_vector(v, t.shape());
      };
      Tensor sum_abs = Tensor::zeros({c.batch, c.M, c.N}, DType::f64);
      kernels::gemm(s, abs_of(a), abs_of(b), sum_abs, 1, 0);
      const std::vector<double> S = sum_abs.to_vector<double>(), C0 = c0.to(DType::f64).to_vector<double>();

      Tensor out = c.out == DType::bf16 ? Tensor::zeros({c.batch, c.M, c.N}, DType::bf16, kGPU)
                                        : c0.to(kGPU).clone();
      kernels::gemm(s, a.to(kGPU).to(DType::bf16), b.to(kGPU).to(DType::bf16), out, 1, c.beta);
      const std::vector<double> got = out.to(DType::f32).to(kCPU).to(DType::f64).to_vector<double>();

      const double gamma = (double)(c.K + 2) * std::ldexp(1.0, -23);
      const double out_round = c.out == DType::bf16 ? std::ldexp(1.0, -8) : 0.0;
      double worst = 0, worst_rounded = 0, max_err = 0, max_want = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const double bound = (std::ldexp(1.0, -7) + std::ldexp(1.0, -16) + gamma) * S[i] +
                             out_round * std::abs(want[i]) + gamma * std::abs(c.beta * C0[i]);
        const double bound_rounded = gamma * (S[i] + std::abs(c.beta * C0[i])) + out_round * std::abs(want_rounded[i]);
        worst = std::max(worst, std::abs(got[i] - want[i]) / std::max(bound, 1e-300));
        worst_rounded = std::max(worst_rounded, std::abs(got[i] - want_rounded[i]) / std::max(bound_rounded, 1e-300));
        max_err = std::max(max_err, std::abs(got[i] - want[i]));
        max_want = std::max(max_want, std::abs(want[i]));
      }
      INFO("elementwise error / bound: " << worst << " (against the rounded inputs: " << worst_rounded << ")");
      CHECK(worst <= 1.0);
      CHECK(worst_rounded <= 1.0);
      const double norm_bound = std::sqrt((double)c.K) * std::ldexp(1.0, -8) + out_round * max_want;
      INFO("max error " << max_err << ", √K·2^-8 bound " << norm_bound);
      CHECK(max_err <= norm_bound);
    }
  }

  TEST_CASE("parity:gemm_bf16 — operand dtypes it does not take are named") {
    Tensor a = Tensor::zeros({2, 3}, DType::bf16, kGPU), b = Tensor::zeros({3, 4}, DType::f32, kGPU);
    Tensor c = Tensor::zeros({2, 4}, DType::f32, kGPU);
    kernels::GemmShape s{1, 2, 4, 3, false, false, 0, 0, 0};
    CHECK_ERROR_CONTAINS(kernels::gemm(s, a, b, c), "matmul", "bf16", "a bf16 GEMM takes bf16 A and B");
  }

  // The ops with bf16 operands (cast on the device from the same f32 inputs) against the f32 CPU
  // ops, forward and every input's gradient. Tolerance 1e-2 normwise relative (tests/parity.hpp):
  // with inputs in [-1, 1] the rounding error of a K-term product is about 0.2·√K·2^-8 (above), and
  // max|C| about 3 standard deviations of C, √K/3·3 = √K: so ~3.5·0.2·2^-8 ≈ 3e-3 normwise; the
  // backward rounds dC once more, which at most doubles it.
  TEST_CASE("parity:matmul_bmm_linear_bf16 — mixed precision GEMM ops against f32") {
    Generator g(1819);
    auto bf = [](const Tensor& t) { return t.device().is_cpu() ? t : cast(t, DType::bf16); };
    for (int flags = 0; flags < 4; ++flags) {
      const bool ta = flags & 1, tb = flags & 2;
      INFO("ta " << ta << " tb " << tb);
      const Tensor a = rand32(ta ? Shape{40, 17} : Shape{17, 40}, g), b = rand32(tb ? Shape{9, 40} : Shape{40, 9}, g);
      check_parity([&](const Inputs& in) { return matmul(bf(in[0]), bf(in[1]), ta, tb); }, {a, b}, 1e-2);
      const Tensor a3 = rand32(ta ? Shape{3, 40, 17} : Shape{3, 17, 40}, g);
      const Tensor b3 = rand32(tb ? Shape{3, 9, 40} : Shape{3, 40, 9}, g);
      check_parity([&](const Inputs& in) { return bmm(bf(in[0]), bf(in[1]), ta, tb); }, {a3, b3}, 1e-2);
    }
    const Tensor x = rand32({2, 5, 64}, g), w = rand32({33, 64}, g), bias = rand32({33}, g);
    check_parity([&](const Inputs& in) { return linear(bf(in[0]), bf(in[1]), in[2]); }, {x, w, bias}, 1e-2);
    check_parity([&](const Inputs& in) { return linear(bf(in[0]), bf(in[1])); }, {x, w}, 1e-2);

    const Tensor xb = cast(x.detach().to(kGPU), DType::bf16), wb = cast(w.detach().to(kGPU), DType::bf16);
    CHECK(linear(xb, wb).dtype() == DType::f32);
    CHECK_ERROR_CONTAINS(linear(xb, wb, cast(bias.detach().to(kGPU), DType::bf16)), "linear: bias", "expected f32");
    CHECK_ERROR_CONTAINS(matmul(xb.view({10, 64}), w.detach().to(kGPU), false, true), "matmul", "different dtypes");
    const Tensor on_cpu = Tensor::zeros({4, 4}).to(DType::bf16);
    CHECK_ERROR_CONTAINS(matmul(on_cpu, on_cpu), "matmul: bf16 operands", "on the CPU use f32");
  }

  // cast's forward is the conversion (bit for bit as above) and its backward passes the gradient
  // back in the input's dtype; a bf16 tensor's gradient stays f32 (ops/cast.hpp).
  TEST_CASE("parity:cast") {
    Generator g(1820);
    const Tensor x = rand32({129}, g, true, -3, 3);
    check_parity([](const Inputs& in) { return cast(cast(in[0], DType::bf16), DType::f32); }, {x}, 0.0);
    check_parity([](const Inputs& in) { return cast(in[0], DType::f64); }, {x}, 0.0);
    Tensor xd = x.detach().to(kGPU).requires_grad_(true);
    const Tensor up = Tensor::rand({129}, g, -1, 1).to(kGPU);
    cast(cast(xd, DType::bf16), DType::f32).backward(up);
    CHECK(xd.grad().dtype() == DType::f32);
    CHECK(xd.grad().to(kCPU).to_vector<float>() == up.to(kCPU).to_vector<float>());
    CHECK_ERROR_CONTAINS(cast(Tensor::zeros({2}, DType::i32), DType::bf16), "cast", "i32", "expected float dtypes");
  }

  // Activations stored in bf16 (model/module.hpp Linear::gelu). The device computes in f32 from
  // bf16 inputs and rounds its result once; the CPU side computes f32 on the same bf16 values
  // (cast there and back) and rounds the same way. The two f32 GELUs differ by a few f32 ulp (the
  // CPU's is a packet polynomial), so a result next to a rounding boundary may round to the
  // neighbouring bf16 value: 1 bf16 ulp, at most 2^-8 normwise, the tolerance. Gradients are f32
  // on both sides from the same values (they agree to ~1e-6).
  TEST_CASE("parity:bias_gelu_bf16 — bf16 input and output, f32 bias, f32 gradients") {
    Generator g(1821);
    const Tensor h = rand32({7, 65}, g, true, -3, 3), b = rand32({65}, g, true, -1, 1);
    auto rounded = [](const Tensor& t) { return cast(cast(t, DType::bf16), DType::f32); };
    check_parity(
        [&](const Inputs& in) {
          if (in[0].device().is_cpu()) return cast(cast(bias_gelu(rounded(in[0]), in[1]), DType::bf16), DType::f32);
          const Tensor y = bias_gelu(cast(in[0], DType::bf16), in[1]);
          CHECK(y.dtype() == DType::bf16);
          return cast(y, DType::f32);
        },
        {h, b}, std::ldexp(1.0, -8));
    check_parity(
        [&](const Inputs& in) {
          if (in[0].device().is_cpu()) return bias_gelu(in[0], in[1]);  // all f32
          return cast(bias_gelu(cast(in[0], DType::bf16), in[1]), DType::f32);
        },
        {h, b}, std::ldexp(1.0, -7));  // h rounded too: |gelu'| ≤ 1.13, so ≤ 2^-9·(1.13·max|h| + max|y|)/max|y|
    const Tensor hb = cast(h.detach().to(kGPU), DType::bf16);
    CHECK_ERROR_CONTAINS(bias_gelu(hb, cast(b.detach().to(kGPU), DType::bf16)), "bias_gelu: bias", "expected f32");
    CHECK_ERROR_CONTAINS(bias_gelu(h.detach().to(DType::bf16), b.detach()), "bias_gelu: bf16 input",
                         "on the CPU use f32");
  }

  // linear_bf16: the GEMM's f32 accumulation rounded to bf16 once; against the f32 CPU linear the
  // bound is parity:gemm_bf16's (operands rounded) plus 2^-9 normwise for the product's rounding.
  TEST_CASE("parity:linear_bf16 — the product stored in bf16") {
    Generator g(1822);
    const Tensor x = rand32({2, 5, 64}, g), w = rand32({33, 64}, g);
    check_parity(
        [](const Inputs& in) {
          if (in[0].device().is_cpu()) return linear(in[0], in[1]);
          const Tensor y = linear_bf16(cast(in[0], DType::bf16), cast(in[1], DType::bf16));
          CHECK(y.dtype() == DType::bf16);
          return cast(y, DType::f32);
        },
        {x, w}, 1e-2);
    CHECK_ERROR_CONTAINS(linear_bf16(x.detach().to(kGPU), w.detach().to(kGPU)), "linear_bf16", "expected bf16");
  }

  // add and sub of bf16 activations (the deep expert's h3 = gelu(·) + h1): f32 arithmetic on the
  // same bf16 values, rounded once on both sides: bit for bit, with broadcasting; their gradient
  // is f32 (the identity and its negation, summed back).
  TEST_CASE("parity:add_sub_bf16 — f32 arithmetic, one rounding, bit for bit") {
    Generator g(1823);
    const Tensor a = rand32({6, 33}, g), b = rand32({6, 33}, g), c = rand32({33}, g);
    auto bf = [](const Tensor& t) { return cast(t, DType::bf16); };
    auto rounded = [](const Tensor& t) { return cast(cast(t, DType::bf16), DType::f32); };
    for (bool subtract : {false, true}) {
      INFO("sub " << subtract);
      auto op = [subtract](const Tensor& x, const Tensor& y) { return subtract ? x - y : x + y; };
      for (const Tensor& other : {b, c})
        check_parity(
            [&](const Inputs& in) {
              if (in[0].device().is_cpu()) return rounded(op(rounded(in[0]), rounded(in[1])));
              const Tensor y = op(bf(in[0]), bf(in[1]));
              CHECK(y.dtype() == DType::bf16);
              return cast(y, DType::f32);
            },
            {a, other}, 0.0);
    }
    const Tensor ab = bf(a.detach().to(kGPU));
    CHECK_ERROR_CONTAINS(ab * ab, "mul: bf16 operands", "add and sub only");
    CHECK_ERROR_CONTAINS(ab / ab, "div: bf16 operands", "add and sub only");
    const Tensor on_cpu = a.detach().to(DType::bf16);
    CHECK_ERROR_CONTAINS(on_cpu + on_cpu, "add: bf16 operands", "on the CPU use f32");
  }

  // The data movement of bf16 rows (the experts' gathered operand): its 2 bytes moved, so bit for
  // bit against the CPU; gradients (f32) too.
  TEST_CASE("parity:index_slice_concat_permute_bf16 — bf16 elements moved bit for bit") {
    Generator g(1824);
    const Tensor x = rand32({9, 2, 5}, g, true, -3, 3), y = rand32({4, 2, 5}, g, true, -3, 3);
    auto bf = [](const Tensor& t) { return cast(t, DType::bf16); };
    auto f32 = [](const Tensor& t) {
      CHECK(t.dtype() == DType::bf16);
      return cast(t, DType::f32);
    };
    check_parity(
        [&](const Inputs& in) {
          const Tensor idx = Tensor::from_vector(std::vector<int32_t>{8, 0, 3, 3, 5, 1}, {6}, in[0].device());
          return f32(index_select(reshape(bf(in[0]), {9, 10}), idx));
        },
        {x}, 0.0);
    check_parity([&](const Inputs& in) { return f32(slice(bf(in[0]), 0, 2, 5)); }, {x}, 0.0);
    check_parity([&](const Inputs& in) { return f32(slice(bf(in[0]), 2, 1, 3)); }, {x}, 0.0);
    check_parity([&](const Inputs& in) { return f32(concat({bf(in[0]), bf(in[1])}, 0)); }, {x, y}, 0.0);
    check_parity([&](const Inputs& in) { return f32(permute(bf(in[0]), {2, 0, 1})); }, {x}, 0.0);
    // The values themselves: the bf16 patterns of the gathered rows are the source rows' patterns.
    const Tensor xb = bf(x.detach()).to(kGPU);
    const Tensor idx = Tensor::from_vector(std::vector<int32_t>{2, 2, 7}, {3}, kGPU);
    const std::vector<uint16_t> all = bf16_bits(reshape(xb, {9, 10})), got = bf16_bits(index_select(reshape(xb, {9, 10}), idx));
    for (int r = 0; r < 3; ++r)
      for (int c = 0; c < 10; ++c) CHECK(got[(size_t)(r * 10 + c)] == all[(size_t)((r == 2 ? 7 : 2) * 10 + c)]);
  }

  // The fused attention over a bf16 qkv (the projection's output stored in bf16): the device widens
  // q, k, v to f32 as it loads them, so against the CPU's f32 attention on the same (rounded) values
  // it is f32 parity, 1e-5 as parity:grouped_window_attention, for u, its gradient (f32), C and I.
  TEST_CASE("parity:grouped_window_attention_bf16 — a bf16 qkv, f32 outputs and gradient") {
    Generator g(1825);
    auto rounded = [](const Tensor& t) { return cast(cast(t, DType::bf16), DType::f32); };
    for (const AttentionMask mask : {AttentionMask{4, 3, true}, AttentionMask{5, 5, false}, AttentionMask{17, 17, true}}) {
      INFO("L " << mask.group_len << " w " << mask.window << (mask.causal ? " causal" : " encoder"));
      const Tensor qkv = rand32({2, 17, 3 * 2 * 8}, g, true, -2, 2);
      auto attention = [&](const Tensor& x) {
        if (x.device().is_cpu()) return grouped_window_attention(rounded(x), 2, mask);
        GroupedAttentionResult r = grouped_window_attention(cast(x, DType::bf16), 2, mask);
        CHECK(r.out.dtype() == DType::f32);
        return r;
      };
      check_parity([&](const Inputs& in) { return attention(in[0]).out; }, {qkv});
      const GroupedAttentionResult want = attention(qkv.detach()), got = attention(qkv.detach().to(kGPU));
      test::check_close_tensors("complexity", got.complexity, want.complexity, 1e-5);
      test::check_close_tensors("importance", got.importance, want.importance, 1e-5);
    }
    CHECK_ERROR_CONTAINS(grouped_window_attention(Tensor::zeros({1, 4, 6}, DType::bf16), 1, AttentionMask{4, 4, true}),
                         "grouped_window_attention: bf16 input", "on the CPU use f32");
  }
}
