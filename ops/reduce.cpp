// sum / mean / max over one dimension d of x viewed as [outer, n, inner]:
//   sum:  y[o,i] = s·Σ_j x[o,j,i]   (s = 1, or 1/n for mean);   dx[o,j,i] = s·dy[o,i]
//   max:  y[o,i] = x[o,j*,i];                                   dx[o,j,i] = dy[o,i]·[j = j*]
#include "ops/reduce.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

int64_t normalize_dim(const char* op, const Tensor& x, int64_t dim) {
  const int64_t n = x.dim();
  DASG_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " out of range for ", x.str(), "; expected -", n, " <= dim < ", n);
  return dim < 0 ? dim + n : dim;
}

Shape reduced_shape(const Shape& s, int64_t dim, bool keepdim) {
  Shape out = s;
  if (keepdim) out[(size_t)dim] = 1;
  else out.erase(out.begin() + dim);
  return out;
}

struct SumBackward : Node {
  kernels::ReduceShape r;
  Shape x_shape;
  double scale;
  const char* name() const override { return scale == 1 ? "sum" : "mean"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(x_shape, g.dtype(), g.device());
    kernels::expand_dim(r, g, gx, scale);
    return {gx};
  }
};

Tensor reduce_sum(const char* op, const Tensor& x, kernels::ReduceShape r, Shape out_shape, double scale) {
  DASG_PROFILE_OP(op);
  check_floating(op, x);
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  kernels::sum_dim(r, x, y, scale);
  if (needs_grad({x})) {
    auto n = std::make_shared<SumBackward>();
    n->r = r;
    n->x_shape = x.shape();
    n->scale = scale;
    attach(y, n, {x});
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x) { return reduce_sum("sum", x, {1, x.numel(), 1}, {}, 1.0); }

Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
  dim = normalize_dim("sum", x, dim);
  return reduce_sum("sum", x, kernels::reduce_shape(x.shape(), dim), reduced_shape(x.shape(), dim, keepdim), 1.0);
}

Tensor mean(const Tensor& x) {
  DASG_CHECK(x.numel() > 0, "mean: ", x.str(), " is empty; the mean of no elements is undefined");
  return reduce_sum("mean", x, {1, x.numel(), 1}, {}, 1.0 / (double)x.numel());
}

Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
  dim = normalize_dim("mean", x, dim);
  DASG_CHECK(x.size(dim) > 0, "mean: dimension ", dim, " of ", x.str(), " is empty");
  return reduce_sum("mean", x, kernels::reduce_shape(x.shape(), dim), reduced_shape(x.shape(), dim, keepdim),
                    1.0 / (double)x.size(dim));
}

namespace {
struct MaxBackward : Node {
  kernels::ReduceShape r;
  Shape x_shape;
  const char* name() const override { return "max"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::empty(x_shape, g.dtype(), g.device());
    kernels::max_dim_backward(r, g, saved[0], gx);
    return {gx};
  }
};
}  // namespace

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  DASG_PROFILE_OP("max");
  check_floating("max", x);
  dim = normalize_dim("max", x, dim);
  DASG_CHECK(x.size(dim) > 0, "max: dimension ", dim, " of ", x.str(), " is empty");
  kernels::ReduceShape r = kernels::reduce_shape(x.shape(), dim);
  Shape out_shape = reduced_shape(x.shape(), dim, keepdim);
  MaxResult res{Tensor::empty(out_shape, x.dtype(), x.device()), Tensor::empty(out_shape, DType::i32, x.device())};
  kernels::max_dim(r, x, res.values, res.indices);
  if (needs_grad({x})) {
    auto n = std::make_shared<MaxBackward>();
    n->r = r;
    n->x_shape = x.shape();
    n->saved = {res.indices};
    attach(res.values, n, {x});
  }
  return res;
}

}  // namespace dasg
