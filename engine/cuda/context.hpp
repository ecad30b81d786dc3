// Per-device CUDA state: the device's one stream, and its cuBLAS and cuDNN handles bound to
// that stream, created on first use. Every kernel launch and library call of the engine goes
// to stream(device), so operations on one device run in program order.
//
// Errors. Kernels run asynchronously: natively, a fault inside a kernel (an illegal address, a
// trap) is reported by whichever CUDA call next waits for the device — often a cudaMemcpy or a
// cudaStreamSynchronize several operations later — so the message names the wrong operation.
// Two things help:
//   - Synchronous diagnostic mode (DASG_CUDA_SYNC=1, or set_sync(true)): every kernel launch
//     and every cuBLAS/cuDNN call is followed by a device synchronize and a check, so a failure
//     is reported by the launch that caused it, naming the kernel, its launch shape and
//     arguments and the source line. Slow; for finding faults, never for timing.
//   - Sticky errors. Some errors (illegal address, misaligned address, illegal instruction,
//     device-side assert, launch failure or timeout, uncorrectable ECC) leave the CUDA context of
//     the process unusable: every later CUDA call fails with the same error, and
//     cudaGetLastError does not clear it. The first one is recorded; from then on every engine
//     entry point (launch, allocate, copy, library handle) throws one message naming that first
//     error instead of a cascade of unrelated-looking failures. The only recovery is a new
//     process.
#pragma once
#include <string>

#include "engine/cuda/cuda_compat.cuh"

namespace dasg::cuda {

cudaStream_t stream(int device);
cublasHandle_t cublas(int device);
#if DASG_WITH_CUDNN
cudnnHandle_t cudnn(int device);
#endif
// Makes `device` current (and checks it exists).
void use_device(int device);

// TF32 tensor-core math for f32 GEMMs (on by default; DASG_TF32=0 turns it off).
bool tf32_enabled();
void set_tf32(bool on);

// Whether this build has cuDNN (DASG_WITH_CUDNN; the emulated build always has its stand-in).
constexpr bool cudnn_available() { return DASG_WITH_CUDNN != 0; }
// Softmax through cuDNN instead of the custom kernel (off by default; DASG_CUDNN_SOFTMAX=1).
// Turning it on in a build without cuDNN is an error.
bool cudnn_softmax_enabled();
void set_cudnn_softmax(bool on);

// Synchronous diagnostic mode, sticky errors: engine/cuda/errors.cuh (via cuda_compat.cuh).

}  // namespace dasg::cuda
