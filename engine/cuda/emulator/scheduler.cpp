// CUDA emulator: runs a grid. Blocks go, in a seeded shuffled order, to two "SM slots" that run
// at the same time; a block's threads are real host threads from the slot's pool, so
// ThreadSanitizer sees them as it would see a GPU's racecheck. __syncthreads() and the warp
// collectives are checked rendezvous on the block's mutex: a divergent barrier, a thread that
// returns while others wait, warp lanes calling with different masks or ops, or a wait nobody can
// end is a launch failure naming the call sites, never a hang.
#include <algorithm>
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
#include <vector>

#include "engine/cuda/emulator/device.hpp"

namespace dasg::emu {
namespace {

constexpr int kSlots = 2;
constexpr std::chrono::milliseconds kWakeRecheck{20};  // see worker_loop
constexpr size_t kStaticSharedLimit = 48 * 1024;
constexpr uint64_t kPoisonBits = ~uint64_t(0);  // what a lane reads from a lane that is not there

struct KernelAbort {};  // unwinds an emulated thread once its block has failed

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

// A lane's pending warp collective.
struct LaneWait {
  bool waiting = false;
  bool blocked = false;  // counted in Block::blocked
  WarpOp op = WarpOp::sync;
  unsigned mask = 0;
  uint64_t value = 0;
  int arg = 0, width = 0;
  std::source_location where;
  uint64_t result = 0;
};

struct Block {
  Block(uint3 i, dim3 d, size_t dynamic_bytes)
      : idx(i), dims(d), nthreads(int(d.x * d.y * d.z)), live(nthreads), lanes(nthreads), exited(nthreads),
        warp_cv(new std::condition_variable[(nthreads + 31) / 32]), dynamic(std::malloc(dynamic_bytes)) {
    if (dynamic) std::memset(dynamic, 0xFF, dynamic_bytes);
  }
  ~Block() {
    for (auto& s : statics) std::free(s.second);
    std::free(dynamic);
  }
  std::string thread(int t) const {
    return "thread (" + std::to_string(t % dims.x) + "," + std::to_string(t / dims.x % dims.y) + "," +
           std::to_string(t / (dims.x * dims.y)) + ")";
  }

  uint3 idx;
  dim3 dims;
  int nthreads;
  std::mutex m;
  int live;               // threads that have not returned
  int first_exited = -1;  // the first thread that returned
  int blocked = 0;        // threads waiting in __syncthreads() or a warp collective
  // __syncthreads()
  std::condition_variable barrier_cv;
  int arrived = 0;
  uint64_t generation = 0;
  std::source_location barrier_site;
  int barrier_first = -1;
  // warp collectives, indexed by the thread's linear index
  std::vector<LaneWait> lanes;
  std::vector<char> exited;
  std::unique_ptr<std::condition_variable[]> warp_cv;
  // shared memory: one allocation per static declaration, and the dynamic one
  std::vector<std::pair<const void*, void*>> statics;
  size_t static_bytes = 0;
  void* dynamic;
  std::string error;
};

thread_local Block* tls_block = nullptr;
thread_local int tls_tid = 0;

Block& current(const char* what) {
  if (!tls_block) throw std::logic_error(std::string(what) + " called outside a kernel");
  return *tls_block;
}

// Records the block's first error and wakes every waiter so it can unwind.
void report(Block& b, const std::string& msg) {
  if (b.error.empty()) b.error = msg;
  b.barrier_cv.notify_all();
  for (int w = 0; w < (b.nthreads + 31) / 32; ++w) b.warp_cv[w].notify_all();
}
[[noreturn]] void fail(Block& b, const std::string& msg) {
  report(b, msg);
  throw KernelAbort{};
}

// Called with b.m held whenever a thread starts to wait or returns: if every live thread waits,
// none can end another's wait.
void check_deadlock(Block& b) {
  if (b.live == 0 || b.blocked < b.live) return;
  std::string msg = "deadlock: every live thread of the block waits and none can go on:";
  if (b.arrived > 0)
    msg += " " + std::to_string(b.arrived) + " thread(s) at __syncthreads() at " + site(b.barrier_site) + ";";
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

// Completes the collective of the lanes `mask` names in the warp starting at `base` if every one
// of them that exists and has not returned is waiting in it. Returns whether it completed.
bool try_complete(Block& b, int base, unsigned mask) {
  unsigned present = 0, votes = 0;
  for (int l = 0; l < 32; ++l) {
    int t = base + l;
    if (!(mask >> l & 1u) || t >= b.nthreads || b.exited[t]) continue;
    if (!b.lanes[t].waiting) return false;
    present |= 1u << l;
    if (b.lanes[t].value) votes |= 1u << l;
  }
  if (!present) return false;
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
    x.waiting = false;
    if (x.blocked) {
      x.blocked = false;
      --b.blocked;
    }
  }
  b.warp_cv[base / 32].notify_all();
  return true;
}

void thread_exit(Block& b, int t) {
  std::lock_guard lk(b.m);
  --b.live;
  b.exited[t] = 1;
  if (b.first_exited < 0) b.first_exited = t;
  if (!b.error.empty()) return;
  if (b.arrived > 0) {
    report(b, b.thread(t) + " returned while " + std::to_string(b.arrived) + " thread(s) wait at __syncthreads() at " +
                  site(b.barrier_site) + " (the first: " + b.thread(b.barrier_first) +
                  "); every thread of a block must reach each __syncthreads()");
    return;
  }
  const int base = t - t % 32;
  for (int j = base; j < std::min(base + 32, b.nthreads); ++j)
    if (b.lanes[j].waiting) try_complete(b, base, b.lanes[j].mask);
  check_deadlock(b);
}

}  // namespace

void syncthreads(std::source_location where) {
  Block& b = current("__syncthreads()");
  const int t = tls_tid;
  std::unique_lock lk(b.m);
  if (!b.error.empty()) throw KernelAbort{};
  if (b.first_exited >= 0)
    fail(b, b.thread(t) + " reached __syncthreads() at " + site(where) + " after " + b.thread(b.first_exited) +
                " returned; every thread of a block must reach each __syncthreads()");
  if (b.arrived == 0) {
    b.barrier_site = where;
    b.barrier_first = t;
  } else if (!same_site(where, b.barrier_site)) {
    fail(b, "divergent __syncthreads(): " + b.thread(b.barrier_first) + " waits at " + site(b.barrier_site) + " but " +
                b.thread(t) + " reached the one at " + site(where));
  }
  if (++b.arrived == b.live) {
    b.blocked -= b.arrived - 1;
    b.arrived = 0;
    ++b.generation;
    b.barrier_cv.notify_all();
    return;
  }
  const uint64_t generation = b.generation;
  ++b.blocked;
  check_deadlock(b);
  b.barrier_cv.wait(lk, [&] { return b.generation != generation || !b.error.empty(); });
  if (b.generation == generation) throw KernelAbort{};
}

uint64_t warp_collective(WarpOp op, unsigned mask, uint64_t value, int arg, int width, std::source_location where) {
  Block& b = current(op_name(op));
  const int t = tls_tid, lane = t % 32, base = t - lane;
  std::unique_lock lk(b.m);
  if (!b.error.empty()) throw KernelAbort{};
  const std::string call = std::string(op_name(op)) + "(mask " + hex(mask) + ") at " + site(where);
  if (!(mask >> lane & 1u)) fail(b, b.thread(t) + " (lane " + std::to_string(lane) + ") calls " + call + ", a mask without its own lane");
  if (width < 1 || width > 32 || (width & (width - 1)))
    fail(b, b.thread(t) + " calls " + call + " with width " + std::to_string(width) + "; expected a power of 2 <= 32");
  for (int j = base; j < std::min(base + 32, b.nthreads); ++j) {
    const LaneWait& o = b.lanes[j];
    const bool each_waits_for_other = (mask >> (j - base) & 1u) && (o.mask >> lane & 1u);
    if (j != t && o.waiting && each_waits_for_other && (o.mask != mask || o.op != op))
      fail(b, "warp " + std::to_string(t / 32) + ": " + b.thread(t) + " calls " + call + " while " + b.thread(j) +
                  " waits in " + op_name(o.op) + "(mask " + hex(o.mask) + ") at " + site(o.where) +
                  "; the lanes a mask names must all make the same call with the same mask");
  }
  LaneWait& me = b.lanes[t];
  me = LaneWait{true, false, op, mask, value, arg, width, where, 0};
  if (!try_complete(b, base, mask)) {
    me.blocked = true;
    ++b.blocked;
    check_deadlock(b);
    b.warp_cv[t / 32].wait(lk, [&] { return !me.waiting || !b.error.empty(); });
    if (me.waiting) throw KernelAbort{};
  }
  return me.result;
}

void* shared_static(const void* tag, size_t bytes) {
  Block& b = current("DASG_SHARED");
  std::lock_guard lk(b.m);
  if (!b.error.empty()) throw KernelAbort{};
  for (auto& [key, ptr] : b.statics)
    if (key == tag) return ptr;
  if (b.static_bytes + bytes > kStaticSharedLimit)
    fail(b, "static shared memory of " + std::to_string(b.static_bytes + bytes) + " bytes; sm_90 allows 48 KB");
  void* p = std::malloc(bytes);
  std::memset(p, 0xFF, bytes);
  b.statics.emplace_back(tag, p);
  b.static_bytes += bytes;
  return p;
}

void* shared_dynamic() { return current("DASG_DYNAMIC_SHARED").dynamic; }

namespace {

struct Launch {
  KernelBody body;
  dim3 grid, block;
  size_t dynamic_bytes;
  std::mutex m;  // guards finished and done
  std::condition_variable cv;
  int finished[kSlots] = {};
  std::vector<int> done;  // slots whose block has finished
};

struct Job {
  Block* block;
  Launch* launch;
  int slot, tid;
};

struct Worker {
  std::mutex m;
  std::condition_variable cv;
  bool has_job = false, stop = false;
  Job job{};
  std::thread thread;
};

void run_thread(const Job& job) {
  Block& b = *job.block;
  const Launch& L = *job.launch;
  const unsigned t = unsigned(job.tid);
  threadIdx = uint3{t % L.block.x, t / L.block.x % L.block.y, t / (L.block.x * L.block.y)};
  blockIdx = b.idx;
  blockDim = L.block;
  gridDim = L.grid;
  tls_block = &b;
  tls_tid = job.tid;
  try {
    L.body.run(L.body.ctx);
  } catch (const KernelAbort&) {
  } catch (const std::exception& e) {
    std::lock_guard lk(b.m);
    report(b, b.thread(job.tid) + " threw: " + e.what());
  }
  thread_exit(b, job.tid);
  tls_block = nullptr;
}

// Worker t of a slot, once woken, wakes workers 2t+1 and 2t+2: a block's threads start in a
// tree rather than one by one from the launching thread.
void worker_loop(Worker& w, const std::vector<std::unique_ptr<Worker>>& workers, int index) {
  for (;;) {
    Job job;
    {
      std::unique_lock lk(w.m);
      // A timed wait re-checks the predicate, so a lost wake-up (seen here as a hang: a worker
      // asleep with has_job set, under Debian 12's glibc 2.36, cf. glibc bug 25847) costs a
      // few milliseconds instead of the launch.
      while (!w.cv.wait_for(lk, kWakeRecheck, [&] { return w.has_job || w.stop; })) {
      }
      if (!w.has_job) return;
      job = w.job;
      w.has_job = false;
    }
    for (int child = 2 * index + 1; child <= 2 * index + 2 && child < job.block->nthreads; ++child)
      workers[child]->cv.notify_one();
    run_thread(job);
    Launch& L = *job.launch;
    std::lock_guard lk(L.m);
    if (++L.finished[job.slot] == job.block->nthreads) {
      L.done.push_back(job.slot);
      L.cv.notify_one();
    }
  }
}

// The host threads of each slot, kept between launches.
struct Pool {
  std::vector<std::unique_ptr<Worker>> slots[kSlots];
  ~Pool() {
    for (auto& workers : slots)
      for (auto& w : workers) {
        {
          std::lock_guard lk(w->m);
          w->stop = true;
        }
        w->cv.notify_one();
        w->thread.join();
      }
  }
  void start(int slot, Block* block, Launch* launch) {
    auto& workers = slots[slot];
    // Workers read `workers` only while running a job, so growing it here (no job runs) is safe.
    while (int(workers.size()) < block->nthreads) {
      workers.push_back(std::make_unique<Worker>());
      Worker* w = workers.back().get();
      w->thread = std::thread([w, &workers, index = int(workers.size()) - 1] { worker_loop(*w, workers, index); });
    }
    // Highest index first: a worker may start as soon as its own job is set, and then it wakes its
    // children (higher indices), whose jobs must already be there.
    for (int t = block->nthreads - 1; t >= 0; --t) {
      std::lock_guard lk(workers[t]->m);
      workers[t]->job = Job{block, launch, slot, t};
      workers[t]->has_job = true;
    }
    workers[0]->cv.notify_one();
  }
};

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
  static Pool pool;
  static std::mt19937_64 rng(seed());
  std::vector<uint32_t> order(nblocks);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);

  Launch L{body, grid, block, shared_bytes, {}, {}, {}, {}};
  std::unique_ptr<Block> running[kSlots];
  size_t next = 0;
  int active = 0;
  std::string error;
  auto start = [&](int slot) {
    const uint32_t i = order[next++];
    const uint3 idx{i % grid.x, i / grid.x % grid.y, i / (grid.x * grid.y)};
    running[slot] = std::make_unique<Block>(idx, block, shared_bytes);
    L.finished[slot] = 0;  // no worker of this slot is running: the previous block finished
    pool.start(slot, running[slot].get(), &L);
    ++active;
  };
  for (int s = 0; s < kSlots && next < order.size(); ++s) start(s);
  while (active > 0) {
    int slot;
    {
      std::unique_lock lk(L.m);
      while (!L.cv.wait_for(lk, kWakeRecheck, [&] { return !L.done.empty(); })) {  // as in worker_loop
      }
      slot = L.done.back();
      L.done.pop_back();
    }
    --active;
    Block& b = *running[slot];
    if (!b.error.empty() && error.empty()) error = "block " + dims(dim3(b.idx)) + ": " + b.error;
    running[slot].reset();
    if (error.empty() && next < order.size()) start(slot);
  }
  if (!error.empty()) {
    set_last_error(cudaErrorLaunchFailure, error.c_str());
    return cudaErrorLaunchFailure;
  }
  return cudaSuccess;
}

}  // namespace dasg::emu
