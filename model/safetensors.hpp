// safetensors files (DESIGN §8), the format of checkpoints and of the parity dump:
//   [8 bytes: header length n, little-endian u64] [n bytes: JSON header] [raw little-endian data]
// The header maps each tensor name to {"dtype": "F32"|"F64"|"I32", "shape": [...],
// "data_offsets": [begin, end]} (offsets into the data part) and "__metadata__" to a string→string
// map. As the Python package writes it, the header is padded with spaces to a multiple of 8 bytes
// and the tensors' data are packed back to back in the order written. A file written here loads
// in Python's `safetensors` as is; reading checks everything and names the file in each error.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct SafetensorsFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data order
  std::map<std::string, std::string> metadata;

  // The tensor called name; throws naming the file's tensors when absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
};

// Writes the tensors (any device; copied to the host) to path + ".tmp", then renames it to path.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Reads a whole file into CPU tensors.
SafetensorsFile read_safetensors(const std::string& path);

}  // namespace dasg
