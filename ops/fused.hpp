// Fused ops: one kernel where the unfused chain would make two passes over memory.
//   bias_gelu(h, b) = gelu(h + b)   h [..., F], b [F]; with linear(x, W) (no bias) in front it
//   replaces gelu(linear(x, W, b)): the GEMM writes h once (beta 0, no bias broadcast pass),
//   and the backward computes dh and db in one pass.
// On a non-CPU device bias_gelu runs the unfused chain (same values, no fusion).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor bias_gelu(const Tensor& h, const Tensor& b);

}  // namespace dasg
