// CUDA error handling shared by every CUDA call of the engine (included by cuda_compat.cuh; the
// policy is described in context.hpp): the synchronous diagnostic mode (DASG_CUDA_SYNC=1) and the
// record of a sticky error. Header-only, so the emulator's own tests use the same checks.
#pragma once
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "engine/error.hpp"

namespace dasg::cuda {

namespace errors_detail {
inline bool env_on(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::strcmp(v, "0") != 0;
}
inline std::atomic<bool> g_sync{env_on("DASG_CUDA_SYNC")};
inline std::atomic<bool> g_broken{false};
inline std::mutex g_broken_mutex;
inline std::string g_broken_message;  // the first sticky error, guarded by g_broken_mutex
}  // namespace errors_detail

inline bool sync_enabled() { return errors_detail::g_sync.load(std::memory_order_relaxed); }
inline void set_sync(bool on) { errors_detail::g_sync.store(on); }

// The errors after which the context cannot be used (CUDA runtime API, "sticky" errors).
inline bool is_sticky(cudaError_t status) {
  switch ((int)status) {
    case 214:  // cudaErrorECCUncorrectable
    case 700:  // cudaErrorIllegalAddress
    case 702:  // cudaErrorLaunchTimeout
    case 710:  // cudaErrorAssert
    case 714:  // cudaErrorHardwareStackError
    case 715:  // cudaErrorIllegalInstruction
    case 716:  // cudaErrorMisalignedAddress
    case 717:  // cudaErrorInvalidAddressSpace
    case 718:  // cudaErrorInvalidPc
      return true;
    case 719:  // cudaErrorLaunchFailure: sticky natively; the emulator uses it for a kernel that broke
               // the execution model, after which its device stays usable
#if DASG_CUDA_EMULATE
      return false;
#else
      return true;
#endif
    default:
      return false;
  }
}

inline void check_not_broken() {
  if (!errors_detail::g_broken.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(errors_detail::g_broken_mutex);
  DASG_FAIL("cuda: the device is unusable since an earlier sticky error (", errors_detail::g_broken_message,
            "); every later CUDA call of this process fails with it, so the process must stop");
}

inline const char* sync_hint() {
  return sync_enabled() ? "" : "; kernels run asynchronously, so the operation named here may not be the "
                               "one at fault: rerun with DASG_CUDA_SYNC=1 (and under compute-sanitizer) "
                               "to have the failing kernel named";
}

[[noreturn]] inline void fail_status(cudaError_t status, const std::string& what, const char* file, int line) {
  std::string msg = ::dasg::detail::concat(what, " failed: ", cudaGetErrorName(status), " (", cudaGetErrorString(status), ")");
#if DASG_CUDA_EMULATE
  const std::string emu_detail = dasg::emu::last_error_detail();
  if (!emu_detail.empty() && what.find(emu_detail) == std::string::npos) msg += " [emulator: " + emu_detail + "]";
#endif
  msg += ::dasg::detail::concat(" at ", file, ":", line);
  if (is_sticky(status)) {
    {
      std::lock_guard<std::mutex> lock(errors_detail::g_broken_mutex);
      if (!errors_detail::g_broken.load()) errors_detail::g_broken_message = msg;
      errors_detail::g_broken.store(true, std::memory_order_release);
    }
    DASG_FAIL(msg, "; this error is sticky: the CUDA context of this process is unusable from now on and every "
              "later CUDA call fails with it", sync_hint());
  }
  cudaGetLastError();  // not sticky: reported here, so later calls must not see it
  DASG_FAIL(msg);
}

// Sync mode: waits for the device after `what` and fails if it (or a kernel before it) faulted.
inline void sync_check(const std::string& what, const char* file, int line) {
  if (!sync_enabled()) return;
  cudaError_t status = cudaDeviceSynchronize();
  if (status == cudaSuccess) status = cudaGetLastError();
  if (status != cudaSuccess)
    fail_status(status, what + " [DASG_CUDA_SYNC=1: found by the device synchronize right after it]", file, line);
}

#if DASG_CUDA_EMULATE
inline void clear_sticky_for_tests() {
  std::lock_guard<std::mutex> lock(errors_detail::g_broken_mutex);
  errors_detail::g_broken.store(false);
  errors_detail::g_broken_message.clear();
}
#endif

}  // namespace dasg::cuda
