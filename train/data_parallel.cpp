// Data parallelism's pieces of the training loop (see data_parallel.hpp).
#include "train/data_parallel.hpp"

#include "autograd/node.hpp"
#include "dist/buckets.hpp"
#include "engine/error.hpp"
#include "model/model.hpp"
#include "ops/shape.hpp"

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
  // Which parameters have a gradient on some rank: one small sum first, so that none is sent as
  // zeros by every rank.
  std::vector<double> has(params.size(), 0.0);
  for (size_t i = 0; i < params.size(); ++i)
    if (params[i].tensor.requires_grad() && params[i].tensor.grad().defined()) has[i] = 1;
  comm.all_reduce_sum(has);
  std::vector<NamedParam> reached;
  for (size_t i = 0; i < params.size(); ++i)
    if (has[i] > 0) reached.push_back(params[i]);
  OverlappedGradients all(comm, reached, comm.bucket_bytes());
  all.finish();  // every bucket started now, none overlapped
}

OverlappedGradients::OverlappedGradients(dist::Communicator& comm, const std::vector<NamedParam>& params,
                                         int64_t bucket_bytes)
    : comm_(comm) {
  for (size_t i = params.size(); i-- > 0;)
    if (params[i].tensor.requires_grad()) params_.push_back(params[i].tensor);
  for (std::vector<size_t>& in : dist::plan_buckets(params_, bucket_bytes)) {
    for (size_t i : in) bucket_of_[&params_[i].impl()] = buckets_.size();
    buckets_.emplace_back();
    buckets_.back().params = std::move(in);
  }
}

OverlappedGradients::~OverlappedGradients() {
  if (finished_) return;
  for (Bucket& b : buckets_) b.ready = (int64_t)b.params.size();
  launch_ready();
  comm_.finish_started();
}

LeafHook OverlappedGradients::hook() {
  return [this](const Tensor& leaf) {
    auto it = bucket_of_.find(&leaf.impl());
    if (it != bucket_of_.end()) {
      ++buckets_[it->second].ready;
      launch_ready();
    }
    comm_.progress();
  };
}

// Starts, in order, every bucket whose gradients are all final.
void OverlappedGradients::launch_ready() {
  NoGradGuard no_grad;
  while (next_ < buckets_.size() && buckets_[next_].ready >= (int64_t)buckets_[next_].params.size()) {
    Bucket& b = buckets_[next_++];
    const Tensor& first = params_[b.params[0]];
    std::vector<Tensor> parts;
    for (size_t i : b.params) {
      const Tensor& p = params_[i];
      parts.push_back(p.grad().defined() ? reshape(p.grad(), {p.numel()})
                                         : Tensor::zeros({p.numel()}, p.dtype(), p.device()));
    }
    std::vector<double> flags;
    for (size_t i : b.params) flags.push_back(params_[i].grad().defined() ? 1.0 : 0.0);
    parts.push_back(Tensor::from_vector(flags, {(int64_t)flags.size()}, kCPU).to(first.dtype()).to(first.device()));
    b.flat = concat(parts, 0);
    comm_.start_all_reduce_sum(b.flat);
  }
}

void OverlappedGradients::finish() {
  for (Bucket& b : buckets_) b.ready = (int64_t)b.params.size();  // those no backward reached
  launch_ready();
  comm_.finish_started();
  finished_ = true;
  NoGradGuard no_grad;
  for (Bucket& b : buckets_) {
    int64_t at = 0;
    const int64_t total = b.flat.numel(), n_flags = (int64_t)b.params.size();
    const std::vector<double> flags = slice(b.flat, 0, total - n_flags, n_flags).to(DType::f64).to(kCPU).to_vector<double>();
    for (size_t k = 0; k < b.params.size(); ++k) {
      Tensor p = params_[b.params[k]];
      const int64_t n = p.numel();
      if (flags[k] > 0) {
        if (!p.grad().defined()) p.set_grad(Tensor::zeros(p.shape(), p.dtype(), p.device()));
        p.grad().copy_from(reshape(slice(b.flat, 0, at, n), p.shape()));
      }
      at += n;
    }
  }
}

uint64_t MicroBatchStreams::drawn(const Generator& gen, int64_t j) const {
  const uint64_t start = base_ + (uint64_t)j * kStride, used = gen.offset() - start;
  DASG_CHECK(gen.offset() >= start && used < kStride, "train: micro-batch ", j, " drew ", used,
             " random blocks, more than the ", kStride, " of its stream");
  return used;
}

}  // namespace dasg
