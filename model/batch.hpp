// BatchInfo: what every layer needs to know about the batch it runs on — its sizes, which
// positions are real (encoder padding, DESIGN §7), the mode — plus the two host↔tensor helpers
// the model's routing code uses for constants (masks, gates, indices) that carry no gradient.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg {

struct BatchInfo {
  int64_t B = 0, T = 0, N = 0;   // N = B·T rows, row = b·T + t
  bool training = false;
  Device device = kCPU;
  Tensor lengths;                  // i32 [B], or undefined (no padding)
  std::vector<int32_t> length;     // n_b for every b (T when no lengths)
  std::vector<int32_t> real_rows;  // rows of the real positions, ascending
  std::vector<uint8_t> is_real;    // [N]
  Tensor real_mask;                // f32 [N, 1]: 1 at real rows, 0 at padding
  int64_t n_real() const { return (int64_t)real_rows.size(); }
  bool padded() const { return n_real() < N; }
  bool real(int64_t row) const { return is_real[(size_t)row] != 0; }
};

// Host values as a tensor of `shape` on `device` (f32 or i32 by the vector's type).
template <class T>
Tensor constant_tensor(const std::vector<T>& v, const Shape& shape, Device device) {
  return Tensor::from_vector(v, shape).to(device);
}

// A tensor's values on the host as f32 (no gradient).
inline std::vector<float> host_floats(const Tensor& t) { return t.detach().to(kCPU).to(DType::f32).to_vector<float>(); }

}  // namespace dasg
