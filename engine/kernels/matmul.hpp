// gemm: C = alpha·op(A)·op(B) + beta·C for row-major matrices, op(X) = X or Xᵀ by the flags;
// batched over a leading dimension with stride M·K, K·N, M·N (0 stride = shared operand).
#pragma once
#include "engine/kernels/backend.hpp"
#include "engine/kernels/reduce.hpp"

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

// C = op(A)·op(B) + bias broadcast over the rows (one product, bias [N]; linear's forward). On the
// CPU the packed f32 GEMM adds the bias as it stores C (one pass over C); elsewhere (and for what
// the CPU keeps on Eigen) the bias is expanded into C and the GEMM accumulates onto it (beta 1).
void gemm_bias_cpu(const GemmShape& s, const Tensor& A, const Tensor& B, const Tensor& bias, Tensor& C);
inline void gemm_bias(const GemmShape& s, const Tensor& A, const Tensor& B, const Tensor& bias, Tensor& C) {
  if (C.device().is_cpu()) return gemm_bias_cpu(s, A, B, bias, C);
  expand_dim({1, s.M, s.N}, bias, C);
  gemm(s, A, B, C, 1, 1);
}

}  // namespace dasg::kernels
