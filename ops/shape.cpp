// Shape ops: forward through engine/kernels/shape, backward by the inverse movement:
//   reshape:  y = x seen as another shape;           dx = dy seen as x's shape
//   permute:  y = x.permute(p);                      dx = dy.permute(p⁻¹)   (transpose: p swaps d0, d1)
//   concat:   y = [x_0 | x_1 | …] along d;           dx_k = dy[.., off_k : off_k + n_k, ..]
//   slice:    y = x[.., s : s + len, ..] along d;    dx = 0 except dx[.., s : s + len, ..] = dy
#include "ops/shape.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/fill.hpp"
#include "engine/kernels/shape.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

int64_t normalize_dim(const char* op, const Tensor& x, int64_t dim) {
  const int64_t n = x.dim();
  DASG_CHECK(dim >= -n && dim < n, op, ": dim ", dim, " out of range for ", x.str(), "; expected -", n,
             " <= dim < ", n);
  return dim < 0 ? dim + n : dim;
}

// [outer, n, inner] around dimension d.
void outer_inner(const Shape& s, int64_t d, int64_t& outer, int64_t& inner) {
  outer = inner = 1;
  for (int64_t k = 0; k < (int64_t)s.size(); ++k) {
    if (k < d) outer *= s[(size_t)k];
    if (k > d) inner *= s[(size_t)k];
  }
}

// ---- reshape ----------------------------------------------------------------
struct ReshapeBackward : Node {
  Shape x_shape;
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.view(x_shape)}; }
};

// ---- permute / transpose ----------------------------------------------------
Tensor permute_copy(const Tensor& x, const std::vector<int64_t>& perm) {
  Shape out_shape(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) out_shape[k] = x.shape()[(size_t)perm[k]];
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  kernels::permute(kernels::permute_plan(x.shape(), perm), x, y);
  return y;
}

struct PermuteBackward : Node {
  const char* op;
  std::vector<int64_t> inverse;
  const char* name() const override { return op; }
  std::vector<Tensor> backward(const Tensor& g) override { return {permute_copy(g, inverse)}; }
};

Tensor permute_op(const char* op, const Tensor& x, const std::vector<int64_t>& perm) {
  DASG_PROFILE_OP(op);
  Tensor y = permute_copy(x, perm);
  if (needs_grad({x})) {
    auto n = std::make_shared<PermuteBackward>();
    n->op = op;
    n->inverse.resize(perm.size());
    for (size_t k = 0; k < perm.size(); ++k) n->inverse[(size_t)perm[k]] = (int64_t)k;
    attach(y, n, {x});
  }
  return y;
}

// ---- concat / slice -----------------------------------------------------------
struct ConcatBackward : Node {
  std::vector<Shape> shapes;  // of the inputs
  int64_t dim = 0, outer = 1, inner = 1, total = 0;
  const char* name() const override { return "concat"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    std::vector<Tensor> grads(shapes.size());
    int64_t offset = 0;
    for (size_t k = 0; k < shapes.size(); ++k) {
      const int64_t nk = shapes[k][(size_t)dim];
      if (needs(k)) {
        grads[k] = Tensor::empty(shapes[k], g.dtype(), g.device());
        kernels::block_copy({outer, inner, total, offset, nk, 0, nk}, g, grads[k]);
      }
      offset += nk;
    }
    return grads;
  }
};

struct SliceBackward : Node {
  Shape x_shape;
  kernels::BlockCopy back;  // dy → dx
  const char* name() const override { return "slice"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    Tensor gx = Tensor::zeros(x_shape, g.dtype(), g.device());
    kernels::block_copy(back, g, gx);
    return {gx};
  }
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  DASG_PROFILE_OP("reshape");
  Shape s = shape;
  int64_t infer = -1, known = 1;
  for (int64_t k = 0; k < (int64_t)s.size(); ++k) {
    if (s[(size_t)k] == -1) {
      DASG_CHECK(infer < 0, "reshape: ", shape_str(shape),
                 " has more than one -1; expected at most one inferred dim");
      infer = k;
      continue;
    }
    DASG_CHECK(s[(size_t)k] >= 0, "reshape: negative size in ", shape_str(shape),
               "; expected sizes >= 0 and at most one -1");
    known *= s[(size_t)k];
  }
  if (infer >= 0) {
    DASG_CHECK(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.str(), " (", x.numel(),
               " elements) to ", shape_str(shape), "; the other sizes' product ", known, " must divide it");
    s[(size_t)infer] = x.numel() / known;
  }
  DASG_CHECK((int)s.size() <= kMaxDims, "reshape: ", shape_str(shape), " has ", s.size(),
             " dims; expected at most ", kMaxDims);
  DASG_CHECK(dasg::numel(s) == x.numel(), "reshape: cannot reshape ", x.str(), " (", x.numel(), " elements) to ",
             shape_str(shape), " (", dasg::numel(s), " elements); expected the same number of elements");
  Tensor y = x.view(s);
  if (needs_grad({x})) {
    auto n = std::make_shared<ReshapeBackward>();
    n->x_shape = x.shape();
    attach(y, n, {x});
  }
  return y;
}

Tensor transpose(const Tensor& x, int64_t d0, int64_t d1) {
  d0 = normalize_dim("transpose", x, d0);
  d1 = normalize_dim("transpose", x, d1);
  std::vector<int64_t> perm((size_t)x.dim());
  for (int64_t k = 0; k < x.dim(); ++k) perm[(size_t)k] = k;
  std::swap(perm[(size_t)d0], perm[(size_t)d1]);
  return permute_op("transpose", x, perm);
}

Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
  const int64_t n = x.dim();
  std::string given = "[";
  for (size_t k = 0; k < dims.size(); ++k) given += (k ? ", " : "") + std::to_string(dims[k]);
  given += "]";
  DASG_CHECK((int64_t)dims.size() == n, "permute: dims ", given, " for ", x.str(), "; expected a permutation of ",
             n, " dims");
  std::vector<int64_t> perm(dims.size());
  std::vector<bool> seen((size_t)n, false);
  for (size_t k = 0; k < dims.size(); ++k) {
    const int64_t d = dims[k];
    DASG_CHECK(d >= -n && d < n && !seen[(size_t)(d < 0 ? d + n : d)], "permute: dims ", given, " for ", x.str(),
               "; expected each of 0..", n - 1, " exactly once (negative dims count from the end)");
    perm[k] = d < 0 ? d + n : d;
    seen[(size_t)perm[k]] = true;
  }
  return permute_op("permute", x, perm);
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  DASG_PROFILE_OP("concat");
  DASG_CHECK(!xs.empty(), "concat: empty list of tensors; expected at least one");
  for (size_t k = 0; k < xs.size(); ++k)
    DASG_CHECK(xs[k].defined(), "concat: tensor ", k, " is undefined");
  const Tensor& x0 = xs[0];
  const int64_t d = normalize_dim("concat", x0, dim);
  int64_t total = 0;
  for (size_t k = 0; k < xs.size(); ++k) {
    const Tensor& x = xs[k];
    check_same_device("concat", x0, x);
    check_same_dtype("concat", x0, x);
    bool match = x.dim() == x0.dim();
    for (int64_t j = 0; match && j < x0.dim(); ++j) match = j == d || x.shape()[(size_t)j] == x0.shape()[(size_t)j];
    DASG_CHECK(match, "concat: tensor ", k, " is ", x.str(), " and tensor 0 is ", x0.str(),
               "; expected the same sizes in every dimension except dim ", d);
    total += x.shape()[(size_t)d];
  }
  Shape out_shape = x0.shape();
  out_shape[(size_t)d] = total;
  Tensor y = Tensor::empty(out_shape, x0.dtype(), x0.device());
  int64_t outer, inner;
  outer_inner(out_shape, d, outer, inner);
  int64_t offset = 0;
  for (const Tensor& x : xs) {
    const int64_t nk = x.shape()[(size_t)d];
    kernels::block_copy({outer, inner, nk, 0, total, offset, nk}, x, y);
    offset += nk;
  }
  if (needs_grad(xs)) {
    auto n = std::make_shared<ConcatBackward>();
    for (const Tensor& x : xs) n->shapes.push_back(x.shape());
    n->dim = d;
    n->outer = outer;
    n->inner = inner;
    n->total = total;
    attach(y, n, xs);
  }
  return y;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  DASG_PROFILE_OP("slice");
  const int64_t d = normalize_dim("slice", x, dim);
  const int64_t size = x.shape()[(size_t)d];
  DASG_CHECK(start >= 0 && length >= 0 && start + length <= size, "slice: start ", start, ", length ", length,
             " on dim ", d, " of ", x.str(), "; expected 0 <= start and start + length <= ", size);
  Shape out_shape = x.shape();
  out_shape[(size_t)d] = length;
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  int64_t outer, inner;
  outer_inner(x.shape(), d, outer, inner);
  kernels::block_copy({outer, inner, size, start, length, 0, length}, x, y);
  if (needs_grad({x})) {
    auto n = std::make_shared<SliceBackward>();
    n->x_shape = x.shape();
    n->back = {outer, inner, length, 0, size, start, length};
    attach(y, n, {x});
  }
  return y;
}

}  // namespace dasg
