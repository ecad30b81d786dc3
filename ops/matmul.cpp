// matmul / bmm / linear: forward by one GEMM; backward by two, choosing transpose flags so that
// nothing is copied. For C = op(A)·op(B):
//   dA = dC·op(B)ᵀ            (ta = 0)   or  op(B)·dCᵀ   (ta = 1)
//   dB = op(A)ᵀ·dC            (tb = 0)   or  dCᵀ·op(A)   (tb = 1)
// linear: y = x·Wᵀ + b;  dx = dy·W,  dW = dyᵀ·x,  db = Σ_rows dy.
// Mixed precision (CUDA): bf16 operands (both) give an f32 product (f32 accumulation, cublasGemmEx);
// the backward rounds dC to bf16 once for its two GEMMs and returns f32 gradients (ops/cast.hpp:
// a bf16 tensor's gradient is f32). A linear's bias stays f32. linear_bf16 stores its product in
// bf16 (rounded once from the f32 accumulation: cublasGemmEx with a bf16 C).
#include "ops/matmul.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/matmul.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/profiler.hpp"
#include "ops/cast.hpp"

namespace dasg {

namespace {

// The operand checks of a GEMM op: same device and dtype, and a float dtype, or bf16 on CUDA.
// Returns the product's dtype (f32 for bf16 operands).
DType gemm_dtype(const char* op, const Tensor& a, const Tensor& b) {
  check_same_device(op, a, b);
  check_same_dtype(op, a, b);
  if (a.dtype() != DType::bf16) {
    check_floating(op, a);
    return a.dtype();
  }
  check_bf16_on_cuda(op, a, "operands " + a.str() + " and " + b.str());
  return DType::f32;
}

// The gradient of a product as its GEMMs take it: rounded to bf16 when the operands are bf16.
Tensor grad_for(const Tensor& g, const Tensor& operand) {
  return operand.dtype() == DType::bf16 ? g.to(DType::bf16) : g;
}

// The product of (possibly batched) a and b with flags; batch = 0 means plain 2-D.
Tensor gemm_op(const char* op, const Tensor& a, const Tensor& b, bool ta, bool tb, bool batched) {
  const DType out_dtype = gemm_dtype(op, a, b);
  const int64_t want = batched ? 3 : 2;
  DASG_CHECK(a.dim() == want && b.dim() == want, op, ": operands are ", a.str(), " and ", b.str(), "; expected ",
             want, "-D tensors");
  const int64_t off = batched ? 1 : 0;
  kernels::GemmShape s;
  s.batch = batched ? a.size(0) : 1;
  DASG_CHECK(!batched || b.size(0) == s.batch, op, ": batch sizes differ: ", a.str(), " and ", b.str());
  s.ta = ta;
  s.tb = tb;
  s.M = a.shape()[off + (ta ? 1 : 0)];
  s.K = a.shape()[off + (ta ? 0 : 1)];
  const int64_t kb = b.shape()[off + (tb ? 1 : 0)];
  s.N = b.shape()[off + (tb ? 0 : 1)];
  DASG_CHECK(s.K == kb, op, ": inner dimensions differ: op(a) is ", s.M, "x", s.K, " (a ", shape_str(a.shape()),
             ta ? " transposed" : "", "), op(b) is ", kb, "x", s.N, " (b ", shape_str(b.shape()),
             tb ? " transposed" : "", "); expected equal inner sizes");
  s.stride_a = s.M * s.K;
  s.stride_b = s.K * s.N;
  s.stride_c = s.M * s.N;
  Shape out_shape = batched ? Shape{s.batch, s.M, s.N} : Shape{s.M, s.N};
  Tensor c = Tensor::empty(out_shape, out_dtype, a.device());
  profiler::count_flops(2.0 * (double)s.batch * (double)s.M * (double)s.N * (double)s.K);
  kernels::gemm(s, a, b, c);
  return c;
}

struct MatmulBackward : Node {
  bool ta, tb, batched;
  const char* name() const override { return batched ? "bmm" : "matmul"; }
  std::vector<Tensor> backward(const Tensor& g_out) override {
    const Tensor &a = saved[0], &b = saved[1];
    const char* op = name();
    const Tensor g = grad_for(g_out, a);
    Tensor ga, gb;
    if (needs(0)) ga = ta ? gemm_op(op, b, g, tb, true, batched) : gemm_op(op, g, b, false, !tb, batched);
    if (needs(1)) gb = tb ? gemm_op(op, g, a, true, ta, batched) : gemm_op(op, a, g, !ta, false, batched);
    return {ga, gb};
  }
};

Tensor product(const Tensor& a, const Tensor& b, bool ta, bool tb, bool batched) {
  DASG_PROFILE_OP(batched ? "bmm" : "matmul");
  Tensor c = gemm_op(batched ? "bmm" : "matmul", a, b, ta, tb, batched);
  if (needs_grad({a, b})) {
    auto n = std::make_shared<MatmulBackward>();
    n->ta = ta;
    n->tb = tb;
    n->batched = batched;
    n->saved = {a.detach(), b.detach()};
    attach(c, n, {a, b});
  }
  return c;
}

struct LinearBackward : Node {
  Shape x_shape;
  const char* name() const override { return "linear"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &x2 = saved[0], &w = saved[1];  // x flattened to [rows, in]
    const int64_t rows = x2.size(0), out = w.size(0);
    Tensor g2 = grad_for(g, w).view({rows, out});
    Tensor gx, gw, gb;
    if (needs(0)) {
      gx = gemm_op("linear", g2, w, false, false, false).view(x_shape);
    }
    if (needs(1)) gw = gemm_op("linear", g2, x2, true, false, false);
    if (needs(2)) {
      gb = Tensor::empty({out}, g.dtype(), g.device());
      kernels::sum_dim({1, rows, out}, g.view({rows, out}), gb);
    }
    return {gx, gw, gb};
  }
};

// linear with the product stored in y_dtype: gemm_dtype's, or bf16 (linear_bf16).
Tensor linear_as(const Tensor& x, const Tensor& w, const Tensor& bias, DType y_dtype) {
  DASG_CHECK(w.dim() == 2 && x.dim() >= 1 && x.size(-1) == w.size(1), "linear: input ", x.str(), ", weight ",
             w.str(), "; expected weight [out, in] with in = the input's last dimension");
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  if (bias.defined()) {
    check_same_device("linear", x, bias);
    DASG_CHECK(bias.dtype() == y_dtype, "linear: bias ", bias.str(), " for input ", x.str(), "; expected ",
               dtype_name(y_dtype), " (the output's dtype)");
    DASG_CHECK(bias.dim() == 1 && bias.size(0) == out, "linear: bias ", bias.str(), "; expected [", out, "]");
  }
  // x viewed as [rows, in] (contiguous, so a view is free).
  Tensor x2 = x.view({rows, in});
  Shape y_shape = x.shape();
  y_shape.back() = out;
  Tensor y = Tensor::empty(y_shape, y_dtype, x.device());
  Tensor y2 = y.view({rows, out});
  kernels::GemmShape s{1, rows, out, in, false, true, 0, 0, 0};
  profiler::count_flops(2.0 * (double)rows * (double)out * (double)in);
  if (bias.defined()) {  // y = x·Wᵀ + bias broadcast over rows
    kernels::gemm_bias(s, x2, w, bias, y2);
  } else {
    kernels::gemm(s, x2, w, y2, 1, 0);
  }
  if (needs_grad({x, w, bias})) {
    auto n = std::make_shared<LinearBackward>();
    n->x_shape = x.shape();
    n->saved = {x2, w.detach()};
    attach(y, n, {x, w, bias});
  }
  return y;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool ta, bool tb) { return product(a, b, ta, tb, false); }
Tensor bmm(const Tensor& a, const Tensor& b, bool ta, bool tb) { return product(a, b, ta, tb, true); }

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias) {
  DASG_PROFILE_OP("linear");
  return linear_as(x, w, bias, gemm_dtype("linear", x, w));
}

Tensor linear_bf16(const Tensor& x, const Tensor& w) {
  DASG_PROFILE_OP("linear");
  gemm_dtype("linear_bf16", x, w);
  DASG_CHECK(x.dtype() == DType::bf16, "linear_bf16: operands ", x.str(), " and ", w.str(),
             "; expected bf16 (cast the f32 values first)");
  return linear_as(x, w, Tensor(), DType::bf16);
}

}  // namespace dasg
