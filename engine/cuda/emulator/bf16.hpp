// CUDA emulator: the subset of cuda_bf16.h the kernels use — the __nv_bfloat16 storage type and
// its explicit conversions, bit-exact with the toolkit's (cuda_bf16.hpp; on the device,
// cvt.rn.bf16.f32): f32 → bf16 rounds to nearest, ties to even, on the 16 dropped bits (overflow
// to ±inf, subnormals kept), and every NaN becomes the canonical 0x7FFF; bf16 → f32 is exact.
// No bf16 arithmetic operators: kernels convert to f32, compute, and convert back, which is
// also what the engine's native kernels do. Written from the toolkit's semantics, not from the
// engine's host conversion (engine/bf16.hpp), so the parity tests compare two implementations.
#pragma once
#include <cstdint>
#include <cstring>

struct __nv_bfloat16 {
  unsigned short __x;
};
using nv_bfloat16 = __nv_bfloat16;

inline __nv_bfloat16 __float2bfloat16_rn(float a) {
  unsigned int x;
  std::memcpy(&x, &a, sizeof x);
  if ((x & 0x7fffffffU) > 0x7f800000U) return __nv_bfloat16{0x7fffU};
  const unsigned int remainder = x << 16U;
  unsigned short r = (unsigned short)(x >> 16U);
  if (remainder > 0x80000000U || (remainder == 0x80000000U && (r & 0x1U) != 0U)) ++r;
  return __nv_bfloat16{r};
}
inline __nv_bfloat16 __float2bfloat16(float a) { return __float2bfloat16_rn(a); }

inline float __bfloat162float(__nv_bfloat16 a) {
  const unsigned int x = (unsigned int)a.__x << 16U;
  float f;
  std::memcpy(&f, &x, sizeof f);
  return f;
}

inline unsigned short __bfloat16_as_ushort(__nv_bfloat16 h) { return h.__x; }
inline __nv_bfloat16 __ushort_as_bfloat16(unsigned short x) { return __nv_bfloat16{x}; }
