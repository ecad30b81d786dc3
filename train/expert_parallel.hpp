// Expert parallelism's pieces of the training loop (train/trainer.hpp, TrainOptions::expert_parallel),
// over a dist::Communicator of W ranks. Each rank runs its own micro-batches as in data
// parallelism (train/data_parallel.hpp), except that the dasg and switch experts are spread over
// the ranks (rank r runs experts [r·E/W, (r+1)·E/W) of each tier of E, model/experts.hpp): the
// layer's tokens go to their experts' ranks and the outputs come back by an all-to-all-v of rows
// (ops/exchange.hpp over comm_exchange below), and the backward makes the reverse exchanges. So an
// expert's gradient, on its rank, is already the sum over every rank's tokens: expert gradients
// are not all-reduced, everything else is. The step then equals the data-parallel step (and one
// process with grad_accum W·A), to round-off.
//
// Memory is divided: once the run's starting parameters are in place (built or loaded whole, then
// rank 0's broadcast), every rank releases the other ranks' experts (keep_own_experts:
// Tensor::release_, the registry keeps their names and shapes), so a rank holds the replicated
// parameters and 1/W of the experts, and its optimizer holds moments for those alone. Nothing else
// reads another rank's expert, with three exceptions, each brief:
//   - evaluation runs with the exchange on, every rank on the same batches (no expert is copied);
//   - the DSSE transfer (deep e copies shallow e mod n_shallow) holds every shallow expert for the
//     copy (share_experts, a broadcast from each owner), then releases them again;
//   - a checkpoint: rank 0 gathers every expert and its optimizer moments (gather_experts), writes
//     one process's file layout and drops them. The file loads back on any number of ranks.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dist/communicator.hpp"
#include "ops/exchange.hpp"
#include "train/optimizer.hpp"

namespace dasg {

class Model;

// The ops' RowExchange over `comm` (CUDA rows are staged through the host).
std::shared_ptr<RowExchange> comm_exchange(std::shared_ptr<dist::Communicator> comm);

// The parameters of `params` every rank computes (all-reduced), and those of this rank's experts.
struct ExpertSplit {
  std::vector<NamedParam> replicated, own_experts;
};
ExpertSplit split_experts(const Model& model, const std::vector<NamedParam>& params, const dist::Communicator& comm);

// Releases every expert parameter of another rank (Model::expert_rank_of over comm.size()).
void keep_own_experts(const dist::Communicator& comm, Model& model);

// Every rank holds the experts whose names contain `tier` (".ffn.shallow.", say; "" for all),
// with their owners' values (a broadcast from each rank). keep_own_experts releases them again.
void share_experts(dist::Communicator& comm, Model& model, const std::string& tier);

// What one process would save: on rank 0 every parameter (in registration order) and every
// optimizer slot, the other ranks' experts and moments gathered from them (host tensors); empty on
// the other ranks. Collective.
struct GatheredState {
  std::vector<std::pair<std::string, Tensor>> model;
  std::map<std::string, Tensor> optim;
};
GatheredState gather_experts(dist::Communicator& comm, const Model& model, const Optimizer& opt);

// The entries of a whole-model optimizer state (a checkpoint's) for the parameters this rank
// holds: what its optimizer loads on resume.
std::map<std::string, Tensor> held_state(const Model& model, const std::map<std::string, Tensor>& state);

}  // namespace dasg
