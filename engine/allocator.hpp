// Allocators and Storage. CPU memory is 64-byte aligned (cache line, AVX-512 loads).
// CUDA memory comes from the CUDA backend's caching allocator (engine/cuda/), which the
// engine reaches only through the functions declared in engine/cuda/device_memory.hpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.hpp"

namespace dasg {

constexpr size_t kCpuAlignment = 64;

void* cpu_allocate(size_t nbytes);
void cpu_deallocate(void* p);

// Counters of the CPU allocator, for tests and the memory benchmarks.
struct CpuAllocStats {
  int64_t in_use = 0;  // bytes held by live storages
  int64_t peak = 0;    // high-water mark of in_use since the last reset
};
CpuAllocStats cpu_alloc_stats();
void cpu_reset_peak();

// A block of memory on one device, freed when the last tensor using it goes away.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;

  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

// Copies nbytes between any two devices (host<->device, device<->device, host<->host).
void copy_bytes(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

// Copies from a device to the host since the start (each one a synchronisation point; the
// training step's bound on them is a test, DESIGN §10).
int64_t device_to_host_copies();

}  // namespace dasg
