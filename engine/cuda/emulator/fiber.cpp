// CUDA emulator fibers (see fiber.hpp).
#include "engine/cuda/emulator/fiber.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace dasg::emu {

#if defined(__x86_64__)
extern "C" void dasg_emu_switch(void** save_sp, void* next_sp);
asm(R"(
  .text
  .globl dasg_emu_switch
  .type dasg_emu_switch, @function
dasg_emu_switch:
  endbr64
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr 8(%rsp)
  fldcw (%rsp)
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size dasg_emu_switch, .-dasg_emu_switch
)");
// The frame dasg_emu_switch pops, under a null return address: FPU control words, six zeroed
// callee-saved registers (r15 r14 r13 r12 rbx rbp), entry as the return address.
void init_context(Context& c, char* stack, size_t bytes, void (*entry)()) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(stack) + bytes) & ~uintptr_t(15);
  auto* slot = reinterpret_cast<uint64_t*>(top - 16);  // 16-aligned: entry's return address
  slot[1] = 0;
  slot[0] = reinterpret_cast<uint64_t>(entry);
  uint64_t* regs = slot - 6;
  std::fill(regs, slot, uint64_t(0));
  auto* fpu = reinterpret_cast<unsigned char*>(regs) - 16;
  std::memset(fpu, 0, 16);
  asm volatile("fnstcw %0" : "=m"(*reinterpret_cast<uint16_t*>(fpu)));
  asm volatile("stmxcsr %0" : "=m"(*reinterpret_cast<uint32_t*>(fpu + 8)));
  c.sp = fpu;
}
__attribute__((no_sanitize("address", "thread"))) void switch_context(Context& from, Context& to) {
  dasg_emu_switch(&from.sp, to.sp);
}
#else
void init_context(Context& c, char* stack, size_t bytes, void (*entry)()) {
  getcontext(&c.uc);
  c.uc.uc_stack.ss_sp = stack;
  c.uc.uc_stack.ss_size = bytes;
  c.uc.uc_link = nullptr;
  makecontext(&c.uc, entry, 0);
  // ASan's swapcontext interceptor would clear the shadow of the whole stack at every switch
  // (the scheduler announces the switches instead).
  c.uc.uc_stack = stack_t{};
}
__attribute__((no_sanitize("address", "thread"))) void switch_context(Context& from, Context& to) {
  swapcontext(&from.uc, &to.uc);
}
#endif

Fiber::Fiber() {
  void* p = mmap(nullptr, kGuardBytes + kStackBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("CUDA emulator: cannot map a thread stack");
  mprotect(p, kGuardBytes, PROT_NONE);
  base = static_cast<char*>(p);
}

Fiber::~Fiber() {
  munmap(base, kGuardBytes + kStackBytes);
}

}  // namespace dasg::emu
