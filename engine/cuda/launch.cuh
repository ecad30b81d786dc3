// DASG_LAUNCH(kernel, grid, block, shared_bytes, stream, args...): the one way kernels are
// launched. Natively it is kernel<<<grid, block, shared_bytes, stream>>>(args...); emulated it
// runs the grid on the CPU emulator. Either way a failed launch (bad configuration, too much
// shared memory, and under emulation a kernel that broke the execution model) throws dasg::Error
// naming the kernel, the launch shape, the arguments (integer and floating-point ones with their
// values, e.g. "N = 4096") and the source line of the launch. In sync mode (DASG_CUDA_SYNC=1) the
// device is synchronized after every launch, so a fault inside the kernel (an illegal address)
// is reported with the same description instead of by a later, unrelated call.
// cuda::launch(...) (same arguments, no macro) is the unnamed form, for tests and benchmarks.
#pragma once
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "engine/cuda/cuda_compat.cuh"

namespace dasg::cuda {

struct LaunchSite {
  const char* text;  // the stringized arguments of DASG_LAUNCH
  const char* file;
  int line;
};

namespace launch_detail {
// Splits "a, f(b, c), d<T, 2>" at its top-level commas.
inline std::vector<std::string> split_args(const char* text) {
  std::vector<std::string> out(1);
  int depth = 0;
  for (const char* p = text; *p; ++p) {
    const char c = *p;
    if (c == '(' || c == '[' || c == '{' || c == '<') ++depth;
    if ((c == ')' || c == ']' || c == '}' || c == '>') && depth > 0 && !(c == '>' && p > text && p[-1] == '-')) --depth;
    if (c == ',' && depth == 0) {
      out.emplace_back();
      continue;
    }
    if (out.back().empty() && c == ' ') continue;
    out.back() += c;
  }
  return out;
}
template <class A>
std::string arg_value(const A& a) {
  using T = std::decay_t<A>;
  if constexpr (std::is_same_v<T, bool>) return a ? "true" : "false";
  else if constexpr (std::is_integral_v<T> || std::is_floating_point_v<T>) return std::to_string(a);
  else if constexpr (std::is_pointer_v<T> || std::is_null_pointer_v<T>) return a ? "" : "null";
  else return "";
}
inline std::string dims(dim3 d) { return ::dasg::detail::concat("(", d.x, ",", d.y, ",", d.z, ")"); }

template <class... A>
std::string describe(const LaunchSite& site, dim3 grid, dim3 block, size_t shared_bytes, const A&... args) {
  const std::vector<std::string> text = split_args(site.text);
  std::string s = "CUDA kernel " + (text.empty() ? std::string("?") : text[0]) + " with grid " + dims(grid) + ", block " + dims(block) + ", " +
                  std::to_string(shared_bytes) + " bytes of dynamic shared memory";
  const std::vector<std::string> values{arg_value(args)...};
  if (!values.empty()) s += ", arguments (";
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string name = i + 5 < text.size() ? text[i + 5] : "arg" + std::to_string(i);
    s += (i ? ", " : "") + name + (values[i].empty() ? "" : " = " + values[i]);
  }
  if (!values.empty()) s += ")";
  return s;
}
}  // namespace launch_detail

template <class... P, class... A>
void launch_at(const LaunchSite& site, void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes,
               cudaStream_t stream, A&&... args) {
  check_not_broken();
#if DASG_CUDA_EMULATE
  dasg::emu::launch(kernel, grid, block, shared_bytes, stream, args...);
  const std::string emu_detail = dasg::emu::last_error_detail();  // cleared by cudaGetLastError
#else
  kernel<<<grid, block, shared_bytes, stream>>>(args...);
  const std::string emu_detail;
#endif
  cudaError_t status = cudaGetLastError();
  const bool launched = status == cudaSuccess;
  if (launched && sync_enabled()) {
    status = cudaStreamSynchronize(stream);
    if (status == cudaSuccess) status = cudaGetLastError();
  }
  if (status == cudaSuccess) return;
  std::string what = launch_detail::describe(site, grid, block, shared_bytes, args...);
  what += launched ? " [DASG_CUDA_SYNC=1: found by the stream synchronize right after it]" : " (the launch itself)";
  if (!emu_detail.empty()) what += " (" + emu_detail + ")";
  fail_status(status, what, site.file, site.line);
}

template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, A&&... args) {
  launch_at(LaunchSite{"kernel", "(unnamed launch)", 0}, kernel, grid, block, shared_bytes, stream,
            std::forward<A>(args)...);
}

}  // namespace dasg::cuda

#define DASG_LAUNCH(...) \
  ::dasg::cuda::launch_at(::dasg::cuda::LaunchSite{#__VA_ARGS__, __FILE__, __LINE__}, __VA_ARGS__)
