// cross_entropy(logits [..., C], targets [...] i32): the fused log-softmax + negative
// log-likelihood, loss_i = ln Σ_c exp(logits[i, c]) − logits[i, targets_i].
// Positions whose target equals ignore_index contribute nothing: their loss is 0 and their
// logits get a zero gradient. Reductions:
//   mean: a scalar, the average over the non-ignored positions (0, with zero gradient, if none);
//   sum:  a scalar, the sum over the non-ignored positions;
//   none: the per-position losses, shaped like targets (0 at ignored positions).
// A target outside [0, C) that is not ignore_index is an error naming it, its position and C.
// Differentiable in logits.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

enum class Reduction : uint8_t { mean, sum, none };

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                     Reduction reduction = Reduction::mean);

}  // namespace dasg
