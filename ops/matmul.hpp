// Matrix products. All differentiable.
//   matmul(a, b, ta, tb):  op(a)·op(b) for 2-D a, b; op(x) = xᵀ when its flag is set.
//   bmm(a, b, ta, tb):     the same per batch entry for 3-D a [B,·,·], b [B,·,·].
//   linear(x, W, b):       x·Wᵀ + b for x [..., in], W [out, in], b [out] (optional), bias fused.
// Mixed precision (CUDA): bf16 operands (both) give an f32 product (f32 accumulation), a bias f32;
//   linear_bf16(x, W):     x·Wᵀ for bf16 x and W, stored in bf16 (rounded once): an activation
//                          kept in bf16 (its gradient f32, as every bf16 tensor's).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor matmul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
Tensor bmm(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
Tensor linear_bf16(const Tensor& x, const Tensor& weight);

}  // namespace dasg
