// NCCL collectives for CUDA tensors (see nccl_reduce.hpp). Native CUDA builds with NCCL only;
// compiled and linked in CI, not yet run on GPUs (no machine here has two).
#include "dist/nccl_reduce.hpp"

#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "engine/cuda/context.hpp"
#include "engine/error.hpp"

namespace dasg::dist {

namespace {

void check(ncclResult_t r, const char* what) {
  DASG_CHECK(r == ncclSuccess, "NCCL: ", what, " failed: ", ncclGetErrorString(r));
}

ncclComm_t as_comm(void* c) { return static_cast<ncclComm_t>(c); }

}  // namespace

std::string NcclReduce::make_unique_id() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  return std::string(id.internal, sizeof id.internal);
}

NcclReduce::NcclReduce(const std::string& unique_id, int rank, int size, int device) : device_(device) {
  ncclUniqueId id;
  DASG_CHECK(unique_id.size() == sizeof id.internal, "NCCL: a unique id of ", unique_id.size(), " bytes; expected ",
             sizeof id.internal);
  std::memcpy(id.internal, unique_id.data(), sizeof id.internal);
  cuda::use_device(device);
  ncclComm_t c = nullptr;
  check(ncclCommInitRank(&c, size, id, rank), "ncclCommInitRank");
  comm_ = c;
}

NcclReduce::~NcclReduce() {
  if (comm_) ncclCommDestroy(as_comm(comm_));
}

// Polls the stream until the collective queued on it completes; past the deadline the NCCL
// communicator is aborted (its kernels would otherwise spin forever) and false returned.
bool NcclReduce::wait(double timeout_s) {
  const auto start = std::chrono::steady_clock::now();
  cudaStream_t s = cuda::stream(device_);
  for (;;) {
    const cudaError_t q = cudaStreamQuery(s);
    if (q == cudaSuccess) return true;
    DASG_CHECK(q == cudaErrorNotReady, "NCCL: waiting for the stream of cuda:", device_, ": ", cudaGetErrorString(q));
    ncclResult_t async = ncclSuccess;
    check(ncclCommGetAsyncError(as_comm(comm_), &async), "ncclCommGetAsyncError");
    check(async, "a collective (asynchronous error)");
    if (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() > timeout_s) {
      ncclCommAbort(as_comm(comm_));
      comm_ = nullptr;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

bool NcclReduce::all_reduce_sum(Tensor& flat, double timeout_s) {
  DASG_CHECK(flat.device().is_cuda() && flat.device().index == device_, "NCCL all-reduce: ", flat.str(),
             "; this rank's communicator is on cuda:", device_);
  const ncclDataType_t type = flat.dtype() == DType::f64 ? ncclFloat64 : ncclFloat32;
  DASG_CHECK(flat.dtype() == DType::f32 || flat.dtype() == DType::f64, "NCCL all-reduce: ", flat.str(),
             "; expected f32 or f64");
  cuda::use_device(device_);
  check(ncclAllReduce(flat.raw_data(), flat.raw_data(), (size_t)flat.numel(), type, ncclSum, as_comm(comm_),
                      cuda::stream(device_)),
        "ncclAllReduce");
  return wait(timeout_s);
}

bool NcclReduce::broadcast(Tensor& t, int root, double timeout_s) {
  DASG_CHECK(t.device().is_cuda() && t.device().index == device_, "NCCL broadcast: ", t.str(),
             "; this rank's communicator is on cuda:", device_);
  cuda::use_device(device_);
  check(ncclBroadcast(t.raw_data(), t.raw_data(), (size_t)t.numel() * dtype_size(t.dtype()), ncclUint8, root,
                      as_comm(comm_), cuda::stream(device_)),
        "ncclBroadcast");
  return wait(timeout_s);
}

}  // namespace dasg::dist
