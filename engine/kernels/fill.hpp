// fill (every element = value) and convert (dst = src cast to dst's dtype), any dtype.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void fill_cpu(Tensor& t, double value);
void convert_cpu(const Tensor& src, Tensor& dst);
DASG_DECLARE_CUDA(void fill_cuda(Tensor& t, double value);)
DASG_DECLARE_CUDA(void convert_cuda(const Tensor& src, Tensor& dst);)

inline void fill(Tensor& t, double value) { DASG_BACKEND(t, fill, t, value); }
inline void convert(const Tensor& src, Tensor& dst) { DASG_BACKEND(src, convert, src, dst); }

}  // namespace dasg::kernels
