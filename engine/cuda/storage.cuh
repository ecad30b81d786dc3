// Element loads and stores of CUDA kernels that take a storage dtype S and compute in its compute
// type T (DESIGN.md §3): f32 and f64 are their own compute type; bf16 widens exactly to f32 and
// is rounded back once, to nearest even (__float2bfloat16_rn, as every bf16 conversion here).
//   dispatch_stored(dtype, op, [&]<class S>() { ... elements<S>(t) ... });
//   using T = Compute<S>;   T v = load(p[i]);   p[i] = store<S>(f(v));
// For f32 and f64 load and store are the identity, so their kernels are the plain ones.
// Included only by .cu files.
#pragma once
#include "engine/cuda/cuda_compat.cuh"
#include "engine/cuda/kernel_utils.cuh"
#include "engine/dtype.hpp"

namespace dasg::cuda {

template <class S> struct ComputeOf { using type = S; };
template <> struct ComputeOf<__nv_bfloat16> { using type = float; };
template <class S> using Compute = typename ComputeOf<S>::type;

__device__ inline float load(float v) { return v; }
__device__ inline double load(double v) { return v; }
__device__ inline float load(__nv_bfloat16 v) { return __bfloat162float(v); }

template <class S> __device__ inline S store(Compute<S> v) { return v; }
template <> __device__ inline __nv_bfloat16 store<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// A tensor's elements as storage type S (its dtype checked, as Tensor::data does).
template <class S> const S* elements(const Tensor& t) {
  if constexpr (std::is_same_v<S, __nv_bfloat16>) return bf16_data(t);
  else return t.data<S>();
}
template <class S> S* elements(Tensor& t) {
  if constexpr (std::is_same_v<S, __nv_bfloat16>) return bf16_data(t);
  else return t.data<S>();
}

// Runs f.template operator()<S>() with S = float, double or __nv_bfloat16 for f32, f64 or bf16.
template <class F>
void dispatch_stored(DType t, const char* op, F&& f) {
  if (t == DType::bf16) return f.template operator()<__nv_bfloat16>();
  dispatch_float(t, op, [&]<class T>() { f.template operator()<T>(); });
}

}  // namespace dasg::cuda
