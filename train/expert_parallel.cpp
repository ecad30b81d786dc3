// Expert parallelism's pieces of the training loop (see expert_parallel.hpp).
#include "train/expert_parallel.hpp"

#include <sstream>

#include "autograd/node.hpp"
#include "dist/buckets.hpp"
#include "engine/error.hpp"
#include "model/model.hpp"

namespace dasg {

namespace {

class CommExchange final : public RowExchange {
 public:
  explicit CommExchange(std::shared_ptr<dist::Communicator> comm) : comm_(std::move(comm)) {}
  int rank() const override { return comm_->rank(); }
  int size() const override { return comm_->size(); }
  Tensor exchange(const Tensor& rows, const std::vector<int64_t>& send_counts,
                  std::vector<int64_t>& recv_counts) override {
    if (rows.device().is_cpu()) return comm_->all_to_all_rows(rows, send_counts, recv_counts);
    return comm_->all_to_all_rows(rows.to(kCPU), send_counts, recv_counts).to(rows.device());
  }

 private:
  std::shared_ptr<dist::Communicator> comm_;
};

}  // namespace

std::shared_ptr<RowExchange> comm_exchange(std::shared_ptr<dist::Communicator> comm) {
  return std::make_shared<CommExchange>(std::move(comm));
}

ExpertSplit split_experts(const Model& model, const std::vector<NamedParam>& params, const dist::Communicator& comm) {
  ExpertSplit s;
  for (const NamedParam& p : params) {
    const int owner = model.expert_rank_of(p.name, comm.size());
    if (owner < 0) s.replicated.push_back(p);
    else if (owner == comm.rank()) s.own_experts.push_back(p);
  }
  return s;
}

void keep_own_experts(const dist::Communicator& comm, Model& model) {
  for (const NamedTensor& t : model.parameters().all()) {
    const int owner = model.expert_rank_of(t.name, comm.size());
    if (owner >= 0 && owner != comm.rank()) Tensor(t.tensor).release_();
  }
}

void share_experts(dist::Communicator& comm, Model& model, const std::string& tier) {
  NoGradGuard no_grad;
  std::vector<std::vector<Tensor>> by_rank((size_t)comm.size());
  for (const NamedTensor& t : model.parameters().all()) {
    const int owner = model.expert_rank_of(t.name, comm.size());
    if (owner < 0 || t.name.find(tier) == std::string::npos) continue;
    Tensor(t.tensor).hold_();
    by_rank[(size_t)owner].push_back(t.tensor.detach());
  }
  for (int root = 0; root < comm.size(); ++root) comm.broadcast(by_rank[(size_t)root], root);
}

namespace {

// "<slot>.<parameter>" → "<parameter>".
std::string param_of(const std::string& key) { return key.substr(key.find('.') + 1); }

}  // namespace

GatheredState gather_experts(dist::Communicator& comm, const Model& model, const Optimizer& opt) {
  NoGradGuard no_grad;
  const Parameters& params = model.parameters();
  const int W = comm.size(), me = comm.rank();
  std::map<std::string, Tensor> got;  // rank 0: the other ranks' experts ("p <name>") and slots ("s <key>")
  for (int root = 1; root < W; ++root) {
    // The names root sends, one a line: its experts' parameters, then their optimizer slots (only
    // root knows which have state: a frozen or never-reached parameter has none).
    std::string names;
    if (me == root) {
      for (const NamedTensor& t : params.all())
        if (model.expert_rank_of(t.name, W) == root) names += "p " + t.name + "\n";
      for (const auto& [key, t] : opt.state())
        if (model.expert_rank_of(param_of(key), W) == root) names += "s " + key + "\n";
    }
    comm.broadcast(names, root);
    // Every rank knows their shapes (the registry keeps a released tensor's), so every rank plans
    // the same buckets; root sends each to rank 0 by an all-to-all with rows for rank 0 alone.
    std::vector<std::string> keys;
    std::vector<Tensor> tensors;
    std::istringstream lines(names);
    for (std::string line; std::getline(lines, line);) {
      keys.push_back(line);
      const Tensor p = params.get(line[0] == 'p' ? line.substr(2) : param_of(line.substr(2)));
      tensors.push_back(me == root && line[0] == 's' ? opt.state().at(line.substr(2)) : p);
    }
    for (const std::vector<size_t>& bucket : dist::plan_buckets(tensors, comm.bucket_bytes())) {
      const DType dtype = tensors[bucket[0]].dtype();
      int64_t n = 0;
      for (size_t i : bucket) n += tensors[i].numel();
      std::vector<int64_t> send((size_t)W, 0), recv;
      Tensor rows = Tensor::empty({me == root ? n : 0, 1}, dtype, kCPU);
      if (me == root) {
        send[0] = n;
        char* at = static_cast<char*>(rows.raw_data());
        for (size_t i : bucket) {
          copy_bytes(at, kCPU, tensors[i].raw_data(), tensors[i].device(), tensors[i].nbytes());
          at += tensors[i].nbytes();
        }
      }
      const Tensor in = comm.all_to_all_rows(rows, send, recv);
      if (me != 0) continue;
      DASG_CHECK(in.size(0) == n, "expert parallel: rank 0 gathered ", in.size(0), " values of rank ", root,
                 "'s experts; expected ", n);
      const char* at = static_cast<const char*>(in.raw_data());
      for (size_t i : bucket) {
        Tensor t = Tensor::empty(tensors[i].shape(), dtype, kCPU);
        copy_bytes(t.raw_data(), kCPU, at, kCPU, t.nbytes());
        at += t.nbytes();
        got[keys[i]] = t;
      }
    }
  }
  GatheredState out;
  if (me != 0) return out;
  for (const NamedTensor& t : params.all()) {
    if (!t.tensor.released()) {
      out.model.emplace_back(t.name, t.tensor.detach());
      continue;
    }
    auto it = got.find("p " + t.name);
    DASG_CHECK(it != got.end(), "expert parallel: rank 0 gathered no values for '", t.name, "'");
    out.model.emplace_back(t.name, it->second);
  }
  out.optim = opt.state();
  for (const auto& [key, t] : got)
    if (key[0] == 's') out.optim[key.substr(2)] = t;
  return out;
}

std::map<std::string, Tensor> held_state(const Model& model, const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (const auto& [key, t] : state)
    if (!model.parameters().get(param_of(key)).released()) out[key] = t;
  return out;
}

}  // namespace dasg
