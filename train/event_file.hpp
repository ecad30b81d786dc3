// TensorBoard event files: the metrics of a run as scalars, so TensorBoard (or anything reading
// its format) opens a run directory as it is. Written beside metrics.jsonl by MetricsLog
// (train/metrics.hpp), read back by the tests; no protobuf or TensorFlow library is linked.
//
// The file, `events.out.tfevents.<unix seconds>.<microseconds>.<host>.<pid>` (TensorBoard finds any
// name holding "tfevents" and reads a folder's files in name order, here creation order), is a
// TFRecord stream; each record is
//   uint64 length (little-endian) | uint32 masked_crc32c(those 8 bytes) | data | uint32 masked_crc32c(data)
// with CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) masked as
//   ((crc >> 15) | (crc << 17)) + 0xA282EAD8   (mod 2^32).
// The data is a serialized tensorflow.Event protobuf, of which we write
//   Event      { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//                SessionLog session_log = 7; }
//   Summary    { repeated Value value = 1; }
//   Value      { string tag = 1; float simple_value = 2; }
//   SessionLog { SessionStatus status = 1; }   (START = 1)
// The first record holds file_version "brain.Event:2"; a resumed run's file then holds a
// SessionLog START at the step it resumes from, on which TensorBoard drops the earlier files'
// events at that step and later (the steps the interrupted run wrote past its checkpoint, which
// the resumed run writes again); then one Event per metrics record, its scalars those of
// metric_scalars(). Protobuf wire format: key = field << 3 | wire type (0 varint,
// 1 fixed 64-bit, 2 length-delimited, 5 fixed 32-bit), varints 7 bits a byte, low bits first.
#pragma once
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dasg {

// CRC-32C of `n` bytes, and its masked form as TFRecord stores it.
uint32_t crc32c(const void* data, size_t n);
uint32_t masked_crc32c(const void* data, size_t n);

// The scalars of one metrics.jsonl record, as (tag, value): every number but "step"; an array's
// elements as "<key>/<index>" (deep_rate/0, deep_rate/1, ...); a nested object's as "<key>/<sub>".
// Booleans and strings are not scalars ("eval": true is not logged).
std::vector<std::pair<std::string, double>> metric_scalars(const nlohmann::json& record);

class EventFileWriter {
 public:
  // Creates a new event file in `dir` (a name not yet there) and writes its file_version record.
  explicit EventFileWriter(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;
  // One Event at `step` holding metric_scalars(record), flushed (nothing when it holds none).
  void write(int64_t step, const nlohmann::json& record);
  // A SessionLog START at `step`: the run restarts there (resume).
  void write_session_start(int64_t step);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  void write_record(const std::string& data);
};

struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  int session_status = 0;  // SessionLog.status (1 = START), 0 when the event has none
  std::vector<std::pair<std::string, float>> scalars;  // simple_value of each Summary.Value
};

// Every record of an event file, each CRC checked; unknown protobuf fields are skipped. Throws
// dasg::Error naming the file, the record's byte offset and what is wrong (a bad length or CRC,
// a truncated record, malformed protobuf).
std::vector<Event> read_event_file(const std::string& path);
// The event files of a run directory ("tfevents" in the name), sorted by name (creation order).
std::vector<std::string> event_files(const std::string& dir);

}  // namespace dasg
