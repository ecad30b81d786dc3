// The layout of a safetensors file (DESIGN §8) — its header parsed and checked against the
// file's size, without touching tensor data: what read_safetensors trusts before it copies a
// byte, and what the fuzzer (tests/fuzz/fuzz_safetensors.cpp) hammers.
//   [8 bytes: header length n, little-endian u64] [n bytes: JSON header] [data part]
// Checked, each error naming `path` (and the tensor): the header length fits the file; the JSON
// (depth-limited, engine/json.hpp) is an object; __metadata__ is an object of strings; each
// tensor has dtype F32|F64|I32, a shape of at most kMaxDims non-negative sizes whose element and
// byte counts do not overflow, and data_offsets [begin, end] inside the data part spanning exactly
// its bytes; the tensors tile the data part without gaps or overlaps.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/dtype.hpp"
#include "engine/shape.hpp"

namespace dasg {

struct SafetensorsEntry {
  std::string name;
  DType dtype;
  Shape shape;
  uint64_t begin, end;  // byte offsets into the data part
};

struct SafetensorsLayout {
  std::vector<SafetensorsEntry> entries;  // in data order
  std::map<std::string, std::string> metadata;
  uint64_t data_offset = 0;  // where the data part starts in the file (8 + header length)
};

SafetensorsLayout parse_safetensors_layout(std::string_view file_bytes, const std::string& path);

}  // namespace dasg
