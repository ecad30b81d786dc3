// Device names on the command line (see device.hpp).
#include "engine/device.hpp"

#include <cstdlib>

#include "engine/error.hpp"
#ifdef DASG_WITH_CUDA
#include "engine/cuda/context.hpp"
#endif

namespace dasg {

Device parse_device(const std::string& text) {
  if (text == "cpu") return kCPU;
  if (text == "cuda") return Device::cuda(0);
  if (text.rfind("cuda:", 0) == 0 && text.size() > 5 && text.size() < 9 &&
      text.find_first_not_of("0123456789", 5) == std::string::npos)
    return Device::cuda(std::atoi(text.c_str() + 5));
  DASG_FAIL("device '", text, "'; expected cpu, cuda or cuda:N");
}

void require_device(Device device) {
  if (device.is_cpu()) return;
#ifdef DASG_WITH_CUDA
  cuda::use_device(device.index);  // throws naming the CUDA error, or how many devices exist
#else
  DASG_FAIL("device ", device.str(), ": this dasg was built without the CUDA backend (no nvcc at configure time); "
            "rebuild with the CUDA toolkit installed and -DDASG_CUDA=ON, or use --device cpu");
#endif
}

}  // namespace dasg
