// Global norm on the CPU (see global_norm.hpp): per tensor Σ x² in index order, tensors in list
// order, all in double.
#include <cmath>

#include "engine/kernels/global_norm.hpp"

namespace dasg::kernels {

void global_norm_cpu(const std::vector<Tensor>& tensors, Tensor& out) {
  double s = 0;
  for (const Tensor& t : tensors)
    dispatch_float(t.dtype(), "global_norm", [&]<class T>() {
      const T* p = t.data<T>();
      for (int64_t i = 0; i < t.numel(); ++i) s += (double)p[i] * (double)p[i];
    });
  dispatch_float(out.dtype(), "global_norm", [&]<class T>() { out.data<T>()[0] = (T)std::sqrt(s); });
}

}  // namespace dasg::kernels
