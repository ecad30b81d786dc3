// Data-movement kernels behind reshape's neighbours (ops/shape.hpp); any dtype (f32, f64, i32, bf16).
//
//   permute:    out[j_0, …, j_{d-1}] = x[i_0, …, i_{d-1}]   with j_k = i_{perm[k]}
//               (out.shape[k] = x.shape[perm[k]]; transpose is the permute that swaps two dims)
//   block_copy: both tensors seen as [outer, n, inner] around one dimension:
//               dst[o, dst_start + j, i] = src[o, src_start + j, i]   for j < len
//               concat = one block copy per input into the output; slice/narrow = one block copy
//               out of the input; their backwards are the same copies the other way round.
// Shapes are padded on the left to kMaxDims, so one loop nest serves every rank.
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

// A permute, precomputed: out_dims is the output's shape, in_strides[k] the stride in x (in
// elements) of the input dimension that becomes output dimension k; both padded to kMaxDims.
struct PermutePlan {
  int64_t out_dims[kMaxDims];
  int64_t in_strides[kMaxDims];
};
// The plan for out = x.permute(perm); perm must already be a valid permutation of x's dims.
PermutePlan permute_plan(const Shape& x_shape, const std::vector<int64_t>& perm);

struct BlockCopy {
  int64_t outer = 1, inner = 1;    // product of the dims before / after the copied dimension
  int64_t src_n = 0, src_start = 0;
  int64_t dst_n = 0, dst_start = 0;
  int64_t len = 0;                 // rows of `inner` elements copied per outer index
};

void permute_cpu(const PermutePlan& p, const Tensor& x, Tensor& out);
void block_copy_cpu(const BlockCopy& b, const Tensor& src, Tensor& dst);
DASG_DECLARE_CUDA(void permute_cuda(const PermutePlan& p, const Tensor& x, Tensor& out);)
DASG_DECLARE_CUDA(void block_copy_cuda(const BlockCopy& b, const Tensor& src, Tensor& dst);)

inline void permute(const PermutePlan& p, const Tensor& x, Tensor& out) { DASG_BACKEND(x, permute, p, x, out); }
inline void block_copy(const BlockCopy& b, const Tensor& src, Tensor& dst) {
  DASG_BACKEND(dst, block_copy, b, src, dst);
}

}  // namespace dasg::kernels
