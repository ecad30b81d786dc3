// Shape ops (DESIGN §3, §5). All differentiable for f32/f64; all also move i32 tensors (no grad).
//   reshape:   a view — same storage, new shape of the same element count; one -1 is inferred.
//   transpose / permute: contiguous copies with the dimensions reordered.
//   concat:    inputs joined along one dimension (all other dims equal).
//   slice / narrow: `length` entries of one dimension from `start`, as a contiguous copy.
// Negative dims count from the end.
#pragma once
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

Tensor reshape(const Tensor& x, const Shape& shape);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t length);
inline Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  return slice(x, dim, start, length);
}

}  // namespace dasg
