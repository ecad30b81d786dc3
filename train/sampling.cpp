// Token sampling: temperature, top-k, top-p (see sampling.hpp).
#include "train/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.hpp"

namespace dasg {

int32_t sample_next(std::span<const float> logits, double temperature, int64_t top_k, Generator& gen, double top_p) {
  const int64_t V = (int64_t)logits.size();
  DASG_CHECK(V > 0, "sample_next: empty logits");
  DASG_CHECK(temperature >= 0 && std::isfinite(temperature), "sample_next: temperature ", temperature,
             "; expected a finite value >= 0 (0 = greedy)");
  DASG_CHECK(top_k >= 0, "sample_next: top_k ", top_k, "; expected >= 0 (0 = every token)");
  DASG_CHECK(top_p > 0 && top_p <= 1, "sample_next: top_p ", top_p, "; expected 0 < top_p <= 1 (1 = every token)");
  // Candidates: finite logits, by logit descending, ties to the lower id.
  std::vector<int32_t> ids;
  ids.reserve((size_t)V);
  for (int64_t i = 0; i < V; ++i)
    if (std::isfinite(logits[(size_t)i])) ids.push_back((int32_t)i);
  DASG_CHECK(!ids.empty(), "sample_next: no finite logit among ", V);
  auto better = [&](int32_t a, int32_t b) {
    return logits[(size_t)a] > logits[(size_t)b] || (logits[(size_t)a] == logits[(size_t)b] && a < b);
  };
  if (temperature == 0) return *std::min_element(ids.begin(), ids.end(), better);
  size_t k = top_k > 0 ? std::min<size_t>((size_t)top_k, ids.size()) : ids.size();
  std::partial_sort(ids.begin(), ids.begin() + (ptrdiff_t)k, ids.end(), better);
  ids.resize(k);
  const double top = logits[(size_t)ids[0]];
  std::vector<double> w(k);
  double total = 0;
  for (size_t i = 0; i < k; ++i) total += w[i] = std::exp(((double)logits[(size_t)ids[i]] - top) / temperature);
  // Nucleus: the candidates are sorted by p already; keep the shortest prefix with Σp ≥ top_p.
  size_t kept = k;
  if (top_p < 1) {
    double acc = 0;
    for (kept = 0; kept < k;) {
      acc += w[kept++];
      if (acc >= top_p * total) break;
    }
    total = acc;
  }
  k = kept;
  const double u = gen.next_uniform() * total;
  double acc = 0;
  for (size_t i = 0; i < k; ++i) {
    acc += w[i];
    if (u < acc) return ids[i];
  }
  return ids[k - 1];  // u rounded up to the total
}

}  // namespace dasg
