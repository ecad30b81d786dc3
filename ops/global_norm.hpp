// global_norm(tensors) = √(Σ_t Σ_i t_i²): the norm gradient clipping scales by, as a 0-dim
// tensor on the tensors' device in their dtype (not differentiable). On CUDA nothing is copied
// to the host: clipping can scale by it on the device (g · min(1, max_norm / (norm + ε))) and
// read it (one copy) only to log it. Every tensor must be defined, and all share one device and
// one floating dtype; undefined or empty lists are errors naming the position.
#pragma once
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

Tensor global_norm(const std::vector<Tensor>& tensors);

}  // namespace dasg
