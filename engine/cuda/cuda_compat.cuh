// The one include every .cu source (and every C++ file that calls CUDA) starts from.
// Natively it is the CUDA toolkit's runtime, bf16 type, cuBLAS and (with DASG_WITH_CUDNN) cuDNN headers; in the emulation build
// (DASG_CUDA_EMULATE) the same names come from the CPU emulator in engine/cuda/emulator/.
// Also: shared memory declarations (the only way kernels declare shared memory), and the
// DASG_*_CHECK macros that turn a failing status into dasg::Error naming the call and the place.
#pragma once
#include "engine/error.hpp"

// DASG_WITH_CUDNN (set by CMake) says whether cuDNN is there; the emulator always brings its own.
#if DASG_CUDA_EMULATE && !defined(DASG_WITH_CUDNN)
#define DASG_WITH_CUDNN 1
#endif
#ifndef DASG_WITH_CUDNN
#define DASG_WITH_CUDNN 0
#endif

#if DASG_CUDA_EMULATE
#include "engine/cuda/emulator/bf16.hpp"
#include "engine/cuda/emulator/cublas.hpp"
#include "engine/cuda/emulator/cudnn.hpp"
#include "engine/cuda/emulator/device.hpp"
#include "engine/cuda/emulator/runtime.hpp"
#else
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>
#if DASG_WITH_CUDNN
#include <cudnn.h>
#endif
// __shared__ T name[n];  __shared__ T name[n][m];  extern __shared__ T name[] (dynamic, 16-byte aligned).
#define DASG_SHARED(T, name, n) __shared__ T name[n]
#define DASG_SHARED2(T, name, n, m) __shared__ T name[n][m]
#define DASG_DYNAMIC_SHARED(T, name)                           \
  extern __shared__ __align__(16) unsigned char dasg_dynamic_shared_[]; \
  T* name = reinterpret_cast<T*>(dasg_dynamic_shared_)
#endif

// The checks: a failing status becomes dasg::Error naming the call, the status and the source
// line (engine/cuda/errors.cuh: sticky errors are recorded, DASG_CUDA_SYNC=1 synchronizes after
// every library call so a kernel's fault is reported where it happened).
#include "engine/cuda/errors.cuh"

#define DASG_CUDA_CHECK(call)                                                                        \
  do {                                                                                               \
    const cudaError_t dasg_status_ = (call);                                                         \
    if (dasg_status_ != cudaSuccess) ::dasg::cuda::fail_status(dasg_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define DASG_CUBLAS_CHECK(call)                                                                      \
  do {                                                                                               \
    ::dasg::cuda::check_not_broken();                                                                \
    const cublasStatus_t dasg_status_ = (call);                                                      \
    if (dasg_status_ != CUBLAS_STATUS_SUCCESS)                                                       \
      DASG_FAIL(#call, " failed: ", cublasGetStatusName(dasg_status_), " (", cublasGetStatusString(dasg_status_), \
                ") at ", __FILE__, ":", __LINE__);                                                   \
    ::dasg::cuda::sync_check(#call, __FILE__, __LINE__);                                             \
  } while (0)

#if DASG_WITH_CUDNN
#define DASG_CUDNN_CHECK(call)                                                                       \
  do {                                                                                               \
    ::dasg::cuda::check_not_broken();                                                                \
    const cudnnStatus_t dasg_status_ = (call);                                                       \
    if (dasg_status_ != CUDNN_STATUS_SUCCESS)                                                        \
      DASG_FAIL(#call, " failed: ", cudnnGetErrorString(dasg_status_), " at ", __FILE__, ":", __LINE__); \
    ::dasg::cuda::sync_check(#call, __FILE__, __LINE__);                                             \
  } while (0)
#endif
