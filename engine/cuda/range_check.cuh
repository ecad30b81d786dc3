// The device half of engine/cuda/range_check.hpp: a kernel's report of a bad index.
#pragma once
#include <cstdint>

#include "engine/cuda/cuda_compat.cuh"
#include "engine/cuda/range_check.hpp"

namespace dasg::cuda {

// Records index `value` at `position` as out of range; the slot keeps the lowest position.
__device__ inline void report_bad_index(unsigned long long* slot, int64_t position, int32_t value) {
  const unsigned long long pos = position < 0xFFFFFFFFll ? (unsigned long long)position : 0xFFFFFFFEull;
  atomicMin(slot, pos << 32 | (unsigned long long)(uint32_t)value);
}

}  // namespace dasg::cuda
