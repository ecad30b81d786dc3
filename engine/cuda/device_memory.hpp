// Device memory for CUDA tensors: a caching allocator in front of cudaMalloc/cudaFree, and
// copies between devices. Blocks are rounded up to size classes (512 B steps below 1 MiB,
// 2 MiB steps above) and kept on per-class free lists when released. Every device has one
// stream and all work is ordered on it, so a released block can be handed to the next request
// at once (stream-ordered reuse): a steady-state training step calls no cudaMalloc/cudaFree.
// Exact mode (no rounding, no caching: every block is cudaMalloc'd at its requested size and
// cudaFree'd on release) lets AddressSanitizer see every overrun; the emulated test builds use it
// by default.
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.hpp"

namespace dasg::cuda {

void* device_allocate(size_t nbytes, int device);
void device_free(void* p, size_t nbytes, int device);
void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

enum class AllocatorMode { caching, exact };
void set_allocator_mode(AllocatorMode mode);  // releases the cache first
AllocatorMode allocator_mode();

struct AllocatorStats {
  int64_t in_use = 0;        // bytes in live tensors (as rounded)
  int64_t peak = 0;          // high-water mark of in_use
  int64_t cached = 0;        // bytes held on free lists
  int64_t malloc_calls = 0;  // cudaMalloc calls since start
  int64_t free_calls = 0;    // cudaFree calls since start
};
AllocatorStats allocator_stats();
void release_cached();  // cudaFree every cached block

}  // namespace dasg::cuda
