// The CUDA emulator's block (scheduler.cpp runs blocks, block.cpp holds their protocol; internal to
// the emulator). A Block is the state one running thread block shares among its threads (the
// fibers of one slot, which never run at once): who is ready, who waits at __syncthreads() or in
// a warp collective, who has returned, its shared memory and its first error. The protocol
// functions below change that state when a thread waits, returns or fails; they never switch
// fibers (scheduler.cpp does), so each is called inside one Untracked, and a warp collective
// completes only when every lane its mask names that exists and has not returned waits in it.
#pragma once
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <source_location>
#include <string>
#include <vector>

#include "engine/cuda/emulator/device.hpp"
#include "engine/cuda/emulator/fiber.hpp"  // which sanitizer the build has, and its interface

#ifdef DASG_EMU_TSAN
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#endif

namespace dasg::emu::detail {

constexpr uint64_t kPoisonBits = ~uint64_t(0);  // what a lane reads from a lane that is not there

// ---- what ThreadSanitizer is told -------------------------------------------------------------
// Orders `addr`'s later acquirers after the calling emulated thread.
inline void tsan_release([[maybe_unused]] void* addr) {
#ifdef DASG_EMU_TSAN
  __tsan_release(addr);
#endif
}
inline void tsan_acquire([[maybe_unused]] void* addr) {
#ifdef DASG_EMU_TSAN
  __tsan_acquire(addr);
#endif
}
// The emulator's bookkeeping is shared by the fibers of a block without any memory ordering
// (they never run at once); TSan does not see the accesses made while one of these lives.
struct Untracked {
#ifdef DASG_EMU_TSAN
  Untracked() { __tsan_ignore_thread_begin(); }
  ~Untracked() { __tsan_ignore_thread_end(); }
#else
  Untracked() {}  // user-provided: a guard variable is not "unused"
  ~Untracked() {}
#endif
  Untracked(const Untracked&) = delete;
};

struct KernelAbort {};  // unwinds an emulated thread once its block has failed

// Messages: "file:line", the same call site, 0x%08x, a warp collective's CUDA name.
std::string site(std::source_location w);
bool same_site(std::source_location a, std::source_location b);
std::string hex(unsigned v);
const char* op_name(WarpOp op);

// A lane's pending warp collective.
struct LaneWait {
  bool waiting = false;
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t value = 0;
  int arg = 0, width = 0;
  std::source_location where;
  uint64_t result = 0;
  unsigned present = 0;  // the lanes that took part, once complete
  int source = -1;       // a shuffle's: the lane whose value it read (-1: none, kPoisonBits)
};

struct Launch {
  KernelBody body;
  dim3 grid, block;
  size_t dynamic_bytes;
  std::vector<uint32_t> order;     // blocks in the order they are handed out
  std::atomic<size_t> next{0};     // the next entry of `order` to hand out
  std::atomic<bool> failed{false};
  std::mutex m;                    // guards error
  std::string error;               // the first failed block's
};

// One block's state; a slot reuses one Block for every block of a launch it runs (reset()).
struct Block {
  explicit Block(const Launch& l)
      : launch(l), nthreads(int(l.block.x * l.block.y * l.block.z)), lanes(nthreads), warp_waiting((nthreads + 31) / 32),
        warp_gone((nthreads + 31) / 32), exited(nthreads), suspended(nthreads), dynamic(std::malloc(l.dynamic_bytes)) {}
  ~Block() {
    for (auto& s : statics) std::free(s.ptr);
    std::free(dynamic);
  }
  // Block `i` about to start: nothing has run, shared memory is poisoned again.
  void reset(uint3 i) {
    idx = i;
    live = nthreads;
    first_exited = -1;
    ready.clear();
    ready_head = 0;
    at_barrier.clear();
    std::fill(lanes.begin(), lanes.end(), LaneWait{});
    std::fill(warp_waiting.begin(), warp_waiting.end(), 0u);
    std::fill(warp_gone.begin(), warp_gone.end(), 0u);
    if (nthreads % 32) warp_gone.back() = ~0u << (nthreads % 32);
    std::fill(exited.begin(), exited.end(), char(0));
    std::fill(suspended.begin(), suspended.end(), char(0));
    for (auto& s : statics) std::memset(s.ptr, 0xFF, s.bytes);
    if (dynamic) std::memset(dynamic, 0xFF, launch.dynamic_bytes);
    error.clear();
  }
  std::string thread(int t) const {
    const dim3 d = launch.block;
    return "thread (" + std::to_string(t % d.x) + "," + std::to_string(t / d.x % d.y) + "," +
           std::to_string(t / (d.x * d.y)) + ")";
  }
  void make_ready(int t) {
    suspended[t] = 0;
    ready.push_back(t);
  }

  uint3 idx{};
  const Launch& launch;
  int nthreads;
  int live = 0;           // threads that have not returned
  int first_exited = -1;  // the first thread that returned
  std::vector<int> ready;  // threads that can run, a queue from ready_head on
  size_t ready_head = 0;
  // __syncthreads()
  std::vector<int> at_barrier;  // the threads waiting there
  uint64_t generation = 0;
  std::source_location barrier_site;
  int barrier_first = -1;
  // warp collectives, indexed by the thread's linear index
  std::vector<LaneWait> lanes;
  std::vector<unsigned> warp_waiting, warp_gone;  // per warp: lanes waiting; lanes returned or absent
  std::vector<char> exited, suspended;
  // shared memory: one allocation per static declaration, and the dynamic one
  struct Static {
    const void* tag;
    void* ptr;
    size_t bytes;
  };
  std::vector<Static> statics;  // kept, poisoned again, for the launch's next block
  size_t static_bytes = 0;
  void* dynamic;
  std::string error;
  // TSan: the block's start after its setup, its end after every thread, its barrier
  char start_sync = 0, end_sync = 0, barrier_sync = 0;
};

// Records the block's first error and readies every waiting thread so it can unwind; fail()
// also throws KernelAbort.
void report(Block& b, const std::string& msg);
[[noreturn]] void fail(Block& b, const std::string& msg);
// When no thread can run but some have not returned: every live thread waits, none can go on.
void report_deadlock(Block& b);
// Completes the collective of the lanes `mask` names in the warp starting at `base` if every one
// of them that exists and has not returned is waiting in it, and readies the suspended ones.
// Returns whether it completed.
bool try_complete(Block& b, int base, unsigned mask);
// Thread t has returned: a barrier it leaves waiting is an error; a collective of its warp may
// now be complete.
void thread_exit(Block& b, int t);

}  // namespace dasg::emu::detail
