// Random tensors on a device (see random.hpp).
#include "ops/random.hpp"

#include "engine/kernels/random.hpp"
#include "ops/compare.hpp"

namespace dasg {

Tensor uniform(const Shape& shape, Generator& gen, Device device, DType dtype) {
  check_floating("uniform", Tensor::empty({0}, dtype));
  Tensor u = Tensor::empty(shape, dtype, device);
  kernels::uniform(u, gen, 0, 1);
  return u;
}

Tensor bernoulli(const Tensor& p, Generator& gen) {
  return less(uniform(p.shape(), gen, p.device(), p.dtype()), p.detach());
}

}  // namespace dasg
