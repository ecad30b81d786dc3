// CUDA emulator: the device side — what a kernel body sees when a .cu file is compiled as C++.
// Built-in indices, qualifiers, __syncthreads() (a checked block barrier), warp intrinsics with
// Volta semantics (a per-warp exchange among the lanes the mask names), shared memory from a
// per-block poisoned arena, real atomics, exact math intrinsics, and launch(), which runs a grid
// on the scheduler in scheduler.cpp.
#pragma once
#include <math.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <thread>
#include <tuple>
#include <type_traits>

#include "engine/cuda/emulator/runtime.hpp"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

// Indices of the emulated thread running on this host thread (set by the scheduler).
inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;
constexpr int warpSize = 32;

namespace dasg::emu {

enum class WarpOp { shfl, shfl_up, shfl_down, shfl_xor, ballot, any, all, sync };

void syncthreads(std::source_location where);
// One warp collective: the calling lane offers `value`; returns what the op gives this lane.
uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width,
                         std::source_location where);

// Shared memory of the running block: one poisoned allocation per declaration (keyed by `tag`),
// and the launch's dynamic shared memory.
void* shared_static(const void* tag, size_t bytes);
void* shared_dynamic();

template <class T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "warp intrinsics take <= 8-byte values");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}
template <class T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

// A type-erased call of the kernel with its (copied) arguments, run by every emulated thread.
struct KernelBody {
  void (*run)(const void* ctx);
  const void* ctx;
};
cudaError_t launch_grid(const void* func, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                        KernelBody body);

// kernel<<<grid, block, shared_bytes, stream>>>(args...): arguments are converted to the
// parameter types once, as CUDA does, and every thread gets its own copy.
template <class... P, class... A>
cudaError_t launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
                   A&&... args) {
  using Params = std::tuple<std::decay_t<P>...>;
  struct Ctx {
    void (*kernel)(P...);
    Params params;
  };
  const Ctx ctx{kernel, Params(std::forward<A>(args)...)};
  KernelBody body{[](const void* c) {
                    const Ctx& x = *static_cast<const Ctx*>(c);
                    std::apply(x.kernel, x.params);
                  },
                  &ctx};
  return launch_grid(reinterpret_cast<const void*>(kernel), grid, block, shared_bytes, stream, body);
}

}  // namespace dasg::emu

// Shared memory (natively `__shared__ T name[n]`, `__shared__ T name[n][m]`,
// `extern __shared__ T name[]`). Each declaration site is one allocation per block.
#define DASG_SHARED(T, name, n)                    \
  static const char dasg_shared_tag_##name = 0;    \
  T(&name)[n] = *static_cast<T(*)[n]>(::dasg::emu::shared_static(&dasg_shared_tag_##name, sizeof(T[n])))
#define DASG_SHARED2(T, name, n, m)                \
  static const char dasg_shared_tag_##name = 0;    \
  T(&name)[n][m] =                                 \
      *static_cast<T(*)[n][m]>(::dasg::emu::shared_static(&dasg_shared_tag_##name, sizeof(T[n][m])))
#define DASG_DYNAMIC_SHARED(T, name) T* name = static_cast<T*>(::dasg::emu::shared_dynamic())

// ---- barriers and warp intrinsics ---------------------------------------------------------
inline void __syncthreads(std::source_location where = std::source_location::current()) {
  dasg::emu::syncthreads(where);
}
inline void __syncwarp(unsigned mask = 0xffffffffu, std::source_location where = std::source_location::current()) {
  dasg::emu::warp_collective(dasg::emu::WarpOp::sync, mask, 0, 0, warpSize, where);
}
template <class T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize,
              std::source_location where = std::source_location::current()) {
  using namespace dasg::emu;
  return from_bits<T>(warp_collective(WarpOp::shfl, mask, to_bits(var), src_lane, width, where));
}
template <class T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                 std::source_location where = std::source_location::current()) {
  using namespace dasg::emu;
  return from_bits<T>(warp_collective(WarpOp::shfl_up, mask, to_bits(var), int(std::min(delta, 32u)), width, where));
}
template <class T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize,
                   std::source_location where = std::source_location::current()) {
  using namespace dasg::emu;
  return from_bits<T>(warp_collective(WarpOp::shfl_down, mask, to_bits(var), int(std::min(delta, 32u)), width, where));
}
template <class T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize,
                  std::source_location where = std::source_location::current()) {
  using namespace dasg::emu;
  return from_bits<T>(warp_collective(WarpOp::shfl_xor, mask, to_bits(var), lane_mask, width, where));
}
inline unsigned __ballot_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
  return unsigned(dasg::emu::warp_collective(dasg::emu::WarpOp::ballot, mask, pred != 0, 0, warpSize, where));
}
inline int __any_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
  return int(dasg::emu::warp_collective(dasg::emu::WarpOp::any, mask, pred != 0, 0, warpSize, where));
}
inline int __all_sync(unsigned mask, int pred, std::source_location where = std::source_location::current()) {
  return int(dasg::emu::warp_collective(dasg::emu::WarpOp::all, mask, pred != 0, 0, warpSize, where));
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }
// A yield here makes racing threads interleave, as a GPU's thousands of threads do.
inline void __nanosleep(unsigned) { std::this_thread::yield(); }
template <class T>
T __ldg(const T* p) {
  return *p;
}

// ---- atomics: real atomics on the host memory (sequentially consistent) ------------------
template <class T>
T dasg_emu_atomic_add(T* address, T val) {
  return std::atomic_ref<T>(*address).fetch_add(val);
}
inline int atomicAdd(int* a, int v) { return dasg_emu_atomic_add(a, v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) { return dasg_emu_atomic_add(a, v); }
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) { return dasg_emu_atomic_add(a, v); }
inline float atomicAdd(float* a, float v) { return dasg_emu_atomic_add(a, v); }
inline double atomicAdd(double* a, double v) { return dasg_emu_atomic_add(a, v); }
inline int atomicSub(int* a, int v) { return std::atomic_ref<int>(*a).fetch_sub(v); }
inline unsigned atomicSub(unsigned* a, unsigned v) { return std::atomic_ref<unsigned>(*a).fetch_sub(v); }
template <class T, class Better>
T dasg_emu_atomic_update(T* address, T val, Better better) {
  std::atomic_ref<T> ref(*address);
  T old = ref.load();
  while (better(val, old) && !ref.compare_exchange_weak(old, val)) {
  }
  return old;
}
inline int atomicMax(int* a, int v) { return dasg_emu_atomic_update(a, v, [](int x, int y) { return x > y; }); }
inline unsigned atomicMax(unsigned* a, unsigned v) {
  return dasg_emu_atomic_update(a, v, [](unsigned x, unsigned y) { return x > y; });
}
inline int atomicMin(int* a, int v) { return dasg_emu_atomic_update(a, v, [](int x, int y) { return x < y; }); }
inline unsigned long long atomicMin(unsigned long long* a, unsigned long long v) {
  return dasg_emu_atomic_update(a, v, [](unsigned long long x, unsigned long long y) { return x < y; });
}
inline unsigned atomicMin(unsigned* a, unsigned v) {
  return dasg_emu_atomic_update(a, v, [](unsigned x, unsigned y) { return x < y; });
}
template <class T>
T dasg_emu_atomic_cas(T* address, T compare, T val) {
  std::atomic_ref<T>(*address).compare_exchange_strong(compare, val);
  return compare;  // the old value, whether or not the swap happened
}
inline int atomicCAS(int* a, int c, int v) { return dasg_emu_atomic_cas(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return dasg_emu_atomic_cas(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c, unsigned long long v) {
  return dasg_emu_atomic_cas(a, c, v);
}
inline int atomicExch(int* a, int v) { return std::atomic_ref<int>(*a).exchange(v); }
inline unsigned atomicExch(unsigned* a, unsigned v) { return std::atomic_ref<unsigned>(*a).exchange(v); }
inline float atomicExch(float* a, float v) { return std::atomic_ref<float>(*a).exchange(v); }

// ---- math: the intrinsics are exact here (std:: equivalents); expf, logf, sqrtf, tanhf, erff,
// fabsf, fmaxf, fminf and INFINITY come from <math.h> ---------------------------------------
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
inline int __float_as_int(float x) { return std::bit_cast<int>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }

// max/min overloads as CUDA's math headers declare them (mixed signedness/precision included).
#define DASG_EMU_MINMAX(A, B, R)                                             \
  inline R max(A a, B b) { return std::max<R>(a, b); }                       \
  inline R min(A a, B b) { return std::min<R>(a, b); }
DASG_EMU_MINMAX(int, int, int)
DASG_EMU_MINMAX(unsigned, unsigned, unsigned)
DASG_EMU_MINMAX(int, unsigned, unsigned)
DASG_EMU_MINMAX(unsigned, int, unsigned)
DASG_EMU_MINMAX(long, long, long)
DASG_EMU_MINMAX(unsigned long, unsigned long, unsigned long)
DASG_EMU_MINMAX(long long, long long, long long)
DASG_EMU_MINMAX(unsigned long long, unsigned long long, unsigned long long)
#undef DASG_EMU_MINMAX
inline float max(float a, float b) { return std::fmax(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline double max(float a, double b) { return std::fmax(double(a), b); }
inline double max(double a, float b) { return std::fmax(a, double(b)); }
inline float min(float a, float b) { return std::fmin(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline double min(float a, double b) { return std::fmin(double(a), b); }
inline double min(double a, float b) { return std::fmin(a, double(b)); }
