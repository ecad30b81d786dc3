// Reductions over one dimension, with the tensor viewed as [outer, n, inner]:
//   sum:    out[o, i] = scale · Σ_j x[o, j, i]                 (mean: scale = 1/n)
//   expand: out[o, j, i] = scale · g[o, i]                     (the backward of sum/mean)
//   max:    out[o, i] = max_j x[o, j, i], arg[o, i] = first j reaching it
//   max_backward: gx[o, j, i] = g[o, i]·[j = arg[o, i]]
// A reduction over all elements is outer = inner = 1.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct ReduceShape {
  int64_t outer = 1, n = 1, inner = 1;
};
// The [outer, n, inner] view of `shape` around dimension dim.
ReduceShape reduce_shape(const Shape& shape, int64_t dim);

void sum_dim_cpu(const ReduceShape& r, const Tensor& x, Tensor& out, double scale);
void expand_dim_cpu(const ReduceShape& r, const Tensor& g, Tensor& out, double scale);
void max_dim_cpu(const ReduceShape& r, const Tensor& x, Tensor& out, Tensor& arg);
void max_dim_backward_cpu(const ReduceShape& r, const Tensor& g, const Tensor& arg, Tensor& gx);
DASG_DECLARE_CUDA(void sum_dim_cuda(const ReduceShape& r, const Tensor& x, Tensor& out, double scale);)
DASG_DECLARE_CUDA(void expand_dim_cuda(const ReduceShape& r, const Tensor& g, Tensor& out, double scale);)
DASG_DECLARE_CUDA(void max_dim_cuda(const ReduceShape& r, const Tensor& x, Tensor& out, Tensor& arg);)
DASG_DECLARE_CUDA(void max_dim_backward_cuda(const ReduceShape& r, const Tensor& g, const Tensor& arg, Tensor& gx);)

inline void sum_dim(const ReduceShape& r, const Tensor& x, Tensor& out, double scale = 1) {
  DASG_BACKEND(x, sum_dim, r, x, out, scale);
}
inline void expand_dim(const ReduceShape& r, const Tensor& g, Tensor& out, double scale = 1) {
  DASG_BACKEND(g, expand_dim, r, g, out, scale);
}
inline void max_dim(const ReduceShape& r, const Tensor& x, Tensor& out, Tensor& arg) {
  DASG_BACKEND(x, max_dim, r, x, out, arg);
}

inline void max_dim_backward(const ReduceShape& r, const Tensor& g, const Tensor& arg, Tensor& gx) {
  DASG_BACKEND(g, max_dim_backward, r, g, arg, gx);
}

}  // namespace dasg::kernels
