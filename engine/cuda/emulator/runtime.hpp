// CUDA emulator: the runtime API subset the engine uses (cuda_runtime.h's names and values).
// Device memory is host memory of exactly the requested size, filled with poison (0xFF bytes:
// NaN as float/double, -1 as an integer) so a read before a write shows, and an overrun is an
// AddressSanitizer report. Streams and events run synchronously, in call order.
// Guard mode (set_guard_bytes(n) or DASG_EMU_GUARD_BYTES=n): every allocation gets n bytes of a
// guard pattern after its end, checked by the calls that wait for the device (synchronize, copy,
// free). A kernel that wrote into them makes that call fail with cudaErrorIllegalAddress, a
// sticky error as on a GPU: every later call returns it until reset_device(). So the emulator
// shows the native failure mode — a fault reported by a later, unrelated call — which the
// engine's sync mode (DASG_CUDA_SYNC=1) turns back into a report naming the kernel.
#pragma once
#include <cstddef>
#include <cstdint>

struct uint3 {
  unsigned int x, y, z;
};
struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

enum cudaError_t {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorMemoryAllocation = 2,
  cudaErrorInvalidConfiguration = 9,
  cudaErrorInvalidDevicePointer = 17,
  cudaErrorInvalidMemcpyDirection = 21,
  cudaErrorNoDevice = 100,
  cudaErrorInvalidDevice = 101,
  cudaErrorInvalidResourceHandle = 400,
  cudaErrorNotReady = 600,
  cudaErrorIllegalAddress = 700,
  // Natively sticky. The emulator reports a kernel that broke the execution model (divergent
  // barriers, mismatched warp masks) with it, but its device stays usable after that.
  cudaErrorLaunchFailure = 719,
};
using cudaError = cudaError_t;

enum cudaMemcpyKind {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

enum cudaFuncAttribute {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
};

struct CUstream_st;
struct CUevent_st;
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;

// The fields of cuda_runtime.h's cudaDeviceProp that the emulator fills (as an H100 SXM, sm_90).
struct cudaDeviceProp {
  char name[256];
  size_t totalGlobalMem;
  size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  size_t totalConstMem;
  int major;
  int minor;
  int multiProcessorCount;
  int l2CacheSize;
  int maxThreadsPerMultiProcessor;
  size_t sharedMemPerMultiprocessor;
  size_t sharedMemPerBlockOptin;
  int maxBlocksPerMultiProcessor;
};

const char* cudaGetErrorString(cudaError_t error);
const char* cudaGetErrorName(cudaError_t error);
cudaError_t cudaGetLastError();
cudaError_t cudaPeekAtLastError();

cudaError_t cudaGetDeviceCount(int* count);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDeviceSynchronize();

cudaError_t cudaMalloc(void** ptr, size_t size);
template <class T>
cudaError_t cudaMalloc(T** ptr, size_t size) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), size);
}
cudaError_t cudaFree(void* ptr);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                            cudaStream_t stream = nullptr);
cudaError_t cudaMemset(void* ptr, int value, size_t count);
cudaError_t cudaMemsetAsync(void* ptr, int value, size_t count, cudaStream_t stream = nullptr);

cudaError_t cudaStreamCreate(cudaStream_t* stream);
cudaError_t cudaStreamDestroy(cudaStream_t stream);
cudaError_t cudaStreamSynchronize(cudaStream_t stream);

cudaError_t cudaEventCreate(cudaEvent_t* event);
cudaError_t cudaEventDestroy(cudaEvent_t event);
cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream = nullptr);
cudaError_t cudaEventSynchronize(cudaEvent_t event);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end);

cudaError_t cudaFuncSetAttribute(const void* func, cudaFuncAttribute attr, int value);
template <class R, class... P>
cudaError_t cudaFuncSetAttribute(R (*func)(P...), cudaFuncAttribute attr, int value) {
  return cudaFuncSetAttribute(reinterpret_cast<const void*>(func), attr, value);
}

namespace dasg::emu {

// Calls to cudaMalloc / cudaFree since the start of the process (a steady-state training step
// must not add to them), and the bytes now allocated.
uint64_t malloc_calls();
uint64_t free_calls();
size_t bytes_in_use();

// The full message of the last failed call on this host thread (e.g. which barriers diverged),
// cleared by cudaGetLastError like the error code itself.
const char* last_error_detail();
void set_last_error(cudaError_t error, const char* detail);

// Guard bytes after each new allocation (0: off, the default: exact-size blocks for ASan).
void set_guard_bytes(size_t n);
size_t guard_bytes();
// The sticky error, if one happened (cudaSuccess otherwise); reset_device() clears it and
// restores every guard (tests only: a real device needs a new process).
cudaError_t sticky_error();
void reset_device();

// The dynamic shared memory limit cudaFuncSetAttribute set for a kernel (48 KB by default).
size_t max_dynamic_shared(const void* func);

}  // namespace dasg::emu
