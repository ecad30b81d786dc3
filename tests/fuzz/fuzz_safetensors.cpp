// Fuzz target: the safetensors header parser and its checks against the file size.
#include <string_view>

#include "engine/error.hpp"
#include "model/safetensors_layout.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int safetensors(const uint8_t* data, size_t size) {
  try {
    const dasg::SafetensorsLayout l =
        dasg::parse_safetensors_layout(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.safetensors");
    // accepted: the tensors tile the data part exactly, each with its shape's byte count
    uint64_t at = 0;
    for (const dasg::SafetensorsEntry& e : l.entries) {
      if (e.begin != at || e.end < e.begin) throw PropertyFailure("safetensors: accepted tensors that do not tile");
      uint64_t n = dasg::dtype_size(e.dtype);
      for (int64_t d : e.shape) n *= uint64_t(d);
      if (n != e.end - e.begin) throw PropertyFailure("safetensors: accepted a span unlike its shape");
      at = e.end;
    }
    if (l.data_offset + at != size) throw PropertyFailure("safetensors: accepted a data part the tensors do not cover");
  } catch (const dasg::Error&) {
  }
  return 0;
}

}  // namespace dasg_fuzz
