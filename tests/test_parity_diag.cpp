// Suite "parity", the diagnostics of a native run (engine/cuda/errors.cuh, tests/gpu.sh):
// the TF32 GEMM error against f32, measured rather than assumed (the parity suite itself runs with
// TF32 off: tests/parity_main.cpp), and the synchronous diagnostic mode's switch.
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/cuda/context.hpp"
#include "ops/matmul.hpp"
#include "tests/parity.hpp"

using namespace dasg;

TEST_SUITE("parity") {
  // TF32 rounds each f32 input to 10 mantissa bits (unit round-off 2^-11 ≈ 4.9e-4), so a product
  // of K terms has a normwise error of order 1e-4..1e-3; f32 proper stays near 1e-6. Printed as one
  // line that tests/gpu.sh copies into its summary.
  TEST_CASE("parity: TF32 GEMM error against f32") {
    const bool saved = cuda::tf32_enabled();
    Generator g(5);
    const Tensor a = Tensor::rand({128, 1024}, g, -1, 1), b = Tensor::rand({1024, 96}, g, -1, 1);
    const Tensor want = matmul(a, b);
    const Tensor ad = a.to(Device::cuda(0)), bd = b.to(Device::cuda(0));
    cuda::set_tf32(false);
    const double err_f32 = test::relative_error(matmul(ad, bd), want);
    cuda::set_tf32(true);
    const double err_tf32 = test::relative_error(matmul(ad, bd), want);
    cuda::set_tf32(saved);
    std::printf("TF32 GEMM [128, 1024]·[1024, 96]: normwise relative error %.3g against the CPU's f32 (f32 on the "
                "device: %.3g)\n", err_tf32, err_f32);
    CHECK(err_f32 <= 1e-5);
    CHECK(err_tf32 <= 5e-3);
    CHECK(err_tf32 >= err_f32);  // TF32 really was used (the emulator rounds as tensor cores do)
  }

  TEST_CASE("parity: sync mode is a switch, and results do not depend on it") {
    const bool saved = cuda::sync_enabled();
    Generator g(6);
    const Tensor a = Tensor::rand({33, 17}, g, -1, 1), b = Tensor::rand({17, 9}, g, -1, 1);
    const Tensor ad = a.to(Device::cuda(0)), bd = b.to(Device::cuda(0));
    cuda::set_sync(false);
    const std::vector<float> async = matmul(ad, bd).to(kCPU).to_vector<float>();
    cuda::set_sync(true);
    CHECK(cuda::sync_enabled());
    const std::vector<float> sync = matmul(ad, bd).to(kCPU).to_vector<float>();
    cuda::set_sync(saved);
    CHECK(async == sync);
  }
}
