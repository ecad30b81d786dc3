// topk over the last dim of x seen as [rows, n]:
//   values[r, t] = x[r, j_t] (j_t the t-th ranked position);   dx[r, j_t] = dvalues[r, t], else 0
#include "ops/topk.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/topk.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {
struct TopkBackward : Node {
  kernels::TopkShape s;
  Shape x_shape;
  const char* name() const override { return "topk"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(x_shape, g.dtype(), g.device());
    kernels::topk_backward(s, g, saved[0], gx);
    return {gx};
  }
};
}  // namespace

TopkResult topk(const Tensor& x, int64_t k) {
  DASG_PROFILE_OP("topk");
  check_floating("topk", x);
  DASG_CHECK(x.dim() >= 1, "topk: ", x.str(), " has no last dimension; expected at least 1 dim");
  const int64_t n = x.size(-1);
  DASG_CHECK(k >= 1 && k <= n, "topk: k = ", k, " for ", x.str(), "; expected 1 <= k <= ", n, " (the last dim)");
  DASG_CHECK(n <= INT32_MAX, "topk: last dim of ", x.str(), " exceeds the i32 index range");
  kernels::TopkShape s{x.numel() / n, n, k};
  Shape out_shape = x.shape();
  out_shape.back() = k;
  TopkResult res{Tensor::empty(out_shape, x.dtype(), x.device()), Tensor::empty(out_shape, DType::i32, x.device())};
  kernels::topk(s, x, res.values, res.indices);
  if (needs_grad({x})) {
    auto node = std::make_shared<TopkBackward>();
    node->s = s;
    node->x_shape = x.shape();
    node->saved = {res.indices};
    attach(res.values, node, {x});
  }
  return res;
}

}  // namespace dasg
