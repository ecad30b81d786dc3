// Deferred device-side range checks (see range_check.hpp).
#include <mutex>
#include <vector>

#include "engine/cuda/context.hpp"
#include "engine/cuda/range_check.hpp"

namespace dasg::cuda {

namespace {

constexpr size_t kSlots = 4096;

struct DeviceChecks {
  unsigned long long* slots = nullptr;  // kSlots words on the device
  std::vector<RangeMessage> pending;    // one message per slot handed out since the last read
};

std::mutex g_mutex;
std::vector<DeviceChecks>& g_checks = *new std::vector<DeviceChecks>();  // never destroyed (as context.cu's)

// With g_mutex held.
void read_locked(int device, DeviceChecks& c) {
  if (c.pending.empty()) return;
  const size_t n = c.pending.size();
  std::vector<unsigned long long> host(n);
  cudaStream_t s = stream(device);
  DASG_CUDA_CHECK(cudaMemcpyAsync(host.data(), c.slots, n * sizeof(unsigned long long), cudaMemcpyDeviceToHost, s));
  DASG_CUDA_CHECK(cudaStreamSynchronize(s));
  DASG_CUDA_CHECK(cudaMemsetAsync(c.slots, 0xFF, n * sizeof(unsigned long long), s));
  std::vector<RangeMessage> messages;
  messages.swap(c.pending);
  for (size_t k = 0; k < n; ++k)
    if (host[k] != ~0ull) {
      const int64_t position = (int64_t)(host[k] >> 32), value = (int64_t)(int32_t)(uint32_t)(host[k] & 0xFFFFFFFFull);
      DASG_FAIL(messages[k](position, value), " [found by the device-side index check on cuda:", device,
                "; reported at the next copy of a result to the host]");
    }
}

}  // namespace

unsigned long long* range_slot(int device, RangeMessage message) {
  use_device(device);
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_checks.size() <= (size_t)device) g_checks.resize((size_t)device + 1);
  DeviceChecks& c = g_checks[(size_t)device];
  if (!c.slots) {
    DASG_CUDA_CHECK(cudaMalloc(&c.slots, kSlots * sizeof(unsigned long long)));
    DASG_CUDA_CHECK(cudaMemsetAsync(c.slots, 0xFF, kSlots * sizeof(unsigned long long), stream(device)));
  }
  if (c.pending.size() == kSlots) read_locked(device, c);  // full: read early
  c.pending.push_back(std::move(message));
  return c.slots + (c.pending.size() - 1);
}

void check_ranges(int device) {
  std::lock_guard<std::mutex> lock(g_mutex);
  if ((size_t)device >= g_checks.size()) return;
  read_locked(device, g_checks[(size_t)device]);
}

}  // namespace dasg::cuda
