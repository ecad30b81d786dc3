// Communicator: the processes of one run and the collectives between them, on engine tensors —
// the layer below train/ that data parallelism is built on (DESIGN §2: dist → engine; it knows
// no graph and no model). Backends:
//   - single process (world 1): every collective is the identity and no MPI call is made; what
//     `dasg` runs without a launcher, exactly as before this layer existed;
//   - MPI (dist/mpi_communicator.cpp, built where CMake finds MPI): host buffers, CPU tensors,
//     and CUDA tensors staged through the host where NCCL is absent;
//   - NCCL (dist/nccl_reduce.cpp, native CUDA builds that find NCCL): CUDA tensors, its
//     communicator set up through MPI (rank 0's unique id broadcast).
// The backend of a collective is chosen by the tensors' device. Every rank must make the same
// collectives in the same order with the same shapes and dtypes (MPI's rule).
//
// A collective that has not completed after `timeout_s` seconds (a rank died or hangs) prints
// which one and aborts every rank (MPI_Abort), so a broken run exits with an error, never hangs.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg::dist {

struct CommOptions {
  double timeout_s = 600;               // a collective waiting longer aborts the run
  int64_t bucket_bytes = 32ll << 20;    // all-reduce buffers: tensors are flattened into buckets of at most this
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // The rank among the processes of this machine (picks the GPU), 0 without a launcher.
  virtual int local_rank() const = 0;
  // The all-reduce buffers' size limit (CommOptions::bucket_bytes).
  virtual int64_t bucket_bytes() const = 0;
  // What runs the collectives ("single process", "MPI (Open MPI ...)"), for the run's banner.
  virtual std::string backend() const = 0;

  // Σ over ranks, in place, of every tensor of `tensors` (f32 or f64, all on one device): they
  // are flattened into contiguous buckets of at most bucket_bytes, one reduction per bucket.
  virtual void all_reduce_sum(const std::vector<Tensor>& tensors) = 0;
  // Nonblocking Σ over ranks of one contiguous tensor `flat` (f32 or f64), in place: started
  // here, complete once finish_started() returns. Started reductions run on a communicator of
  // their own, so other collectives (the experts' exchange) may be issued while they are in
  // flight; every rank must start the same reductions in the same order. progress() lets the
  // backend advance them (call it now and then while computing). CUDA tensors are reduced at
  // once (no overlap there yet).
  virtual void start_all_reduce_sum(const Tensor& flat) = 0;
  virtual void progress() = 0;
  virtual void finish_started() = 0;
  // Σ over ranks, in place, of host values (loss terms, counters: the step's small numbers).
  virtual void all_reduce_sum(std::vector<double>& values) = 0;
  // Every rank's tensors become root's, in place (same shapes and dtypes on every rank).
  virtual void broadcast(const std::vector<Tensor>& tensors, int root) = 0;
  virtual void broadcast(std::string& text, int root) = 0;
  virtual void barrier() = 0;
  // All-to-all-v of rows: `rows` [n, ...] (CPU) holds send_counts[r] consecutive rows for rank r,
  // in rank order; returns the rows every rank sent here, in rank order (recv_counts filled).
  virtual Tensor all_to_all_rows(const Tensor& rows, const std::vector<int64_t>& send_counts,
                                 std::vector<int64_t>& recv_counts) = 0;
  // Prints `why` naming this rank and ends every process of the run with `code` (never returns).
  [[noreturn]] virtual void abort(const std::string& why, int code) = 0;
};

// World size 1, no MPI.
std::shared_ptr<Communicator> single_process();

// The communicator of this process: MPI when a launcher started it (mpirun / srun set
// OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK), the single process otherwise. `who` names the
// command in errors. Throws when launched by mpirun but built without MPI.
std::shared_ptr<Communicator> from_launcher(const std::string& who, const CommOptions& options = {});

// Whether this build has the MPI (and NCCL) backends.
bool built_with_mpi();
bool built_with_nccl();

// Runs `body`; with several ranks an exception on one rank aborts them all with its message
// (the others would otherwise wait in their next collective), with one it is rethrown.
int run_or_abort(Communicator& comm, const std::function<int()>& body);

}  // namespace dasg::dist
