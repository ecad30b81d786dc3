// Fused kernels that save a memory pass and a launch (or a parallel region) over their unfused
// chains (ops/fused.hpp holds the differentiable ops).
//   bias_gelu:           y[n, f] = gelu_tanh(h[n, f] + b[f])                 h, y: [N, F]  b: [F]
//   bias_gelu_backward:  z = h + b;  gh = gy · gelu_tanh'(z);  gb[f] = Σ_n gh[n, f]
// CPU: f32 and f64; gb sums rows in chunks whose count depends on N only, then the chunks in order
// (deterministic for any thread count), in double. CUDA: f32, f64, and bf16 h and y (mixed
// precision: computed in f32, y rounded once; b, gy, gh and gb f32); gb by sum_dim over the rows.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void bias_gelu_cpu(const Tensor& h, const Tensor& b, Tensor& y);
void bias_gelu_backward_cpu(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh, Tensor& gb);
DASG_DECLARE_CUDA(void bias_gelu_cuda(const Tensor& h, const Tensor& b, Tensor& y);)
DASG_DECLARE_CUDA(void bias_gelu_backward_cuda(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh,
                                               Tensor& gb);)

inline void bias_gelu(const Tensor& h, const Tensor& b, Tensor& y) { DASG_BACKEND(h, bias_gelu, h, b, y); }
inline void bias_gelu_backward(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh, Tensor& gb) {
  DASG_BACKEND(h, bias_gelu_backward, h, b, gy, gh, gb);
}

}  // namespace dasg::kernels
