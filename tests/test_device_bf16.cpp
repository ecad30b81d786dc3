// Suite "parity", mixed precision of the model on CUDA(0) (issue 18; the training comparison is in
// tests/test_device_train.cpp): the FFN and expert activations are stored in bf16 — what their
// graph holds per row is about half of f32's, and the whole forward's holds less per token —, and
// cached decoding in bf16 gives the bf16 full
// forward's greedy tokens and logits. Runs on the emulator and natively (skipped without a GPU).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "engine/cuda/device_memory.hpp"
#include "model/experts.hpp"
#include "model/model.hpp"
#include "tests/generate_check.hpp"
#include "tests/parity.hpp"

using namespace dasg;

namespace {

const Device kGPU = Device::cuda(0);

// Bytes per row that the graph of expert(x) holds on the device (the saved activations and the
// output), from two row counts, so the bf16 copies of the weights (a per-call constant) cancel.
template <class Expert>
double graph_bytes_per_row(const Expert& expert, DType gemm) {
  Generator g(4);
  auto held = [&](int64_t rows) {
    const Tensor x = Tensor::rand({rows, 16}, g, -1, 1).to(kGPU).requires_grad_(true);
    const int64_t before = cuda::allocator_stats().in_use;
    const Tensor y = expert(x, gemm);
    CHECK(y.dtype() == DType::f32);
    CHECK(y.requires_grad());
    return cuda::allocator_stats().in_use - before;
  };
  return (double)(held(768) - held(256)) / 512.0;
}

}  // namespace

TEST_SUITE("parity") {
  // f32 saves, per row and hidden unit, the GEMM's product (for the GELU's backward) and the GELU's
  // output (the next GEMM's operand), 8 bytes; bf16 keeps both in bf16, 4 bytes, where casting f32
  // activations for the GEMMs would keep 6 (the f32 product and a bf16 copy). D = 16, F = Fd = 64,
  // the input's bf16 copy 32 bytes, the f32 output 64: the deep expert holds 6·256 + 64 = 1,600
  // bytes a row in f32 and 32 + 6·128 + 64 = 864 in bf16 (0.54; cast-only bf16: 1,248, 0.78), the
  // shallow one 2·256 + 64 = 576 and 32 + 2·128 + 64 = 352 (0.61; cast-only: 480, 0.83).
  TEST_CASE("parity: bf16 expert activations take about half of f32's device memory") {
    Parameters p;
    Generator gen(9);
    const DeepExpert deep = DeepExpert::make(p, "deep", 16, 64, 64, 0.02, gen);
    const ShallowExpert shallow = ShallowExpert::make(p, "shallow", 16, 64, 0.02, gen);
    for (const NamedTensor& e : p.all()) Tensor(e.tensor).move_to_(kGPU);
    const double deep32 = graph_bytes_per_row(deep, DType::f32), deep16 = graph_bytes_per_row(deep, DType::bf16);
    const double sh32 = graph_bytes_per_row(shallow, DType::f32), sh16 = graph_bytes_per_row(shallow, DType::bf16);
    MESSAGE("graph bytes a row, f32 vs bf16: deep expert " << deep32 << " vs " << deep16 << ", shallow expert "
                                                           << sh32 << " vs " << sh16);
    CHECK(deep32 == 1600);
    CHECK(deep16 == 864);
    CHECK(sh32 == 576);
    CHECK(sh16 == 352);
  }

  // The whole model's forward keeps less for its backward in bf16: per token (two batch sizes, so
  // the bf16 copies of the weights cancel) what the graph holds — the FFN's and experts' hidden
  // activations, their gathered rows and the attention's qkv in bf16, the residual stream, the
  // LayerNorms, the attention's output and statistics, the router and the logits in f32.
  TEST_CASE("parity: a bf16 forward's graph holds less per token than the f32 one") {
    for (const char* ffn : {"dasg", "dense"}) {
      INFO(ffn);
      Model m(test::decode_config(ffn, "gmha", 2), 5, kGPU);
      auto per_token = [&](DType precision) {
        m.set_precision(precision);
        Generator g(6);
        auto held = [&](int64_t B) {
          std::vector<int32_t> tok((size_t)(B * 16));
          for (size_t i = 0; i < tok.size(); ++i) tok[i] = (int32_t)((7 * i + 3) % 32);
          const Tensor tokens = Tensor::from_vector(tok, {B, 16}).to(kGPU);
          const int64_t before = cuda::allocator_stats().in_use;
          const ForwardResult r = m.forward(tokens, tokens, Tensor(), g);
          CHECK(r.loss.requires_grad());
          return cuda::allocator_stats().in_use - before;
        };
        return (double)(held(8) - held(2)) / (6.0 * 16.0);
      };
      const double f32 = per_token(DType::f32), bf16 = per_token(DType::bf16);
      MESSAGE(ffn << ": graph bytes a token, f32 " << f32 << ", bf16 " << bf16 << " (" << bf16 / f32 << ")");
      CHECK(bf16 < 0.8 * f32);
    }
  }

  // Decoding in bf16 takes the forward's bf16 GEMM operands and activations, so the cached path
  // tracks the bf16 recompute path within bf16 round-off (different GEMM shapes round in other
  // places: the logits agree to about 2^-8·√K normwise, bound 2e-2, as the bf16 forward against
  // f32), greedy token for token, and differs from the f32 step by more than f32 round-off.
  TEST_CASE("parity: cached decoding in bf16 on CUDA(0) follows the bf16 full forward") {
    for (const char* ffn : {"dasg", "dense"}) {
      INFO(ffn);
      Model m(test::decode_config(ffn, "gmha", 1), 11, kGPU);
      test::spread_tiers(m);
      m.train(false);
      std::vector<std::vector<int32_t>> prompts = {{9}, {1, 8, 15, 22, 29, 4}};
      Generator g(2);
      DecodeState f32_state = m.start_decode(1);
      const std::vector<float> f32 = m.step(f32_state, {5}, g).to(kCPU).to_vector<float>();
      m.set_precision(DType::bf16);
      DecodeState bf16_state = m.start_decode(1);
      const std::vector<float> bf16 = m.step(bf16_state, {5}, g).to(kCPU).to_vector<float>();
      const double err = test::row_error(bf16.data(), f32.data(), (int64_t)f32.size());
      MESSAGE(ffn << ": a bf16 decoding step against the f32 one, logits differ by " << err << " normwise");
      CHECK(err > 1e-4);
      CHECK(err < 2e-2);
      CHECK(test::check_cached_equals_recompute(m, prompts, 2 * m.config().max_seq_len, 2e-2) >= 2);
      m.to(kCPU);
      CHECK_THROWS_WITH_AS(m.step(f32_state, {5}, g), doctest::Contains("needs a CUDA device"), Error);
    }
  }
}
