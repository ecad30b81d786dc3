// CUDA emulator: the runtime API. Memory is malloc of exactly the requested size, poisoned, and
// tracked so copies and frees are checked against live allocations; streams and events are
// synchronous; the error state is per host thread, as in cudart.
#include "engine/cuda/emulator/runtime.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <string>

namespace dasg::emu {
namespace {

constexpr size_t kDefaultDynamicShared = 48 * 1024;
constexpr size_t kOptinDynamicShared = 232448;  // sharedMemPerBlockOptin of an H100 (227 KB)

thread_local cudaError_t last_error = cudaSuccess;
thread_local std::string last_detail;

constexpr unsigned char kGuardByte = 0xA5;

std::mutex mem_mutex;
struct Allocation {
  size_t size, guard;
};
std::map<const char*, Allocation> allocations;  // device pointer -> size and guard bytes after it
size_t g_guard = [] {
  const char* v = std::getenv("DASG_EMU_GUARD_BYTES");
  return v ? size_t(std::strtoull(v, nullptr, 0)) : size_t(0);
}();
std::atomic<int> g_sticky{cudaSuccess};
std::string g_sticky_detail;  // guarded by mem_mutex
std::atomic<uint64_t> n_malloc{0}, n_free{0};
size_t in_use = 0;

std::mutex handle_mutex;
std::set<const void*> streams, events;
std::map<const void*, size_t> dynamic_shared_limit;

cudaError_t fail(cudaError_t code, const std::string& detail) {
  set_last_error(code, detail.c_str());
  return code;
}

// Whether [p, p + n) lies inside one live device allocation.
bool inside_allocation(const void* p, size_t n) {
  const char* c = static_cast<const char*>(p);
  std::lock_guard lk(mem_mutex);
  auto it = allocations.upper_bound(c);
  if (it == allocations.begin()) return false;
  --it;
  return c >= it->first && c + n <= it->first + it->second.size;
}

// With mem_mutex held: the first allocation whose guard was written, as a sticky error.
cudaError_t check_guards_locked(const char* fn) {
  for (const auto& [p, a] : allocations)
    for (size_t i = 0; i < a.guard; ++i)
      if ((unsigned char)p[a.size + i] != kGuardByte) {
        size_t last = i;
        for (size_t j = i; j < a.guard; ++j)
          if ((unsigned char)p[a.size + j] != kGuardByte) last = j;
        g_sticky_detail = std::string(fn) + ": an illegal memory access was encountered: a kernel wrote bytes " +
                          std::to_string(i) + ".." + std::to_string(last) + " past the end of a device allocation of " +
                          std::to_string(a.size) + " bytes (emulator guard bytes); the error is sticky";
        g_sticky.store(cudaErrorIllegalAddress);
        return cudaErrorIllegalAddress;
      }
  return cudaSuccess;
}

// What every call that waits for the device does first: a recorded sticky error is returned
// again; otherwise the guards are checked.
cudaError_t device_wait(const char* fn) {
  std::lock_guard lk(mem_mutex);
  cudaError_t e = cudaError_t(g_sticky.load());
  if (e == cudaSuccess && g_guard) e = check_guards_locked(fn);
  if (e != cudaSuccess) set_last_error(e, g_sticky_detail.c_str());
  return e;
}
// Calls that do not wait still fail once the context is broken.
cudaError_t broken() {
  const cudaError_t e = cudaError_t(g_sticky.load());
  if (e != cudaSuccess) {
    std::lock_guard lk(mem_mutex);
    set_last_error(e, g_sticky_detail.c_str());
  }
  return e;
}

cudaError_t check_copy(const char* fn, void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (count == 0) return cudaSuccess;
  if (kind < cudaMemcpyHostToHost || kind > cudaMemcpyDefault)
    return fail(cudaErrorInvalidMemcpyDirection, std::string(fn) + ": invalid cudaMemcpyKind");
  const bool dst_dev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_dev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  if (dst_dev && !inside_allocation(dst, count))
    return fail(cudaErrorInvalidValue, std::string(fn) + ": destination range of " + std::to_string(count) +
                                           " bytes is not inside one device allocation");
  if (src_dev && !inside_allocation(src, count))
    return fail(cudaErrorInvalidValue, std::string(fn) + ": source range of " + std::to_string(count) +
                                           " bytes is not inside one device allocation");
  return cudaSuccess;
}

bool known(const std::set<const void*>& handles, const void* h) {
  std::lock_guard lk(handle_mutex);
  return handles.count(h) > 0;
}

}  // namespace

uint64_t malloc_calls() { return n_malloc.load(); }
uint64_t free_calls() { return n_free.load(); }
size_t bytes_in_use() {
  std::lock_guard lk(mem_mutex);
  return in_use;
}
const char* last_error_detail() { return last_detail.c_str(); }
void set_last_error(cudaError_t error, const char* detail) {
  last_error = error;
  last_detail = detail;
}
void set_guard_bytes(size_t n) {
  std::lock_guard lk(mem_mutex);
  g_guard = n;
}
size_t guard_bytes() {
  std::lock_guard lk(mem_mutex);
  return g_guard;
}
cudaError_t sticky_error() { return cudaError_t(g_sticky.load()); }
void reset_device() {
  std::lock_guard lk(mem_mutex);
  for (auto& [p, a] : allocations) std::memset(const_cast<char*>(p) + a.size, kGuardByte, a.guard);
  g_sticky.store(cudaSuccess);
  g_sticky_detail.clear();
  last_error = cudaSuccess;
  last_detail.clear();
}
size_t max_dynamic_shared(const void* func) {
  std::lock_guard lk(handle_mutex);
  auto it = dynamic_shared_limit.find(func);
  return it == dynamic_shared_limit.end() ? kDefaultDynamicShared : it->second;
}

}  // namespace dasg::emu

using namespace dasg::emu;

const char* cudaGetErrorName(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection: return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice: return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice: return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle: return "cudaErrorInvalidResourceHandle";
    case cudaErrorNotReady: return "cudaErrorNotReady";
    case cudaErrorIllegalAddress: return "cudaErrorIllegalAddress";
    case cudaErrorLaunchFailure: return "cudaErrorLaunchFailure";
  }
  return "cudaErrorUnknown";
}

const char* cudaGetErrorString(cudaError_t error) {
  switch (error) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidResourceHandle: return "invalid resource handle";
    case cudaErrorNotReady: return "device not ready";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
  }
  return "unknown error";
}

cudaError_t cudaGetLastError() {
  if (cudaError_t e = broken()) return e;  // a sticky error is not cleared
  const cudaError_t e = last_error;
  set_last_error(cudaSuccess, "");
  return e;
}
cudaError_t cudaPeekAtLastError() {
  if (cudaError_t e = broken()) return e;
  return last_error;
}

cudaError_t cudaGetDeviceCount(int* count) {
  *count = 1;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int device) {
  if (cudaError_t e = broken()) return e;
  return device == 0 ? cudaSuccess : fail(cudaErrorInvalidDevice, "cudaSetDevice: the emulator has one device, 0");
}
cudaError_t cudaGetDevice(int* device) {
  *device = 0;
  return cudaSuccess;
}
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  if (device != 0) return fail(cudaErrorInvalidDevice, "cudaGetDeviceProperties: the emulator has one device, 0");
  *p = cudaDeviceProp{};
  std::strncpy(p->name, "NVIDIA H100 80GB HBM3 (dasg CUDA emulator)", sizeof p->name - 1);
  p->totalGlobalMem = size_t(80) << 30;
  p->sharedMemPerBlock = 48 * 1024;
  p->regsPerBlock = 65536;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->totalConstMem = 65536;
  p->major = 9;
  p->minor = 0;
  p->multiProcessorCount = 132;
  p->l2CacheSize = 50 << 20;
  p->maxThreadsPerMultiProcessor = 2048;
  p->sharedMemPerMultiprocessor = 233472;
  p->sharedMemPerBlockOptin = kOptinDynamicShared;
  p->maxBlocksPerMultiProcessor = 32;
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize() { return device_wait("cudaDeviceSynchronize"); }

cudaError_t cudaMalloc(void** ptr, size_t size) {
  ++n_malloc;
  if (!ptr) return fail(cudaErrorInvalidValue, "cudaMalloc: null pointer argument");
  *ptr = nullptr;
  if (cudaError_t e = broken()) return e;
  if (size == 0) return cudaSuccess;
  const size_t guard = guard_bytes();
  char* p = static_cast<char*>(std::malloc(size + guard));
  if (!p) return fail(cudaErrorMemoryAllocation, "cudaMalloc: out of host memory for " + std::to_string(size) + " bytes");
  std::memset(p, 0xFF, size);
  std::memset(p + size, kGuardByte, guard);
  std::lock_guard lk(mem_mutex);
  allocations[p] = Allocation{size, guard};
  in_use += size;
  *ptr = p;
  return cudaSuccess;
}

cudaError_t cudaFree(void* ptr) {
  ++n_free;
  if (!ptr) return cudaSuccess;
  const cudaError_t sticky = device_wait("cudaFree");  // the memory is released all the same
  {
    std::lock_guard lk(mem_mutex);
    auto it = allocations.find(static_cast<const char*>(ptr));
    if (it == allocations.end())
      return fail(cudaErrorInvalidValue, "cudaFree: pointer is not the start of a live device allocation");
    in_use -= it->second.size;
    allocations.erase(it);
  }
  std::free(ptr);
  return sticky;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  if (cudaError_t e = device_wait("cudaMemcpy")) return e;
  if (cudaError_t e = check_copy("cudaMemcpy", dst, src, count, kind)) return e;
  if (count) std::memmove(dst, src, count);
  return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind, cudaStream_t) {
  return cudaMemcpy(dst, src, count, kind);
}
cudaError_t cudaMemset(void* ptr, int value, size_t count) {
  if (cudaError_t e = broken()) return e;
  if (count && !inside_allocation(ptr, count))
    return fail(cudaErrorInvalidValue, "cudaMemset: range of " + std::to_string(count) +
                                           " bytes is not inside one device allocation");
  if (count) std::memset(ptr, value, count);
  return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t) { return cudaMemset(ptr, value, count); }

struct CUstream_st {};
struct CUevent_st {
  bool recorded = false;
  std::chrono::steady_clock::time_point time;
};

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
  *stream = new CUstream_st;
  std::lock_guard lk(handle_mutex);
  streams.insert(*stream);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t stream) {
  {
    std::lock_guard lk(handle_mutex);
    if (!streams.erase(stream)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamDestroy: unknown stream");
  }
  delete stream;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
  if (stream && !known(streams, stream)) return fail(cudaErrorInvalidResourceHandle, "cudaStreamSynchronize: unknown stream");
  return device_wait("cudaStreamSynchronize");
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
  *event = new CUevent_st;
  std::lock_guard lk(handle_mutex);
  events.insert(*event);
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t event) {
  {
    std::lock_guard lk(handle_mutex);
    if (!events.erase(event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventDestroy: unknown event");
  }
  delete event;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
  if (!known(events, event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown event");
  if (stream && !known(streams, stream)) return fail(cudaErrorInvalidResourceHandle, "cudaEventRecord: unknown stream");
  event->recorded = true;
  event->time = std::chrono::steady_clock::now();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t event) {
  if (!known(events, event)) return fail(cudaErrorInvalidResourceHandle, "cudaEventSynchronize: unknown event");
  return device_wait("cudaEventSynchronize");
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  if (!known(events, start) || !known(events, end) || !start->recorded || !end->recorded)
    return fail(cudaErrorInvalidResourceHandle, "cudaEventElapsedTime: both events must exist and be recorded");
  *ms = std::chrono::duration<float, std::milli>(end->time - start->time).count();
  return cudaSuccess;
}

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value) {
  if (attr != cudaFuncAttributeMaxDynamicSharedMemorySize)
    return fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: the emulator supports cudaFuncAttributeMaxDynamicSharedMemorySize only");
  if (value < 0 || size_t(value) > kOptinDynamicShared)
    return fail(cudaErrorInvalidValue, "cudaFuncSetAttribute: " + std::to_string(value) +
                                           " bytes of dynamic shared memory; sm_90 allows at most " +
                                           std::to_string(kOptinDynamicShared));
  std::lock_guard lk(handle_mutex);
  dynamic_shared_limit[func] = size_t(value);
  return cudaSuccess;
}
