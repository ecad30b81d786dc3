// Allocators and Storage. CPU memory is 64-byte aligned (cache line, AVX-512 loads) and comes
// from a caching allocator with size-class free lists (allocator.cpp), like the CUDA one.
// CUDA memory comes from the CUDA backend's caching allocator (engine/cuda/), which the
// engine reaches only through the functions declared in engine/cuda/device_memory.hpp.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.hpp"

namespace dasg {

constexpr size_t kCpuAlignment = 64;

// The size class of a request: multiples of 64 B up to 4 KiB, then of 1/8 of its power of two.
size_t cpu_size_class(size_t nbytes);
void* cpu_allocate(size_t nbytes);
void cpu_deallocate(void* p, size_t nbytes);  // nbytes as allocated

// Counters of the CPU allocator, for tests and the memory benchmarks (bytes as size-classed).
struct CpuAllocStats {
  int64_t in_use = 0;        // bytes held by live storages
  int64_t peak = 0;          // high-water mark of in_use since the last reset
  int64_t cached = 0;        // bytes on the free lists
  int64_t malloc_calls = 0;  // blocks taken from the C library since start
  int64_t free_calls = 0;    // blocks returned to it
  int64_t cache_hits = 0;    // requests served from a free list
};
CpuAllocStats cpu_alloc_stats();
void cpu_reset_peak();
void cpu_release_cached();     // returns every cached block to the C library
void cpu_set_caching(bool on);  // off: releases the cache; every later free goes straight back

// A block of memory on one device, freed when the last tensor using it goes away.
struct Storage {
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;

  Storage(size_t nbytes, Device device);
  // No bytes at all: what a released tensor points to (Tensor::release_).
  explicit Storage(Device device) : device(device) {}
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
