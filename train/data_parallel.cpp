// Data parallelism's pieces of the training loop (see data_parallel.hpp).
#include "train/data_parallel.hpp"

#include "autograd/node.hpp"
#include "engine/error.hpp"
#include "model/model.hpp"

namespace dasg {

Device rank_device(const std::string& device, const dist::Communicator& comm) {
  if (comm.size() > 1 && device == "cuda") return parse_device("cuda:" + std::to_string(comm.local_rank()));
  return parse_device(device);
}

void broadcast_parameters(dist::Communicator& comm, Model& model) {
  if (comm.size() == 1) return;
  std::vector<Tensor> all;
  for (const NamedTensor& t : model.parameters().all()) all.push_back(t.tensor);
  comm.broadcast(all, 0);
}

void all_reduce_gradients(dist::Communicator& comm, const std::vector<NamedParam>& params) {
  if (comm.size() == 1) return;
  NoGradGuard no_grad;
  // Which parameters have a gradient on some rank: one small sum first.
  std::vector<double> has(params.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].tensor.requires_grad() && params[i].tensor.grad().defined()) has[i] = 1;
  comm.all_reduce_sum(has);
  std::vector<Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (has[i] == 0) continue;
    Tensor p = params[i].tensor;
    if (!p.grad().defined()) p.set_grad(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    grads.push_back(p.grad());
  }
  comm.all_reduce_sum(grads);
}

uint64_t MicroBatchStreams::drawn(const Generator& gen, int64_t j) const {
  const uint64_t start = base_ + (uint64_t)j * kStride, used = gen.offset() - start;
  DASG_CHECK(gen.offset() >= start && used < kStride, "train: micro-batch ", j, " drew ", used,
             " random blocks, more than the ", kStride, " of its stream");
  return used;
}

}  // namespace dasg
