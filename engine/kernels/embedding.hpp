// Embedding: gather rows of a table by integer ids, and the scatter-add that is its backward.
//   table: [V, D]   ids: i32, M positions (any shape)   out, g_out: [M, D]
//   forward:   out[m, :] = table[ids[m], :]
//   backward:  g_table[v, :] = Σ_{m : ids[m] = v} g_out[m, :]   (0 for ids that never occur)
// The ids must already be checked to lie in [0, V) (ops/embedding does it, naming the culprit).
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void embedding_cpu(const Tensor& table, const Tensor& ids, Tensor& out);
// Overwrites g_table (zeros it first). Sums in position order, so duplicates are deterministic.
void embedding_backward_cpu(const Tensor& g_out, const Tensor& ids, Tensor& g_table);
DASG_DECLARE_CUDA(void embedding_cuda(const Tensor& table, const Tensor& ids, Tensor& out);)
DASG_DECLARE_CUDA(void embedding_backward_cuda(const Tensor& g_out, const Tensor& ids, Tensor& g_table);)

inline void embedding(const Tensor& table, const Tensor& ids, Tensor& out) {
  DASG_BACKEND(table, embedding, table, ids, out);
}
inline void embedding_backward(const Tensor& g_out, const Tensor& ids, Tensor& g_table) {
  DASG_BACKEND(g_table, embedding_backward, g_out, ids, g_table);
}

}  // namespace dasg::kernels
