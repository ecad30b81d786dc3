// Global norm on the CPU (see global_norm.hpp): the tensors cut into spans (spans.hpp), Σ x² of
// each span in index order in double, in parallel over the spans, then the spans' sums added in
// span order — the same bits for any thread count.
#include <cmath>
#include <vector>

#include "engine/kernels/global_norm.hpp"
#include "engine/kernels/spans.hpp"

namespace dasg::kernels {

void global_norm_cpu(const std::vector<Tensor>& tensors, Tensor& out) {
  const std::vector<Span> spans = spans_of(tensors.size(), [&](size_t t) { return tensors[t].numel(); });
  std::vector<double> part(spans.size(), 0.0);
  int64_t total = 0;
  for (const Tensor& t : tensors) total += t.numel();
#pragma omp parallel for schedule(static) if (total > kParallelGrain)
  for (size_t k = 0; k < spans.size(); ++k) {
    const Span& sp = spans[k];
    const Tensor& t = tensors[(size_t)sp.tensor];
    part[k] = dispatch_float(t.dtype(), "global_norm", [&]<class T>() {
      const T* p = t.data<T>() + sp.begin;
      double acc = 0;
      for (int64_t i = 0; i < sp.len; ++i) acc += (double)p[i] * (double)p[i];
      return acc;
    });
  }
  double s = 0;
  for (double p : part) s += p;
  dispatch_float(out.dtype(), "global_norm", [&]<class T>() { out.data<T>()[0] = (T)std::sqrt(s); });
}

}  // namespace dasg::kernels
