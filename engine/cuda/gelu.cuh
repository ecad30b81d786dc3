// The tanh-form GELU and its derivative on the device, shared by the unary elementwise kernels
// and the fused bias + GELU (constants as engine/kernels/elementwise.hpp's UnaryMath):
//   gelu(x)  = ½·x·(1 + tanh(c·(x + a·x³)))                                   c = √(2/π), a = 0.044715
//   gelu'(x) = ½·(1 + t) + ½·x·(1 − t²)·c·(1 + 3a·x²),   t = tanh(c·(x + a·x³))
// Included only by .cu files.
#pragma once
#include "engine/cuda/cuda_compat.cuh"
#include "engine/kernels/elementwise.hpp"

namespace dasg::cuda {

template <class T> __device__ inline T gelu_tanh(T x) {
  const T c = kernels::UnaryMath<T>::kGeluC, a = kernels::UnaryMath<T>::kGeluA;
  return T(0.5) * x * (T(1) + tanh(c * (x + a * x * x * x)));
}

template <class T> __device__ inline T gelu_tanh_grad(T x) {
  const T c = kernels::UnaryMath<T>::kGeluC, a = kernels::UnaryMath<T>::kGeluA;
  const T t = tanh(c * (x + a * x * x * x));
  return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * c * (T(1) + T(3) * a * x * x);
}

}  // namespace dasg::cuda
