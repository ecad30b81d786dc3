// cast: y = (dtype) x;  dx = (dtype of x) dy, except that a bf16 x's gradient stays f32 (cast.hpp).
#include "ops/cast.hpp"

#include "autograd/node.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct CastBackward : Node {
  DType from = DType::f32;
  const char* name() const override { return "cast"; }
  std::vector<Tensor> backward(const Tensor& g) override { return {g.to(from == DType::bf16 ? DType::f32 : from)}; }
};

bool is_float_or_bf16(DType t) { return is_floating(t) || t == DType::bf16; }

}  // namespace

void check_bf16_on_cuda(const char* op, const Tensor& t, const std::string& what) {
  DASG_CHECK(!t.device().is_cpu(), op, ": bf16 ", what, ": mixed precision, for CUDA only; on the CPU use f32");
}

Tensor cast(const Tensor& x, DType dtype) {
  DASG_PROFILE_OP("cast");
  DASG_CHECK(is_float_or_bf16(x.dtype()) && is_float_or_bf16(dtype), "cast: ", x.str(), " to ", dtype_name(dtype),
             "; expected float dtypes (f32, f64, bf16)");
  if (x.dtype() == dtype) return x;
  Tensor y = x.to(dtype);
  if (needs_grad({x})) {
    auto n = std::make_shared<CastBackward>();
    n->from = x.dtype();
    attach(y, n, {x});
  }
  return y;
}

}  // namespace dasg
