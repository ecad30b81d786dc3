// Checkpoint conversion, `dasg convert --to dsmoe` (DESIGN §7.6): a dense model's weights become
// a DSMoE model's that computes the same function and can still learn.
//
// DSMoE cuts the dense FFN's hidden dimension into `blocks` experts with sigmoid gates σ_b:
//   y = (blocks / n_active)·Σ_b S_b·o_b(x) + b2,   S_b = σ_b in the forward when σ_b > threshold.
// With gate weights 0 and biases ln 9 every gate is σ = 0.9 for every token, so every block is
// open (0.9 > threshold, the default 0.5), the scaling is 1 and y = 0.9·W2·act(W1·x + b1) + b2;
// dividing W2 by 0.9 gives the dense FFN back exactly (to f32 round-off). fc1, fc1's bias, fc2's
// bias and everything outside the FFNs are copied. The gates are not saturated (σ'(ln 9) = 0.09),
// so they get a gradient and the model can learn to close blocks.
#pragma once
#include <string>

#include "model/model.hpp"
#include "model/safetensors.hpp"

namespace dasg {

// The gate bias ln 9 (σ = 0.9) and the W2 scale 1/0.9 of the conversion.
constexpr double kDsmoeConvertGate = 0.9;

// Fills dsmoe's parameters from a dense model's tensors. dense: the parameters under DESIGN §8's
// names (a model.safetensors file), `source` names it in errors. The dsmoe model's config must
// have ffn "dsmoe" and a threshold below 0.9; when the file's metadata carries a config, it must
// be a dense one with the same dimensions. Every name must match both ways, shapes and dtypes too.
void convert_dense_to_dsmoe(const SafetensorsFile& dense, const std::string& source, Model& dsmoe);
// The same from a dense model in memory.
void convert_dense_to_dsmoe(const Model& dense, Model& dsmoe);

}  // namespace dasg
