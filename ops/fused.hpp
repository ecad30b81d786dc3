// Fused ops: one kernel where the unfused chain would make two passes over memory.
//   bias_gelu(h, b) = gelu(h + b)   h [..., F], b [F]; with linear(x, W) (no bias) in front it
//   replaces gelu(linear(x, W, b)): the GEMM writes h once (beta 0, no bias broadcast pass),
//   and the backward computes dh and db in one pass.
// Mixed precision (CUDA): h may be bf16 (the product linear_bf16 stores) with b f32; the GELU is
// computed in f32 and y stored in bf16, an activation the next GEMM takes as it is; h's gradient
// is f32 (a bf16 tensor's gradient is f32, ops/cast.hpp).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor bias_gelu(const Tensor& h, const Tensor& b);

}  // namespace dasg
