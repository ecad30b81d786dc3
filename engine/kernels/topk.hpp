// Top-k over the last dimension, x seen as [rows, n]; values [rows, k], indices i32 [rows, k].
//
//   forward:  for each row r, the k positions j with the largest x[r, j], in descending order;
//             equal values go to the lower index first (DESIGN §7.5), NaN counts as the largest.
//             values[r, t] = x[r, indices[r, t]]
//   backward: gx[r, j] = g[r, t] if j = indices[r, t] for some t, else 0
//             (a row's indices are distinct, so this is a plain scatter).
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct TopkShape {
  int64_t rows = 1, n = 1, k = 1;
};

void topk_cpu(const TopkShape& s, const Tensor& x, Tensor& values, Tensor& indices);
void topk_backward_cpu(const TopkShape& s, const Tensor& g, const Tensor& indices, Tensor& gx);
DASG_DECLARE_CUDA(void topk_cuda(const TopkShape& s, const Tensor& x, Tensor& values, Tensor& indices);)
DASG_DECLARE_CUDA(void topk_backward_cuda(const TopkShape& s, const Tensor& g, const Tensor& indices, Tensor& gx);)

inline void topk(const TopkShape& s, const Tensor& x, Tensor& values, Tensor& indices) {
  DASG_BACKEND(x, topk, s, x, values, indices);
}
inline void topk_backward(const TopkShape& s, const Tensor& g, const Tensor& indices, Tensor& gx) {
  DASG_BACKEND(g, topk_backward, s, g, indices, gx);
}

// "a ranks before b": larger value first, NaN above everything, ties to the lower index.
template <class T>
inline bool topk_before(T a, int64_t ia, T b, int64_t ib) {
  const bool na = a != a, nb = b != b;
  if (na != nb) return na;
  if (!na && a != b) return a > b;
  return ia < ib;
}

}  // namespace dasg::kernels
