// Random tensors drawn on a device from the engine's counter-based RNG (engine/rng.hpp): the same
// numbers on the CPU and on a GPU for the same generator state, whatever the thread count.
//   uniform(shape, gen, device)   u ~ U[0, 1)
//   bernoulli(p, gen)             y = [u < p] with u ~ U[0, 1), p's shape and device; no gradient
#pragma once
#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg {

Tensor uniform(const Shape& shape, Generator& gen, Device device, DType dtype = DType::f32);
Tensor bernoulli(const Tensor& p, Generator& gen);

}  // namespace dasg
