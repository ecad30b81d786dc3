// The global 2-norm of a list of tensors (gradient clipping), computed where the tensors live:
//   out = √( Σ_t Σ_i t_i² ),   accumulated in double, written as one element of out's dtype.
// Tensors: any shapes, one dtype (f32 or f64) and one device, that of out (a 1-element tensor).
// No host round-trip on CUDA: the caller reads the one scalar when it needs it (one copy a step).
// Deterministic: a fixed summation order given the tensors' sizes.
#pragma once
#include <vector>

#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void global_norm_cpu(const std::vector<Tensor>& tensors, Tensor& out);
DASG_DECLARE_CUDA(void global_norm_cuda(const std::vector<Tensor>& tensors, Tensor& out);)

inline void global_norm(const std::vector<Tensor>& tensors, Tensor& out) {
  DASG_BACKEND(out, global_norm, tensors, out);
}

}  // namespace dasg::kernels
