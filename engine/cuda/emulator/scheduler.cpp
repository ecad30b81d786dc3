// CUDA emulator: runs a grid. Blocks go, in a seeded shuffled order, to two "SM slots" that run
// at the same time on two host threads (the launching thread and one helper thread). A block's
// threads are fibers of its slot's host thread, each on a stack of its own while it runs
// (threads that have returned pass theirs on; see Slot): one runs until it reaches
// __syncthreads(), a warp collective or its end, then the next ready one runs, starting in a
// seeded shuffled order. A switch costs tens of nanoseconds instead of a kernel wake-up,
// and nothing preempts a thread, so the checks are exact: a divergent barrier, a thread that
// returns while others wait, warp lanes calling with different masks or ops, or a wait nobody can
// end is a launch failure naming the call sites, never a hang.
//
// Under ThreadSanitizer every emulated thread runs as a TSan fiber (one of 111 per slot, see
// kTsanIdentities) whose switches carry no happens-before. Only __syncthreads() (among the block's threads) and a completed warp
// collective (among its lanes) order memory, as on the GPU, so a missing __syncthreads() between
// a shared-memory store and another thread's load is a race report, as racecheck's would be; the
// emulator's own bookkeeping is hidden from TSan. Under AddressSanitizer the stack switches are
// announced, so each fiber's stack is checked as its own.
//
// A block's state and its protocol (barrier, warp collectives, returns, errors) are block.hpp's;
// this file runs blocks: the slots, the fibers and the switches between them, and what the
// sanitizers are told of those.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "engine/cuda/emulator/block.hpp"
#include "engine/cuda/emulator/device.hpp"
#include "engine/cuda/emulator/fiber.hpp"

namespace dasg::emu {

using namespace detail;

namespace {

constexpr std::chrono::milliseconds kWakeRecheck{20};  // see Helper::loop
constexpr size_t kStaticSharedLimit = 48 * 1024;
constexpr size_t kReusedTop = 16 * 1024;    // ASan: the part of a stack a finished fiber leaves poisoned

void fiber_main();

// TSan identities (TSan fibers) of one slot. ThreadSanitizer's runtime (v3, GCC 12's libtsan)
// keeps 256 vector-clock slots for all its threads and fibers; above that it steals slots at
// every switch, which made one switch about 4x dearer (11 µs against 3, 512 fibers) and the
// whole-model cases unfinishable. So thread t of a block runs as identity t mod kTsanIdentities
// of its slot, 2 x 111 for the two slots plus the host threads staying under 256. Two threads
// sharing an identity are program-ordered for TSan, so a race between threads 111 apart in one
// block, or between a thread and the one with the same identity in a later block on the same
// slot, goes unseen; every other pair (power-of-two strides, other warps, the other slot) is
// checked. 111 is odd, so no power-of-two stride is a multiple of it.
constexpr size_t kTsanIdentities = 111;

// An SM slot: the fibers of the block it runs and the context of the host thread that runs them.
// A thread takes a fiber when it first runs and gives it back when it returns, so a kernel
// without barriers runs all its threads on one stack; under TSan, which tracks stack memory as
// well, thread t always gets fiber t (and TSan identity t mod kTsanIdentities).
struct Slot {
  Slot() = default;
  Slot(const Slot&) = delete;
  ~Slot() {
#ifdef DASG_EMU_TSAN
    for (void* id : tsan_ids) __tsan_destroy_fiber(id);
#endif
  }
  std::vector<void*> tsan_ids;  // TSan: created as threads first need them
  std::vector<std::unique_ptr<Fiber>> fibers;
  std::vector<Fiber*> idle;       // fibers no thread holds
  std::vector<Fiber*> of_thread;  // the fiber of each started, unfinished thread of the block
  Context host;
  void* host_tsan = nullptr;
  const void* host_stack = nullptr;  // ASan: the host thread's stack, learned on the first switch
  size_t host_stack_bytes = 0;
  Block* block = nullptr;
  int running = -1;  // the thread whose fiber runs now
};

thread_local Slot* tls_slot = nullptr;
thread_local int tls_tid = 0;

Block& current(const char* what) {
  if (!tls_slot || tls_slot->running < 0) throw std::logic_error(std::string(what) + " called outside a kernel");
  return *tls_slot->block;
}

// ---- switching between the host thread and a fiber --------------------------------------------
Fiber& take_fiber(Slot& s, [[maybe_unused]] int t) {
#ifdef DASG_EMU_TSAN
  while (s.fibers.size() <= size_t(t)) s.fibers.push_back(std::make_unique<Fiber>());
  Fiber& f = *s.fibers[size_t(t)];
#else
  if (s.idle.empty()) {
    s.fibers.push_back(std::make_unique<Fiber>());
    s.idle.push_back(s.fibers.back().get());
  }
  Fiber& f = *s.idle.back();
  s.idle.pop_back();
#endif
#ifdef DASG_EMU_ASAN
  // Only fiber_main's frame can be left poisoned by the stack's previous use, at its top.
  __asan_unpoison_memory_region(f.stack() + kStackBytes - kReusedTop, kReusedTop);
#endif
  init_context(f.context, f.stack(), kStackBytes, fiber_main);
  return f;
}

void enter(Slot& s, int t) {
  Fiber*& held = s.of_thread[size_t(t)];
  if (!held) held = &take_fiber(s, t);
  Fiber& f = *held;
  const Launch& L = s.block->launch;
  const unsigned u = unsigned(t);
  threadIdx = uint3{u % L.block.x, u / L.block.x % L.block.y, u / (L.block.x * L.block.y)};
  blockIdx = s.block->idx;
  blockDim = L.block;
  gridDim = L.grid;
  tls_tid = t;
  s.running = t;
#ifdef DASG_EMU_ASAN
  void* fake = nullptr;
  __sanitizer_start_switch_fiber(&fake, f.stack(), kStackBytes);
#endif
#ifdef DASG_EMU_TSAN
  while (s.tsan_ids.size() <= size_t(t) % kTsanIdentities) s.tsan_ids.push_back(__tsan_create_fiber(0));
  __tsan_switch_to_fiber(s.tsan_ids[size_t(t) % kTsanIdentities], __tsan_switch_to_fiber_no_sync);
#endif
  switch_context(s.host, f.context);
#ifdef DASG_EMU_ASAN
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
  s.running = -1;
}

// Back to the host thread; returns when the thread is resumed. Called (by suspend) with exactly
// one Untracked alive: under TSan its ignore is lifted while the thread is away, because the
// thread's TSan identity may run another emulated thread meanwhile (see kTsanIdentities).
void leave(Slot& s) {
  Fiber& f = *s.of_thread[size_t(s.running)];
#ifdef DASG_EMU_ASAN
  __sanitizer_start_switch_fiber(&f.asan_fake_stack, s.host_stack, s.host_stack_bytes);
#endif
#ifdef DASG_EMU_TSAN
  __tsan_ignore_thread_end();
  __tsan_switch_to_fiber(s.host_tsan, __tsan_switch_to_fiber_no_sync);
#endif
  switch_context(f.context, s.host);
#ifdef DASG_EMU_TSAN
  __tsan_ignore_thread_begin();
#endif
#ifdef DASG_EMU_ASAN
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, &s.host_stack, &s.host_stack_bytes);
#endif
}

// The calling thread waits until another makes it ready again (called inside one Untracked).
void suspend(Block& b) {
  b.suspended[size_t(tls_tid)] = 1;
  leave(*tls_slot);
}

// The kernel body for thread tls_tid of the slot's block, to the thread's end.
void run_thread(Slot& s) {
  Block& b = *s.block;
  const int t = tls_tid;
  tsan_acquire(&b.start_sync);
  try {
    b.launch.body.run(b.launch.body.ctx);
  } catch (const KernelAbort&) {
  } catch (const std::exception& e) {
    Untracked u;
    report(b, b.thread(t) + " threw: " + e.what());
  } catch (...) {
    Untracked u;
    report(b, b.thread(t) + " threw an exception that is not a std::exception");
  }
  {
    Untracked u;
    thread_exit(b, t);
  }
  tsan_release(&b.end_sync);
}

// What every fiber runs. It never returns (its last act is the switch away), so it is not
// instrumented: under TSan an instrumented frame here would stay on the fiber's shadow call
// stack, one more for every thread the fiber runs, until TSan's stack depot overflows.
__attribute__((no_sanitize("address", "thread"))) void fiber_main() {
  Slot& s = *tls_slot;
#ifdef DASG_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &s.host_stack, &s.host_stack_bytes);
#endif
  run_thread(s);
  Fiber& f = *s.of_thread[size_t(s.running)];
#ifdef DASG_EMU_ASAN
  __sanitizer_start_switch_fiber(nullptr, s.host_stack, s.host_stack_bytes);  // nullptr: this stack is done
#endif
#ifdef DASG_EMU_TSAN
  __tsan_switch_to_fiber(s.host_tsan, __tsan_switch_to_fiber_no_sync);
#endif
  switch_context(f.context, s.host);
  std::abort();  // a finished fiber is never resumed
}

// Runs every thread of `b` on slot `s` to its end.
void run_block(Slot& s, Block& b, std::mt19937_64& rng) {
  Untracked u;
  s.block = &b;
  s.of_thread.assign(size_t(b.nthreads), nullptr);
  for (int t = 0; t < b.nthreads; ++t) b.ready.push_back(t);
  std::shuffle(b.ready.begin(), b.ready.end(), rng);
#ifdef DASG_EMU_TSAN
  s.host_tsan = __tsan_get_current_fiber();
#endif
  tsan_release(&b.start_sync);
  tls_slot = &s;
  while (b.live > 0) {
    if (b.ready_head == b.ready.size()) {
      b.ready.clear();
      b.ready_head = 0;
      report_deadlock(b);  // readies every waiting thread: each unwinds
      continue;
    }
    const int t = b.ready[b.ready_head++];
    enter(s, t);
    if (b.exited[t]) {
#ifndef DASG_EMU_TSAN
      s.idle.push_back(s.of_thread[size_t(t)]);
#endif
      s.of_thread[size_t(t)] = nullptr;
    }
  }
  tls_slot = nullptr;
  tsan_acquire(&b.end_sync);
  s.block = nullptr;
}

// Hands out the launch's blocks to slot `s` until none is left or one has failed.
void run_blocks(Slot& s, Launch& L, std::mt19937_64& rng) {
  const dim3 grid = L.grid;
  Block b(L);
  for (size_t n; !L.failed.load() && (n = L.next.fetch_add(1)) < L.order.size();) {
    const uint32_t i = L.order[n];
    b.reset(uint3{i % grid.x, i / grid.x % grid.y, i / (grid.x * grid.y)});
    run_block(s, b, rng);
    if (!b.error.empty()) {
      std::lock_guard lk(L.m);
      if (!L.failed.exchange(true))
        L.error = "block (" + std::to_string(b.idx.x) + "," + std::to_string(b.idx.y) + "," + std::to_string(b.idx.z) +
                  "): " + b.error;
    }
  }
}

// The second SM slot: a host thread kept between launches.
struct Helper {
  Helper() : thread([this] { loop(); }) {}
  ~Helper() {
    {
      std::lock_guard lk(m);
      stop = true;
    }
    cv.notify_all();
    thread.join();
  }
  // Runs blocks of `L` beside the caller; `wait()` returns once it has stopped taking them.
  void start(Launch& L, uint64_t seed) {
    std::lock_guard lk(m);
    job = &L;
    job_seed = seed;
    cv.notify_all();
  }
  void wait() {
    std::unique_lock lk(m);
    while (!cv.wait_for(lk, kWakeRecheck, [&] { return job == nullptr; })) {  // as in loop()
    }
  }
  void loop() {
    std::unique_lock lk(m);
    for (;;) {
      // A timed wait re-checks the predicate, so a lost wake-up (seen here as a hang, under
      // Debian 12's glibc 2.36, cf. glibc bug 25847) costs a few milliseconds, not the launch.
      while (!cv.wait_for(lk, kWakeRecheck, [&] { return job != nullptr || stop; })) {
      }
      if (stop) return;
      lk.unlock();
      std::mt19937_64 rng(job_seed);
      run_blocks(slot, *job, rng);
      lk.lock();
      job = nullptr;
      cv.notify_all();
    }
  }
  Slot slot;
  std::mutex m;
  std::condition_variable cv;
  Launch* job = nullptr;
  uint64_t job_seed = 0;
  bool stop = false;
  std::thread thread;  // last: starts once the rest is built
};

}  // namespace

void syncthreads(std::source_location where) {
  Block& b = current("__syncthreads()");
  Untracked u;
  const int t = tls_tid;
  if (!b.error.empty()) throw KernelAbort{};
  if (b.first_exited >= 0)
    fail(b, b.thread(t) + " reached __syncthreads() at " + site(where) + " after " + b.thread(b.first_exited) +
                " returned; every thread of a block must reach each __syncthreads()");
  if (b.at_barrier.empty()) {
    b.barrier_site = where;
    b.barrier_first = t;
  } else if (!same_site(where, b.barrier_site)) {
    fail(b, "divergent __syncthreads(): " + b.thread(b.barrier_first) + " waits at " + site(b.barrier_site) + " but " +
                b.thread(t) + " reached the one at " + site(where));
  }
  tsan_release(&b.barrier_sync);
  if (int(b.at_barrier.size()) + 1 == b.live) {
    ++b.generation;
    for (int w : b.at_barrier) b.make_ready(w);
    b.at_barrier.clear();
  } else {
    const uint64_t generation = b.generation;
    b.at_barrier.push_back(t);
    suspend(b);
    if (b.generation == generation) throw KernelAbort{};  // woken because the block failed
  }
  tsan_acquire(&b.barrier_sync);
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, std::source_location where) {
  Block& b = current(op_name(op));
  Untracked u;
  const int t = tls_tid, lane = t % 32, base = t - lane;
  if (!b.error.empty()) throw KernelAbort{};
  auto call = [&] { return std::string(op_name(op)) + "(mask " + hex(mask) + ") at " + site(where); };
  if (!(mask >> lane & 1u))
    fail(b, b.thread(t) + " (lane " + std::to_string(lane) + ") calls " + call() + ", a mask without its own lane");
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(b, b.thread(t) + " calls " + call() + " with width " + std::to_string(width) + "; expected a power of 2 <= 32");
  for (unsigned w = b.warp_waiting[size_t(t / 32)] & mask; w; w &= w - 1) {  // waiting lanes this call names
    const int j = base + std::countr_zero(w);
    const LaneWait& o = b.lanes[j];
    if ((o.mask >> lane & 1u) && (o.mask != mask || o.op != op))
      fail(b, "warp " + std::to_string(t / 32) + ": " + b.thread(t) + " calls " + call() + " while " + b.thread(j) +
                  " waits in " + op_name(o.op) + "(mask " + hex(o.mask) + ") at " + site(o.where) +
                  "; the lanes a mask names must all make the same call with the same mask");
  }
  LaneWait& me = b.lanes[t];
  me = LaneWait{true, op, mask, value, arg, width, where, 0, 0};
  b.warp_waiting[size_t(t / 32)] |= 1u << lane;
  tsan_release(&me);
  if (!try_complete(b, base, mask)) {
    suspend(b);
    if (me.waiting) throw KernelAbort{};  // woken because the block failed
  }
  // TSan: a vote or __syncwarp orders the lane after every lane of the collective; a shuffle
  // after the one lane whose value it read. (CUDA orders no memory by a shuffle at all; this is
  // the conservative reading, and one acquire instead of 32: acquires were 58% of a whole-model
  // case's time under TSan, `perf`.)
  if (op == WarpOp::ballot || op == WarpOp::any || op == WarpOp::all || op == WarpOp::sync) {
    for (int l = 0; l < 32; ++l)
      if (me.present >> l & 1u) tsan_acquire(&b.lanes[base + l]);
  } else if (me.source >= 0) {
    tsan_acquire(&b.lanes[base + me.source]);
  }
  return me.result;
}

void* shared_static(const void* tag, size_t bytes) {
  Block& b = current("DASG_SHARED");
  Untracked u;
  if (!b.error.empty()) throw KernelAbort{};
  for (const Block::Static& st : b.statics)
    if (st.tag == tag) return st.ptr;
  if (b.static_bytes + bytes > kStaticSharedLimit)
    fail(b, "static shared memory of " + std::to_string(b.static_bytes + bytes) + " bytes; sm_90 allows 48 KB");
  void* p = std::malloc(bytes);
  std::memset(p, 0xFF, bytes);
  b.statics.push_back({tag, p, bytes});
  b.static_bytes += bytes;
  return p;
}

void* shared_dynamic() { return current("DASG_DYNAMIC_SHARED").dynamic; }

namespace {

std::mutex launch_mutex;  // one launch at a time, as on one device queue

uint64_t seed() {
  const char* s = std::getenv("DASG_EMU_SEED");
  return s ? std::strtoull(s, nullptr, 0) : 0x5eedULL;
}

cudaError_t config_error(cudaError_t code, const std::string& msg) {
  set_last_error(code, msg.c_str());
  return code;
}

std::string dims(dim3 d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," + std::to_string(d.z) + ")";
}

}  // namespace

cudaError_t launch_grid(const void* func, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t, KernelBody body) {
  if (cudaError_t e = sticky_error()) {  // a broken context launches nothing
    set_last_error(e, "the device had a sticky error before this launch");
    return e;
  }
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 || block.y > 1024 || block.z > 64 ||
      threads > 1024)
    return config_error(cudaErrorInvalidConfiguration,
                        "kernel launch: block " + dims(block) +
                            " is invalid; sm_90 allows x, y <= 1024, z <= 64 and x*y*z <= 1024 threads");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u || grid.y > 65535 || grid.z > 65535)
    return config_error(cudaErrorInvalidConfiguration,
                        "kernel launch: grid " + dims(grid) + " is invalid; sm_90 allows x < 2^31, y, z <= 65535");
  const uint64_t nblocks = uint64_t(grid.x) * grid.y * grid.z;
  if (nblocks > (uint64_t(1) << 26))
    return config_error(cudaErrorInvalidConfiguration, "kernel launch: grid " + dims(grid) + " is too large to emulate");
  if (shared_bytes > max_dynamic_shared(func))
    return config_error(cudaErrorInvalidValue,
                        "kernel launch: " + std::to_string(shared_bytes) + " bytes of dynamic shared memory; the kernel allows " +
                            std::to_string(max_dynamic_shared(func)) +
                            " (above 48 KB needs cudaFuncSetAttribute(cudaFuncAttributeMaxDynamicSharedMemorySize))");

  std::lock_guard guard(launch_mutex);
  static Slot slot;  // the launching thread's
  static std::mt19937_64 rng(seed());
  static Helper helper;
  Launch L;
  L.body = body;
  L.grid = grid;
  L.block = block;
  L.dynamic_bytes = shared_bytes;
  L.order.resize(nblocks);
  std::iota(L.order.begin(), L.order.end(), 0u);
  std::shuffle(L.order.begin(), L.order.end(), rng);
  const bool two_slots = nblocks > 1;
  if (two_slots) helper.start(L, rng());
  run_blocks(slot, L, rng);
  if (two_slots) helper.wait();
  if (L.failed) {
    set_last_error(cudaErrorLaunchFailure, L.error.c_str());
    return cudaErrorLaunchFailure;
  }
  return cudaSuccess;
}

}  // namespace dasg::emu
