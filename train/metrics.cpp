// JSON-lines metrics and the progress display (see metrics.hpp).
#include "train/metrics.hpp"

#include <unistd.h>

#include <fstream>

#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg {

MetricsLog::MetricsLog(const std::string& path, bool append, const std::string& tensorboard_dir, int64_t first_step)
    : path_(path) {
  f_ = std::fopen(path.c_str(), append ? "a" : "w");
  DASG_CHECK(f_, "metrics: cannot open '", path, "' for writing");
  if (!tensorboard_dir.empty()) {
    events_ = std::make_unique<EventFileWriter>(tensorboard_dir);
    if (append) events_->write_session_start(first_step);
  }
}

MetricsLog::~MetricsLog() {
  if (f_) std::fclose(f_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!f_) return;
  std::string line = record.dump() + "\n";
  DASG_CHECK(std::fwrite(line.data(), 1, line.size(), f_) == line.size() && std::fflush(f_) == 0,
             "metrics: write to '", path_, "' failed (disk full?)");
  if (events_) events_->write(record.value("step", (int64_t)0), record);
}

MetricsRecords read_metrics(const std::string& path) {
  std::ifstream f(path);
  DASG_CHECK(f, "metrics: cannot open '", path, "'");
  MetricsRecords m;
  std::string line;
  for (int64_t n = 1; std::getline(f, line); ++n) {
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(n);
    nlohmann::json rec = parse_json(line, where);
    DASG_CHECK(rec.is_object() && rec.contains("step"), where, ": expected a JSON object with a \"step\"");
    const int64_t step = json_int(rec, "step", where);
    if (rec.value("resumed", false)) {
      m.steps.erase(m.steps.lower_bound(step), m.steps.end());
      std::erase_if(m.evals, [&](const nlohmann::json& e) { return e["step"].get<int64_t>() >= step; });
    } else if (rec.value("eval", false)) {
      m.evals.push_back(std::move(rec));
    } else if (!rec.value("skipped", false)) {
      m.steps[step] = std::move(rec);
    }
  }
  return m;
}

Progress::Progress(int64_t first_step, int64_t total_steps, int64_t every)
    : first_(first_step), total_(total_steps), every_(every), tty_(isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()) {}

static std::string format_duration(double s) {
  char buf[32];
  int t = (int)(s + 0.5);
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%dh%02dm", t / 3600, t / 60 % 60);
  else std::snprintf(buf, sizeof buf, "%dm%02ds", t / 60, t % 60);
  return buf;
}

void Progress::update(int64_t step, double loss, double tokens_per_s) {
  const bool last = step + 1 == total_;
  if (!tty_ && (step + 1) % every_ != 0 && !last && step != first_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double done = (double)(step + 1 - first_);
  double eta = done > 0 ? elapsed / done * (double)(total_ - step - 1) : 0;
  std::fprintf(stderr, "%sstep %lld/%lld  loss %.4f  %.0f tok/s  ETA %s%s", tty_ ? "\r\033[K" : "",
               (long long)(step + 1), (long long)total_, loss, tokens_per_s, format_duration(eta).c_str(),
               tty_ ? "" : "\n");
  std::fflush(stderr);
}

void Progress::finish() {
  if (tty_) std::fprintf(stderr, "\n");
}

}  // namespace dasg
