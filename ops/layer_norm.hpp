// layer_norm over the last dimension, fused: y = (x − μ)/√(σ² + eps)·weight + bias, with μ and σ²
// the mean and (biased) variance of each row. weight and bias are [D] (D = x's last dimension);
// either may be an undefined Tensor for no scale / no shift. Differentiable in x, weight and bias.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace dasg
