// safetensors writer and checked reader (DESIGN §8). The host is little-endian (x86-64, aarch64),
// so tensor bytes are written and read as they lie in memory. A file is written under a
// temporary name (path + ".tmp") and renamed, so a crash mid-write leaves the old file whole.
#include "model/safetensors.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "engine/json.hpp"
#include "model/safetensors_layout.hpp"

namespace dasg {

namespace {

using nlohmann::json;

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
    case DType::bf16: return "BF16";
  }
  return "?";
}

}  // namespace

bool SafetensorsFile::contains(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return true;
  return false;
}

const Tensor& SafetensorsFile::at(const std::string& name) const {
  for (const auto& [n, t] : tensors)
    if (n == name) return t;
  DASG_FAIL("safetensors: ", path.empty() ? std::string() : path + ": ", "no tensor named '", name, "' (the file holds ",
            tensors.size(), " tensors)");
}

bool SafetensorsFile::metadata_flag(const std::string& key, bool absent) const {
  auto it = metadata.find(key);
  if (it == metadata.end()) return absent;
  DASG_CHECK(it->second == "true" || it->second == "false", path, ": __metadata__ '", key, "' is \"",
             it->second.substr(0, 40), "\"; expected \"true\" or \"false\"");
  return it->second == "true";
}

int64_t SafetensorsFile::metadata_int(const std::string& key, int64_t lo, int64_t hi) const {
  auto it = metadata.find(key);
  DASG_CHECK(it != metadata.end(), path, ": __metadata__ has no '", key, "'; expected an integer in [", lo, ", ", hi, "]");
  return parse_int(it->second, path + ": __metadata__ '" + key + "'", lo, hi);
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    DASG_CHECK(name != "__metadata__" && !name.empty(), "write_safetensors: ", path, ": invalid tensor name '", name, "'");
    DASG_CHECK(!header.contains(name), "write_safetensors: ", path, ": tensor name '", name, "' given twice");
    header[name] = {{"dtype", st_dtype(t.dtype())}, {"shape", t.shape()}, {"data_offsets", {offset, offset + t.nbytes()}}};
    offset += t.nbytes();
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  const uint64_t n = text.size();

  const std::string tmp = path + ".tmp";
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  DASG_CHECK(out, "write_safetensors: cannot open '", tmp, "' for writing");
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (unsigned char)(n >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), (std::streamsize)text.size());
  for (const auto& [name, t] : tensors) {
    Tensor host = t.to(kCPU);
    out.write(static_cast<const char*>(host.raw_data()), (std::streamsize)host.nbytes());
  }
  out.close();
  DASG_CHECK(out, "write_safetensors: writing '", tmp, "' failed");
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  DASG_CHECK(!ec, "write_safetensors: renaming '", tmp, "' to '", path, "' failed: ", ec.message());
}

SafetensorsFile read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  DASG_CHECK(in, "read_safetensors: cannot open '", path, "'");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const SafetensorsLayout layout = parse_safetensors_layout(bytes, path);
  SafetensorsFile file;
  file.path = path;
  file.metadata = layout.metadata;
  const char* data = bytes.data() + layout.data_offset;
  for (const SafetensorsEntry& e : layout.entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    file.tensors.emplace_back(e.name, t);
  }
  return file;
}

void check_all_finite(const std::vector<std::pair<std::string, Tensor>>& tensors, const std::string& path) {
  for (const auto& [name, t0] : tensors) {
    if (!is_floating(t0.dtype())) continue;
    const Tensor t = t0.to(kCPU);
    const int64_t n = t.numel();
    auto check = [&](auto* p) {
      for (int64_t i = 0; i < n; ++i)
        DASG_CHECK(std::isfinite(p[i]), path, ": tensor '", name, "' holds a non-finite value (", (double)p[i],
                   ") at element ", i, "; expected finite values");
    };
    if (t.dtype() == DType::f32) check(static_cast<const float*>(t.raw_data()));
    else if (t.dtype() == DType::f64) check(static_cast<const double*>(t.raw_data()));
  }
}

}  // namespace dasg
