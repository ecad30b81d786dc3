// hard_threshold: forward through engine/kernels/threshold; backward is the identity (see the header).
#include "ops/threshold.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/threshold.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {
struct HardThresholdBackward : Node {
  const char* name() const override { return "hard_threshold"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g}; }  // straight through
};
}  // namespace

Tensor hard_threshold(const Tensor& sigma, double threshold) {
  DASG_PROFILE_OP("hard_threshold");
  check_floating("hard_threshold", sigma);
  Tensor y = Tensor::empty(sigma.shape(), sigma.dtype(), sigma.device());
  kernels::hard_threshold(sigma, threshold, y);
  if (needs_grad({sigma})) attach(y, std::make_shared<HardThresholdBackward>(), {sigma});
  return y;
}

}  // namespace dasg
