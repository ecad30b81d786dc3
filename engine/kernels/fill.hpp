// fill (every element = value) and convert (dst = src cast to dst's dtype), any dtype.
// bf16 (engine/bf16.hpp) fills with the value rounded to bf16 and converts to and from f32 only
// (and to f64, exactly, for comparisons), rounding to nearest even with NaN kept NaN.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

void fill_cpu(Tensor& t, double value);
void convert_cpu(const Tensor& src, Tensor& dst);
DASG_DECLARE_CUDA(void fill_cuda(Tensor& t, double value);)
DASG_DECLARE_CUDA(void convert_cuda(const Tensor& src, Tensor& dst);)

// The conversions with bf16 on a side that both backends have; throws for the others.
inline void check_bf16_convert(const Tensor& src, const Tensor& dst) {
  const DType s = src.dtype(), d = dst.dtype();
  DASG_CHECK((s == DType::f32 && d == DType::bf16) || (s == DType::bf16 && (d == DType::f32 || d == DType::f64)),
             "convert: ", src.str(), " to ", dtype_name(d), " is not supported; bf16 converts from f32 and to f32 "
             "or f64");
}

inline void fill(Tensor& t, double value) { DASG_BACKEND(t, fill, t, value); }
inline void convert(const Tensor& src, Tensor& dst) { DASG_BACKEND(src, convert, src, dst); }

}  // namespace dasg::kernels
