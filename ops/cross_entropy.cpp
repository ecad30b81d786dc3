// cross_entropy: one kernel for the per-row losses (saving each row's logsumexp), a sum for the
// mean/sum reductions, and one fused kernel for the backward:
//   dlogits[i, c] = s_i·(softmax(logits_i)[c] − [c = t_i]),   s_i = 0 where t_i = ignore_index,
//   else g/count (mean), g (sum) or g_i (none).
#include "ops/cross_entropy.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/cross_entropy.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct CrossEntropyBackward : Node {
  int64_t ignore_index = -100;
  bool per_row = false;  // reduction none: one incoming gradient per position
  double scale = 1;      // 1/count for mean, 1 otherwise
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor &logits = saved[0], &targets = saved[1], &lse = saved[2];
    Tensor gx = Tensor::empty(logits.shape(), logits.dtype(), logits.device());
    kernels::cross_entropy_backward(logits, targets, lse, g, per_row, scale, ignore_index, gx);
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
  int64_t count = 0;  // non-ignored positions
  {
    const Tensor host = targets.to(kCPU);
    const int32_t* p = host.data<int32_t>();
    for (int64_t m = 0; m < N; ++m) {
      if (p[m] == ignore_index) continue;
      DASG_CHECK(p[m] >= 0 && p[m] < C, "cross_entropy: target ", p[m], " at position ",
                 position_str(targets.shape(), m), " of targets ", shape_str(targets.shape()),
                 " is out of range for C = ", C, " classes; expected 0 <= target < ", C,
                 " or target = ignore_index (", ignore_index, ")");
      ++count;
    }
  }
  Tensor losses = Tensor::empty(targets.shape(), logits.dtype(), logits.device());
  Tensor lse = Tensor::empty({N}, logits.dtype(), logits.device());
  kernels::cross_entropy(logits, targets, ignore_index, losses, lse);

  Tensor out = losses;
  double scale = 1;
  if (reduction != Reduction::none) {
    scale = reduction == Reduction::sum ? 1.0 : (count > 0 ? 1.0 / (double)count : 0.0);
    out = Tensor::empty({}, logits.dtype(), logits.device());
    kernels::sum_dim({1, N, 1}, losses, out, scale);
  }
  if (needs_grad({logits})) {
    auto n = std::make_shared<CrossEntropyBackward>();
    n->ignore_index = ignore_index;
    n->per_row = reduction == Reduction::none;
    n->scale = scale;
    n->saved = {logits.detach(), targets.detach(), lse};
    attach(out, n, {logits});
  }
  return out;
}

}  // namespace dasg
