// Matrix products. All differentiable.
//   matmul(a, b, ta, tb):  op(a)·op(b) for 2-D a, b; op(x) = xᵀ when its flag is set.
//   bmm(a, b, ta, tb):     the same per batch entry for 3-D a [B,·,·], b [B,·,·].
//   linear(x, W, b):       x·Wᵀ + b for x [..., in], W [out, in], b [out] (optional), bias fused.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor matmul(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
Tensor bmm(const Tensor& a, const Tensor& b, bool ta = false, bool tb = false);
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace dasg
