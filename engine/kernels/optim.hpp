// Optimizer kernels, one fused pass over a parameter each:
//   adamw:  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//           p −= lr·( (m/c1) / (√(v/c2) + eps) + wd·p )     c1 = 1−β1^t, c2 = 1−β2^t
//   sgd:    buf = μ·buf + g + wd·p;  p −= lr·buf            (μ = 0: plain SGD)
//   sum_squares: Σ g²  (double accumulation), for global-norm clipping and finiteness checks.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct AdamWStep {
  double lr, beta1, beta2, eps, weight_decay, c1, c2;
};

void adamw_cpu(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s);
void sgd_cpu(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay);
double sum_squares_cpu(const Tensor& g);
DASG_DECLARE_CUDA(void adamw_cuda(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s);)
DASG_DECLARE_CUDA(void sgd_cuda(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay);)
DASG_DECLARE_CUDA(double sum_squares_cuda(const Tensor& g);)

inline void adamw(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s) {
  DASG_BACKEND(p, adamw, p, g, m, v, s);
}
inline void sgd(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay) {
  DASG_BACKEND(p, sgd, p, g, buf, lr, momentum, weight_decay);
}
inline double sum_squares(const Tensor& g) {
#ifdef DASG_WITH_CUDA
  if (g.device().is_cuda()) return sum_squares_cuda(g);
#endif
  DASG_CHECK(g.device().is_cpu(), "sum_squares: ", g.str(), " needs the CUDA backend, which this build lacks");
  return sum_squares_cpu(g);
}

}  // namespace dasg::kernels
