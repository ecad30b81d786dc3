// Shape: a tensor's dimensions (up to 5), row-major and contiguous.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasg {

using Shape = std::vector<int64_t>;
constexpr int kMaxDims = 5;

inline int64_t numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// "[i, j, k]": the index of flat (row-major) position m in a tensor of shape s, for error messages.
inline std::string position_str(const Shape& s, int64_t m) {
  Shape idx(s.size());
  for (int64_t k = (int64_t)s.size() - 1; k >= 0; --k) {
    idx[(size_t)k] = m % s[(size_t)k];
    m /= s[(size_t)k];
  }
  return shape_str(idx);
}

}  // namespace dasg
