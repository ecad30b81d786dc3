// Per-device CUDA state: the device's one stream, and its cuBLAS and cuDNN handles bound to
// that stream, created on first use. Every kernel launch and library call of the engine goes
// to stream(device), so operations on one device run in program order.
#pragma once
#include "engine/cuda/cuda_compat.cuh"

namespace dasg::cuda {

cudaStream_t stream(int device);
cublasHandle_t cublas(int device);
cudnnHandle_t cudnn(int device);
// Makes `device` current (and checks it exists).
void use_device(int device);

// TF32 tensor-core math for f32 GEMMs (on by default; DASG_TF32=0 turns it off).
bool tf32_enabled();
void set_tf32(bool on);

// Softmax through cuDNN instead of the custom kernel (off by default; DASG_CUDNN_SOFTMAX=1).
bool cudnn_softmax_enabled();
void set_cudnn_softmax(bool on);

}  // namespace dasg::cuda
