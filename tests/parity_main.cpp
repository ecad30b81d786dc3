// doctest main for the parity suites. In a native CUDA build on a machine without a GPU every
// case exits with 77, which CTest reports as skipped (SKIP_RETURN_CODE); listing still works, so
// the cases are discovered. Under the emulator there is always a device.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

#include "engine/cuda/cuda_compat.cuh"

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; ++i)
    if (std::strstr(argv[i], "list-test") || std::strstr(argv[i], "-ltc")) listing = true;
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) {
    cudaGetLastError();
    devices = 0;
  }
  if (!listing && devices == 0) {
    std::printf("SKIPPED: no CUDA device on this machine; the emulated build runs these cases\n");
    return 77;
  }
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
