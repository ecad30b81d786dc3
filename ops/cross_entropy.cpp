// cross_entropy: one kernel for the per-row losses (saving each row's logsumexp), a sum for the
// mean/sum reductions, and one fused kernel for the backward:
//   dlogits[i, c] = s_i·(softmax(logits_i)[c] − [c = t_i]),   s_i = 0 where t_i = ignore_index,
//   else g (sum) or g_i (none). The mean divides the sum by the count of rows that are not
//   ignored, computed on the targets' device (no host copy), so its gradient reaches here as g.
#include "ops/cross_entropy.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/cross_entropy.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/profiler.hpp"
#include "ops/compare.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"

namespace dasg {

namespace {

struct CrossEntropyBackward : Node {
  int64_t ignore_index = -100;
  bool per_row = false;  // reduction none: one incoming gradient per position
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &logits = saved[0], &targets = saved[1], &lse = saved[2];
    Tensor gx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    kernels::cross_entropy_backward(logits, targets, lse, g, per_row, 1.0, ignore_index, gx);
    return {gx};
  }
};

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Reduction reduction) {
  DASG_PROFILE_OP("cross_entropy");
  check_floating("cross_entropy", logits);
  DASG_CHECK(targets.dtype() == DType::i32, "cross_entropy: targets are ", targets.str(), "; expected i32 class ids");
  check_same_device("cross_entropy", logits, targets);
  DASG_CHECK(logits.dim() >= 1 && logits.size(-1) > 0, "cross_entropy: logits ", logits.str(),
             "; expected [..., C] with C >= 1 classes");
  const Shape lead(logits.shape().begin(), logits.shape().end() - 1);
  DASG_CHECK(targets.shape() == lead, "cross_entropy: logits ", logits.str(), " and targets ", targets.str(),
             "; expected targets of shape ", shape_str(lead), " (the logits' shape without the class dimension)");
  const int64_t C = logits.size(-1), N = targets.numel();
  if (targets.device().is_cpu()) {  // on a device the kernel checks them (no host copy)
    const int32_t* p = targets.data<int32_t>();
    for (int64_t m = 0; m < N; ++m)
      if (p[m] != ignore_index && !(p[m] >= 0 && p[m] < C))
        throw Error(kernels::target_range_error(targets.shape(), m, p[m], C, ignore_index));
  }
  Tensor losses = Tensor::empty(targets.shape(), logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  kernels::cross_entropy(logits, targets, ignore_index, losses, lse);

  Tensor out = losses;
  if (reduction != Reduction::none) {
    out = Tensor::empty({}, logits.dtype(), logits.device());
    kernels::sum_dim({1, N, 1}, losses, out, 1.0);
  }
  if (needs_grad({logits})) {
    auto n = std::make_shared<CrossEntropyBackward>();
    n->ignore_index = ignore_index;
    n->per_row = reduction == Reduction::none;
    n->saved = {logits.detach(), targets.detach(), lse};
    attach(out, n, {logits});
  }
  // mean: over the rows that count, n = #{m : t_m ≠ ignore_index} (0 rows: 0), on the device
  if (reduction == Reduction::mean) {
    const Tensor t = targets.to(logits.dtype()).detach();
    const Tensor ignored = greater_equal(t, (double)ignore_index - 0.5) * less_equal(t, (double)ignore_index + 0.5);
    const Tensor n = (double)N - sum(ignored);
    out = out / where(greater(n, 0.5), n, 1.0);
  }
  return out;
}

}  // namespace dasg
