// A kernel for the diagnostic-path test (tests/diag_overrun_test.cpp): iota over a buffer of n
// floats, out[i] = i. Built with -DDASG_TEST_OVERRUN (only the test_diag_overrun executable
// is) its bound is i < n + 8, so it writes 8 floats past the end of the buffer, the kind of bug
// that natively surfaces as cudaErrorIllegalAddress at some later call, or not at all.
//   overrun_iota_kernel: one thread per element, grid-stride; blocks_for(n) × 256.
#include "engine/cuda/kernel_utils.cuh"

#ifndef DASG_TEST_OVERRUN
#define DASG_TEST_OVERRUN 0
#endif

namespace dasg::test {

namespace {
__global__ void overrun_iota_kernel(float* out, int64_t n) {
  const int64_t end = DASG_TEST_OVERRUN ? n + 8 : n;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < end; i += (int64_t)gridDim.x * blockDim.x)
    out[i] = (float)i;
}
}  // namespace

void overrun_iota(Tensor& out) {
  const int64_t n = out.numel();
  DASG_LAUNCH(overrun_iota_kernel, cuda::blocks_for(n), cuda::kThreads, 0, cuda::stream_of(out), out.data<float>(), n);
}

}  // namespace dasg::test
