// CUDA emulator: cuBLAS GEMM by plain loops (deliberately not Eigen, so CPU-vs-emulated parity
// never compares a library with itself), with cuBLAS's argument checks and status codes,
// TF32 math mode's input rounding, and the Ex entry points' typed (bf16) operands.
#include "engine/cuda/emulator/cublas.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <type_traits>

struct cublasContext {
  cudaStream_t stream = nullptr;
  cublasMath_t math = CUBLAS_DEFAULT_MATH;
};

namespace {

// The checks cuBLAS makes before touching memory, in its order.
cublasStatus_t check_gemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                          const void* alpha, int lda, int ldb, const void* beta, int ldc, int batch) {
  auto valid_op = [](cublasOperation_t op) { return op == CUBLAS_OP_N || op == CUBLAS_OP_T || op == CUBLAS_OP_C; };
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (!valid_op(ta) || !valid_op(tb) || m < 0 || n < 0 || k < 0 || batch < 0 || !alpha || !beta)
    return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta == CUBLAS_OP_N ? m : k)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldb < std::max(1, tb == CUBLAS_OP_N ? k : n)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  return CUBLAS_STATUS_SUCCESS;
}

// TF32 (CUBLAS_TF32_TENSOR_OP_MATH on f32): the tensor cores read each input rounded to 10
// mantissa bits (round to nearest) and accumulate in f32; emulated by rounding the operands.
template <class T>
T tf32_round(T v, bool on) {
  if constexpr (std::is_same_v<T, float>) {
    if (!on || !std::isfinite(v)) return v;
    uint32_t bits = std::bit_cast<uint32_t>(v);
    bits = (bits + 0x1000u) & 0xFFFFE000u;
    return std::bit_cast<float>(bits);
  } else {
    return v;
  }
}

// Loads and stores of the emulated element types: bf16 widens exactly to f32, and a bf16
// result is rounded once, to nearest even (cuda_bf16.h's conversions, emulator/bf16.hpp).
inline float widen(float v) { return v; }
inline double widen(double v) { return v; }
inline float widen(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class Out, class Acc>
Out narrow(Acc v) {
  if constexpr (std::is_same_v<Out, __nv_bfloat16>) return __float2bfloat16_rn(v);
  else return (Out)v;
}

// C = alpha * op(A) * op(B) + beta * C on column-major storage. op(A) is m x k, op(B) k x n.
// In: the element type of A and B; Out: of C; Acc: the compute type (of alpha, beta and the sums).
template <class In, class Out, class Acc>
void gemm(cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, Acc alpha, const In* A, int lda,
          const In* B, int ldb, Acc beta, Out* C, int ldc, bool tf32) {
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      Acc acc = 0;
      if (alpha != Acc(0))
        for (int l = 0; l < k; ++l) {
          const Acc a = tf32_round(widen(ta == CUBLAS_OP_N ? A[i + size_t(l) * lda] : A[l + size_t(i) * lda]), tf32);
          const Acc b = tf32_round(widen(tb == CUBLAS_OP_N ? B[l + size_t(j) * ldb] : B[j + size_t(l) * ldb]), tf32);
          acc += a * b;
        }
      Out& c = C[i + size_t(j) * ldc];
      c = narrow<Out>(beta == Acc(0) ? alpha * acc : alpha * acc + beta * widen(c));
    }
}

template <class T>
cublasStatus_t gemm_batched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const T* alpha, const T* A, int lda, long long sa, const T* B, int ldb, long long sb,
                            const T* beta, T* C, int ldc, long long sc, int batch) {
  if (cublasStatus_t s = check_gemm(handle, ta, tb, m, n, k, alpha, lda, ldb, beta, ldc, batch)) return s;
  for (int b = 0; b < batch; ++b)
    gemm(ta, tb, m, n, k, *alpha, A + b * sa, lda, B + b * sb, ldb, *beta, C + b * sc, ldc,
         handle->math == CUBLAS_TF32_TENSOR_OP_MATH);
  return CUBLAS_STATUS_SUCCESS;
}

// The Ex entry points (cublas.hpp says which type combinations are emulated). alpha and beta
// are f32 for every CUBLAS_COMPUTE_32F* compute type.
cublasStatus_t gemm_ex(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                       const void* alpha, const void* A, cudaDataType at, int lda, long long sa, const void* B,
                       cudaDataType bt, int ldb, long long sb, const void* beta, void* C, cudaDataType ct, int ldc,
                       long long sc, int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  if (cublasStatus_t s = check_gemm(handle, ta, tb, m, n, k, alpha, lda, ldb, beta, ldc, batch)) return s;
  if (algo != CUBLAS_GEMM_DEFAULT && algo != CUBLAS_GEMM_DEFAULT_TENSOR_OP) return CUBLAS_STATUS_INVALID_VALUE;
  if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_TF32) return CUBLAS_STATUS_NOT_SUPPORTED;
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  auto run = [&]<class In, class Out>(bool tf32) {
    const In* a = static_cast<const In*>(A);
    const In* b = static_cast<const In*>(B);
    Out* c = static_cast<Out*>(C);
    for (int i = 0; i < batch; ++i)
      gemm<In, Out, float>(ta, tb, m, n, k, al, a + i * sa, lda, b + i * sb, ldb, be, c + i * sc, ldc, tf32);
    return CUBLAS_STATUS_SUCCESS;
  };
  if (at != bt) return CUBLAS_STATUS_NOT_SUPPORTED;
  if (at == CUDA_R_16BF && ct == CUDA_R_16BF) return run.operator()<__nv_bfloat16, __nv_bfloat16>(false);
  if (at == CUDA_R_16BF && ct == CUDA_R_32F) return run.operator()<__nv_bfloat16, float>(false);
  if (at == CUDA_R_32F && ct == CUDA_R_32F)
    return run.operator()<float, float>(compute == CUBLAS_COMPUTE_32F_FAST_TF32 ||
                                        handle->math == CUBLAS_TF32_TENSOR_OP_MATH);
  return CUBLAS_STATUS_NOT_SUPPORTED;
}

}  // namespace

const char* cublasGetStatusName(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "CUBLAS_STATUS_NOT_INITIALIZED";
    case CUBLAS_STATUS_ALLOC_FAILED: return "CUBLAS_STATUS_ALLOC_FAILED";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "CUBLAS_STATUS_ARCH_MISMATCH";
    case CUBLAS_STATUS_MAPPING_ERROR: return "CUBLAS_STATUS_MAPPING_ERROR";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "CUBLAS_STATUS_EXECUTION_FAILED";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "CUBLAS_STATUS_INTERNAL_ERROR";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    case CUBLAS_STATUS_LICENSE_ERROR: return "CUBLAS_STATUS_LICENSE_ERROR";
  }
  return "CUBLAS_STATUS_UNKNOWN";
}

const char* cublasGetStatusString(cublasStatus_t status) {
  switch (status) {
    case CUBLAS_STATUS_SUCCESS: return "success";
    case CUBLAS_STATUS_NOT_INITIALIZED: return "the library was not initialized";
    case CUBLAS_STATUS_ALLOC_FAILED: return "the resource allocation failed";
    case CUBLAS_STATUS_INVALID_VALUE: return "an invalid numeric value was used as an argument";
    case CUBLAS_STATUS_ARCH_MISMATCH: return "an absent device architectural feature is required";
    case CUBLAS_STATUS_MAPPING_ERROR: return "an access to GPU memory space failed";
    case CUBLAS_STATUS_EXECUTION_FAILED: return "the GPU program failed to execute";
    case CUBLAS_STATUS_INTERNAL_ERROR: return "an internal operation failed";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "the functionality requested is not supported";
    case CUBLAS_STATUS_LICENSE_ERROR: return "error detected trying to check the license";
  }
  return "unknown error";
}

cublasStatus_t cublasCreate(cublasHandle_t* handle) {
  if (!handle) return CUBLAS_STATUS_INVALID_VALUE;
  *handle = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t handle) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete handle;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t handle, cudaStream_t stream) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  handle->stream = stream;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode) {
  if (!handle) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (mode < CUBLAS_DEFAULT_MATH || mode > CUBLAS_TF32_TENSOR_OP_MATH) return CUBLAS_STATUS_INVALID_VALUE;
  handle->math = mode;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasSgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const float* alpha, const float* A, int lda, const float* B, int ldb, const float* beta,
                           float* C, int ldc) {
  return gemm_batched(handle, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
cublasStatus_t cublasDgemm(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                           const double* alpha, const double* A, int lda, const double* B, int ldb,
                           const double* beta, double* C, int ldc) {
  return gemm_batched(handle, ta, tb, m, n, k, alpha, A, lda, 0, B, ldb, 0, beta, C, ldc, 0, 1);
}
cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const float* alpha, const float* A, int lda, long long sa,
                                         const float* B, int ldb, long long sb, const float* beta, float* C, int ldc,
                                         long long sc, int batch) {
  return gemm_batched(handle, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}
cublasStatus_t cublasDgemmStridedBatched(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                         int n, int k, const double* alpha, const double* A, int lda, long long sa,
                                         const double* B, int ldb, long long sb, const double* beta, double* C,
                                         int ldc, long long sc, int batch) {
  return gemm_batched(handle, ta, tb, m, n, k, alpha, A, lda, sa, B, ldb, sb, beta, C, ldc, sc, batch);
}

cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType at, int lda, const void* B, cudaDataType bt,
                            int ldb, const void* beta, void* C, cudaDataType ct, int ldc, cublasComputeType_t compute,
                            cublasGemmAlgo_t algo) {
  return gemm_ex(handle, ta, tb, m, n, k, alpha, A, at, lda, 0, B, bt, ldb, 0, beta, C, ct, ldc, 0, 1, compute, algo);
}
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t ta, cublasOperation_t tb, int m,
                                          int n, int k, const void* alpha, const void* A, cudaDataType at, int lda,
                                          long long sa, const void* B, cudaDataType bt, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType ct, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo) {
  return gemm_ex(handle, ta, tb, m, n, k, alpha, A, at, lda, sa, B, bt, ldb, sb, beta, C, ct, ldc, sc, batch, compute,
                 algo);
}
