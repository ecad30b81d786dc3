// accumulate: dst += alpha·src, same shape and dtype (gradient accumulation, optimizer axpy).
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void accumulate_cpu(Tensor& dst, const Tensor& src, double alpha);
DASG_DECLARE_CUDA(void accumulate_cuda(Tensor& dst, const Tensor& src, double alpha);)

inline void accumulate(Tensor& dst, const Tensor& src, double alpha = 1.0) {
  DASG_CHECK(dst.shape() == src.shape() && dst.dtype() == src.dtype() && dst.device() == src.device(),
             "accumulate: destination ", dst.str(), " and source ", src.str(), " differ; expected the same "
             "shape, dtype and device");
  DASG_BACKEND(dst, accumulate, dst, src, alpha);
}

}  // namespace dasg::kernels
