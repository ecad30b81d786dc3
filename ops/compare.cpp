// compare / where: forward through engine/kernels/compare; the rules
//   compare(a, b), compare(a, s):  no gradient (a 0/1 mask; the result never requires grad)
//   y = where(m, a, b) = m ? a : b:  ga = sum_to(where(m, g, 0), shape a) = sum_to(g·m, shape a)
//                                    gb = sum_to(where(m, 0, g), shape b) = sum_to(g·(1 − m), shape b)
// for a 0/1 mask m (the mask is never differentiated). where is a select (mask != 0 picks a), so an
// inf or NaN in the unselected operand neither reaches y nor, through 0·inf, the gradients.
// Shapes: compare's b broadcasts into a's shape; where's mask, a and b broadcast together as in add.
#include "ops/compare.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/compare.hpp"
#include "engine/kernels/elementwise.hpp"
#include "ops/elementwise.hpp"

namespace dasg {

namespace {

using kernels::CompareOp;
static_assert((int)Compare::less == (int)CompareOp::less && (int)Compare::less_equal == (int)CompareOp::less_equal &&
              (int)Compare::greater == (int)CompareOp::greater &&
              (int)Compare::greater_equal == (int)CompareOp::greater_equal);

CompareOp kernel_op(Compare op) { return (CompareOp)op; }

// where's kernel: mask and g broadcast to out_shape; a or b undefined → the scalar.
Tensor select(const Tensor& mask, const Tensor& a, double sa, const Tensor& b, double sb, const Shape& shape,
              DType dtype, Device device) {
  Tensor y = Tensor::empty(shape, dtype, device);
  kernels::where(mask, a, sa, b, sb, y);
  return y;
}

struct WhereBackward : Node {
  Shape a_shape, b_shape;  // b_shape empty-and-unused for a scalar b
  const char* name() const override { return "where"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& m = saved[0];
    Tensor ga, gb;
    if (needs(0)) ga = sum_to(select(m, g, 0, Tensor(), 0, g.shape(), g.dtype(), g.device()), a_shape);
    if (needs(1)) gb = sum_to(select(m, Tensor(), 0, g, 0, g.shape(), g.dtype(), g.device()), b_shape);
    if (next.size() == 1) return {ga};  // where(m, a, scalar)
    return {ga, gb};
  }
};

void check_mask(const Tensor& mask, const Tensor& a) {
  DASG_CHECK(mask.defined() && a.defined(), "where: mask and a must be defined tensors");
  check_floating("where", a);
  check_same_device("where", mask, a);
  DASG_CHECK(mask.dtype() == a.dtype(), "where: mask is ", mask.str(), ", a is ", a.str(),
             "; expected a mask of a's dtype (compare gives one: less(x, s) is in x's dtype)");
}

}  // namespace

Tensor compare(const Tensor& a, const Tensor& b, Compare op) {
  const char* name = kernels::compare_name(kernel_op(op));
  DASG_CHECK(a.defined() && b.defined(), name, ": both operands must be defined tensors");
  check_floating(name, a);
  check_same_device(name, a, b);
  check_same_dtype(name, a, b);
  const Shape out = kernels::broadcast_shape(name, a.shape(), b.shape());
  DASG_CHECK(out == a.shape(), name, ": a is ", a.str(), ", b is ", b.str(), "; expected b of a's shape ",
             shape_str(a.shape()), " or broadcasting into it (the mask has a's shape)");
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  kernels::compare(kernel_op(op), a, b, 0, y);
  return y;
}

Tensor compare(const Tensor& a, double s, Compare op) {
  const char* name = kernels::compare_name(kernel_op(op));
  DASG_CHECK(a.defined(), name, ": the operand must be a defined tensor");
  check_floating(name, a);
  Tensor y = Tensor::empty(a.shape(), a.dtype(), a.device());
  kernels::compare(kernel_op(op), a, Tensor(), s, y);
  return y;
}

Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  check_mask(mask, a);
  DASG_CHECK(b.defined(), "where: b must be a defined tensor (or a scalar)");
  check_same_device("where", a, b);
  check_same_dtype("where", a, b);
  const Shape shape = kernels::broadcast_shape("where", mask.shape(), kernels::broadcast_shape("where", a.shape(), b.shape()));
  Tensor y = select(mask, a, 0, b, 0, shape, a.dtype(), a.device());
  if (needs_grad({a, b})) {
    auto n = std::make_shared<WhereBackward>();
    n->a_shape = a.shape();
    n->b_shape = b.shape();
    n->saved = {mask.detach()};
    attach(y, n, {a, b});
  }
  return y;
}

Tensor where(const Tensor& mask, const Tensor& a, double b) {
  check_mask(mask, a);
  const Shape shape = kernels::broadcast_shape("where", mask.shape(), a.shape());
  Tensor y = select(mask, a, 0, Tensor(), b, shape, a.dtype(), a.device());
  if (needs_grad({a})) {
    auto n = std::make_shared<WhereBackward>();
    n->a_shape = a.shape();
    n->saved = {mask.detach()};
    attach(y, n, {a});
  }
  return y;
}

}  // namespace dasg
