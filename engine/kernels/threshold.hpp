// Hard threshold, the forward of DSMoE's straight-through gate (DESIGN §7.6), any float shape:
//   y[i] = x[i] if x[i] > threshold else 0      (NaN > threshold is false: NaN gives 0)
// Its straight-through backward is the identity (ops/threshold.cpp), so it needs no kernel.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void hard_threshold_cpu(const Tensor& x, double threshold, Tensor& y);
DASG_DECLARE_CUDA(void hard_threshold_cuda(const Tensor& x, double threshold, Tensor& y);)

inline void hard_threshold(const Tensor& x, double threshold, Tensor& y) {
  DASG_BACKEND(x, hard_threshold, x, threshold, y);
}

}  // namespace dasg::kernels
