// Straight-through hard threshold, DSMoE's gate (DESIGN §7.6):
//   forward   G(σ) = σ if σ > threshold else 0
//   backward  dσ = dS   (S = stopgrad(G(σ)) + σ − stopgrad(σ): the value of G, the gradient of σ)
// So a closed gate (σ ≤ threshold) still receives its gradient and can reopen. The gradient is by
// definition not the finite difference of the forward; its test checks the rule itself.
#pragma once
#include "engine/tensor.hpp"

namespace dasg {

Tensor hard_threshold(const Tensor& sigma, double threshold);

}  // namespace dasg
