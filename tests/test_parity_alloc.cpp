// Suite "parity", the CUDA device allocator (engine/cuda/device_memory.hpp, DESIGN.md §3, §10):
// in caching mode a steady-state training step calls cudaMalloc/cudaFree zero times; the stats
// (in_use, peak, cached, malloc/free calls) move as documented in both modes; a device id past
// the last device is a clear error. Runs on the emulator and natively (skipped without a GPU).
// Every case leaves the allocator in the mode it found it in, with no CUDA tensor alive.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "engine/cuda/context.hpp"
#include "engine/cuda/device_memory.hpp"
#include "engine/kernels/optim.hpp"
#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "tests/helpers.hpp"
#include "tests/parity.hpp"

using namespace dasg;

namespace {

const Device kGPU = Device::cuda(0);

// Switches the allocator mode for a scope (only while no CUDA tensor is alive) and restores the
// previous one on exit; the tensors of the scope must be gone by then, so declare it first.
struct AllocatorModeScope {
  explicit AllocatorModeScope(cuda::AllocatorMode mode) : saved(cuda::allocator_mode()) {
    cuda::set_allocator_mode(mode);
  }
  ~AllocatorModeScope() { cuda::set_allocator_mode(saved); }
  AllocatorModeScope(const AllocatorModeScope&) = delete;
  AllocatorModeScope& operator=(const AllocatorModeScope&) = delete;
  cuda::AllocatorMode saved;
};

// TF32 off for a scope, so the CUDA GEMMs can be compared with the CPU's at f32 tolerance.
struct Tf32Off {
  Tf32Off() : saved(cuda::tf32_enabled()) { cuda::set_tf32(false); }
  ~Tf32Off() { cuda::set_tf32(saved); }
  bool saved;
};

// A 2-layer MLP, x [B, in] → linear → gelu → linear → mean of squares, trained with SGD with
// momentum: the allocation pattern of a real training step (activations, autograd temporaries,
// gradients, optimizer state) with only ops that have CUDA kernels.
struct Mlp {
  Tensor x, w1, b1, w2, b2;
  std::vector<Tensor> momentum;

  Mlp(Device dev, uint64_t seed) {
    Generator g(seed);
    const int64_t B = 33, in = 17, hidden = 65, out = 9;
    x = Tensor::rand({B, in}, g, -1, 1).to(dev);
    w1 = Tensor::rand({hidden, in}, g, -0.5, 0.5).to(dev).requires_grad_(true);
    b1 = Tensor::rand({hidden}, g, -0.1, 0.1).to(dev).requires_grad_(true);
    w2 = Tensor::rand({out, hidden}, g, -0.5, 0.5).to(dev).requires_grad_(true);
    b2 = Tensor::rand({out}, g, -0.1, 0.1).to(dev).requires_grad_(true);
    for (Tensor* p : params()) momentum.push_back(Tensor::zeros(p->shape(), DType::f32, dev));
  }
  std::vector<Tensor*> params() { return {&w1, &b1, &w2, &b2}; }

  // One step; returns the loss before the update.
  double step() {
    Tensor y = linear(gelu(linear(x, w1, b1)), w2, b2);
    Tensor loss = mean(y * y);
    loss.backward();
    std::vector<Tensor*> ps = params();
    for (size_t k = 0; k < ps.size(); ++k) {
      kernels::sgd(*ps[k], ps[k]->grad(), momentum[k], 0.05, 0.9, 0.01);
      ps[k]->zero_grad();
    }
    return loss.item();  // synchronises with the device
  }
};

#if DASG_CUDA_EMULATE
// The emulator counts every cudaMalloc/cudaFree of the process, the allocator's and any other.
int64_t emu_mallocs() { return (int64_t)dasg::emu::malloc_calls(); }
int64_t emu_frees() { return (int64_t)dasg::emu::free_calls(); }
#else
int64_t emu_mallocs() { return 0; }
int64_t emu_frees() { return 0; }
#endif

}  // namespace

TEST_SUITE("parity") {
  TEST_CASE("parity: caching allocator — steady-state steps call cudaMalloc zero times") {
    Tf32Off tf32;
    AllocatorModeScope mode(cuda::AllocatorMode::caching);
    REQUIRE(cuda::allocator_stats().in_use == 0);
    {
      Mlp cpu(kCPU, 3), dev(kGPU, 3);
      std::vector<double> cpu_loss, dev_loss;
      cpu_loss.push_back(cpu.step());
      dev_loss.push_back(dev.step());  // the first step fills the cache
      const cuda::AllocatorStats before = cuda::allocator_stats();
      const int64_t emu_m = emu_mallocs(), emu_f = emu_frees();
      CHECK(before.cached > 0);  // the step's temporaries went back to the free lists
      for (int i = 0; i < 10; ++i) {
        cpu_loss.push_back(cpu.step());
        dev_loss.push_back(dev.step());
      }
      const cuda::AllocatorStats after = cuda::allocator_stats();
      INFO("malloc calls " << before.malloc_calls << " -> " << after.malloc_calls << ", free calls "
                           << before.free_calls << " -> " << after.free_calls);
      CHECK(after.malloc_calls == before.malloc_calls);
      CHECK(after.free_calls == before.free_calls);
      CHECK(after.in_use == before.in_use);  // parameters, momentum and x only
      CHECK(after.cached == before.cached);
      CHECK(emu_mallocs() == emu_m);  // nothing else in the step called cudaMalloc either
      CHECK(emu_frees() == emu_f);

      // It is a real training run: the loss falls, and matches the CPU's step by step.
      for (size_t i = 0; i < dev_loss.size(); ++i) {
        INFO("step " << i << ": cuda loss " << dev_loss[i] << ", cpu loss " << cpu_loss[i]);
        CHECK(std::isfinite(dev_loss[i]));
        CHECK(std::abs(dev_loss[i] - cpu_loss[i]) <= 1e-4 * std::abs(cpu_loss[i]));
      }
      CHECK(dev_loss.back() < 0.9 * dev_loss.front());
      std::vector<Tensor*> pc = cpu.params(), pd = dev.params();
      for (size_t k = 0; k < pc.size(); ++k) test::check_close_tensors("parameter after 11 steps", *pd[k], *pc[k], 1e-4);
    }
    CHECK(cuda::allocator_stats().in_use == 0);
  }

  TEST_CASE("parity: allocator stats in caching and exact mode") {
    SUBCASE("caching: in_use, peak and cached follow tensors; a freed block is reused") {
      AllocatorModeScope mode(cuda::AllocatorMode::caching);
      const cuda::AllocatorStats s0 = cuda::allocator_stats();
      REQUIRE(s0.in_use == 0);
      CHECK(s0.cached == 0);  // switching modes released the cache
      CHECK(s0.reserved == 0);
      // 1000 floats = 4000 bytes: a 4096-byte block (512-byte rounding) split from a new 2 MiB
      // small-pool segment, whose rest stays cached. 3 MiB + 4 bytes: a 4 MiB large segment,
      // not split (the rest, under 1 MiB, is too small to keep as a large block).
      const int64_t small = 4096, segment = 2 << 20, large = 4 << 20;
      {
        Tensor a = Tensor::zeros({1000}, DType::f32, kGPU);
        cuda::AllocatorStats s = cuda::allocator_stats();
        CHECK(s.in_use == small);
        CHECK(s.peak >= small);
        CHECK(s.cached == segment - small);
        CHECK(s.reserved == segment);
        CHECK(s.malloc_calls == s0.malloc_calls + 1);
        {
          Tensor b = Tensor::empty({(3 << 20) / 4 + 1}, DType::f32, kGPU);  // empty: no fill kernel
          s = cuda::allocator_stats();
          CHECK(s.in_use == small + large);
          CHECK(s.peak >= small + large);
          CHECK(s.reserved == segment + large);
          CHECK(s.malloc_calls == s0.malloc_calls + 2);
          // A second small tensor comes from the small segment's cached rest: no cudaMalloc.
          Tensor c = Tensor::empty({100}, DType::f32, kGPU);
          CHECK(cuda::allocator_stats().malloc_calls == s0.malloc_calls + 2);
        }
        s = cuda::allocator_stats();  // b and c are cached, not freed; c merged back into the segment
        CHECK(s.in_use == small);
        CHECK(s.cached == segment - small + large);
        CHECK(s.free_calls == s0.free_calls);
        const int64_t peak = s.peak;
        // A different size that fits the cached 4 MiB block reuses it: no cudaMalloc.
        Tensor c = Tensor::empty({(3 << 20) / 4 + 1000}, DType::f32, kGPU);
        s = cuda::allocator_stats();
        CHECK(s.in_use == small + large);
        CHECK(s.cached == segment - small);
        CHECK(s.malloc_calls == s0.malloc_calls + 2);
        CHECK(s.peak == peak);
        // A smaller large request splits it: 1.5 MiB handed out, 2.5 MiB stays cached.
        c = Tensor();
        Tensor d = Tensor::empty({(3 << 19) / 4}, DType::f32, kGPU);
        s = cuda::allocator_stats();
        CHECK(s.in_use == small + (3 << 19));
        CHECK(s.cached == segment - small + large - (3 << 19));
        CHECK(s.malloc_calls == s0.malloc_calls + 2);
      }
      cuda::AllocatorStats s = cuda::allocator_stats();
      CHECK(s.in_use == 0);
      CHECK(s.cached == segment + large);  // every block merged back into its whole segment
      CHECK(s.free_calls == s0.free_calls);
      cuda::release_cached();
      s = cuda::allocator_stats();
      CHECK(s.cached == 0);
      CHECK(s.reserved == 0);
      CHECK(s.free_calls == s0.free_calls + 2);
      CHECK(s.malloc_calls == s0.malloc_calls + 2);
    }
    SUBCASE("exact: requested sizes, nothing cached, every release is a cudaFree") {
      AllocatorModeScope mode(cuda::AllocatorMode::exact);
      const cuda::AllocatorStats s0 = cuda::allocator_stats();
      REQUIRE(s0.in_use == 0);
      for (int rep = 0; rep < 2; ++rep) {
        {
          Tensor a = Tensor::zeros({1000}, DType::f32, kGPU);
          const cuda::AllocatorStats s = cuda::allocator_stats();
          CHECK(s.in_use == 4000);  // not rounded
          CHECK(s.peak >= 4000);
          CHECK(s.malloc_calls == s0.malloc_calls + 1 + rep);
        }
        const cuda::AllocatorStats s = cuda::allocator_stats();
        CHECK(s.in_use == 0);
        CHECK(s.cached == 0);
        CHECK(s.free_calls == s0.free_calls + 1 + rep);
      }
    }
    SUBCASE("the mode cannot change while a CUDA tensor is alive") {
      AllocatorModeScope mode(cuda::AllocatorMode::exact);
      Tensor a = Tensor::zeros({3}, DType::f32, kGPU);
      CHECK_ERROR_CONTAINS(cuda::set_allocator_mode(cuda::AllocatorMode::caching), "allocator mode",
                           "no CUDA tensor is alive", "12 bytes in use");
      CHECK(cuda::allocator_mode() == cuda::AllocatorMode::exact);
    }
  }

  // The MoE pattern: every layer's per-expert token counts change every step, so the sizes of the
  // expert activations never repeat. Best-fit reuse with splitting and coalescing must still reach
  // a steady state: after a warm-up, no step calls cudaMalloc, and the total stays bounded.
  TEST_CASE("parity: caching allocator — 100 steps of randomly varying per-expert sizes reach a steady state") {
    AllocatorModeScope mode(cuda::AllocatorMode::caching);
    REQUIRE(cuda::allocator_stats().in_use == 0);
    const int64_t D = 64, F = 256, experts = 8, tokens = 512, steps = 100;
    Generator g(11);
    const cuda::AllocatorStats s0 = cuda::allocator_stats();
    std::vector<int64_t> mallocs_after_step;
    for (int64_t step = 0; step < steps; ++step) {
      // A random split of `tokens` among the experts (some get none), then per expert its input,
      // hidden and output activations, alive together as in a forward pass.
      std::vector<double> w((size_t)experts);
      double total = 0;
      for (double& v : w) total += (v = g.next_uniform() < 0.2 ? 0.0 : g.next_uniform());
      std::vector<Tensor> alive;
      alive.push_back(Tensor::empty({tokens, D}, DType::f32, kGPU));
      for (int64_t e = 0; e < experts; ++e) {
        const int64_t n = total > 0 ? (int64_t)(w[(size_t)e] / total * (double)tokens) : 0;
        alive.push_back(Tensor::empty({n, D}, DType::f32, kGPU));
        alive.push_back(Tensor::empty({n, F}, DType::f32, kGPU));
        alive.push_back(Tensor::empty({n * 16, F}, DType::f32, kGPU));  // up to 8 MiB: the large pool
      }
      if (step % 2) alive.erase(alive.begin() + 1, alive.begin() + 4);  // a different order of release
      alive.clear();
      mallocs_after_step.push_back(cuda::allocator_stats().malloc_calls - s0.malloc_calls);
    }
    const cuda::AllocatorStats s = cuda::allocator_stats();
    INFO("cudaMalloc calls after steps 1, 10, 50, 100: " << mallocs_after_step[0] << ", " << mallocs_after_step[9]
                                                          << ", " << mallocs_after_step[49] << ", "
                                                          << mallocs_after_step[99] << "; reserved " << s.reserved
                                                          << " bytes");
    CHECK(s.in_use == 0);
    CHECK(mallocs_after_step.back() == mallocs_after_step[49]);  // steady: none in the last 50 steps
    CHECK(mallocs_after_step.back() <= 40);                     // and few before
    CHECK(s.free_calls == s0.free_calls);                        // nothing was flushed
    CHECK(s.cached == s.reserved);                               // every block merged back
  }

  TEST_CASE("parity: out-of-range device id") {
    int count = 0;
    REQUIRE(cudaGetDeviceCount(&count) == cudaSuccess);
    const std::string present = std::to_string(count) + " CUDA device(s) are present";
    const std::string name = "cuda:" + std::to_string(count);
    const int64_t in_use = cuda::allocator_stats().in_use;
    CHECK_ERROR_CONTAINS(Tensor::zeros({4}, DType::f32, Device::cuda(count)), name.c_str(), "requested",
                         present.c_str());
    CHECK_ERROR_CONTAINS(Tensor::zeros({4}).to(Device::cuda(count + 7)), "requested", present.c_str());
    CHECK_ERROR_CONTAINS(Tensor::zeros({4}, DType::f32, Device::cuda(-1)), "cuda:-1", "requested");
    CHECK(cuda::allocator_stats().in_use == in_use);  // a failed allocation leaves no trace
    // The valid device still works afterwards.
    CHECK(Tensor::full({4}, 1.5, DType::f32, kGPU).to(kCPU).to_vector<float>() == std::vector<float>(4, 1.5f));
  }
}
