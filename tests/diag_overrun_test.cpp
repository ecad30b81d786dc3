// The diagnostic path on a deliberate overrun (emulated builds; the kernel is in
// tests/diag_overrun_kernel.cu, built with -DDASG_TEST_OVERRUN). The emulator's guard bytes make
// the overrun a sticky cudaErrorIllegalAddress reported — as on a GPU — by the next call that
// waits for the device, here the copy to the host. Without sync mode the message names that
// copy and says how to find the culprit; with DASG_CUDA_SYNC=1 it names the kernel, its launch
// shape, its arguments and the launch's source line. Either way, every later CUDA call fails
// with one message naming the first error (no cascade). tests/gpu_rerun.sh runs this case once
// more with DASG_CUDA_SYNC=1, as tests/gpu.sh does with a failing parity case.
#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "engine/cuda/context.hpp"
#include "engine/cuda/device_memory.hpp"
#include "engine/tensor.hpp"

namespace dasg::test {
void overrun_iota(Tensor& out);
}

using namespace dasg;

TEST_CASE("emulator: diagnostics — a kernel writing past its buffer is reported, by name in sync mode") {
  emu::set_guard_bytes(256);
  std::string first, later;
  {
    Tensor t = Tensor::empty({1000}, DType::f32, Device::cuda(0));
    try {
      test::overrun_iota(t);
      (void)t.to(kCPU);
    } catch (const Error& e) {
      first = e.what();
    }
    try {
      (void)Tensor::zeros({4}, DType::f32, Device::cuda(0));
    } catch (const Error& e) {
      later = e.what();
    }
  }
  std::printf("first error: %s\nlater call: %s\n", first.c_str(), later.c_str());
  emu::reset_device();  // the emulator's device can be reset; a GPU's context cannot
  cuda::clear_sticky_for_tests();
  emu::set_guard_bytes(0);

  INFO("first error: " << first);
  REQUIRE(!first.empty());
  CHECK(first.find("cudaErrorIllegalAddress") != std::string::npos);
  CHECK(first.find("sticky") != std::string::npos);
  if (cuda::sync_enabled()) {
    CHECK(first.find("overrun_iota_kernel") != std::string::npos);
    CHECK(first.find("n = 1000") != std::string::npos);
    CHECK(first.find("diag_overrun_kernel.cu") != std::string::npos);
  } else {
    CHECK(first.find("cudaMemcpy") != std::string::npos);  // the wrong call, as natively
    CHECK(first.find("DASG_CUDA_SYNC=1") != std::string::npos);
  }
  INFO("later call: " << later);
  CHECK(later.find("unusable since an earlier sticky error") != std::string::npos);
  CHECK(later.find("cudaErrorIllegalAddress") != std::string::npos);
  // After the reset the device works again.
  CHECK(Tensor::full({3}, 2.0, DType::f32, Device::cuda(0)).to(kCPU).to_vector<float>() == std::vector<float>(3, 2.0f));
}
