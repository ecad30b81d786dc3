// safetensors header parsing and checks (see safetensors_layout.hpp).
#include "model/safetensors_layout.hpp"

#include <algorithm>

#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg {

using nlohmann::json;

SafetensorsLayout parse_safetensors_layout(std::string_view bytes, const std::string& path) {
  const std::string where = "read_safetensors: " + path + ": ";
  DASG_CHECK(bytes.size() >= 8, where, "truncated: ", bytes.size(), " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= (uint64_t)(unsigned char)bytes[size_t(i)] << (8 * i);
  DASG_CHECK(n <= bytes.size() - 8, where, "header length ", n, " goes beyond the file (", bytes.size(), " bytes)");
  const json header = parse_json(bytes.substr(8, n), path + ": header");
  DASG_CHECK(header.is_object(), where, "the header is ", header.type_name(), "; expected a JSON object");
  SafetensorsLayout layout;
  layout.data_offset = 8 + n;
  const uint64_t data_size = bytes.size() - 8 - n;

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      DASG_CHECK(e.is_object(), where, "__metadata__ is ", e.type_name(), "; expected an object of strings");
      for (auto m = e.begin(); m != e.end(); ++m) {
        DASG_CHECK(m.value().is_string(), where, "__metadata__ value of '", m.key(), "' is not a string");
        layout.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string what = where + "tensor '" + name + "': ";
    DASG_CHECK(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"), what,
               "expected an object with dtype, shape and data_offsets, got ", json_excerpt(e));
    const json &jd = e["dtype"], &js = e["shape"], &jo = e["data_offsets"];
    DASG_CHECK(jd.is_string(), what, "dtype ", json_excerpt(jd), " is not a string; expected \"F32\", \"F64\" or \"I32\"");
    const std::string ds = jd.get<std::string>();
    SafetensorsEntry entry{name, DType::f32, {}, 0, 0};
    if (ds == "F32") entry.dtype = DType::f32;
    else if (ds == "F64") entry.dtype = DType::f64;
    else if (ds == "I32") entry.dtype = DType::i32;
    else DASG_FAIL(what, "unknown dtype \"", ds.substr(0, 40), "\"; expected F32, F64 or I32");
    DASG_CHECK(js.is_array() && js.size() <= (size_t)kMaxDims, what, "shape ", json_excerpt(js),
               " is not an array of at most ", kMaxDims, " sizes");
    uint64_t count = 1;
    for (const json& d : js) {
      DASG_CHECK(d.is_number_unsigned(), what, "shape ", json_excerpt(js), " holds a non-integer or negative size");
      const uint64_t size = d.get<uint64_t>();
      DASG_CHECK(size <= (uint64_t)INT64_MAX && !__builtin_mul_overflow(count, size, &count) && count <= (uint64_t)INT64_MAX,
                 what, "shape ", json_excerpt(js), ": the element count overflows int64");
      entry.shape.push_back((int64_t)size);
    }
    uint64_t want = 0;
    DASG_CHECK(!__builtin_mul_overflow(count, (uint64_t)dtype_size(entry.dtype), &want), what, "shape ",
               json_excerpt(js), " of ", ds, ": the byte count overflows uint64");
    DASG_CHECK(jo.is_array() && jo.size() == 2 && jo[0].is_number_unsigned() && jo[1].is_number_unsigned(), what,
               "data_offsets ", json_excerpt(jo), " is not a pair of non-negative integers");
    entry.begin = jo[0].get<uint64_t>();
    entry.end = jo[1].get<uint64_t>();
    DASG_CHECK(entry.begin <= entry.end && entry.end <= data_size, what, "data_offsets [", entry.begin, ", ", entry.end,
               "] out of range; the data part holds ", data_size, " bytes");
    DASG_CHECK(entry.end - entry.begin == want, what, "shape ", shape_str(entry.shape), " of ", ds, " needs ", want,
               " bytes but data_offsets span ", entry.end - entry.begin);
    layout.entries.push_back(std::move(entry));
  }
  std::stable_sort(layout.entries.begin(), layout.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin < b.begin || (a.begin == b.begin && a.end < b.end);
  });
  uint64_t at = 0;
  for (const SafetensorsEntry& s : layout.entries) {
    DASG_CHECK(s.begin >= at, where, "tensor '", s.name, "' overlaps the tensor before it (starts at byte ", s.begin,
               ", the previous ends at ", at, ")");
    DASG_CHECK(s.begin == at, where, "gap in the data before tensor '", s.name, "' (bytes ", at, " to ", s.begin, ")");
    at = s.end;
  }
  DASG_CHECK(at == data_size, where, "the data part holds ", data_size, " bytes but the tensors cover ", at);
  return layout;
}

}  // namespace dasg
