// CUDA emulator: the fibers an emulated block's threads run on (scheduler.cpp schedules them) —
// a stack with a guard page, a saved context, and a switch between two contexts. On x86-64 a
// switch pushes the callee-saved registers and the FPU control words on the current stack and
// swaps stack pointers: swapcontext() would add a sigprocmask system call per switch, most of an
// emulated kernel's time. Elsewhere it is swapcontext(). The sanitizers' fiber hooks are the
// scheduler's business; this file only says which sanitizer the build has.
#pragma once
#include <cstddef>
#if !defined(__x86_64__)
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define DASG_EMU_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define DASG_EMU_TSAN 1
#endif
#if defined(__has_feature)
#if __has_feature(address_sanitizer) && !defined(DASG_EMU_ASAN)
#define DASG_EMU_ASAN 1
#endif
#if __has_feature(thread_sanitizer) && !defined(DASG_EMU_TSAN)
#define DASG_EMU_TSAN 1
#endif
#endif
#ifdef DASG_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef DASG_EMU_TSAN
#include <sanitizer/tsan_interface.h>
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#endif

namespace dasg::emu {

constexpr size_t kStackBytes = 256 * 1024;  // per emulated thread; ASan's redzones need room
constexpr size_t kGuardBytes = 4096;        // below each stack: an overflow faults

#if defined(__x86_64__)
struct Context {
  void* sp = nullptr;
};
#else
struct Context {
  ucontext_t uc;
};
#endif

// A fresh context on [stack, stack + bytes) whose first switch calls entry(), which must never
// return (it ends by switching away), with the caller's FPU control words.
void init_context(Context& c, char* stack, size_t bytes, void (*entry)());
// Saves the running context in `from` and resumes `to`. Not instrumented, so a fiber's last
// switch leaves no frame on a sanitizer's shadow call stack.
void switch_context(Context& from, Context& to);

// A stack and context for one emulated thread at a time.
struct Fiber {
  Fiber();
  ~Fiber();
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;
  char* stack() const { return base + kGuardBytes; }
  char* base;
  Context context;
  void* asan_fake_stack = nullptr;
};

}  // namespace dasg::emu
