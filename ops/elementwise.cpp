// Elementwise ops: forward through engine/kernels/elementwise, backward by the rules
//   add: ga = g, gb = g          sub: ga = g, gb = −g
//   mul: ga = g·b, gb = g·a      div: ga = g/b, gb = −g·a/b²
// each summed back to its operand's shape (sum_to); unary: gx = g·f'(x) in one fused kernel.
// Mixed precision (CUDA): add and sub take bf16 operands (computed in f32, rounded once); their
// gradient is f32, as every bf16 tensor's (ops/cast.hpp).
#include "ops/elementwise.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/elementwise.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/profiler.hpp"
#include "ops/cast.hpp"

namespace dasg {

using kernels::BinaryOp;
using kernels::UnaryOp;

Tensor sum_to(const Tensor& g, const Shape& shape) {
  DASG_PROFILE_OP("sum_to");
  if (g.shape() == shape) return g;
  Tensor cur = g;
  // Leading dimensions that `shape` lacks: one reduction over all of them.
  const int64_t extra = cur.dim() - (int64_t)shape.size();
  if (extra > 0) {
    Shape rest(cur.shape().begin() + extra, cur.shape().end());
    kernels::ReduceShape r{1, cur.numel() / dasg::numel(rest), dasg::numel(rest)};
    Tensor out = Tensor::empty(rest, g.dtype(), g.device());
    kernels::sum_dim(r, cur, out);
    cur = out;
  }
  // Dimensions kept with size 1.
  for (int64_t k = 0; k < (int64_t)shape.size(); ++k) {
    if (shape[k] == 1 && cur.shape()[k] != 1) {
      Shape s = cur.shape();
      s[k] = 1;
      Tensor out = Tensor::empty(s, g.dtype(), g.device());
      kernels::sum_dim(kernels::reduce_shape(cur.shape(), k), cur, out);
      cur = out;
    }
  }
  return cur;
}

namespace {

struct BinaryBackward : Node {
  BinaryOp op;
  Shape a_shape, b_shape;
  const char* name() const override { return kernels::binary_name(op); }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &a = saved[0], &b = saved[1];  // saved only for mul and div
    Tensor ga, gb;
    switch (op) {
      case BinaryOp::add:
        if (needs(0)) ga = sum_to(g, a_shape);
        if (needs(1)) gb = sum_to(g, b_shape);
        break;
      case BinaryOp::sub:
        if (needs(0)) ga = sum_to(g, a_shape);
        if (needs(1)) gb = sum_to(neg(g), b_shape);
        break;
      case BinaryOp::mul:
        if (needs(0)) ga = sum_to(mul(g, b), a_shape);
        if (needs(1)) gb = sum_to(mul(g, a), b_shape);
        break;
      case BinaryOp::div:
        if (needs(0)) ga = sum_to(div(g, b), a_shape);
        if (needs(1)) gb = sum_to(neg(div(mul(g, a), mul(b, b))), b_shape);
        break;
    }
    return {ga, gb};
  }
};

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b) {
  DASG_PROFILE_OP(kernels::binary_name(op));
  const char* name = kernels::binary_name(op);
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  if (a.dtype() == DType::bf16) {  // mixed precision: a sum of bf16 activations (its gradient f32)
    DASG_CHECK(op == BinaryOp::add || op == BinaryOp::sub, name, ": bf16 operands ", a.str(), " and ", b.str(),
               "; bf16 arithmetic is add and sub only (cast to f32 first)");
    check_bf16_on_cuda(name, a, "operands " + a.str() + " and " + b.str());
  } else {
    check_floating(name, a);
  }
  Tensor out = Tensor::empty(kernels::broadcast_shape(name, a.shape(), b.shape()), a.dtype(), a.device());
  kernels::binary(op, a, b, out);
  if (needs_grad({a, b})) {
    auto n = std::make_shared<BinaryBackward>();
    n->op = op;
    n->a_shape = a.shape();
    n->b_shape = b.shape();
    bool keep = op == BinaryOp::mul || op == BinaryOp::div;
    n->saved = {keep ? a.detach() : Tensor(), keep ? b.detach() : Tensor()};
    attach(out, n, {a, b});
  }
  return out;
}

struct ScalarBackward : Node {
  BinaryOp op;
  double s;
  const char* name() const override { return kernels::binary_name(op); }
  std::vector<Tensor> backward(const Tensor& g) override {
    if (op == BinaryOp::mul) return {mul(g, s)};
    if (op == BinaryOp::div) return {div(g, s)};
    return {g};
  }
};

Tensor binary_scalar(BinaryOp op, const Tensor& x, double s) {
  DASG_PROFILE_OP(kernels::binary_name(op));
  check_floating(kernels::binary_name(op), x);
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::binary_scalar(op, x, s, out);
  if (needs_grad({x})) {
    auto n = std::make_shared<ScalarBackward>();
    n->op = op;
    n->s = s;
    attach(out, n, {x});
  }
  return out;
}

struct UnaryBackward : Node {
  UnaryOp op;
  const char* name() const override { return kernels::unary_name(op); }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &x = saved[0], &y = saved[1];
    Tensor gx = Tensor::empty(x.shape(), x.dtype(), x.device());
    kernels::unary_backward(op, x, y, g, gx);
    return {gx};
  }
};

Tensor unary(UnaryOp op, const Tensor& x) {
  DASG_PROFILE_OP(kernels::unary_name(op));
  check_floating(kernels::unary_name(op), x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  kernels::unary(op, x, y);
  if (needs_grad({x})) {
    auto n = std::make_shared<UnaryBackward>();
    n->op = op;
    n->saved = {x.detach(), y.detach()};
    attach(y, n, {x});
  }
  return y;
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) { return binary(BinaryOp::add, a, b); }
Tensor sub(const Tensor& a, const Tensor& b) { return binary(BinaryOp::sub, a, b); }
Tensor mul(const Tensor& a, const Tensor& b) { return binary(BinaryOp::mul, a, b); }
Tensor div(const Tensor& a, const Tensor& b) { return binary(BinaryOp::div, a, b); }
Tensor add(const Tensor& x, double s) { return binary_scalar(BinaryOp::add, x, s); }
Tensor sub(const Tensor& x, double s) { return binary_scalar(BinaryOp::sub, x, s); }
Tensor mul(const Tensor& x, double s) { return binary_scalar(BinaryOp::mul, x, s); }
Tensor div(const Tensor& x, double s) { return binary_scalar(BinaryOp::div, x, s); }

Tensor neg(const Tensor& x) { return unary(UnaryOp::neg, x); }
Tensor exp(const Tensor& x) { return unary(UnaryOp::exp, x); }
Tensor log(const Tensor& x) { return unary(UnaryOp::log, x); }
Tensor sqrt(const Tensor& x) { return unary(UnaryOp::sqrt, x); }
Tensor tanh(const Tensor& x) { return unary(UnaryOp::tanh, x); }
Tensor sigmoid(const Tensor& x) { return unary(UnaryOp::sigmoid, x); }
Tensor relu(const Tensor& x) { return unary(UnaryOp::relu, x); }
Tensor gelu(const Tensor& x) { return unary(UnaryOp::gelu, x); }
Tensor silu(const Tensor& x) { return unary(UnaryOp::silu, x); }

}  // namespace dasg
