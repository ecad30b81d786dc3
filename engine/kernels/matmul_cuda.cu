// gemm on CUDA through cuBLAS, row-major without copies: a row-major [r, c] matrix is the
// column-major [c, r] matrix, so C = op(A)·op(B) (row-major) is computed as the column-major
//   Cᵀ (N×M, ld N) = op(B)ᵀ · op(A)ᵀ
// with B passed first: its stored layout already is op(B)ᵀ when tb = 0 (CUBLAS_OP_N, ld N) and
// needs CUBLAS_OP_T when tb = 1 (ld K); likewise A with ld K (ta = 0) or M (ta = 1). Batches go
// through the strided-batched entry points. f32 uses TF32 tensor cores when enabled.
// Mixed precision: bf16 A and B (C f32 or bf16) go through cublasGemmEx with CUBLAS_COMPUTE_32F —
// the tensor cores multiply bf16 exactly and accumulate in f32; a bf16 C is rounded once at the end.
#include <climits>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/kernels/matmul.hpp"

namespace dasg::kernels {

void gemm_cuda(const GemmShape& s, const Tensor& A, const Tensor& B, Tensor& C, double alpha, double beta) {
  if (s.M == 0 || s.N == 0) return;
  // cuBLAS takes int sizes, leading dimensions and batch counts (strides are 64-bit).
  for (int64_t v : {s.M, s.N, s.K, s.batch})
    DASG_CHECK(v <= INT_MAX, "matmul: GEMM of batch ", s.batch, " × [", s.M, ", ", s.K, "]·[", s.K, ", ", s.N,
               "] has a size over cuBLAS's int range (", INT_MAX, "); split the product");
  cublasHandle_t h = cuda::cublas(C.device().index);
  const cublasOperation_t opA = s.ta ? CUBLAS_OP_T : CUBLAS_OP_N, opB = s.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const int m = (int)s.N, n = (int)s.M, k = (int)s.K;
  const int ldb = (int)(s.tb ? s.K : s.N), lda = (int)(s.ta ? s.M : s.K), ldc = (int)s.N;
  if (k == 0) {  // an empty sum: C = beta·C (the engine only uses beta 0 or 1)
    DASG_CHECK(beta == 0 || beta == 1, "matmul: K = 0 with beta ", beta, " is not supported on CUDA");
    if (beta == 0) C.zero_();
    return;
  }
  try {
    if (A.dtype() == DType::bf16 || B.dtype() == DType::bf16) {
      DASG_CHECK(A.dtype() == DType::bf16 && B.dtype() == DType::bf16 &&
                     (C.dtype() == DType::f32 || C.dtype() == DType::bf16),
                 "matmul: operands ", A.str(), " and ", B.str(), " into ", C.str(),
                 "; a bf16 GEMM takes bf16 A and B and writes f32 or bf16");
      const float a = (float)alpha, b = (float)beta;
      const cudaDataType ct = C.dtype() == DType::bf16 ? CUDA_R_16BF : CUDA_R_32F;
      if (s.batch == 1)
        DASG_CUBLAS_CHECK(cublasGemmEx(h, opB, opA, m, n, k, &a, B.raw_data(), CUDA_R_16BF, ldb, A.raw_data(),
                                       CUDA_R_16BF, lda, &b, C.raw_data(), ct, ldc, CUBLAS_COMPUTE_32F,
                                       CUBLAS_GEMM_DEFAULT));
      else
        DASG_CUBLAS_CHECK(cublasGemmStridedBatchedEx(h, opB, opA, m, n, k, &a, B.raw_data(), CUDA_R_16BF, ldb,
                                                     s.stride_b, A.raw_data(), CUDA_R_16BF, lda, s.stride_a, &b,
                                                     C.raw_data(), ct, ldc, s.stride_c, (int)s.batch,
                                                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else if (C.dtype() == DType::f32) {
      const float a = (float)alpha, b = (float)beta;
      if (s.batch == 1)
        DASG_CUBLAS_CHECK(cublasSgemm(h, opB, opA, m, n, k, &a, B.data<float>(), ldb, A.data<float>(), lda, &b,
                                      C.data<float>(), ldc));
      else
        DASG_CUBLAS_CHECK(cublasSgemmStridedBatched(h, opB, opA, m, n, k, &a, B.data<float>(), ldb, s.stride_b,
                                                    A.data<float>(), lda, s.stride_a, &b, C.data<float>(), ldc,
                                                    s.stride_c, (int)s.batch));
    } else if (C.dtype() == DType::f64) {
      const double a = alpha, b = beta;
      if (s.batch == 1)
        DASG_CUBLAS_CHECK(cublasDgemm(h, opB, opA, m, n, k, &a, B.data<double>(), ldb, A.data<double>(), lda, &b,
                                      C.data<double>(), ldc));
      else
        DASG_CUBLAS_CHECK(cublasDgemmStridedBatched(h, opB, opA, m, n, k, &a, B.data<double>(), ldb, s.stride_b,
                                                    A.data<double>(), lda, s.stride_a, &b, C.data<double>(), ldc,
                                                    s.stride_c, (int)s.batch));
    } else {
      DASG_FAIL("matmul: dtype ", dtype_name(C.dtype()), " is not supported; expected f32 or f64");
    }
  } catch (const Error& e) {  // name the product: the cuBLAS call's text has only variable names
    DASG_FAIL("matmul: GEMM of batch ", s.batch, " × [", s.M, ", ", s.K, "]·[", s.K, ", ", s.N, "] (ta ", s.ta, ", tb ",
              s.tb, ", ", dtype_name(A.dtype()), " → ", dtype_name(C.dtype()), ") on cuda:", C.device().index, ": ", e.what());
  }
}

}  // namespace dasg::kernels
