// Optimizer kernels on the CPU (math in optim.hpp). Element-parallel, no temporaries.
// AdamW is one multi-tensor loop: all tensors cut into spans (engine/kernels/spans.hpp), every
// span of every tensor in one parallel region; the one-tensor form is a list of one.
#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/kernels/optim.hpp"
#include "engine/kernels/spans.hpp"

namespace dasg::kernels {

namespace {
template <class T>
void adamw_span(T* pp, const T* pg, T* pm, T* pv, int64_t n, const AdamWStep& s, double weight_decay) {
  const T b1 = (T)s.beta1, b2 = (T)s.beta2, eps = (T)s.eps, lr = (T)s.lr, wd = (T)weight_decay;
  const T inv_c1 = T(1) / (T)s.c1, inv_c2 = T(1) / (T)s.c2;
  for (int64_t i = 0; i < n; ++i) {
    T gi = pg[i];
    pm[i] = b1 * pm[i] + (T(1) - b1) * gi;
    pv[i] = b2 * pv[i] + (T(1) - b2) * gi * gi;
    T update = (pm[i] * inv_c1) / (std::sqrt(pv[i] * inv_c2) + eps) + wd * pp[i];
    pp[i] -= lr * update;
  }
}
}  // namespace

void adamw_all_cpu(std::vector<AdamWParam>& params, const AdamWStep& s) {
  if (params.empty()) return;
  const DType dt = params[0].p.dtype();
  for (const AdamWParam& a : params)
    DASG_CHECK(a.p.dtype() == dt && a.g.dtype() == dt && a.m.dtype() == dt && a.v.dtype() == dt &&
                   a.g.numel() == a.p.numel() && a.m.numel() == a.p.numel() && a.v.numel() == a.p.numel(),
               "adamw_all: parameter ", a.p.str(), " with gradient ", a.g.str(), ", m ", a.m.str(), ", v ", a.v.str(),
               "; expected one dtype and equal sizes");
  const std::vector<Span> spans = spans_of(params.size(), [&](size_t t) { return params[t].p.numel(); });
  dispatch_float(dt, "adamw", [&]<class T>() {
    int64_t total = 0;
    for (const AdamWParam& a : params) total += a.p.numel();
#pragma omp parallel for schedule(static) if (total > kParallelGrain)
    for (size_t k = 0; k < spans.size(); ++k) {
      const Span& sp = spans[k];
      AdamWParam& a = params[(size_t)sp.tensor];
      adamw_span<T>(a.p.data<T>() + sp.begin, a.g.data<T>() + sp.begin, a.m.data<T>() + sp.begin,
                    a.v.data<T>() + sp.begin, sp.len, s, a.weight_decay);
    }
  });
}

void adamw_cpu(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamWStep& s) {
  std::vector<AdamWParam> one{{p, g, m, v, s.weight_decay}};
  adamw_all_cpu(one, s);
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

}  // namespace dasg::kernels
