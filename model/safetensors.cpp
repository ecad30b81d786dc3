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

namespace dasg {

namespace {

using nlohmann::json;

const char* st_dtype(DType t) {
  switch (t) {
    case DType::f32: return "F32";
    case DType::f64: return "F64";
    case DType::i32: return "I32";
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
  const std::string where = "read_safetensors: " + path + ": ";
  DASG_CHECK(bytes.size() >= 8, where, "truncated: ", bytes.size(), " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= (uint64_t)(unsigned char)bytes[i] << (8 * i);
  DASG_CHECK(n <= bytes.size() - 8, where, "header length ", n, " goes beyond the file (", bytes.size(), " bytes)");
  const json header = parse_json(std::string_view(bytes.data() + 8, n), path + ": header");
  DASG_CHECK(header.is_object(), where, "the header is ", header.type_name(), "; expected a JSON object");
  const char* data = bytes.data() + 8 + n;
  const uint64_t data_size = bytes.size() - 8 - n;

  SafetensorsFile file;
  file.path = path;
  struct Span {
    uint64_t begin, end;
    std::string name;
    size_t index;  // into file.tensors
  };
  std::vector<Span> spans;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      DASG_CHECK(e.is_object(), where, "__metadata__ is ", e.type_name(), "; expected an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        DASG_CHECK(m.value().is_string(), where, "__metadata__ value of '", m.key(), "' is not a string");
        file.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = where + "tensor '" + name + "': ";
    DASG_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), what,
               "expected an object with dtype, shape and data_offsets, got ", json_excerpt(e));
    const json &jd = e["dtype"], &js = e["shape"], &jo = e["data_offsets"];
    DASG_CHECK(jd.is_string(), what, "dtype ", json_excerpt(jd), " is not a string; expected \"F32\", \"F64\" or \"I32\"");
    const std::string ds = jd.get<std::string>();
    DType dtype;
    if (ds == "F32") dtype = DType::f32;
    else if (ds == "F64") dtype = DType::f64;
    else if (ds == "I32") dtype = DType::i32;
    else DASG_FAIL(what, "unknown dtype \"", ds.substr(0, 40), "\"; expected F32, F64 or I32");
    DASG_CHECK(js.is_array() && js.size() <= (size_t)kMaxDims, what, "shape ", json_excerpt(js),
               " is not an array of at most ", kMaxDims, " sizes");
    Shape shape;
    uint64_t count = 1;
    for (const json& d : js) {
      DASG_CHECK(d.is_number_unsigned() || (d.is_number_integer() && d.get<int64_t>() == 0), what, "shape ",
                 json_excerpt(js), " holds a non-integer or negative size");
      const uint64_t size = d.get<uint64_t>();
      DASG_CHECK(size <= (uint64_t)INT64_MAX && !__builtin_mul_overflow(count, size, &count) && count <= (uint64_t)INT64_MAX,
                 what, "shape ", json_excerpt(js), ": the element count overflows int64");
      shape.push_back((int64_t)size);
    }
    uint64_t want = 0;
    DASG_CHECK(!__builtin_mul_overflow(count, (uint64_t)dtype_size(dtype), &want), what, "shape ", json_excerpt(js), " of ",
               ds, ": the byte count overflows uint64");
    DASG_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() && jo[1].is_number_unsigned(), what,
               "data_offsets ", json_excerpt(jo), " is not a pair of non-negative integers");
    const uint64_t begin = jo[0].get<uint64_t>(), end = jo[1].get<uint64_t>();
    DASG_CHECK(begin <= end && end <= data_size, what, "data_offsets [", begin, ", ", end,
               "] out of range; the data part holds ", data_size, " bytes");
    DASG_CHECK(end - begin == want, what, "shape ", shape_str(shape), " of ", ds, " needs ", want, " bytes but data_offsets span ",
               end - begin);
    Tensor t = Tensor::empty(shape, dtype);
    if (want) std::memcpy(t.raw_data(), data + begin, want);
    file.tensors.emplace_back(name, t);
    spans.push_back({begin, end, name, file.tensors.size() - 1});
  }
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin || (a.begin == b.begin && a.end < b.end); });
  uint64_t at = 0;
  for (const Span& s : spans) {
    DASG_CHECK(s.begin >= at, where, "tensor '", s.name, "' overlaps the tensor before it (starts at byte ", s.begin,
               ", the previous ends at ", at, ")");
    DASG_CHECK(s.begin == at, where, "gap in the data before tensor '", s.name, "' (bytes ", at, " to ", s.begin, ")");
    at = s.end;
  }
  DASG_CHECK(at == data_size, where, "the data part holds ", data_size, " bytes but the tensors cover ", at);
  // Data order, as written.
  std::vector<std::pair<std::string, Tensor>> ordered;
  for (const Span& s : spans) ordered.push_back(file.tensors[s.index]);
  file.tensors = std::move(ordered);
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
