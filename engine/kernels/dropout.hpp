// Dropout with a Philox mask: element i is kept iff u_i ≥ p, u_i = philox_uniform(seed, offset, i)
// (engine/philox.hpp), so P(keep) = 1 − p and the mask depends only on (seed, offset, i):
//   y[i] = x[i]·keep_i/(1 − p)
// The backward is the same map applied to the gradient with the same (seed, offset):
//   gx[i] = gy[i]·keep_i/(1 − p)
// so no mask is stored. x, y: any shape, same numel; 0 ≤ p < 1.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void dropout_cpu(const Tensor& x, Tensor& y, uint64_t seed, uint64_t offset, double p);
DASG_DECLARE_CUDA(void dropout_cuda(const Tensor& x, Tensor& y, uint64_t seed, uint64_t offset, double p);)

inline void dropout(const Tensor& x, Tensor& y, uint64_t seed, uint64_t offset, double p) {
  DASG_BACKEND(x, dropout, x, y, seed, offset, p);
}

}  // namespace dasg::kernels
