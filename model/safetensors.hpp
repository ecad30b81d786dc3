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
  std::string path;                                     // where it was read from ("" if built in code)
  std::vector<std::pair<std::string, Tensor>> tensors;  // in data order
  std::map<std::string, std::string> metadata;

  // The tensor called name; throws naming the file when absent.
  const Tensor& at(const std::string& name) const;
  bool contains(const std::string& name) const;
  // A "true"/"false" metadata value; `absent` when the key is missing; anything else throws
  // "<path>: __metadata__ 'deep_active' is \"yes\"; expected \"true\" or \"false\"".
  bool metadata_flag(const std::string& key, bool absent) const;
  // An integer metadata value in [lo, hi]; throws naming the file and key when missing or not one.
  int64_t metadata_int(const std::string& key, int64_t lo, int64_t hi) const;
};

// Writes the tensors (any device; copied to the host) to path + ".tmp", then renames it to path.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {});
// Reads a whole file into CPU tensors. Everything is checked, each error naming the file (and the
// tensor): header length, JSON (nesting depth limited, engine/json.hpp), dtype, shape (at most
// kMaxDims sizes whose product, times the dtype's size, does not overflow), data_offsets covering
// the data part exactly, without gaps or overlaps.
SafetensorsFile read_safetensors(const std::string& path);

// Throws "<path>: tensor 'wte.weight' holds a non-finite value (nan) at element 17" when any
// floating-point tensor holds NaN or ±inf (a file can, the engine must not compute with one).
void check_all_finite(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& path);

}  // namespace dasg
