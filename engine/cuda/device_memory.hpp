// Device memory for CUDA tensors: a caching allocator in front of cudaMalloc/cudaFree, and
// copies between devices.
//
// Caching mode (the default natively): requests are rounded up to 512 bytes and served best-fit
// from cached memory. Memory comes from cudaMalloc'd segments: requests up to 1 MiB ("small")
// share 2 MiB segments; larger ones get a segment of their size rounded up to 2 MiB. A free
// block bigger than the request is split (the rest stays cached: any remainder in the small
// pool, a remainder over 1 MiB in the large pool), and a released block is merged with its free
// neighbours of the same segment (coalescing), so changing sizes — per-expert token counts that
// differ every step — reuse cached memory instead of calling cudaMalloc. Every device has one
// stream and all work is ordered on it, so a released block can be handed to the next request
// at once (stream-ordered reuse): a steady-state training step calls no cudaMalloc/cudaFree.
// When cudaMalloc runs out of memory, the wholly free segments are released and it is tried once
// more.
//
// Exact mode (no rounding, no caching: every block is cudaMalloc'd at its requested size and
// cudaFree'd on release) lets AddressSanitizer — and natively compute-sanitizer's memcheck — see
// every overrun that rounding would hide; the emulated test builds use it by default, and
// DASG_CUDA_ALLOC=exact selects it at start (caching: the default natively).
#pragma once
#include <cstddef>
#include <cstdint>

#include "engine/device.hpp"

namespace dasg::cuda {

void* device_allocate(size_t nbytes, int device);
void device_free(void* p, size_t nbytes, int device);
// Copies between host and device or between devices. A copy from one device to another waits
// for the source device's stream first and for the copy before returning, so it is ordered
// against the work of both devices.
void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes);

enum class AllocatorMode { caching, exact };
void set_allocator_mode(AllocatorMode mode);  // releases the cache first
AllocatorMode allocator_mode();

struct AllocatorStats {
  int64_t in_use = 0;        // bytes in live tensors (as rounded)
  int64_t peak = 0;          // high-water mark of in_use
  int64_t cached = 0;        // bytes in free blocks (cached, ready for reuse)
  int64_t reserved = 0;      // bytes in cudaMalloc'd segments (in_use + cached in caching mode)
  int64_t malloc_calls = 0;  // cudaMalloc calls since start
  int64_t free_calls = 0;    // cudaFree calls since start
};
AllocatorStats allocator_stats();
void release_cached();  // cudaFree every wholly free segment

}  // namespace dasg::cuda
