// layer_norm: the forward saves each row's mean and rstd = 1/√(σ² + eps); the backward is one
// fused kernel giving dx, dweight and dbias (see engine/kernels/layer_norm.hpp):
//   x̂ = (x − μ)·rstd,  ĝ = dy·w
//   dx = rstd·(ĝ − mean_d ĝ − x̂·mean_d(ĝ·x̂)),   dw = Σ_rows dy·x̂,   db = Σ_rows dy
#include "ops/layer_norm.hpp"

#include <cmath>

#include "autograd/node.hpp"
#include "engine/kernels/layer_norm.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct LayerNormBackward : Node {
  const char* name() const override { return "layer_norm"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &x = saved[0], &w = saved[1], &mean = saved[2], &rstd = saved[3];
    const int64_t D = x.size(-1);
    Tensor gx, gw, gb;
    if (needs(0)) gx = Tensor::empty(x.shape(), x.dtype(), x.device());
    if (needs(1)) gw = Tensor::empty({D}, x.dtype(), x.device());
    if (needs(2)) gb = Tensor::empty({D}, x.dtype(), x.device());
    kernels::layer_norm_backward(x, w, mean, rstd, g, gx, gw, gb);
    return {gx, gw, gb};
  }
};

void check_param(const Tensor& x, const Tensor& p, const char* what) {
  if (!p.defined()) return;
  check_same_device("layer_norm", x, p);
  check_same_dtype("layer_norm", x, p);
  DASG_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), "layer_norm: ", what, " is ", p.str(), " for input ",
             x.str(), "; expected [", x.size(-1), "] (the input's last dimension)");
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  DASG_PROFILE_OP("layer_norm");
  check_floating("layer_norm", x);
  DASG_CHECK(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: input ", x.str(),
             "; expected at least one dimension, the last (normalised) one non-empty");
  DASG_CHECK(eps > 0 && std::isfinite(eps), "layer_norm: eps = ", eps, "; expected a finite eps > 0");
  check_param(x, weight, "weight");
  check_param(x, bias, "bias");
  const int64_t D = x.size(-1), N = x.numel() / D;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::empty({N}, x.dtype(), x.device());
  Tensor rstd = Tensor::empty({N}, x.dtype(), x.device());
  kernels::layer_norm(x, weight, bias, eps, y, mean, rstd);
  if (needs_grad({x, weight, bias})) {
    auto n = std::make_shared<LayerNormBackward>();
    n->saved = {x.detach(), weight.defined() ? weight.detach() : Tensor(), mean, rstd};
    attach(y, n, {x, weight, bias});
  }
  return y;
}

}  // namespace dasg
