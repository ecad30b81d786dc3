// doctest main for the parity suites (DASG_NUM_THREADS applied first, as in test_main.cpp). In a native CUDA build on a machine without a usable GPU
// every case exits with 77, which CTest reports as skipped (SKIP_RETURN_CODE), after printing the
// CUDA runtime's own error (e.g. cudaErrorNoDevice, or cudaErrorInsufficientDriver: a driver too
// old for this CUDA runtime); listing still works, so the cases are discovered. Under the
// emulator there is always a device.
// TF32 is off here unless DASG_TF32 is set: the parity tolerance is for f32 round-off, and a
// TF32 GEMM rounds its inputs to 10 mantissa bits. The TF32 error is measured by its own case
// ("parity: TF32 GEMM error against f32").
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/cuda/context.hpp"
#include "engine/parallel.hpp"

int main(int argc, char** argv) {
  (void)dasg::num_threads();  // applies DASG_NUM_THREADS (see tests/test_main.cpp)
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strstr(argv[i], "list-test") || std::strstr(argv[i], "-ltc")) listing = true;
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess) {
    if (!listing)
      std::printf("SKIPPED: no CUDA device can be opened: cudaGetDeviceCount failed: %s (%s); the emulated build "
                  "runs these cases\n", cudaGetErrorName(status), cudaGetErrorString(status));
    cudaGetLastError();
    devices = 0;
  }
  if (!listing && devices == 0) {
    if (status == cudaSuccess) std::printf("SKIPPED: no CUDA device on this machine; the emulated build runs these cases\n");
    return 77;
  }
  if (!std::getenv("DASG_TF32")) dasg::cuda::set_tf32(false);
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
