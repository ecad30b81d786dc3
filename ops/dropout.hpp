// dropout(x, p, training, gen): in training, each element is kept with probability 1 − p and
// scaled by 1/(1 − p) (zeroed otherwise), the mask drawn from gen's Philox stream (the draw
// advances gen by numel(x) numbers); the backward applies the same mask to the gradient.
// Identity (returns x itself, gen untouched) when !training or p = 0. p outside [0, 1) is an error.
#pragma once
#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace dasg
