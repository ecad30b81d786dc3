// Fused ops (see fused.hpp): checks, the kernel call, the autograd node.
//   forward:  y = bias_gelu_kernel(h, b)               saved: h, b
//   backward: dh, db = bias_gelu_backward_kernel(h, b, dy)   (z = h + b recomputed, never stored)
// dh and db have b's dtype: h's own, or f32 for a bf16 h.
#include "ops/fused.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/fused.hpp"
#include "engine/profiler.hpp"
#include "ops/cast.hpp"

namespace dasg {

namespace {

struct BiasGeluBackward : Node {
  const char* name() const override { return "bias_gelu"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &h = saved[0], &b = saved[1];
    DASG_CHECK(g.dtype() == b.dtype(), "bias_gelu backward: gradient ", g.str(), "; expected ", dtype_name(b.dtype()));
    Tensor gh = Tensor::empty(h.shape(), b.dtype(), h.device());
    Tensor gb = needs(1) ? Tensor::empty(b.shape(), b.dtype(), b.device()) : Tensor();
    kernels::bias_gelu_backward(h, b, g, gh, gb);
    return {needs(0) ? gh : Tensor(), gb};
  }
};

}  // namespace

Tensor bias_gelu(const Tensor& h, const Tensor& b) {
  DASG_PROFILE_OP("bias_gelu");
  check_same_device("bias_gelu", h, b);
  if (h.dtype() == DType::bf16) {
    check_bf16_on_cuda("bias_gelu", h, "input " + h.str());
    DASG_CHECK(b.dtype() == DType::f32, "bias_gelu: bias ", b.str(), " for bf16 input ", h.str(), "; expected f32");
  } else {
    check_floating("bias_gelu", h);
    check_same_dtype("bias_gelu", h, b);
  }
  DASG_CHECK(h.dim() >= 1 && b.dim() == 1 && b.size(0) == h.size(-1), "bias_gelu: input ", h.str(), ", bias ",
             b.str(), "; expected bias [F] with F = the input's last dimension");
  Tensor y = Tensor::empty(h.shape(), h.dtype(), h.device());
  kernels::bias_gelu(h, b, y);
  if (needs_grad({h, b})) {
    auto n = std::make_shared<BiasGeluBackward>();
    n->saved = {h.detach(), b.detach()};
    attach(y, n, {h, b});
  }
  return y;
}

}  // namespace dasg
