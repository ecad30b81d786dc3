// Metrics as JSON lines (one object per step and per evaluation, flushed as written) and the
// progress display: a one-line status on stderr when it is a terminal, else a plain line every
// `every` steps.
#pragma once
#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace dasg {

class MetricsLog {
 public:
  MetricsLog() = default;
  // Appends when `append` (a resumed run), truncates otherwise.
  MetricsLog(const std::string& path, bool append);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FILE* f_ = nullptr;
};

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
