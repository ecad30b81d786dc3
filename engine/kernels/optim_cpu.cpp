// Optimizer kernels on the CPU (math in optim.hpp). Element-parallel, no temporaries.
#include <cmath>

#include "engine/kernels/optim.hpp"

namespace dasg::kernels {

void adamw_cpu(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s) {
  dispatch_float(p.dtype(), "adamw", [&]<class T>() {
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pm = m.data<T>();
    T* pv = v.data<T>();
    const T b1 = (T)s.beta1, b2 = (T)s.beta2, eps = (T)s.eps, lr = (T)s.lr, wd = (T)s.weight_decay;
    const T inv_c1 = T(1) / (T)s.c1, inv_c2 = T(1) / (T)s.c2;
    const int64_t n = p.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      T gi = pg[i];
      pm[i] = b1 * pm[i] + (T(1) - b1) * gi;
      pv[i] = b2 * pv[i] + (T(1) - b2) * gi * gi;
      T update = (pm[i] * inv_c1) / (std::sqrt(pv[i] * inv_c2) + eps) + wd * pp[i];
      pp[i] -= lr * update;
    }
  });
}

void sgd_cpu(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double weight_decay) {
  dispatch_float(p.dtype(), "sgd", [&]<class T>() {
    T* pp = p.data<T>();
    const T* pg = g.data<T>();
    T* pb = buf.data<T>();
    const T mu = (T)momentum, l = (T)lr, wd = (T)weight_decay;
    const int64_t n = p.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      pb[i] = mu * pb[i] + pg[i] + wd * pp[i];
      pp[i] -= l * pb[i];
    }
  });
}

double sum_squares_cpu(const Tensor& g) {
  return dispatch_float(g.dtype(), "sum_squares", [&]<class T>() {
    const T* pg = g.data<T>();
    const int64_t n = g.numel();
    double s = 0;
#pragma omp parallel for reduction(+ : s) if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) s += (double)pg[i] * (double)pg[i];
    return s;
  });
}

}  // namespace dasg::kernels
