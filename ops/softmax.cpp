// softmax / log_softmax over the last dimension, forward and backward through
// engine/kernels/softmax. Both backwards need only the output y:
//   softmax:      dx = y ⊙ (dy − Σ_c dy·y)
//   log_softmax:  dx = dy − exp(y)·Σ_c dy
#include "ops/softmax.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/softmax.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct SoftmaxBackward : Node {
  bool log = false;
  const char* name() const override { return log ? "log_softmax" : "softmax"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& y = saved[0];
    Tensor gx = Tensor::empty(y.shape(), y.dtype(), y.device());
    kernels::softmax_backward(y, g, gx, log);
    return {gx};
  }
};

Tensor softmax_op(const Tensor& x, bool log) {
  DASG_PROFILE_OP(log ? "log_softmax" : "softmax");
  const char* op = log ? "log_softmax" : "softmax";
  check_floating(op, x);
  DASG_CHECK(x.dim() >= 1, op, ": input ", x.str(), " is a scalar; expected at least one dimension (the "
             "softmax runs over the last)");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::softmax(x, y, log);
  if (needs_grad({x})) {
    auto n = std::make_shared<SoftmaxBackward>();
    n->log = log;
    n->saved = {y.detach()};
    attach(y, n, {x});
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x) { return softmax_op(x, false); }
Tensor log_softmax(const Tensor& x) { return softmax_op(x, true); }

}  // namespace dasg
