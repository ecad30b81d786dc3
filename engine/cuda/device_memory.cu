// The caching device allocator and device copies (see device_memory.hpp).
#include <map>
#include <mutex>
#include <vector>

#include "engine/cuda/context.hpp"
#include "engine/cuda/device_memory.hpp"

namespace dasg::cuda {

namespace {
#if DASG_CUDA_EMULATE
AllocatorMode g_mode = AllocatorMode::exact;
#else
AllocatorMode g_mode = AllocatorMode::caching;
#endif
std::mutex g_mutex;
AllocatorStats g_stats;
// Free lists per (device, size class).
std::map<std::pair<int, size_t>, std::vector<void*>> g_free;

size_t size_class(size_t n) {
  if (g_mode == AllocatorMode::exact) return n;
  constexpr size_t kSmallStep = 512, kLargeStep = 2u << 20, kSmallMax = 1u << 20;
  if (n == 0) n = 1;
  if (n <= kSmallMax) return (n + kSmallStep - 1) / kSmallStep * kSmallStep;
  return (n + kLargeStep - 1) / kLargeStep * kLargeStep;
}

void release_cached_locked() {
  for (auto& [key, blocks] : g_free) {
    DASG_CUDA_CHECK(cudaSetDevice(key.first));
    for (void* p : blocks) {
      DASG_CUDA_CHECK(cudaFree(p));
      ++g_stats.free_calls;
      g_stats.cached -= (int64_t)key.second;
    }
  }
  g_free.clear();
}
}  // namespace

void* device_allocate(size_t nbytes, int device) {
  use_device(device);
  std::lock_guard<std::mutex> lock(g_mutex);
  const size_t cls = size_class(nbytes);
  void* p = nullptr;
  auto it = g_free.find({device, cls});
  if (it != g_free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    g_stats.cached -= (int64_t)cls;
  } else if (cls > 0) {
    cudaError_t status = cudaMalloc(&p, cls);
    if (status == cudaErrorMemoryAllocation) {  // give the cache back and try once more
      cudaGetLastError();
      release_cached_locked();
      status = cudaMalloc(&p, cls);
    }
    if (status != cudaSuccess) {
      cudaGetLastError();
      DASG_FAIL("cuda: cannot allocate ", nbytes, " bytes on cuda:", device, ": ", cudaGetErrorString(status),
                " (in use ", g_stats.in_use, " bytes, cached ", g_stats.cached, ")");
    }
    ++g_stats.malloc_calls;
  }
  g_stats.in_use += (int64_t)cls;
  if (g_stats.in_use > g_stats.peak) g_stats.peak = g_stats.in_use;
  return p;
}

void device_free(void* p, size_t nbytes, int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  const size_t cls = size_class(nbytes);
  g_stats.in_use -= (int64_t)cls;
  if (!p) return;
  if (g_mode == AllocatorMode::exact) {
    cudaSetDevice(device);
    cudaFree(p);  // no throwing from a destructor path
    ++g_stats.free_calls;
    return;
  }
  g_free[{device, cls}].push_back(p);
  g_stats.cached += (int64_t)cls;
}

void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  const int device = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
  cudaStream_t s = stream(device);
  cudaMemcpyKind kind = dst_dev.is_cuda() ? (src_dev.is_cuda() ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                          : cudaMemcpyDeviceToHost;
  DASG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, s));
  if (kind != cudaMemcpyDeviceToDevice) DASG_CUDA_CHECK(cudaStreamSynchronize(s));  // host memory is pageable
}

void set_allocator_mode(AllocatorMode mode) {
  std::lock_guard<std::mutex> lock(g_mutex);
  DASG_CHECK(g_stats.in_use == 0 || mode == g_mode, "cuda: the allocator mode can change only while no CUDA "
             "tensor is alive (", g_stats.in_use, " bytes in use)");
  release_cached_locked();
  g_mode = mode;
}

AllocatorMode allocator_mode() { return g_mode; }

AllocatorStats allocator_stats() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_stats;
}

void release_cached() {
  std::lock_guard<std::mutex> lock(g_mutex);
  release_cached_locked();
}

}  // namespace dasg::cuda
