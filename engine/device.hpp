// Device: where a tensor's storage lives — the CPU or CUDA device n.
// Moving between devices is always explicit (Tensor::to); ops never mix devices.
#pragma once
#include <string>

namespace dasg {

struct Device {
  enum class Kind : uint8_t { CPU, CUDA };
  Kind kind = Kind::CPU;
  int index = 0;

  static Device cpu() { return {Kind::CPU, 0}; }
  static Device cuda(int n = 0) { return {Kind::CUDA, n}; }
  bool is_cpu() const { return kind == Kind::CPU; }
  bool is_cuda() const { return kind == Kind::CUDA; }
  bool operator==(const Device& o) const { return kind == o.kind && (is_cpu() || index == o.index); }
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

inline const Device kCPU = Device::cpu();

// "cpu", "cuda" (= cuda:0) or "cuda:N"; anything else throws naming it.
Device parse_device(const std::string& text);
// Throws a clear error unless `device` can be used: the CPU always; a CUDA device when this
// build has the CUDA backend and the device exists (the CUDA error is named when none can be opened).
void require_device(Device device);

}  // namespace dasg
