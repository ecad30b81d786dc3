// softmax / log_softmax over the last dimension, with x viewed as rows [N, C]:
//   softmax:      y[n, c] = exp(x[n, c] − m_n) / Σ_j exp(x[n, j] − m_n),   m_n = max_j x[n, j]
//   log_softmax:  y[n, c] = x[n, c] − m_n − ln Σ_j exp(x[n, j] − m_n)
// Backward from the saved output y and the incoming gradient gy (both [N, C]):
//   softmax:      gx = y ⊙ (gy − Σ_c gy·y)
//   log_softmax:  gx = gy − exp(y)·Σ_c gy
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

// y = softmax(x) or log_softmax(x) (log = true), rows of length C = x's last dimension.
void softmax_cpu(const Tensor& x, Tensor& y, bool log);
// gx from the forward output y and gy; all three of the same shape.
void softmax_backward_cpu(const Tensor& y, const Tensor& gy, Tensor& gx, bool log);
DASG_DECLARE_CUDA(void softmax_cuda(const Tensor& x, Tensor& y, bool log);)
DASG_DECLARE_CUDA(void softmax_backward_cuda(const Tensor& y, const Tensor& gy, Tensor& gx, bool log);)

inline void softmax(const Tensor& x, Tensor& y, bool log) { DASG_BACKEND(x, softmax, x, y, log); }
inline void softmax_backward(const Tensor& y, const Tensor& gy, Tensor& gx, bool log) {
  DASG_BACKEND(gy, softmax_backward, y, gy, gx, log);
}

}  // namespace dasg::kernels
