// Spans for multi-tensor CPU kernels: the elements of a list of tensors cut into pieces of at most
// kSpan elements (a tensor's last piece may be shorter), so one parallel loop over the spans
// covers every tensor, and per-span partial results combined in span order are the same for any
// thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

namespace dasg::kernels {

constexpr int64_t kSpan = 16384;

struct Span {
  int32_t tensor;       // index into the list
  int64_t begin, len;   // element range [begin, begin + len) of that tensor
};

// numel(t): the element count of tensor t of the n_tensors.
template <class GetNumel>
std::vector<Span> spans_of(size_t n_tensors, GetNumel numel) {
  std::vector<Span> spans;
  for (size_t t = 0; t < n_tensors; ++t)
    for (int64_t b = 0, n = numel(t); b < n; b += kSpan) spans.push_back({(int32_t)t, b, std::min(kSpan, n - b)});
  return spans;
}

}  // namespace dasg::kernels
