// Optimizer kernels on the CPU (math in optim.hpp). Element-parallel, no temporaries.
// The multi-tensor forms cut all tensors into spans of kSpan elements (a tensor's last span may
// be shorter) and run every span of every tensor in one parallel loop.
#include <algorithm>
#include <cmath>
#include <vector>

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

namespace {
constexpr int64_t kSpan = 16384;

struct Span {
  int32_t tensor;
  int64_t begin, len;
};

template <class GetNumel>
std::vector<Span> spans_of(size_t n_tensors, GetNumel numel) {
  std::vector<Span> spans;
  for (size_t t = 0; t < n_tensors; ++t)
    for (int64_t b = 0, n = numel(t); b < n; b += kSpan) spans.push_back({(int32_t)t, b, std::min(kSpan, n - b)});
  return spans;
}

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

double sum_squares_all_cpu(const std::vector<Tensor>& gs) {
  if (gs.empty()) return 0;
  const std::vector<Span> spans = spans_of(gs.size(), [&](size_t t) { return gs[t].numel(); });
  std::vector<double> part(spans.size(), 0.0);
  int64_t total = 0;
  for (const Tensor& g : gs) total += g.numel();
#pragma omp parallel for schedule(static) if (total > kParallelGrain)
  for (size_t k = 0; k < spans.size(); ++k) {
    const Span& sp = spans[k];
    part[k] = dispatch_float(gs[(size_t)sp.tensor].dtype(), "sum_squares", [&]<class T>() {
      const T* pg = gs[(size_t)sp.tensor].data<T>() + sp.begin;
      double acc = 0;
      for (int64_t i = 0; i < sp.len; ++i) acc += (double)pg[i] * (double)pg[i];
      return acc;
    });
  }
  double s = 0;
  for (double p : part) s += p;
  return s;
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
