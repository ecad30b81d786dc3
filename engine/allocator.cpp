// CPU allocator (64-byte aligned, counted) and Storage's device-generic allocation and copies.
#include "engine/allocator.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

#include "engine/error.hpp"
#ifdef DASG_WITH_CUDA
#include "engine/cuda/device_memory.hpp"
#endif

namespace dasg {

namespace {
std::atomic<int64_t> g_in_use{0};
std::atomic<int64_t> g_peak{0};
}  // namespace

void* cpu_allocate(size_t nbytes) {
  size_t rounded = (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  if (rounded == 0) rounded = kCpuAlignment;
  void* p = std::aligned_alloc(kCpuAlignment, rounded);
  if (!p) DASG_FAIL("cpu_allocate: out of memory allocating ", nbytes, " bytes");
  int64_t now = g_in_use.fetch_add((int64_t)rounded) + (int64_t)rounded;
  int64_t peak = g_peak.load();
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
  return p;
}

void cpu_deallocate(void* p) { std::free(p); }

CpuAllocStats cpu_alloc_stats() { return {g_in_use.load(), g_peak.load()}; }
void cpu_reset_peak() { g_peak.store(g_in_use.load()); }

static size_t cpu_rounded(size_t n) {
  size_t r = (n + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  return r == 0 ? kCpuAlignment : r;
}

Storage::Storage(size_t n, Device dev) : nbytes(n), device(dev) {
  if (dev.is_cpu()) {
    data = cpu_allocate(n);
  } else {
#ifdef DASG_WITH_CUDA
    data = cuda::device_allocate(n, dev.index);
#else
    DASG_FAIL("Storage: device ", dev.str(), " requested but this build has no CUDA backend (configure with DASG_CUDA=ON)");
#endif
  }
}

Storage::~Storage() {
  if (!data) return;
  if (device.is_cpu()) {
    g_in_use.fetch_sub((int64_t)cpu_rounded(nbytes));
    cpu_deallocate(data);
  } else {
#ifdef DASG_WITH_CUDA
    cuda::device_free(data, nbytes, device.index);
#endif
  }
}

namespace {
std::atomic<int64_t> g_device_to_host{0};
}

int64_t device_to_host_copies() { return g_device_to_host.load(); }

void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cuda()) g_device_to_host.fetch_add(1);
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#ifdef DASG_WITH_CUDA
  cuda::copy(dst, dst_dev, src, src_dev, nbytes);
#else
  DASG_FAIL("copy_bytes: ", src_dev.str(), " -> ", dst_dev.str(), " needs the CUDA backend, which this build lacks");
#endif
}

}  // namespace dasg
