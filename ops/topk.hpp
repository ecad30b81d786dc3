// topk over the last dimension: the k largest entries of each row, in descending order, ties to
// the lower index (DESIGN §7.5). values are differentiable (the gradient goes back to the chosen
// positions, 0 elsewhere); indices are i32 and carry no gradient. 1 <= k <= x.size(-1).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

struct TopkResult {
  Tensor values;   // [..., k], differentiable
  Tensor indices;  // [..., k] i32, no gradient
};
TopkResult topk(const Tensor& x, int64_t k);

}  // namespace dasg
