// Generator: the engine's explicit random state — a seed and a counter offset for Philox.
// Every draw of n numbers uses the blocks [offset, offset + ceil(n/4)) and advances the
// offset past them, so results depend only on (seed, order of draws), never on threads.
// The state is two integers; checkpoints save and restore it exactly.
#pragma once
#include <cstdint>

#include "engine/tensor.hpp"

namespace dasg {

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) : seed_(seed) {}
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { seed_ = seed; offset_ = offset; }
  // Reserves the blocks for a draw of n numbers; returns the first block.
  uint64_t reserve(int64_t n) {
    uint64_t start = offset_;
    offset_ += (uint64_t)(n + 3) / 4;
    return start;
  }
  // One uniform number in [0, 1), for host-side decisions (sampling a token, a shuffle).
  double next_uniform();

 private:
  uint64_t seed_;
  uint64_t offset_ = 0;
};

}  // namespace dasg
