// Random fills from a Generator: uniform [lo, hi), normal (Box–Muller on pairs) and the
// dropout keep-mask. The CPU and CUDA versions produce the same numbers for the same state.
#pragma once
#include "engine/kernels/backend.hpp"
#include "engine/rng.hpp"

namespace dasg::kernels {

void uniform_cpu(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi);
void normal_cpu(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std);
DASG_DECLARE_CUDA(void uniform_cuda(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi);)
DASG_DECLARE_CUDA(void normal_cuda(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std);)

inline void uniform(Tensor& t, Generator& g, double lo, double hi) {
  uint64_t offset = g.reserve(t.numel());
  DASG_BACKEND(t, uniform, t, g.seed(), offset, lo, hi);
}
inline void normal(Tensor& t, Generator& g, double mean, double std) {
  uint64_t offset = g.reserve(2 * t.numel());  // two uniforms per normal
  DASG_BACKEND(t, normal, t, g.seed(), offset, mean, std);
}

}  // namespace dasg::kernels
