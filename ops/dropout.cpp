// dropout: y = x·keep/(1 − p), keep_i = [philox_uniform(seed, offset, i) ≥ p];
// dx = dy·keep/(1 − p), recomputed from the saved (seed, offset) instead of storing a mask.
#include "ops/dropout.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "engine/kernels/dropout.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct DropoutBackward : Node {
  uint64_t seed = 0, offset = 0;
  double p = 0;
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(g.shape(), g.dtype(), g.device());
    kernels::dropout(g, gx, seed, offset, p);
    return {gx};
  }
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  DASG_PROFILE_OP("dropout");
  check_floating("dropout", x);
  DASG_CHECK(p >= 0 && p < 1, "dropout: p = ", p, " for input ", x.str(), "; expected 0 <= p < 1");
  if (!training || p == 0) return x;
  const uint64_t seed = gen.seed(), offset = gen.reserve(x.numel());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::dropout(x, y, seed, offset, p);
  if (needs_grad({x})) {
    auto n = std::make_shared<DropoutBackward>();
    n->seed = seed;
    n->offset = offset;
    n->p = p;
    attach(y, n, {x});
  }
  return y;
}

}  // namespace dasg
