// The caching device allocator and device copies (see device_memory.hpp).
//
// Bookkeeping: every cudaMalloc'd segment is a doubly linked list of blocks in address order
// (prev/next); a block is live (in g_live, keyed by its pointer) or free (in g_free, ordered by
// (device, pool, size, address), so lower_bound finds the best fit). Splitting inserts a free
// block after the one handed out; freeing merges a block with free neighbours.
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>

#include "engine/cuda/context.hpp"
#include "engine/cuda/device_memory.hpp"
#include "engine/cuda/range_check.hpp"

namespace dasg::cuda {

namespace {

constexpr size_t kRound = 512;              // every request is rounded up to this
constexpr size_t kSmallMax = 1u << 20;      // requests up to this come from the small pool
constexpr size_t kSmallSegment = 2u << 20;  // the small pool's segment size
constexpr size_t kLargeRound = 2u << 20;    // large segments are rounded up to this

AllocatorMode initial_mode() {
  const char* v = std::getenv("DASG_CUDA_ALLOC");
  if (v && std::strcmp(v, "exact") == 0) return AllocatorMode::exact;
  if (v && std::strcmp(v, "caching") == 0) return AllocatorMode::caching;
#if DASG_CUDA_EMULATE
  return AllocatorMode::exact;
#else
  return AllocatorMode::caching;
#endif
}

struct Block {
  int device;
  bool small;
  char* ptr;
  size_t size;
  bool free = false;
  Block* prev = nullptr;  // neighbours in the same segment
  Block* next = nullptr;
};
struct BySize {
  bool operator()(const Block* a, const Block* b) const {
    return std::tie(a->device, a->small, a->size, a->ptr) < std::tie(b->device, b->small, b->size, b->ptr);
  }
};

AllocatorMode g_mode = initial_mode();
std::mutex g_mutex;
AllocatorStats g_stats;
std::set<Block*, BySize> g_free;
std::unordered_map<void*, Block*> g_live;

size_t round_up(size_t n, size_t step) { return (n + step - 1) / step * step; }

void release_cached_locked() {
  for (auto it = g_free.begin(); it != g_free.end();) {
    Block* b = *it;
    if (b->prev || b->next) {  // part of a segment still in use
      ++it;
      continue;
    }
    DASG_CUDA_CHECK(cudaSetDevice(b->device));
    DASG_CUDA_CHECK(cudaFree(b->ptr));
    ++g_stats.free_calls;
    g_stats.cached -= (int64_t)b->size;
    g_stats.reserved -= (int64_t)b->size;
    it = g_free.erase(it);
    delete b;
  }
}

void* malloc_or_throw(size_t bytes, size_t requested, int device) {
  void* p = nullptr;
  cudaError_t status = cudaMalloc(&p, bytes);
  if (status == cudaErrorMemoryAllocation) {  // give the cache back and try once more
    cudaGetLastError();
    release_cached_locked();
    status = cudaMalloc(&p, bytes);
  }
  if (status != cudaSuccess)
    fail_status(status, detail::concat("cuda: allocating ", requested, " bytes on cuda:", device, " (cudaMalloc of ",
                                       bytes, "; in use ", g_stats.in_use, " bytes, cached ", g_stats.cached, ")"),
                __FILE__, __LINE__);
  ++g_stats.malloc_calls;
  return p;
}

// Caching mode: a block of `size` (rounded) bytes from the cache or a new segment.
Block* take_block(size_t size, int device) {
  const bool small = size <= kSmallMax;
  Block key{device, small, nullptr, size};
  auto it = g_free.lower_bound(&key);
  Block* b = nullptr;
  if (it != g_free.end() && (*it)->device == device && (*it)->small == small) {
    b = *it;
    g_free.erase(it);
    g_stats.cached -= (int64_t)b->size;
  } else {
    const size_t seg = small ? kSmallSegment : round_up(size, kLargeRound);
    b = new Block{device, small, static_cast<char*>(malloc_or_throw(seg, size, device)), seg};
    g_stats.reserved += (int64_t)seg;
  }
  const size_t rest = b->size - size;
  if (rest >= kRound && (small || rest > kSmallMax)) {  // split: the rest stays cached
    Block* r = new Block{device, small, b->ptr + size, rest, true, b, b->next};
    if (b->next) b->next->prev = r;
    b->next = r;
    b->size = size;
    g_free.insert(r);
    g_stats.cached += (int64_t)rest;
  }
  b->free = false;
  return b;
}

// Caching mode: back to the cache, merged with free neighbours.
void give_block(Block* b) {
  auto absorb = [](Block* left, Block* right) {  // right is free and cached: merge it into left
    g_free.erase(right);
    left->size += right->size;
    left->next = right->next;
    if (right->next) right->next->prev = left;
    delete right;
  };
  g_stats.cached += (int64_t)b->size;
  if (b->next && b->next->free) absorb(b, b->next);
  if (b->prev && b->prev->free) {
    Block* p = b->prev;
    g_free.erase(p);
    p->size += b->size;
    p->next = b->next;
    if (b->next) b->next->prev = p;
    delete b;
    b = p;
  }
  b->free = true;
  g_free.insert(b);
}
}  // namespace

void* device_allocate(size_t nbytes, int device) {
  use_device(device);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_mode == AllocatorMode::exact) {
    void* p = nbytes ? malloc_or_throw(nbytes, nbytes, device) : nullptr;
    g_stats.in_use += (int64_t)nbytes;
    g_stats.reserved += (int64_t)nbytes;
    if (g_stats.in_use > g_stats.peak) g_stats.peak = g_stats.in_use;
    return p;
  }
  const size_t size = round_up(nbytes == 0 ? 1 : nbytes, kRound);
  Block* b = take_block(size, device);  // b->size >= size: an unsplit rest stays with the block
  g_live[b->ptr] = b;
  g_stats.in_use += (int64_t)b->size;
  if (g_stats.in_use > g_stats.peak) g_stats.peak = g_stats.in_use;
  return b->ptr;
}

void device_free(void* p, size_t nbytes, int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_mode == AllocatorMode::exact) {
    g_stats.in_use -= (int64_t)nbytes;
    g_stats.reserved -= (int64_t)nbytes;
    if (!p) return;
    cudaSetDevice(device);
    cudaFree(p);  // no throwing from a destructor path
    ++g_stats.free_calls;
    return;
  }
  auto it = g_live.find(p);
  if (it == g_live.end()) return;  // not ours (cannot happen for tensors); never throw from a destructor
  Block* b = it->second;
  g_live.erase(it);
  g_stats.in_use -= (int64_t)b->size;
  give_block(b);
}

void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  const int device = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
  cudaStream_t s = stream(device);
  cudaMemcpyKind kind = dst_dev.is_cuda() ? (src_dev.is_cuda() ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                          : cudaMemcpyDeviceToHost;
  const bool cross = dst_dev.is_cuda() && src_dev.is_cuda() && dst_dev.index != src_dev.index;
  if (cross) {  // the source's producers run on its own device's stream
    DASG_CUDA_CHECK(cudaStreamSynchronize(stream(src_dev.index)));
    use_device(device);
  }
  DASG_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, kind, s));
  // Host memory is pageable; across devices the source may be released (and reused by its
  // device's stream) as soon as this returns.
  if (kind != cudaMemcpyDeviceToDevice || cross) DASG_CUDA_CHECK(cudaStreamSynchronize(s));
  // A result reaches the host: the device-side index checks since the last read are due.
  if (kind == cudaMemcpyDeviceToHost) check_ranges(src_dev.index);
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
