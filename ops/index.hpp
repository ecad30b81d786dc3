// Row gather and scatter-add, the MoE dispatch/combine pair (DESIGN §7.5). Rows are the first
// dimension; idx is a 1-D i32 tensor of M row numbers, duplicates allowed.
//   index_select(x [N, D...], idx [M])            → [M, D...]   y[m] = x[idx[m]]
//   index_add(base [N, D...], idx [M], src [M, D...]) → [N, D...] y = base, then y[idx[m]] += src[m]
// Both are differentiable in their float tensors (never in idx) and also move i32 data.
// index_add is out of place and deterministic with duplicate indices. An index outside [0, N)
// throws, naming it, its position and N.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor index_select(const Tensor& x, const Tensor& idx);
Tensor index_add(const Tensor& base, const Tensor& idx, const Tensor& src);

}  // namespace dasg
