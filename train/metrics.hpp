// Metrics as JSON lines (one object per step and per evaluation, flushed as written), each record
// also written as TensorBoard scalars when asked (train/event_file.hpp), and the progress display: a one-line status on stderr when it is a terminal, else a plain line every
// `every` steps.
#pragma once
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/event_file.hpp"

namespace dasg {

class MetricsLog {
 public:
  MetricsLog() = default;
  // Appends when `append` (a run resumed at `first_step`), truncates otherwise. A non-empty
  // `tensorboard_dir` gets a new event file receiving every record's scalars at its "step" (a
  // resumed run: a second file, opened by a SessionLog START at first_step).
  MetricsLog(const std::string& path, bool append, const std::string& tensorboard_dir = "", int64_t first_step = 0);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* f_ = nullptr;
  std::unique_ptr<EventFileWriter> events_;
};

// A metrics.jsonl read back: the step records by step (the last one written at a step; skipped
// steps left out) and the evaluations in the order written. A {"resumed": true} record at step s
// supersedes every record before it at step s and later (what an interrupted run wrote past its
// checkpoint), as the SessionLog START does in the event files.
struct MetricsRecords {
  std::map<int64_t, nlohmann::json> steps;
  std::vector<nlohmann::json> evals;
};

// Throws dasg::Error naming the file, and the line, when it cannot be opened or a line is not a
// JSON object with an integer "step".
MetricsRecords read_metrics(const std::string& path);

class Progress {
 public:
  Progress(int64_t first_step, int64_t total_steps, int64_t every = 10);
  void update(int64_t step, double loss, double tokens_per_s);
  void finish();  // ends the terminal line

 private:
  int64_t first_, total_, every_;
  bool tty_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace dasg
