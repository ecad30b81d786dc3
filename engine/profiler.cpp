// Engine profiler (see profiler.hpp). The table is touched only from the thread that runs ops
// (the engine calls ops from one thread; kernels parallelise inside), under a mutex anyway.
#include "engine/profiler.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>

namespace dasg::profiler {

namespace {
bool from_env() {
  const char* e = std::getenv("DASG_PROFILE");
  return e && *e && std::strcmp(e, "0") != 0;
}
std::mutex g_mu;
std::map<std::string, Entry>& table() {
  static std::map<std::string, Entry> t;
  return t;
}
thread_local int t_depth = 0;
double g_flops = 0;
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

bool g_enabled = from_env();

void enable(bool on) { g_enabled = on; }

void reset() {
  std::lock_guard<std::mutex> lock(g_mu);
  table().clear();
  g_flops = 0;
}

void add_flops(double f) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_flops += f;
}
double flops() {
  std::lock_guard<std::mutex> lock(g_mu);
  return g_flops;
}

std::vector<Entry> entries() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::vector<Entry> out;
  for (auto& [name, e] : table()) out.push_back(e);
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) {
    return a.seconds[0] + a.seconds[1] > b.seconds[0] + b.seconds[1];
  });
  return out;
}

void Scope::begin(const char* name, Phase phase) {
  entered_ = true;
  if (t_depth++ > 0) return;  // nested: the outer scope counts this time
  outermost_ = true;
  name_ = name;
  phase_ = phase;
  t0_ = now_ns();
}

void Scope::end() {
  --t_depth;
  if (!outermost_) return;
  const double s = (double)(now_ns() - t0_) * 1e-9;
  std::lock_guard<std::mutex> lock(g_mu);
  Entry& e = table()[name_];
  if (e.name.empty()) e.name = name_;
  e.seconds[phase_] += s;
  e.calls[phase_] += 1;
}

}  // namespace dasg::profiler
