// Cross-entropy of logits against class targets, fused with the log-softmax:
//   logits: [N, C]   targets: [N] (i32)   losses, lse: [N]
//   lse_n    = ln Σ_c exp(logits[n, c])                     (computed as m + ln Σ exp(x − m))
//   losses_n = lse_n − logits[n, t_n],   or 0 where t_n = ignore_index
// Backward, with s_n the gradient reaching row n (g_n·scale or g·scale; 0 where ignored):
//   glogits[n, c] = s_n·(exp(logits[n, c] − lse_n) − [c = t_n])
// Targets lie in [0, C) or equal ignore_index: on the CPU ops/cross_entropy checks them before
// the kernel runs; the CUDA kernel checks them on the device (engine/cuda/range_check.hpp: a bad
// row gets loss 0 and the error is reported at the next read of a result to the host).
#pragma once
#include <string>

#include "engine/kernels/backend.hpp"
#include "engine/shape.hpp"

namespace dasg::kernels {

// The error for target `value` at flat position m of targets of shape `shape`, C classes.
inline std::string target_range_error(const Shape& shape, int64_t m, int64_t value, int64_t C, int64_t ignore_index) {
  return detail::concat("cross_entropy: target ", value, " at position ", position_str(shape, m), " of targets ",
                        shape_str(shape), " is out of range for C = ", C, " classes; expected 0 <= target < ", C,
                        " or target = ignore_index (", ignore_index, ")");
}

void cross_entropy_cpu(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Tensor& losses,
                       Tensor& lse);
// g holds one value per row ([N], per_row = true) or one for all rows (per_row = false);
// each row's gradient is g·scale.
void cross_entropy_backward_cpu(const Tensor& logits, const Tensor& targets, const Tensor& lse, const Tensor& g,
                                bool per_row, double scale, int64_t ignore_index, Tensor& glogits);
DASG_DECLARE_CUDA(void cross_entropy_cuda(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                          Tensor& losses, Tensor& lse);)
DASG_DECLARE_CUDA(void cross_entropy_backward_cuda(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                                   const Tensor& g, bool per_row, double scale,
                                                   int64_t ignore_index, Tensor& glogits);)

inline void cross_entropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index, Tensor& losses,
                          Tensor& lse) {
  DASG_BACKEND(logits, cross_entropy, logits, targets, ignore_index, losses, lse);
}
inline void cross_entropy_backward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                                   const Tensor& g, bool per_row, double scale, int64_t ignore_index,
                                   Tensor& glogits) {
  DASG_BACKEND(logits, cross_entropy_backward, logits, targets, lse, g, per_row, scale, ignore_index, glogits);
}

}  // namespace dasg::kernels
