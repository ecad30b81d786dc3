// global_norm (see global_norm.hpp): checks, then one kernel family (engine/kernels/global_norm).
#include "ops/global_norm.hpp"

#include "engine/kernels/global_norm.hpp"

namespace dasg {

Tensor global_norm(const std::vector<Tensor>& tensors) {
  DASG_CHECK(!tensors.empty(), "global_norm: no tensors; expected at least one (its device and dtype are the result's)");
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    DASG_CHECK(t.defined(), "global_norm: tensor ", k, " of ", tensors.size(), " is undefined");
    DASG_CHECK(t.dtype() == DType::f32 || t.dtype() == DType::f64, "global_norm: tensor ", k, " is ", t.str(),
               "; expected f32 or f64");
    DASG_CHECK(t.device() == tensors[0].device() && t.dtype() == tensors[0].dtype(), "global_norm: tensor ", k, " is ",
               t.str(), " but tensor 0 is ", tensors[0].str(), "; expected one device and one dtype");
  }
  Tensor out = Tensor::empty({}, tensors[0].dtype(), tensors[0].device());
  kernels::global_norm(tensors, out);
  return out;
}

}  // namespace dasg
