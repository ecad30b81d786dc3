// TensorBoard event files: TFRecord framing, CRC-32C and the Event protobuf by hand (see
// event_file.hpp).
#include "train/event_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "engine/error.hpp"

namespace fs = std::filesystem;

namespace dasg {

namespace {

// The byte-at-a-time table of the reflected CRC-32C polynomial.
const std::array<uint32_t, 256>& crc_table() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  return table;
}

// ---- protobuf encoding -------------------------------------------------------------------------
void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back((char)((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back((char)v);
}
void put_key(std::string& out, int field, int wire) { put_varint(out, (uint64_t)(field << 3 | wire)); }
template <typename T>
void put_fixed(std::string& out, T v) {  // little-endian, as the hosts we build for are
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}
void put_bytes(std::string& out, int field, const std::string& bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out += bytes;
}

std::string event_bytes(double wall_time, int64_t step, const std::string& file_version, const std::string& summary) {
  std::string e;
  put_key(e, 1, 1);
  put_fixed(e, wall_time);
  put_key(e, 2, 0);
  put_varint(e, (uint64_t)step);
  if (!file_version.empty()) put_bytes(e, 3, file_version);
  if (!summary.empty()) put_bytes(e, 5, summary);
  return e;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// ---- protobuf decoding -------------------------------------------------------------------------
// A cursor over one message; every read is bounds-checked and names the file and record.
struct Reader {
  const unsigned char* p;
  const unsigned char* end;
  const std::string& where;
  bool done() const { return p == end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      DASG_CHECK(p < end, where, ": truncated varint");
      const unsigned char b = *p++;
      v |= (uint64_t)(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    DASG_FAIL(where, ": varint longer than 10 bytes");
  }
  template <typename T>
  T fixed() {
    DASG_CHECK(end - p >= (ptrdiff_t)sizeof(T), where, ": truncated fixed-width field");
    T v;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  Reader sub() {  // a length-delimited field's bytes
    const uint64_t n = varint();
    DASG_CHECK(n <= (uint64_t)(end - p), where, ": a length-delimited field of ", n, " bytes overruns its message");
    Reader r{p, p + n, where};
    p += n;
    return r;
  }
  void skip(int wire) {
    if (wire == 0) varint();
    else if (wire == 1) fixed<uint64_t>();
    else if (wire == 2) sub();
    else if (wire == 5) fixed<uint32_t>();
    else DASG_FAIL(where, ": unsupported protobuf wire type ", wire);
  }
  std::string str() {
    Reader r = sub();
    return std::string((const char*)r.p, (const char*)r.end);
  }
};

void read_value(Reader r, Event& e) {
  std::string tag;
  float value = 0;
  bool has_value = false;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const int field = (int)(key >> 3), wire = (int)(key & 7);
    if (field == 1 && wire == 2) tag = r.str();
    else if (field == 2 && wire == 5) value = r.fixed<float>(), has_value = true;
    else r.skip(wire);
  }
  if (has_value) e.scalars.emplace_back(tag, value);
}

Event read_event(Reader r) {
  Event e;
  while (!r.done()) {
    const uint64_t key = r.varint();
    const int field = (int)(key >> 3), wire = (int)(key & 7);
    if (field == 1 && wire == 1) e.wall_time = r.fixed<double>();
    else if (field == 2 && wire == 0) e.step = (int64_t)r.varint();
    else if (field == 3 && wire == 2) e.file_version = r.str();
    else if (field == 7 && wire == 2) {
      Reader log = r.sub();
      e.session_status = -1;  // present, status unset
      while (!log.done()) {
        const uint64_t k = log.varint();
        if ((k >> 3) == 1 && (k & 7) == 0) e.session_status = (int)log.varint();
        else log.skip((int)(k & 7));
      }
    }
    else if (field == 5 && wire == 2) {
      Reader summary = r.sub();
      while (!summary.done()) {
        const uint64_t k = summary.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) read_value(summary.sub(), e);
        else summary.skip((int)(k & 7));
      }
    } else {
      r.skip(wire);
    }
  }
  return e;
}

void flatten(const std::string& tag, const nlohmann::json& v, std::vector<std::pair<std::string, double>>& out) {
  if (v.is_number()) {
    out.emplace_back(tag, v.get<double>());
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.size(); ++i) flatten(tag + "/" + std::to_string(i), v[i], out);
  } else if (v.is_object()) {
    for (const auto& [k, sub] : v.items()) flatten(tag + "/" + k, sub, out);
  }
}

}  // namespace

uint32_t crc32c(const void* data, size_t n) {
  const auto& t = crc_table();
  const unsigned char* p = (const unsigned char*)data;
  uint32_t c = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) c = t[(c ^ p[i]) & 0xFF] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  const uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xA282EAD8u;
}

std::vector<std::pair<std::string, double>> metric_scalars(const nlohmann::json& record) {
  std::vector<std::pair<std::string, double>> out;
  if (!record.is_object()) return out;
  for (const auto& [k, v] : record.items())
    if (k != "step") flatten(k, v, out);
  return out;
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  // Seconds and microseconds, zero-padded: the names sort in creation order, as TensorBoard reads them.
  const double t = now_seconds();
  char stamp[48];
  std::snprintf(stamp, sizeof stamp, "%010lld.%06lld", (long long)t, (long long)((t - std::floor(t)) * 1e6));
  const std::string base =
      (fs::path(dir) / ("events.out.tfevents." + std::string(stamp) + "." + host + "." + std::to_string(getpid()))).string();
  path_ = base;
  for (int n = 1; fs::exists(path_); ++n) path_ = base + "." + std::to_string(n);
  f_ = std::fopen(path_.c_str(), "wb");
  DASG_CHECK(f_, "tensorboard: cannot create '", path_, "'");
  write_record(event_bytes(now_seconds(), 0, "brain.Event:2", ""));
}

EventFileWriter::~EventFileWriter() {
  if (f_) std::fclose(f_);
}

void EventFileWriter::write_record(const std::string& data) {
  std::string rec;
  const uint64_t n = data.size();
  put_fixed(rec, n);
  put_fixed(rec, masked_crc32c(rec.data(), 8));
  rec += data;
  put_fixed(rec, masked_crc32c(data.data(), data.size()));
  DASG_CHECK(std::fwrite(rec.data(), 1, rec.size(), f_) == rec.size() && std::fflush(f_) == 0, "tensorboard: write to '",
             path_, "' failed (disk full?)");
}

void EventFileWriter::write(int64_t step, const nlohmann::json& record) {
  std::string summary;
  for (const auto& [tag, v] : metric_scalars(record)) {
    std::string value;
    put_bytes(value, 1, tag);
    put_key(value, 2, 5);
    put_fixed(value, (float)v);
    put_bytes(summary, 1, value);
  }
  if (!summary.empty()) write_record(event_bytes(now_seconds(), step, "", summary));
}

void EventFileWriter::write_session_start(int64_t step) {
  std::string log;
  put_key(log, 1, 0);
  put_varint(log, 1);  // SessionLog.START
  std::string e = event_bytes(now_seconds(), step, "", "");
  put_bytes(e, 7, log);
  write_record(e);
}

std::vector<Event> read_event_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  DASG_CHECK(f, "tensorboard: cannot open '", path, "'");
  const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    const std::string where = path + ": record at byte " + std::to_string(at);
    DASG_CHECK(bytes.size() - at >= 12, where, ": truncated header (", bytes.size() - at, " bytes left; expected 12)");
    uint64_t n;
    uint32_t len_crc, data_crc;
    std::memcpy(&n, bytes.data() + at, 8);
    std::memcpy(&len_crc, bytes.data() + at + 8, 4);
    DASG_CHECK(len_crc == masked_crc32c(bytes.data() + at, 8), where, ": the length's CRC does not match");
    DASG_CHECK(n <= bytes.size() - at - 12 && bytes.size() - at - 12 - n >= 4, where, ": a record of ", n,
               " bytes overruns the file");
    const char* data = bytes.data() + at + 12;
    std::memcpy(&data_crc, data + n, 4);
    DASG_CHECK(data_crc == masked_crc32c(data, n), where, ": the data's CRC does not match");
    events.push_back(read_event(Reader{(const unsigned char*)data, (const unsigned char*)data + n, where}));
    at += 12 + n + 4;
  }
  return events;
}

std::vector<std::string> event_files(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename().string().find("tfevents") != std::string::npos)
      out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace dasg
