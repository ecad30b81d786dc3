// Embedding: gather rows of a table by integer ids, and the scatter-add that is its backward.
//   table: [V, D]   ids: i32, M positions (any shape)   out, g_out: [M, D]
//   forward:   out[m, :] = table[ids[m], :]
//   backward:  g_table[v, :] = Σ_{m : ids[m] = v} g_out[m, :]   (0 for ids that never occur)
// Ids must lie in [0, V): on the CPU ops/embedding checks them first; on CUDA the forward kernel
// checks them on the device (engine/cuda/range_check.hpp: reported at the next read of a result
// to the host; a bad id's output row is 0 and its backward adds nothing). Same message either way.
#pragma once
#include <string>

#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

inline std::string embedding_id_error(const Shape& ids_shape, int64_t m, int64_t id, int64_t V) {
  return detail::concat("embedding: id ", id, " at position ", position_str(ids_shape, m), " of ids ",
                        shape_str(ids_shape), " is out of range for a table of V = ", V, " rows; expected 0 <= id < ", V);
}

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
