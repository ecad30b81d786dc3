// launch(kernel, grid, block, shared_bytes, stream, args...): the one way kernels are launched.
// Natively it is kernel<<<grid, block, shared_bytes, stream>>>(args...); emulated it runs the
// grid on the CPU emulator. Either way a failed launch (bad configuration, too much shared
// memory, and under emulation a kernel that broke the execution model) throws dasg::Error.
#pragma once
#include <string>
#include <utility>

#include "engine/cuda/cuda_compat.cuh"

namespace dasg::cuda {

inline void check_launch(dim3 grid, dim3 block, size_t shared_bytes) {
#if DASG_CUDA_EMULATE
  const std::string detail = std::string("; ") + dasg::emu::last_error_detail();  // cleared by cudaGetLastError
#else
  const std::string detail;
#endif
  const cudaError_t status = cudaGetLastError();
  if (status == cudaSuccess) return;
  DASG_FAIL("CUDA kernel launch with grid (", grid.x, ",", grid.y, ",", grid.z, "), block (", block.x, ",", block.y,
            ",", block.z, "), ", shared_bytes, " bytes of dynamic shared memory failed: ", cudaGetErrorName(status),
            " (", cudaGetErrorString(status), ")", detail);
}

template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, A&&... args) {
#if DASG_CUDA_EMULATE
  dasg::emu::launch(kernel, grid, block, shared_bytes, stream, std::forward<A>(args)...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<A>(args)...);
#endif
  check_launch(grid, block, shared_bytes);
}

}  // namespace dasg::cuda
