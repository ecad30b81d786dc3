// Optimizer kernels, one fused pass over a parameter each:
//   adamw:  m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;
//           p −= lr·( (m/c1) / (√(v/c2) + eps) + wd·p )     c1 = 1−β1^t, c2 = 1−β2^t
//   sgd:    buf = μ·buf + g + wd·p;  p −= lr·buf            (μ = 0: plain SGD)
// adamw_all does every parameter of a model in one parallel region (CPU): the elements of all
// tensors are cut into fixed spans spread over the threads. Other devices: one call each.
// (The global norm for clipping is engine/kernels/global_norm.hpp.)
#pragma once
#include <vector>

#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct AdamWStep {
  double lr, beta1, beta2, eps, weight_decay, c1, c2;
};

// One parameter of a multi-tensor AdamW step: its own weight decay (0 for norms, biases, embeddings).
struct AdamWParam {
  Tensor p, g, m, v;
  double weight_decay = 0;
};

void adamw_all_cpu(std::vector<AdamWParam>& params, const AdamWStep& s);  // s.weight_decay unused
void adamw_cpu(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s);
void sgd_cpu(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay);
DASG_DECLARE_CUDA(void adamw_cuda(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s);)
DASG_DECLARE_CUDA(void sgd_cuda(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay);)

inline void adamw(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s) {
  DASG_BACKEND(p, adamw, p, g, m, v, s);
}
inline void sgd(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay) {
  DASG_BACKEND(p, sgd, p, g, buf, lr, momentum, weight_decay);
}
inline void adamw_all(std::vector<AdamWParam>& params, const AdamWStep& s) {
  bool cpu = true;
  for (const AdamWParam& a : params) cpu = cpu && a.p.device().is_cpu();
  if (cpu) return adamw_all_cpu(params, s);
  for (AdamWParam& a : params) {
    AdamWStep one = s;
    one.weight_decay = a.weight_decay;
    adamw(a.p, a.g, a.m, a.v, one);
  }
}

}  // namespace dasg::kernels
