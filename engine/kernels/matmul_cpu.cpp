// gemm on the CPU, over the tensors' storage (row-major, no copies in or out):
//   C[b] (M×N) = alpha · op(A[b]) (M×K) · op(B[b]) (K×N) + beta · C[b]
// f32: the packed GEMM of gemm_packed_cpu.cpp (its widest compiled micro-kernel, when it is a SIMD
// one; a scalar-only build stays on Eigen), except threaded
// products with op(A) = Aᵀ and K ≥ 1024 (the weight gradients dW = dyᵀ·x over 2048 rows): there
// Eigen's was faster at 2 threads (packed/Eigen 0.89–0.99 on the model's dW shapes), while at 1
// thread the packed one was (1.03–1.16; README, "Packed f32 GEMM"). f64 (gradient checks): Eigen.
// A single GEMM is threaded inside (num_threads()). A batch is spread over threads, one whole GEMM
// per thread, when its GEMMs are small or when it splits evenly: a threaded GEMM synchronises its
// threads at every block, which dominated the small per-group and per-head products of GMHA (half
// the time of a T = 1K layer, `perf`, Eigen's GEMM).
#include <Eigen/Core>
#include <type_traits>

#include "engine/kernels/gemm_packed_cpu.hpp"
#include "engine/kernels/matmul.hpp"
#include "engine/kernels/reduce.hpp"
#include "engine/parallel.hpp"

namespace dasg::kernels {

template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Map = Eigen::Map<RowMat<T>>;
template <class T>
using CMap = Eigen::Map<const RowMat<T>>;

// Whether an f32 product goes to the packed GEMM. A build without a SIMD micro-kernel (no
// AVX2+FMA: a sanitizer build, which drops -march=native, or an older CPU) keeps Eigen, whose SSE
// packets beat a scalar 4×4 tile.
static bool use_packed(const GemmShape& s, int threads) {
  static const bool simd = gemm_kernel_widest() != GemmKernel::scalar;
  return simd && !(s.ta && s.K >= 1024 && threads > 1);
}

// One product on `threads` threads (1 inside a parallel region; Eigen then runs serially too).
template <class T>
static void gemm_one(const GemmShape& s, const T* a, const T* b, T* c, T alpha, T beta, int threads) {
  if constexpr (std::is_same_v<T, float>) {
    if (use_packed(s, threads)) {
      gemm_packed_f32(s, a, b, c, alpha, beta, threads, gemm_kernel_widest());
      return;
    }
  }
  // Stored shapes: A is M×K (or K×M when ta), B is K×N (or N×K when tb).
  CMap<T> A(a, s.ta ? s.K : s.M, s.ta ? s.M : s.K);
  CMap<T> B(b, s.tb ? s.N : s.K, s.tb ? s.K : s.N);
  Map<T> C(c, s.M, s.N);
  if (beta == T(0)) {
    if (!s.ta && !s.tb) C.noalias() = alpha * A * B;
    else if (s.ta && !s.tb) C.noalias() = alpha * A.transpose() * B;
    else if (!s.ta && s.tb) C.noalias() = alpha * A * B.transpose();
    else C.noalias() = alpha * A.transpose() * B.transpose();
  } else {
    C *= beta;
    if (!s.ta && !s.tb) C.noalias() += alpha * A * B;
    else if (s.ta && !s.tb) C.noalias() += alpha * A.transpose() * B;
    else if (!s.ta && s.tb) C.noalias() += alpha * A * B.transpose();
    else C.noalias() += alpha * A.transpose() * B.transpose();
  }
}

void gemm_cpu(const GemmShape& s, const Tensor& A, const Tensor& B, Tensor& C, double alpha, double beta) {
  dispatch_float(C.dtype(), "matmul", [&]<class T>() {
    const T* a = A.data<T>();
    const T* b = B.data<T>();
    T* c = C.data<T>();
    if (s.M == 0 || s.N == 0) return;
    if (s.K == 0) {  // empty sum: C = beta·C
      for (int64_t i = 0; i < s.batch * s.M * s.N; ++i) c[i] = beta == 0 ? T(0) : T(beta) * c[i];
      return;
    }
    const int threads = num_threads();
    if (s.batch == 1) {
      gemm_one<T>(s, a, b, c, (T)alpha, (T)beta, threads);
      return;
    }
    const bool over_batch =
        s.M * s.N * s.K < 64 * 64 * 64 || s.batch % threads == 0 || s.batch >= 4 * threads;
    if (over_batch) {
#pragma omp parallel for schedule(static)
      for (int64_t i = 0; i < s.batch; ++i)
        gemm_one<T>(s, a + i * s.stride_a, b + i * s.stride_b, c + i * s.stride_c, (T)alpha, (T)beta, 1);
    } else {
      for (int64_t i = 0; i < s.batch; ++i)
        gemm_one<T>(s, a + i * s.stride_a, b + i * s.stride_b, c + i * s.stride_c, (T)alpha, (T)beta, threads);
    }
  });
}

void gemm_bias_cpu(const GemmShape& s, const Tensor& A, const Tensor& B, const Tensor& bias, Tensor& C) {
  DASG_CHECK(s.batch == 1 && bias.numel() == s.N, "gemm_bias: ", s.batch, " products and bias ", bias.str(),
             " for N = ", s.N, "; expected one product and a bias of N elements");
  if (C.dtype() == DType::f32 && s.M > 0 && s.N > 0 && s.K > 0 && use_packed(s, num_threads())) {
    gemm_packed_f32(s, A.data<float>(), B.data<float>(), C.data<float>(), 1, 0, num_threads(), gemm_kernel_widest(),
                    bias.data<float>());
    return;
  }
  expand_dim_cpu({1, s.M, s.N}, bias, C, 1);
  gemm_cpu(s, A, B, C, 1, 1);
}

}  // namespace dasg::kernels
