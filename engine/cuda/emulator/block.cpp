// The protocol of an emulated thread block (see block.hpp).
#include "engine/cuda/emulator/block.hpp"

#include <algorithm>
#include <cstdio>
#include <string_view>

namespace dasg::emu::detail {

std::string site(std::source_location w) { return std::string(w.file_name()) + ":" + std::to_string(w.line()); }
bool same_site(std::source_location a, std::source_location b) {
  return a.line() == b.line() && a.column() == b.column() && std::string_view(a.file_name()) == b.file_name();
}
std::string hex(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}
const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::shfl: return "__shfl_sync";
    case WarpOp::shfl_up: return "__shfl_up_sync";
    case WarpOp::shfl_down: return "__shfl_down_sync";
    case WarpOp::shfl_xor: return "__shfl_xor_sync";
    case WarpOp::ballot: return "__ballot_sync";
    case WarpOp::any: return "__any_sync";
    case WarpOp::all: return "__all_sync";
    case WarpOp::sync: return "__syncwarp";
  }
  return "?";
}

void report(Block& b, const std::string& msg) {
  if (b.error.empty()) b.error = msg;
  for (int t = 0; t < b.nthreads; ++t)
    if (b.suspended[t]) b.make_ready(t);
}
[[noreturn]] void fail(Block& b, const std::string& msg) {
  report(b, msg);
  throw KernelAbort{};
}

void report_deadlock(Block& b) {
  std::string msg = "deadlock: every live thread of the block waits and none can go on:";
  if (!b.at_barrier.empty())
    msg += " " + std::to_string(b.at_barrier.size()) + " thread(s) at __syncthreads() at " + site(b.barrier_site) + ";";
  int listed = 0;
  for (int t = 0; t < b.nthreads && listed < 4; ++t) {
    const LaneWait& l = b.lanes[t];
    if (!l.waiting) continue;
    msg += " " + b.thread(t) + " (lane " + std::to_string(t % 32) + " of warp " + std::to_string(t / 32) + ") in " +
           op_name(l.op) + "(mask " + hex(l.mask) + ") at " + site(l.where) + ";";
    ++listed;
  }
  report(b, msg);
}

bool try_complete(Block& b, int base, unsigned mask) {
  const unsigned present = mask & ~b.warp_gone[size_t(base / 32)];
  if (!present || (present & ~b.warp_waiting[size_t(base / 32)])) return false;
  unsigned votes = 0;
  for (int l = 0; l < 32; ++l)
    if ((present >> l & 1u) && b.lanes[base + l].value) votes |= 1u << l;
  for (int l = 0; l < 32; ++l) {
    if (!(present >> l & 1u)) continue;
    LaneWait& x = b.lanes[base + l];
    const int w = x.width, a = x.arg;
    int src = l;
    switch (x.op) {
      case WarpOp::shfl: src = (l & ~(w - 1)) + (a & (w - 1)); break;
      case WarpOp::shfl_up: src = l % w >= a ? l - a : l; break;
      case WarpOp::shfl_down: src = l % w + a < w ? l + a : l; break;
      case WarpOp::shfl_xor: src = (l ^ a) < (l / w + 1) * w ? l ^ a : l; break;
      default: break;
    }
    switch (x.op) {
      case WarpOp::ballot: x.result = votes; break;
      case WarpOp::any: x.result = votes != 0; break;
      case WarpOp::all: x.result = votes == present; break;
      case WarpOp::sync: x.result = 0; break;
      default: x.result = src >= 0 && src < 32 && (present >> src & 1u) ? b.lanes[base + src].value : kPoisonBits;
    }
    x.source = src >= 0 && src < 32 && (present >> src & 1u) ? src : -1;
    x.present = present;
  }
  for (int l = 0; l < 32; ++l) {  // results first: a lane's value is read above until the last
    if (!(present >> l & 1u)) continue;
    b.lanes[base + l].waiting = false;
    if (b.suspended[base + l]) b.make_ready(base + l);
  }
  b.warp_waiting[size_t(base / 32)] &= ~present;
  return true;
}

void thread_exit(Block& b, int t) {
  --b.live;
  b.exited[t] = 1;
  b.warp_gone[size_t(t / 32)] |= 1u << (t % 32);
  if (b.first_exited < 0) b.first_exited = t;
  if (!b.error.empty()) return;
  if (!b.at_barrier.empty()) {
    report(b, b.thread(t) + " returned while " + std::to_string(b.at_barrier.size()) +
                  " thread(s) wait at __syncthreads() at " + site(b.barrier_site) + " (the first: " +
                  b.thread(b.barrier_first) + "); every thread of a block must reach each __syncthreads()");
    return;
  }
  const int base = t - t % 32;
  for (int j = base; j < std::min(base + 32, b.nthreads); ++j)
    if (b.lanes[j].waiting) try_complete(b, base, b.lanes[j].mask);
}

}  // namespace dasg::emu::detail
