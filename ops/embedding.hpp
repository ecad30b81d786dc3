// embedding(table, ids): rows of table [V, D] gathered by i32 ids of any shape → [..., D]
// (ids.shape followed by D). Differentiable in table: the backward scatter-adds the output's
// gradient into the rows that were read (a row read twice gets both contributions).
// An id outside [0, V) is an error naming the id, its position and V.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor embedding(const Tensor& table, const Tensor& ids);

}  // namespace dasg
