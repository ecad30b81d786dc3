// Fused ops (see fused.hpp): checks, the CPU kernel call, the autograd node.
//   forward:  y = bias_gelu_kernel(h, b)               saved: h, b
//   backward: dh, db = bias_gelu_backward_kernel(h, b, dy)   (z = h + b recomputed, never stored)
#include "ops/fused.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/fused.hpp"
#include "engine/profiler.hpp"
#include "ops/elementwise.hpp"

namespace dasg {

namespace {

struct BiasGeluBackward : Node {
  const char* name() const override { return "bias_gelu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &h = saved[0], &b = saved[1];
    Tensor gh = Tensor::empty(h.shape(), h.dtype(), h.device());
    Tensor gb = needs(1) ? Tensor::empty(b.shape(), b.dtype(), b.device()) : Tensor();
    kernels::bias_gelu_backward_cpu(h, b, g, gh, gb);
    return {needs(0) ? gh : Tensor(), gb};
  }
};

}  // namespace

Tensor bias_gelu(const Tensor& h, const Tensor& b) {
  DASG_PROFILE_OP("bias_gelu");
  check_floating("bias_gelu", h);
  check_same_device("bias_gelu", h, b);
  check_same_dtype("bias_gelu", h, b);
  DASG_CHECK(h.dim() >= 1 && b.dim() == 1 && b.size(0) == h.size(-1), "bias_gelu: input ", h.str(), ", bias ",
             b.str(), "; expected bias [F] with F = the input's last dimension");
  if (!h.device().is_cpu()) return gelu(h + b);
  Tensor y = Tensor::empty(h.shape(), h.dtype(), h.device());
  kernels::bias_gelu_cpu(h, b, y);
  if (needs_grad({h, b})) {
    auto n = std::make_shared<BiasGeluBackward>();
    n->saved = {h.detach(), b.detach()};
    attach(y, n, {h, b});
  }
  return y;
}

}  // namespace dasg
