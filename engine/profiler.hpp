// Engine profiler: wall time per op kind, forward and backward, summed over a run.
//   on:   DASG_PROFILE=1 in the environment, or profiler::enable(true) (dasg bench train --profile)
//   off:  one predictable branch on a global bool per op call; nothing recorded, no clock read.
// Only the outermost op of a nest is timed (an op calling another op counts once, as itself),
// so the kinds' times add up to at most the wall time. Forward scopes sit in the ops/ entry
// points (DASG_PROFILE_OP); backward ones around each autograd node (autograd/backward.cpp).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace dasg::profiler {

enum Phase : int { forward = 0, backward = 1 };

extern bool g_enabled;
inline bool enabled() { return g_enabled; }
void enable(bool on);
void reset();

struct Entry {
  std::string name;
  double seconds[2] = {0, 0};  // forward, backward
  int64_t calls[2] = {0, 0};
};
// Model FLOPs counted while the profiler is on (GEMMs 2·M·N·K; attention 4·d per query-key pair
// forward, 8·d backward, the recompute of the scores not counted). Reset by reset().
void add_flops(double f);
double flops();
inline void count_flops(double f) {
  if (g_enabled) add_flops(f);
}

// Every kind seen since the last reset, largest total time first.
std::vector<Entry> entries();

// Times one op call when the profiler is on (and this is the outermost timed scope).
class Scope {
 public:
  Scope(const char* name, Phase phase) {
    if (g_enabled) begin(name, phase);
  }
  ~Scope() {
    if (entered_) end();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  void begin(const char* name, Phase phase);
  void end();
  const char* name_ = nullptr;
  Phase phase_ = forward;
  bool entered_ = false, outermost_ = false;
  int64_t t0_ = 0;
};

}  // namespace dasg::profiler

#define DASG_PROFILE_CAT2(a, b) a##b
#define DASG_PROFILE_CAT(a, b) DASG_PROFILE_CAT2(a, b)
// Times the rest of the enclosing block as the forward of op kind `name` (a string literal).
#define DASG_PROFILE_OP(name) \
  ::dasg::profiler::Scope DASG_PROFILE_CAT(dasg_prof_, __LINE__)(name, ::dasg::profiler::forward)
