// Layer normalisation over the last dimension, with x viewed as rows [N, D]:
//   μ_n = mean_d x[n, d],   rstd_n = 1/√(mean_d (x[n, d] − μ_n)² + eps)
//   x̂ = (x − μ)·rstd,       y = x̂·w + b             (w, b: [D]; either may be absent)
// Backward, with ĝ = dy·w (dy where w is absent):
//   dx = rstd·(ĝ − mean_d ĝ − x̂·mean_d(ĝ·x̂)),   dw = Σ_n dy·x̂,   db = Σ_n dy
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

// y, and the per-row mean and rstd ([N], the dtype of x) that the backward reuses.
// w and b may be undefined Tensors (no scale / no shift).
void layer_norm_cpu(const Tensor& x, const Tensor& w, const Tensor& b, double eps, Tensor& y, Tensor& mean,
                    Tensor& rstd);
// dx, dw, db in one pass over the rows; any of them may be undefined (not wanted).
// dw and db are reduced over rows in a fixed order, so the result does not depend on threads.
void layer_norm_backward_cpu(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                             const Tensor& gy, Tensor& gx, Tensor& gw, Tensor& gb);
DASG_DECLARE_CUDA(void layer_norm_cuda(const Tensor& x, const Tensor& w, const Tensor& b, double eps, Tensor& y,
                                       Tensor& mean, Tensor& rstd);)
DASG_DECLARE_CUDA(void layer_norm_backward_cuda(const Tensor& x, const Tensor& w, const Tensor& mean,
                                                const Tensor& rstd, const Tensor& gy, Tensor& gx, Tensor& gw,
                                                Tensor& gb);)

inline void layer_norm(const Tensor& x, const Tensor& w, const Tensor& b, double eps, Tensor& y, Tensor& mean,
                       Tensor& rstd) {
  DASG_BACKEND(x, layer_norm, x, w, b, eps, y, mean, rstd);
}
inline void layer_norm_backward(const Tensor& x, const Tensor& w, const Tensor& mean, const Tensor& rstd,
                                const Tensor& gy, Tensor& gx, Tensor& gw, Tensor& gb) {
  DASG_BACKEND(x, layer_norm_backward, x, w, mean, rstd, gy, gx, gw, gb);
}

}  // namespace dasg::kernels
