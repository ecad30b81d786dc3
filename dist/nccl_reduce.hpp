// NCCL for CUDA tensors (dist/nccl_reduce.cpp; only in native CUDA builds where CMake finds
// NCCL, DASG_WITH_NCCL). The MPI communicator creates one per process on its first collective
// over CUDA tensors: rank 0 makes the unique id, MPI broadcasts it, every rank joins.
// Collectives run on the engine's stream of the tensors' device (engine/cuda/context.hpp), so
// they are ordered after the kernels that wrote the tensors; each call waits for its result,
// polling, and reports a timeout instead of hanging.
#pragma once
#include <string>

#include "engine/tensor.hpp"

namespace dasg::dist {

class NcclReduce {
 public:
  static std::string make_unique_id();  // rank 0 only; the bytes of an ncclUniqueId
  NcclReduce(const std::string& unique_id, int rank, int size, int device);
  ~NcclReduce();
  NcclReduce(const NcclReduce&) = delete;
  NcclReduce& operator=(const NcclReduce&) = delete;
  int device() const { return device_; }
  // Σ over ranks of `flat` (f32 or f64, contiguous, on device()), in place. False when it did
  // not complete within timeout_s (the communicator is then aborted).
  bool all_reduce_sum(Tensor& flat, double timeout_s);
  // root's bytes of `t` on every rank, in place.
  bool broadcast(Tensor& t, int root, double timeout_s);

 private:
  bool wait(double timeout_s);
  void* comm_ = nullptr;  // ncclComm_t
  int device_ = 0;
};

}  // namespace dasg::dist
