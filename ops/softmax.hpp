// softmax and log_softmax over the last dimension (any leading shape). Differentiable;
// log_softmax is computed directly (x − max − ln Σ exp(x − max)), never as log(softmax(x)).
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

}  // namespace dasg
