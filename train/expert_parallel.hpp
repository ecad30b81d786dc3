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
// Every rank holds every parameter (the file layout and the optimizer's list stay those of one
// process); another rank's expert is neither read nor trained here, and is brought up to date from
// its rank (sync_experts) whenever all of them are read: before the DSSE transfer (deep e copies
// shallow e mod n_shallow), evaluation and a checkpoint. A checkpoint therefore holds what one
// process would write (rank 0 also gathers the experts' optimizer moments) and loads back on any
// number of ranks, each then training its own experts from it.
#pragma once
#include <map>
#include <memory>
#include <string>
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

// Every rank's copy of every expert's parameters becomes its rank's.
void sync_experts(dist::Communicator& comm, Model& model);

// The optimizer state one process would hold: this rank's, with every expert's slots replaced by
// its rank's (collective; the result is complete on every rank).
std::map<std::string, Tensor> gather_expert_state(dist::Communicator& comm, const Model& model,
                                                  const Optimizer& opt);

}  // namespace dasg
