// cast(x, dtype): x converted to another float dtype, differentiable. Its use is mixed precision
// on CUDA (DESIGN.md §3): f32 master values cast to bf16 for the GEMMs (ops/matmul.hpp takes
// bf16 operands on CUDA). The gradient of a bf16 tensor is kept in f32 — the GEMMs that consume
// bf16 operands return f32 gradients — and cast's backward converts what reaches it to x's dtype
// (the identity for f32), so the master value's gradient is never rounded to bf16.
// Conversions as engine/kernels/fill.hpp: f32 ↔ f64, f32 → bf16 (nearest even), bf16 → f32.
#pragma once
#include <string>

#include "engine/tensor.hpp"

namespace dasg {

Tensor cast(const Tensor& x, DType dtype);

// bf16 tensors are for mixed precision on CUDA: the check every op taking them makes — on the CPU,
// an error naming the op and `what` (e.g. "input x[..]") and saying to use f32.
void check_bf16_on_cuda(const char* op, const Tensor& t, const std::string& what);

}  // namespace dasg
