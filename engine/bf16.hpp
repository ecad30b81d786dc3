// bf16 (bfloat16): the upper half of an IEEE f32 — 1 sign, 8 exponent, 7 mantissa bits — the
// storage type of mixed-precision training on the GPU (DESIGN.md §3). Arithmetic is never done in
// bf16: kernels load it as f32, compute in f32, and round the result back.
//
// The host conversions have the semantics of cuda_bf16.h's __float2bfloat16_rn / __bfloat162float
// (the same bits as the device's cvt.rn.bf16.f32), so a CPU-side conversion equals the GPU's:
//   f32 → bf16: round to nearest, ties to even, on the 16 dropped bits; a value past the largest
//               bf16 rounds to ±inf; subnormals are rounded like any value (no flush to zero);
//               every NaN becomes the canonical NaN 0x7FFF (a truncation would turn some NaNs to inf).
//   bf16 → f32: exact (the 16 bits shifted up).
#pragma once
#include <bit>
#include <cstdint>

namespace dasg {

struct bf16 {
  uint16_t bits;
};

constexpr uint16_t kBf16CanonicalNaN = 0x7FFF;

constexpr bf16 bf16_from_float(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return bf16{kBf16CanonicalNaN};
  const uint32_t rest = x & 0xFFFFu, half = 0x8000u;
  uint32_t hi = x >> 16;
  if (rest > half || (rest == half && (hi & 1u))) ++hi;  // a carry into the exponent is right (up to inf)
  return bf16{(uint16_t)hi};
}

constexpr float bf16_to_float(bf16 h) { return std::bit_cast<float>((uint32_t)h.bits << 16); }

}  // namespace dasg
