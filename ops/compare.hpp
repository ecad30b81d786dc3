// Elementwise comparisons as float masks (the routing rules of DESIGN §7.3, §7.5, §7.6 as tensor
// ops on the tensors' device): 1 where the relation holds, 0 where not, in a's float dtype, same
// shape as a. A NaN compares false. No gradient (the result never requires grad).
//   less(a, b), a and b of one shape        y = [a < b]
//   less(a, s) / less_equal / greater / greater_equal with a scalar s
// compare(a, b, op) also accepts a b that broadcasts into a's shape (e.g. a per-row threshold
// [T, 1] against scores [T, E]); the scalar forms compare in a's dtype (s rounded to it first).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

enum class Compare : uint8_t { less, less_equal, greater, greater_equal };

Tensor compare(const Tensor& a, const Tensor& b, Compare op);
Tensor compare(const Tensor& a, double s, Compare op);

inline Tensor less(const Tensor& a, const Tensor& b) { return compare(a, b, Compare::less); }
inline Tensor less(const Tensor& a, double s) { return compare(a, s, Compare::less); }
inline Tensor less_equal(const Tensor& a, double s) { return compare(a, s, Compare::less_equal); }
inline Tensor greater(const Tensor& a, double s) { return compare(a, s, Compare::greater); }
inline Tensor greater_equal(const Tensor& a, double s) { return compare(a, s, Compare::greater_equal); }

// where(mask, a, b) = mask·a + (1 − mask)·b for a 0/1 float mask, differentiable in a and b
// (the mask is never differentiated); mask, a and b of one shape, or a/b broadcasting as in add.
// Computed as a select, y = mask != 0 ? a : b, which equals the formula for a 0/1 mask and finite
// values, and keeps an inf or NaN of the unselected side out of y and of the gradients (so
// where(mask, scores, -inf) is safe). The mask may broadcast too (e.g. a per-token [T, 1] mask);
// it must have a's float dtype (compare's result has it). y has the broadcast shape of all three.
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& mask, const Tensor& a, double b);

}  // namespace dasg
