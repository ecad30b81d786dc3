// gemm: C = alpha·op(A)·op(B) + beta·C for row-major matrices, op(X) = X or Xᵀ by the flags;
// batched over a leading dimension with stride M·K, K·N, M·N (0 stride = shared operand).
#pragma once
#include "engine/kernels/backend.hpp"

namespace dasg::kernels {

struct GemmShape {
  int64_t batch = 1, M = 0, N = 0, K = 0;
  bool ta = false, tb = false;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batch entries
};

void gemm_cpu(const GemmShape& s, const Tensor& A, const Tensor& B, Tensor& C, double alpha, double beta);
DASG_DECLARE_CUDA(void gemm_cuda(const GemmShape& s, const Tensor& A, const Tensor& B, Tensor& C, double alpha, double beta);)

inline void gemm(const GemmShape& s, const Tensor& A, const Tensor& B, Tensor& C, double alpha = 1, double beta = 0) {
  DASG_BACKEND(C, gemm, s, A, B, C, alpha, beta);
}

}  // namespace dasg::kernels
