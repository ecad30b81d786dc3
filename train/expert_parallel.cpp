// Expert parallelism's pieces of the training loop (see expert_parallel.hpp).
#include "train/expert_parallel.hpp"

#include <sstream>

#include "autograd/node.hpp"
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

void sync_experts(dist::Communicator& comm, Model& model) {
  NoGradGuard no_grad;
  std::vector<std::vector<Tensor>> by_rank((size_t)comm.size());
  for (const NamedTensor& t : model.parameters().all()) {
    const int owner = model.expert_rank_of(t.name, comm.size());
    if (owner >= 0) by_rank[(size_t)owner].push_back(t.tensor.detach());
  }
  for (int root = 0; root < comm.size(); ++root) comm.broadcast(by_rank[(size_t)root], root);
}

std::map<std::string, Tensor> gather_expert_state(dist::Communicator& comm, const Model& model,
                                                  const Optimizer& opt) {
  std::map<std::string, Tensor> state = opt.state();
  const auto param = [&](const std::string& key) { return key.substr(key.find('.') + 1); };
  for (int root = 0; root < comm.size(); ++root) {
    // The keys root holds for its experts, one a line, then their tensors.
    std::string keys;
    if (comm.rank() == root)
      for (const auto& [key, t] : opt.state())
        if (model.expert_rank_of(param(key), comm.size()) == root) keys += key + "\n";
    comm.broadcast(keys, root);
    std::vector<Tensor> tensors;
    std::istringstream lines(keys);
    for (std::string key; std::getline(lines, key);) {
      if (comm.rank() != root) {
        const Tensor p = model.parameters().get(param(key));
        state[key] = Tensor::zeros(p.shape(), p.dtype(), p.device());
      }
      tensors.push_back(state[key]);
    }
    comm.broadcast(tensors, root);
  }
  return state;
}

}  // namespace dasg
