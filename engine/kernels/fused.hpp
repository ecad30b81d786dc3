// Fused CPU kernels that save a memory pass and a parallel region over their unfused chains
// (ops/fused.hpp holds the differentiable ops; on other devices those ops run the unfused chain).
//   bias_gelu:           y[n, f] = gelu_tanh(h[n, f] + b[f])                 h, y: [N, F]  b: [F]
//   bias_gelu_backward:  z = h + b;  gh = gy · gelu_tanh'(z);  gb[f] = Σ_n gh[n, f]
// gb sums rows in chunks whose count depends on N only, then the chunks in order (deterministic
// for any thread count), in double.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void bias_gelu_cpu(const Tensor& h, const Tensor& b, Tensor& y);
void bias_gelu_backward_cpu(const Tensor& h, const Tensor& b, const Tensor& gy, Tensor& gh, Tensor& gb);

}  // namespace dasg::kernels
