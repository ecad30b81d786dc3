// BatchInfo: what every layer needs to know about the batch it runs on — its sizes, which
// positions are real (encoder padding, DESIGN §7), the mode and the device — with the masks the
// layers use already on that device. It is built on the host from the batch's shape and lengths
// (input metadata, never read back from the device); every per-token decision the layers make
// from it is a tensor op on the device.
#pragma once
#include <cstdint>
#include <vector>

#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg {

struct BatchInfo {
  int64_t B = 0, T = 0, N = 0;   // N = B·T rows, row = b·T + t
  bool training = false;
  bool capacity = true;          // Switch capacity (off for generation)
  bool aux = true;               // the auxiliary losses and routing statistics (off for decoding:
                                 // the FFNs then return y alone, and 0 for the losses)
  Device device = kCPU;
  Tensor lengths;                // i32 [B] on the device, or undefined (no padding)
  std::vector<int32_t> length;   // n_b for every b (T when no lengths), host
  int64_t n_real = 0;            // Σ_b n_b
  Tensor real_mask;              // f32 [N, 1]: 1 at real rows, 0 at padding
  Tensor real_rows;              // i32 [n_real]: the real rows, ascending (only when padded)
  Generator* gen = nullptr;      // dropout, tier sampling, adr.random
  DType gemm = DType::f32;       // the GEMMs' operand dtype: bf16 under mixed precision (CUDA; Model::
                                 // set_precision), where only the Linear/attention-value GEMMs change
  bool padded() const { return n_real < N; }
  bool real(int64_t row) const { return row % T < length[(size_t)(row / T)]; }
};

// Host values as a tensor of `shape` on `device` (f32 or i32 by the vector's type): an upload.
template <class T>
Tensor constant_tensor(const std::vector<T>& v, const Shape& shape, Device device) {
  return Tensor::from_vector(v, shape, device);
}

}  // namespace dasg
