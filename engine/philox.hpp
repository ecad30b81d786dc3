// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
// a counter-based generator. Output block c of a stream is a pure function of (key, c), so
// element i of a draw gets the same number whichever thread — or GPU thread — computes it.
// Used by the CPU kernels and, compiled by nvcc, by the CUDA kernels.
#pragma once
#include <cstdint>

#if defined(__CUDACC__)
#define DASG_HD __host__ __device__ __forceinline__
#else
#define DASG_HD inline
#endif

namespace dasg {

struct Philox4 {
  uint32_t v[4];
};

DASG_HD void philox_mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  uint64_t p = (uint64_t)a * (uint64_t)b;
  hi = (uint32_t)(p >> 32);
  lo = (uint32_t)p;
}

// The four 32-bit outputs for 128-bit counter (counter_lo, counter_hi, 0, 0) and 64-bit key seed.
DASG_HD Philox4 philox4x32(uint64_t counter, uint64_t seed) {
  uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    philox_mulhilo(0xD2511F53u, c0, hi0, lo0);
    philox_mulhilo(0xCD9E8D57u, c2, hi1, lo1);
    uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// Element i of the draw that starts at block `offset`: uniform in [0, 1) with 24 random bits
// (exactly representable in float, so f32 and f64 draws agree).
DASG_HD double philox_uniform(uint64_t seed, uint64_t offset, uint64_t i) {
  Philox4 r = philox4x32(offset + i / 4, seed);
  return (double)(r.v[i % 4] >> 8) * (1.0 / 16777216.0);
}

}  // namespace dasg
