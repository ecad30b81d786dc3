// Reductions: sum and mean over everything or one dimension (keepdim optional), and max over
// one dimension (values differentiable — the gradient goes to the first maximum — indices not).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);

struct MaxResult {
  Tensor values;   // differentiable
  Tensor indices;  // i32, no gradient
};
MaxResult max(const Tensor& x, int64_t dim, bool keepdim = false);

}  // namespace dasg
