// Data parallelism for the one training loop (train/trainer.hpp), over a dist::Communicator.
// With N ranks a step of grad_accum A runs the same J = N·A micro-batches as one process with
// grad_accum N·A: global micro-batch j = a·N + r runs on rank r as its a-th, reads the j-th batch
// of the one seed-derived data order (every rank reads them all and keeps its own), and draws
// its random numbers from stream j (below). Each rank backpropagates (its loss)/(N·A), the
// gradients are summed over ranks once per step, and the step's loss terms, counters and the
// routing statistics are summed over ranks before anything is decided or logged, so the
// clipping norm, the non-finite guard, the evaluator statistics, the baselines and the metrics
// are those of the global batch. Parameters start as rank 0's. Nothing of N is saved: a
// checkpoint resumes with any N (the same J continues the same data and random streams).
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/node.hpp"

#include "dist/communicator.hpp"
#include "engine/device.hpp"
#include "engine/rng.hpp"
#include "train/optimizer.hpp"

namespace dasg {

class Model;

// The device of this rank: "cuda" with several ranks means cuda:<local rank>; anything else as given.
Device rank_device(const std::string& device, const dist::Communicator& comm);

// Every parameter and buffer of `model` becomes rank 0's (no-op in a world of 1).
void broadcast_parameters(dist::Communicator& comm, Model& model);

// Σ over ranks of the trainable parameters' gradients, bucketed. A gradient some rank lacks
// (none of its micro-batches reached the parameter) counts as zero there; a parameter that no
// rank reached keeps no gradient, so the optimizer skips it as it would in one process. The
// trainer overlaps the same reduction with its last backward (OverlappedGradients below).
void all_reduce_gradients(dist::Communicator& comm, const std::vector<NamedParam>& params);

// all_reduce_gradients overlapped with the step's last backward: the trainable parameters'
// gradients, taken in reverse order (the last layers' become final first), form buckets of at
// most bucket_bytes; each bucket starts its nonblocking all-reduce (Communicator::
// start_all_reduce_sum) once every gradient in it is final and the buckets before it have
// started (the same order on every rank), so communication runs under the rest of the
// backward. Each bucket carries one flag per parameter (1 where this rank has a gradient), so a
// parameter no rank reached keeps no gradient, as in all_reduce_gradients; the sums are the same.
//   OverlappedGradients og(comm, params, bytes);
//   backward_with_hook(loss, {}, false, og.hook());   // the step's last micro-batch
//   og.finish();                                      // the rest started, all waited for, copied back
class OverlappedGradients {
 public:
  OverlappedGradients(dist::Communicator& comm, const std::vector<NamedParam>& params, int64_t bucket_bytes);
  // Left without finish() (an exception between the backward and the update, on every rank):
  // the buckets still start and complete, so the ranks' started reductions stay matched.
  ~OverlappedGradients();
  OverlappedGradients(const OverlappedGradients&) = delete;
  OverlappedGradients& operator=(const OverlappedGradients&) = delete;
  LeafHook hook();
  void finish();
  int64_t buckets() const { return (int64_t)buckets_.size(); }
  int64_t started() const { return (int64_t)next_; }  // buckets whose reduction has started

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t ready = 0;
    Tensor flat;  // the gradients, then one flag per parameter
  };
  void launch_ready();
  dist::Communicator& comm_;
  std::vector<Tensor> params_;
  std::vector<Bucket> buckets_;
  std::unordered_map<const TensorImpl*, size_t> bucket_of_;  // parameter -> its bucket
  size_t next_ = 0;  // the first bucket not started
  bool finished_ = false;
};

// The random streams of a step's micro-batches: micro-batch j draws from Philox blocks
// [base + j·kStride, ...) where base is the generator's offset at the step's start, and the step
// leaves the offset where the last one (j = J−1) stopped. With J = 1 this is one uninterrupted
// stream, as a single micro-batch always drew.
class MicroBatchStreams {
 public:
  static constexpr uint64_t kStride = 1ull << 38;
  explicit MicroBatchStreams(const Generator& gen) : base_(gen.offset()) {}
  // Points gen at micro-batch j's stream.
  void begin(Generator& gen, int64_t j) const { gen.set_state(gen.seed(), base_ + (uint64_t)j * kStride); }
  // After micro-batch j's forward: the blocks it drew (checked below kStride).
  uint64_t drawn(const Generator& gen, int64_t j) const;
  // After the step: gen continues after the last micro-batch (j = J−1), which drew `last_drawn`.
  void end(Generator& gen, int64_t J, uint64_t last_drawn) const {
    gen.set_state(gen.seed(), base_ + (uint64_t)(J - 1) * kStride + last_drawn);
  }

 private:
  uint64_t base_;
};

}  // namespace dasg
