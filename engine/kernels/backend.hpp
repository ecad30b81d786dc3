// Backend dispatch: every kernel family declares `name_cpu(...)` (engine/kernels/*_cpu.cpp) and,
// in CUDA builds, `name_cuda(...)` (engine/kernels/*_cuda.cu, beside it). DASG_BACKEND picks one
// by the device of a tensor argument:
//
//   inline void fill(Tensor& t, double v) { DASG_BACKEND(t, fill, t, v); }
#pragma once
#include "engine/error.hpp"
#include "engine/tensor.hpp"

#ifdef DASG_WITH_CUDA
#define DASG_BACKEND(tensor, name, ...)        \
  do {                                         \
    if ((tensor).device().is_cpu())            \
      name##_cpu(__VA_ARGS__);                 \
    else                                       \
      name##_cuda(__VA_ARGS__);                \
  } while (0)
#define DASG_DECLARE_CUDA(decl) decl
#else
#define DASG_BACKEND(tensor, name, ...)                                                       \
  do {                                                                                        \
    if ((tensor).device().is_cpu())                                                           \
      name##_cpu(__VA_ARGS__);                                                                \
    else                                                                                      \
      DASG_FAIL(#name ": tensor on ", (tensor).device().str(), " but this build has no CUDA backend"); \
  } while (0)
#define DASG_DECLARE_CUDA(decl)
#endif

// Work size below which a CPU loop runs on one thread (thread start-up costs more).
namespace dasg {
constexpr int64_t kParallelGrain = 32768;
}
