// embedding: out[m, :] = table[ids[m], :];  backward: g_table[v, :] = Σ_{m : ids[m] = v} g_out[m, :].
// The ids are checked on the host before any kernel runs (a bad id reads out of bounds).
#include "ops/embedding.hpp"

#include "autograd/node.hpp"
#include "engine/kernels/embedding.hpp"
#include "engine/profiler.hpp"

namespace dasg {

namespace {

struct EmbeddingBackward : Node {
  Shape table_shape;
  const char* name() const override { return "embedding"; }
  std::vector<Tensor> backward(const Tensor& g) override {
    const Tensor& ids = saved[0];
    Tensor gt = Tensor::empty(table_shape, g.dtype(), g.device());
    kernels::embedding_backward(g, ids, gt);
    return {gt};
  }
};

}  // namespace

Tensor embedding(const Tensor& table, const Tensor& ids) {
  DASG_PROFILE_OP("embedding");
  check_floating("embedding", table);
  DASG_CHECK(table.dim() == 2, "embedding: table is ", table.str(), "; expected a 2-D table [V, D]");
  DASG_CHECK(ids.dtype() == DType::i32, "embedding: ids are ", ids.str(), "; expected i32 ids");
  check_same_device("embedding", table, ids);
  DASG_CHECK(ids.dim() < kMaxDims, "embedding: ids ", ids.str(), " have ", ids.dim(), " dimensions; the output "
             "adds one and tensors have at most ", kMaxDims);
  const int64_t V = table.size(0), D = table.size(1);
  if (ids.device().is_cpu()) {  // on CUDA the kernel checks them on the device (kernels/embedding.hpp)
    const int32_t* p = ids.data<int32_t>();
    for (int64_t m = 0; m < ids.numel(); ++m)
      if (!(p[m] >= 0 && p[m] < V)) throw Error(kernels::embedding_id_error(ids.shape(), m, p[m], V));
  }
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, table.dtype(), table.device());
  kernels::embedding(table, ids, out);
  if (needs_grad({table})) {
    auto n = std::make_shared<EmbeddingBackward>();
    n->table_shape = table.shape();
    n->saved = {ids.detach()};
    attach(out, n, {table});
  }
  return out;
}

}  // namespace dasg
