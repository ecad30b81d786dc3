// CPU caching allocator (64-byte aligned, counted) and Storage's device-generic allocation and copies.
//
// Sizes round up to a size class: multiples of 64 B up to 4 KiB, above that multiples of 1/8 of
// the size's power of two (at most 12.5% over). A freed block goes on its class's free list and
// the next request of that class takes it back, so a training loop's steady-state step does no
// malloc/free, hence no mmap/munmap and no first-touch page faults. The cache holds at most
// DASG_CPU_CACHE_MB (default 4096) MiB; a free past that returns the block to the C library.
// DASG_CPU_CACHE=0 turns caching off (every block malloc'd and freed exactly, for leak checkers).
#include "engine/allocator.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "engine/error.hpp"
#ifdef DASG_WITH_CUDA
#include "engine/cuda/device_memory.hpp"
#endif

namespace dasg {

namespace {

int64_t env_int(const char* name, int64_t fallback) {
  const char* e = std::getenv(name);
  if (!e || !*e) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(e, &end, 10);
  DASG_CHECK(end != e && *end == '\0' && v >= 0, name, "='", e, "'; expected a non-negative integer");
  return (int64_t)v;
}

struct CpuCache {
  std::mutex mu;
  bool caching = env_int("DASG_CPU_CACHE", 1) != 0;
  int64_t limit = env_int("DASG_CPU_CACHE_MB", 4096) << 20;
  std::unordered_map<size_t, std::vector<void*>> free_lists;  // class size -> blocks
  CpuAllocStats stats;
};

CpuCache& cache() {
  static CpuCache* c = new CpuCache;  // never destroyed: storages may outlive static destructors
  return *c;
}

void note_peak(CpuAllocStats& s) {
  if (s.in_use > s.peak) s.peak = s.in_use;
}

}  // namespace

size_t cpu_size_class(size_t nbytes) {
  if (nbytes <= 4096) return nbytes == 0 ? kCpuAlignment : (nbytes + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
  size_t p = 4096;
  while (p * 2 <= nbytes) p *= 2;
  const size_t step = p / 8;
  return (nbytes + step - 1) / step * step;
}

void* cpu_allocate(size_t nbytes) {
  const size_t cls = cpu_size_class(nbytes);
  CpuCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_lists.find(cls);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cached -= (int64_t)cls;
      c.stats.in_use += (int64_t)cls;
      ++c.stats.cache_hits;
      note_peak(c.stats);
      return p;
    }
  }
  void* p = std::aligned_alloc(kCpuAlignment, cls);
  if (!p) {
    cpu_release_cached();  // give the cache back to the system and try once more
    p = std::aligned_alloc(kCpuAlignment, cls);
  }
  if (!p) DASG_FAIL("cpu_allocate: out of memory allocating ", nbytes, " bytes");
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.in_use += (int64_t)cls;
  ++c.stats.malloc_calls;
  note_peak(c.stats);
  return p;
}

void cpu_deallocate(void* p, size_t nbytes) {
  if (!p) return;
  const size_t cls = cpu_size_class(nbytes);
  CpuCache& c = cache();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.in_use -= (int64_t)cls;
    if (c.caching && c.stats.cached + (int64_t)cls <= c.limit) {
      c.free_lists[cls].push_back(p);
      c.stats.cached += (int64_t)cls;
      return;
    }
    ++c.stats.free_calls;
  }
  std::free(p);
}

CpuAllocStats cpu_alloc_stats() {
  CpuCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void cpu_reset_peak() {
  CpuCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.peak = c.stats.in_use;
}

void cpu_release_cached() {
  CpuCache& c = cache();
  std::vector<void*> blocks;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [cls, list] : c.free_lists) {
      blocks.insert(blocks.end(), list.begin(), list.end());
      list.clear();
    }
    c.stats.free_calls += (int64_t)blocks.size();
    c.stats.cached = 0;
  }
  for (void* p : blocks) std::free(p);
}

void cpu_set_caching(bool on) {
  if (!on) cpu_release_cached();
  CpuCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.caching = on;
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
    cpu_deallocate(data, nbytes);
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
