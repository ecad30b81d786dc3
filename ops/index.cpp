// index_select / index_add: forward through engine/kernels/index, backward by each other:
//   y = index_select(x, idx):        dx = index_add(0, idx, dy)     (duplicates sum their rows)
//   y = index_add(base, idx, src):   dbase = dy,   dsrc = index_select(dy, idx)
#include "ops/index.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/index.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

void check_idx(const char* op, const Tensor& x, const Tensor& idx) {
  DASG_CHECK(idx.defined() && idx.dtype() == DType::i32 && idx.dim() == 1, op, ": indices are ", idx.str(),
             "; expected a 1-D i32 tensor of row numbers");
  check_same_device(op, x, idx);
  DASG_CHECK(x.dim() >= 1, op, ": ", x.str(), " has no rows; expected at least 1 dim");
}

// Elements per row: the product of the dims after the first.
int64_t row_size(const Tensor& x) { return dasg::numel(Shape(x.shape().begin() + 1, x.shape().end())); }

Tensor select_rows(const Tensor& x, const Tensor& idx) {
  Shape out_shape = x.shape();
  out_shape[0] = idx.numel();
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  kernels::index_select(x, idx, y, x.shape()[0], row_size(x));
  return y;
}

// out (already holding base) += rows of src at idx.
void add_rows(Tensor& out, const Tensor& idx, const Tensor& src) {
  kernels::index_add(out, idx, src, out.shape()[0], row_size(out));
}

struct IndexSelectBackward : Node {
  Shape x_shape;
  const char* name() const override { return "index_select"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::zeros(x_shape, g.dtype(), g.device());
    add_rows(gx, saved[0], g);
    return {gx};
  }
};

struct IndexAddBackward : Node {
  const char* name() const override { return "index_add"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gsrc;
    if (needs(1)) gsrc = select_rows(g, saved[0]);
    return {needs(0) ? g : Tensor(), gsrc};
  }
};

}  // namespace

Tensor index_select(const Tensor& x, const Tensor& idx) {
  DASG_PROFILE_OP("index_select");
  check_idx("index_select", x, idx);
  Tensor y = select_rows(x, idx);
  if (needs_grad({x})) {
    auto n = std::make_shared<IndexSelectBackward>();
    n->x_shape = x.shape();
    n->saved = {idx};
    attach(y, n, {x});
  }
  return y;
}

Tensor index_add(const Tensor& base, const Tensor& idx, const Tensor& src) {
  DASG_PROFILE_OP("index_add");
  check_idx("index_add", base, idx);
  check_same_device("index_add", base, src);
  check_same_dtype("index_add", base, src);
  Shape want = base.shape();
  want[0] = idx.numel();
  DASG_CHECK(src.shape() == want, "index_add: base ", base.str(), ", ", idx.numel(), " indices, source ", src.str(),
             "; expected source ", shape_str(want), " (one row like base's per index)");
  Tensor y = base.clone();
  add_rows(y, idx, src);
  if (needs_grad({base, src})) {
    auto n = std::make_shared<IndexAddBackward>();
    n->saved = {idx};
    attach(y, n, {base, src});
  }
  return y;
}

}  // namespace dasg
