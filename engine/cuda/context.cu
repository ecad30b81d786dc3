// Per-device stream and library handles (see context.hpp).
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "engine/cuda/context.hpp"

namespace dasg::cuda {

namespace {
struct DeviceContext {
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
#if DASG_WITH_CUDNN
  cudnnHandle_t cudnn = nullptr;
#endif
};

std::mutex g_mutex;
// Streams and handles live as long as the process (like the CUDA runtime's own). The vector is
// never destroyed, so they stay reachable at exit and no destructor races the runtime's teardown.
std::vector<DeviceContext>& g_contexts = *new std::vector<DeviceContext>();

bool env_flag(const char* name, bool fallback) {
  const char* v = std::getenv(name);
  if (!v) return fallback;
  return std::strcmp(v, "0") != 0;
}
bool g_tf32 = env_flag("DASG_TF32", true);
bool g_cudnn_softmax = DASG_WITH_CUDNN && env_flag("DASG_CUDNN_SOFTMAX", false);

DeviceContext& context(int device) {
  check_not_broken();
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_contexts.empty()) {
    int count = 0;
    const cudaError_t status = cudaGetDeviceCount(&count);
    if (status != cudaSuccess)
      fail_status(status, "cuda: cudaGetDeviceCount (no CUDA device can be opened: is the driver installed, and new "
                  "enough for this CUDA runtime? nvidia-smi shows the driver's CUDA version)", __FILE__, __LINE__);
    g_contexts.resize((size_t)count);
  }
  DASG_CHECK(device >= 0 && device < (int)g_contexts.size(), "cuda: device cuda:", device, " requested, but ",
             g_contexts.size(), " CUDA device(s) are present");
  DASG_CUDA_CHECK(cudaSetDevice(device));
  DeviceContext& c = g_contexts[(size_t)device];
  if (!c.stream) DASG_CUDA_CHECK(cudaStreamCreate(&c.stream));
  return c;
}
}  // namespace

void use_device(int device) { context(device); }

cudaStream_t stream(int device) { return context(device).stream; }

cublasHandle_t cublas(int device) {
  DeviceContext& c = context(device);
  if (!c.cublas) {
    DASG_CUBLAS_CHECK(cublasCreate(&c.cublas));
    DASG_CUBLAS_CHECK(cublasSetStream(c.cublas, c.stream));
  }
  DASG_CUBLAS_CHECK(cublasSetMathMode(c.cublas, g_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  return c.cublas;
}

#if DASG_WITH_CUDNN
cudnnHandle_t cudnn(int device) {
  DeviceContext& c = context(device);
  if (!c.cudnn) {
    DASG_CUDNN_CHECK(cudnnCreate(&c.cudnn));
    DASG_CUDNN_CHECK(cudnnSetStream(c.cudnn, c.stream));
  }
  return c.cudnn;
}
#endif

bool tf32_enabled() { return g_tf32; }
void set_tf32(bool on) { g_tf32 = on; }
bool cudnn_softmax_enabled() { return g_cudnn_softmax; }
void set_cudnn_softmax(bool on) {
  DASG_CHECK(!on || cudnn_available(), "cuda: softmax through cuDNN was asked for, but this build has no cuDNN "
             "(DASG_WITH_CUDNN=OFF, or cuDNN was not found at configure time); unset DASG_CUDNN_SOFTMAX");
  g_cudnn_softmax = on;
}

}  // namespace dasg::cuda
