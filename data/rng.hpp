// data/rng.hpp — the small seeded RNG of the data pipeline (splitmix64).
// Shuffles and synthetic tasks use only this, so they are the same on every
// platform and compiler (std:: distributions are not). mix() derives
// independent streams, e.g. one per (seed, epoch, shard).
#pragma once
#include <cstdint>
#include <vector>

namespace dasg::data {

inline uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// A seed for the stream named by (a, b, c): hashes the parts in order.
inline uint64_t mix(uint64_t a, uint64_t b, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(a) ^ b) ^ c);
}

struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = splitmix64(state);
    state += 0x9E3779B97F4A7C15ull;
    return z;
  }
  // Uniform in [0, n), unbiased (rejects the short last interval).
  uint64_t below(uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return double(next() >> 11) * (1.0 / 9007199254740992.0); }
};

// 0..n-1 in a Fisher-Yates order drawn from `seed`.
inline std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; i++) p[i] = i;
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = int64_t(rng.below(uint64_t(i) + 1));
    int64_t t = p[i]; p[i] = p[j]; p[j] = t;
  }
  return p;
}

}  // namespace dasg::data
