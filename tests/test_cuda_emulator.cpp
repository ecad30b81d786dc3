// Tests of the CUDA emulator (engine/cuda/emulator/, DESIGN.md §10): that correct kernels give
// correct results, and that kernels breaking the CUDA execution model (divergent barriers,
// mismatched warp masks, inter-block races, reads of unwritten shared memory, bad launch
// configurations) are caught. Plus the emulated cuBLAS GEMM and cuDNN softmax against hand
// references. The kernels are in tests/cuda_emulator_kernels.cu.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/cuda/cuda_compat.cuh"
#include "engine/cuda/index_math.cuh"

namespace emu_test {
std::vector<float> block_sums(const std::vector<float>& x, int threads);
void allow_dynamic_shared(int bytes);
std::vector<float> dynamic_block_sums(const std::vector<float>& x, int threads, size_t shared_bytes);
std::vector<float> transpose(const std::vector<float>& in, int n);
float warp_sum(const std::vector<float>& x, int threads);
std::vector<int> warp_ops(const std::vector<int>& x);
std::vector<double> atomics(int blocks, int threads);
std::vector<int> thread_indices(dim3 grid, dim3 block);
std::vector<int> block_order(dim3 grid);
int count_with_blocks(int blocks, int iters, bool atomic);
float sum_of_partly_written_shared();
void run_broken_sync(int which);
void launch_noop(dim3 grid, dim3 block, size_t shared_bytes);
std::vector<int> grid_stride_iota(int n, int blocks, int threads);
}  // namespace emu_test

using namespace emu_test;
using doctest::Contains;

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr bool kThreadSanitizer = true;
#else
constexpr bool kThreadSanitizer = false;
#endif

std::vector<float> random_floats(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace

TEST_CASE("emulator: thread and block indices cover the grid once") {
  const dim3 grid(2, 3, 2), block(4, 2, 3);
  const std::vector<int> out = thread_indices(grid, block);
  size_t i = 0;
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx = 0; bx < grid.x; ++bx)
        for (unsigned tz = 0; tz < block.z; ++tz)
          for (unsigned ty = 0; ty < block.y; ++ty)
            for (unsigned tx = 0; tx < block.x; ++tx, i += 6) {
              const std::vector<int> want{int(tx), int(ty), int(tz), int(bx), int(by), int(bz)};
              CHECK(std::vector<int>(out.begin() + i, out.begin() + i + 6) == want);
            }
}

TEST_CASE("emulator: blocks run in a seeded shuffled order") {
  const std::vector<int> order = block_order(dim3(16, 4));
  std::vector<int> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int> identity(order.size());
  std::iota(identity.begin(), identity.end(), 0);
  CHECK(sorted == identity);  // every block ran once
  CHECK(order != identity);   // but not in index order
}

TEST_CASE("emulator: shared-memory block reduction") {
  const std::vector<float> x = random_floats(1000, 1);
  for (int threads : {32, 128, 256}) {
    const std::vector<float> sums = block_sums(x, threads);
    REQUIRE(sums.size() == (x.size() + threads - 1) / threads);
    for (size_t b = 0; b < sums.size(); ++b) {
      double want = 0.0;
      for (size_t i = b * threads; i < std::min(x.size(), (b + 1) * threads); ++i) want += x[i];
      CHECK(sums[b] == doctest::Approx(want).epsilon(1e-5));
    }
  }
}

// Under ASan this is also the memcheck demonstration: built with -DDASG_EMU_TEETH_OVERRUN the
// kernel writes one element past its output, and ASan reports the heap-buffer-overflow.
TEST_CASE("emulator: grid-stride loop writes every element once") {
  for (int n : {1, 31, 1000}) {
    const std::vector<int> out = grid_stride_iota(n, 3, 64);
    std::vector<int> want((size_t)n);
    std::iota(want.begin(), want.end(), 0);
    CHECK(out == want);
  }
}

TEST_CASE("emulator: 2-D shared tile transpose") {
  const int n = 13;
  const std::vector<float> in = random_floats(n * n, 5), out = transpose(in, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) CHECK(out[j * n + i] == in[i * n + j]);
}

TEST_CASE("emulator: dynamic shared memory above 48 KB only with the attribute") {
  const std::vector<float> x = random_floats(256, 2);
  const double want = std::accumulate(x.begin(), x.end(), 0.0);
  CHECK(dynamic_block_sums(x, 256, 1024)[0] == doctest::Approx(want).epsilon(1e-5));
  const size_t big = 64 * 1024;
  CHECK_THROWS_WITH_AS(dynamic_block_sums(x, 256, big), Contains("cudaFuncAttributeMaxDynamicSharedMemorySize"),
                       dasg::Error);
  CHECK_THROWS_WITH_AS(allow_dynamic_shared(232448 + 1), Contains("cudaErrorInvalidValue"), dasg::Error);
  allow_dynamic_shared(int(big));
  CHECK(dynamic_block_sums(x, 256, big)[0] == doctest::Approx(want).epsilon(1e-5));
}

TEST_CASE("emulator: warp-shuffle reduction") {
  const std::vector<float> x = random_floats(999, 3);
  const double want = std::accumulate(x.begin(), x.end(), 0.0);
  for (int threads : {32, 64, 256}) CHECK(warp_sum(x, threads) == doctest::Approx(want).epsilon(1e-4));
}

TEST_CASE("emulator: warp intrinsics honour masks and widths") {
  std::vector<int> x(32);
  for (int i = 0; i < 32; ++i) x[i] = (i * 7) % 11 - 3;
  const std::vector<int> r = warp_ops(x);
  unsigned ballot = 0;
  for (int i = 0; i < 32; ++i)
    if (x[i] > 0) ballot |= 1u << i;
  for (int lane = 0; lane < 32; ++lane) {
    CAPTURE(lane);
    CHECK(r[lane] == std::accumulate(x.begin(), x.begin() + lane + 1, 0));
    CHECK(r[32 + lane] == x[7]);
    const int g = lane / 8 * 8;
    CHECK(r[64 + lane] == (lane % 8 == 0 ? std::accumulate(x.begin() + g, x.begin() + g + 8, 0) : 0));
    const int h = lane / 16 * 16;
    CHECK(r[96 + lane] == std::accumulate(x.begin() + h, x.begin() + h + 16, 0));
    CHECK(unsigned(r[128 + lane]) == ballot);
    CHECK(r[160 + lane] == 0);
    CHECK(r[192 + lane] == 1);
  }
}

TEST_CASE("emulator: atomics are atomic") {
  const std::vector<double> r = atomics(8, 64);
  const int n = 8 * 64;
  CHECK(r[0] == n - 1);     // atomicMax
  CHECK(r[1] == -(n - 1));  // atomicMin
  CHECK(r[2] == n);         // atomicAdd int
  CHECK(r[3] >= 1);         // atomicCAS: one winner wrote its t + 1
  CHECK(r[4] == 7);         // atomicExch
  CHECK(r[5] == 1);         // exactly one CAS won
  CHECK(r[6] == n * 0.5);   // atomicAdd float
  CHECK(r[7] == n * 0.25);  // atomicAdd double
}

TEST_CASE("emulator: divergent __syncthreads() is an error and not a hang") {
  CHECK_THROWS_WITH_AS(run_broken_sync(0), Contains("divergent __syncthreads()"), dasg::Error);
  CHECK_THROWS_WITH_AS(run_broken_sync(0), Contains("cuda_emulator_kernels.cu"), dasg::Error);
  CHECK(cudaGetLastError() == cudaSuccess);  // the launch helper consumed the error
  const std::vector<float> x = random_floats(256, 4);
  CHECK(block_sums(x, 256)[0] == doctest::Approx(std::accumulate(x.begin(), x.end(), 0.0)).epsilon(1e-5));
}

TEST_CASE("emulator: a thread that returns while others wait at __syncthreads() is an error") {
  CHECK_THROWS_WITH_AS(run_broken_sync(1), Contains("every thread of a block must reach each __syncthreads()"),
                       dasg::Error);
}

TEST_CASE("emulator: mismatched warp masks and crossed waits are errors") {
  CHECK_THROWS_WITH_AS(run_broken_sync(2), Contains("same call with the same mask"), dasg::Error);
  CHECK_THROWS_WITH_AS(run_broken_sync(3), Contains("deadlock"), dasg::Error);
}

TEST_CASE("emulator: non-atomic += from two blocks loses updates" *
          doctest::skip(kThreadSanitizer)) {  // under TSan: run with --no-skip to see the race report
  const int iters = 2000;
  CHECK(count_with_blocks(2, iters, true) == 2 * iters);
  CHECK(count_with_blocks(2, iters, false) < 2 * iters);
}

TEST_CASE("emulator: reading unwritten shared memory gives NaN") {
  CHECK(std::isnan(sum_of_partly_written_shared()));
}

TEST_CASE("emulator: device memory is exact-size poisoned counted and range-checked") {
  const uint64_t mallocs = dasg::emu::malloc_calls(), frees = dasg::emu::free_calls();
  float* d = nullptr;
  DASG_CUDA_CHECK(cudaMalloc(&d, 3 * sizeof(float)));
  float h[3] = {1, 2, 3};
  DASG_CUDA_CHECK(cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost));
  for (float v : h) CHECK(std::isnan(v));
  CHECK(cudaMemcpy(d, h, 4 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(std::string(dasg::emu::last_error_detail()).find("not inside one device allocation") != std::string::npos);
  CHECK(cudaGetLastError() == cudaErrorInvalidValue);
  CHECK(cudaGetLastError() == cudaSuccess);
  CHECK_THROWS_WITH_AS(DASG_CUDA_CHECK(cudaMemset(d + 1, 0, 3 * sizeof(float))),
                       Contains("cudaMemset(d + 1, 0, 3 * sizeof(float)) failed: cudaErrorInvalidValue"), dasg::Error);
  cudaGetLastError();
  CHECK(cudaFree(h) == cudaErrorInvalidValue);
  cudaGetLastError();
  DASG_CUDA_CHECK(cudaFree(d));
  CHECK(dasg::emu::malloc_calls() == mallocs + 1);
  CHECK(dasg::emu::free_calls() == frees + 2);
}

TEST_CASE("emulator: launch limits of sm_90 are enforced") {
  CHECK_NOTHROW(launch_noop(dim3(2), dim3(1024), 0));
  CHECK_NOTHROW(launch_noop(dim3(1, 65535, 1), dim3(1), 0));
  for (dim3 block : {dim3(1025), dim3(1, 1025), dim3(1, 1, 65), dim3(32, 32, 2), dim3(0)})
    CHECK_THROWS_WITH_AS(launch_noop(dim3(1), block, 0), Contains("cudaErrorInvalidConfiguration"), dasg::Error);
  for (dim3 grid : {dim3(1, 65536), dim3(1, 1, 65536), dim3(0)})
    CHECK_THROWS_WITH_AS(launch_noop(grid, dim3(1), 0), Contains("invalid configuration argument"), dasg::Error);
  CHECK_THROWS_WITH_AS(launch_noop(dim3(1), dim3(1), 48 * 1024 + 1), Contains("cudaErrorInvalidValue"), dasg::Error);
  CHECK(cudaGetLastError() == cudaSuccess);
}

TEST_CASE("emulator: device properties streams events and error strings") {
  int count = 0, device = -1;
  DASG_CUDA_CHECK(cudaGetDeviceCount(&count));
  DASG_CUDA_CHECK(cudaGetDevice(&device));
  CHECK(count == 1);
  CHECK(device == 0);
  CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
  CHECK(cudaPeekAtLastError() == cudaErrorInvalidDevice);
  CHECK(cudaGetLastError() == cudaErrorInvalidDevice);
  cudaDeviceProp prop;
  DASG_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  CHECK(prop.major == 9);
  CHECK(prop.warpSize == 32);
  CHECK(prop.maxThreadsPerBlock == 1024);
  cudaStream_t stream;
  cudaEvent_t start, stop;
  DASG_CUDA_CHECK(cudaStreamCreate(&stream));
  DASG_CUDA_CHECK(cudaEventCreate(&start));
  DASG_CUDA_CHECK(cudaEventCreate(&stop));
  DASG_CUDA_CHECK(cudaEventRecord(start, stream));
  DASG_CUDA_CHECK(cudaEventRecord(stop, stream));
  DASG_CUDA_CHECK(cudaEventSynchronize(stop));
  float ms = -1.0f;
  DASG_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CHECK(ms >= 0.0f);
  DASG_CUDA_CHECK(cudaStreamSynchronize(stream));
  DASG_CUDA_CHECK(cudaDeviceSynchronize());
  DASG_CUDA_CHECK(cudaEventDestroy(start));
  DASG_CUDA_CHECK(cudaEventDestroy(stop));
  DASG_CUDA_CHECK(cudaStreamDestroy(stream));
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) == "invalid configuration argument");
}

TEST_CASE("emulator: math intrinsics are exact") {
  CHECK(__expf(1.5f) == std::exp(1.5f));
  CHECK(__logf(2.5f) == std::log(2.5f));
  CHECK(rsqrtf(4.0f) == 0.5f);
  CHECK(__fdividef(1.0f, 4.0f) == 0.25f);
  CHECK(__frcp_rn(8.0f) == 0.125f);
  CHECK(__int_as_float(__float_as_int(-3.25f)) == -3.25f);
  CHECK(__float_as_int(1.0f) == 0x3f800000);
  CHECK(max(3, 5) == 5);
  CHECK(min(2.0f, -1.0f) == -1.0f);
  CHECK(max(-1, 2u) == 0xffffffffu);  // CUDA's max(int, unsigned) compares as unsigned
  CHECK(fmaxf(1.0f, INFINITY) == INFINITY);
}

// ---- cuBLAS ------------------------------------------------------------------------------
namespace {

template <class T>
T* to_device(const std::vector<T>& h) {
  T* d = nullptr;
  DASG_CUDA_CHECK(cudaMalloc(&d, h.size() * sizeof(T)));
  DASG_CUDA_CHECK(cudaMemcpy(d, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}
template <class T>
std::vector<T> to_host(T* d, size_t n) {
  std::vector<T> h(n);
  DASG_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  DASG_CUDA_CHECK(cudaFree(d));
  return h;
}

// Stores the logical rows x cols matrix M (M[r][c]) column-major with leading dimension ld at
// `at`, transposed when `trans`; everything else in the buffer stays as it was (NaN padding).
template <class T>
void store(std::vector<T>& buf, size_t at, const std::vector<std::vector<T>>& M, bool trans, int ld) {
  for (size_t r = 0; r < M.size(); ++r)
    for (size_t c = 0; c < M[r].size(); ++c) buf[at + (trans ? c + r * ld : r + c * ld)] = M[r][c];
}

template <class T>
std::vector<std::vector<T>> random_matrix(int rows, int cols, std::mt19937& rng) {
  std::uniform_real_distribution<T> u(-1, 1);
  std::vector<std::vector<T>> M(rows, std::vector<T>(cols));
  for (auto& row : M)
    for (T& v : row) v = u(rng);
  return M;
}

cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* al,
                    const float* A, int lda, long long sa, const float* B, int ldb, long long sb, const float* be,
                    float* C, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasSgemm(h, ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc);
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, al, A, lda, sa, B, ldb, sb, be, C, ldc, sc, batch);
}
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* al,
                    const double* A, int lda, long long sa, const double* B, int ldb, long long sb, const double* be,
                    double* C, int ldc, long long sc, int batch) {
  if (batch == 1) return cublasDgemm(h, ta, tb, m, n, k, al, A, lda, B, ldb, be, C, ldc);
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, al, A, lda, sa, B, ldb, sb, be, C, ldc, sc, batch);
}

// C = alpha * op(A) op(B) + beta * C for every transpose pair, with leading dimensions and batch
// strides larger than needed (the gaps hold NaN, so any read of them shows), against a naive
// triple loop on the logical matrices. beta = 0 runs with NaN in C, which must be ignored.
template <class T>
void check_gemm(int batch, T beta) {
  const int m = 3, n = 4, k = 5;
  const T alpha = T(1.5), nan = std::numeric_limits<T>::quiet_NaN();
  std::mt19937 rng(7);
  cublasHandle_t handle;
  DASG_CUBLAS_CHECK(cublasCreate(&handle));
  for (cublasOperation_t ta : {CUBLAS_OP_N, CUBLAS_OP_T})
    for (cublasOperation_t tb : {CUBLAS_OP_N, CUBLAS_OP_T}) {
      CAPTURE(ta);
      CAPTURE(tb);
      const bool tra = ta != CUBLAS_OP_N, trb = tb != CUBLAS_OP_N;
      const int lda = (tra ? k : m) + 2, ldb = (trb ? n : k) + 3, ldc = m + 1;
      const long long sa = lda * (tra ? m : k) + 5, sb = ldb * (trb ? k : n) + 6, sc = ldc * n + 7;
      std::vector<T> A(sa * batch, nan), B(sb * batch, nan), C(sc * batch, nan);
      std::vector<std::vector<std::vector<T>>> Aop, Bop, C0;
      for (int b = 0; b < batch; ++b) {
        Aop.push_back(random_matrix<T>(m, k, rng));
        Bop.push_back(random_matrix<T>(k, n, rng));
        C0.push_back(beta == T(0) ? std::vector<std::vector<T>>(m, std::vector<T>(n, nan)) : random_matrix<T>(m, n, rng));
        store(A, b * sa, Aop[b], tra, lda);
        store(B, b * sb, Bop[b], trb, ldb);
        store(C, b * sc, C0[b], false, ldc);
      }
      T *dA = to_device(A), *dB = to_device(B), *dC = to_device(C);
      DASG_CUBLAS_CHECK(gemm(handle, ta, tb, m, n, k, &alpha, dA, lda, sa, dB, ldb, sb, &beta, dC, ldc, sc, batch));
      const std::vector<T> out = to_host(dC, C.size());
      DASG_CUDA_CHECK(cudaFree(dA));
      DASG_CUDA_CHECK(cudaFree(dB));
      for (int b = 0; b < batch; ++b)
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            T want = 0;
            for (int l = 0; l < k; ++l) want += Aop[b][i][l] * Bop[b][l][j];
            want = alpha * want + (beta == T(0) ? T(0) : beta * C0[b][i][j]);
            CHECK(out[b * sc + i + j * ldc] == doctest::Approx(want).epsilon(1e-5));
          }
      CHECK(std::isnan(out[m]));  // the gap below column 0 of C is untouched
    }
  DASG_CUBLAS_CHECK(cublasDestroy(handle));
}

}  // namespace

TEST_CASE("emulator: cublas gemm matches a naive loop for every transpose pair") {
  check_gemm<float>(1, 0.5f);
  check_gemm<float>(1, 0.0f);
  check_gemm<double>(1, 0.5);
}

TEST_CASE("emulator: cublas strided batched gemm") {
  check_gemm<float>(3, 0.5f);
  check_gemm<double>(3, 0.0);
}

TEST_CASE("emulator: row-major product through column-major cublas (swapped operands)") {
  const int m = 2, n = 3, k = 4;  // C[m,n] = A[m,k] B[k,n], all row-major
  std::vector<float> A(m * k), B(k * n), C(m * n, 0.0f);
  std::iota(A.begin(), A.end(), 1.0f);
  std::iota(B.begin(), B.end(), -3.0f);
  float *dA = to_device(A), *dB = to_device(B), *dC = to_device(C);
  cublasHandle_t handle;
  DASG_CUBLAS_CHECK(cublasCreate(&handle));
  const float one = 1.0f, zero = 0.0f;
  DASG_CUBLAS_CHECK(cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k, &one, dB, n, dA, k, &zero, dC, n));
  const std::vector<float> out = to_host(dC, C.size());
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float want = 0.0f;
      for (int l = 0; l < k; ++l) want += A[i * k + l] * B[l * n + j];
      CHECK(out[i * n + j] == want);
    }
  DASG_CUDA_CHECK(cudaFree(dA));
  DASG_CUDA_CHECK(cudaFree(dB));
  DASG_CUBLAS_CHECK(cublasDestroy(handle));
}

TEST_CASE("emulator: cublas argument checks and status codes") {
  cublasHandle_t h;
  DASG_CUBLAS_CHECK(cublasCreate(&h));
  DASG_CUBLAS_CHECK(cublasSetMathMode(h, CUBLAS_PEDANTIC_MATH));
  DASG_CUBLAS_CHECK(cublasSetStream(h, nullptr));
  std::vector<float> buf(64, 0.0f);
  const float* A = buf.data();
  float* C = buf.data();
  const float a = 1.0f, b = 0.0f;
  const cublasOperation_t N = CUBLAS_OP_N, T = CUBLAS_OP_T;
  CHECK(cublasSgemm(h, N, N, 3, 4, 5, &a, A, 2, A, 5, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);  // lda < m
  CHECK(cublasSgemm(h, T, N, 3, 4, 5, &a, A, 4, A, 5, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);  // lda < k
  CHECK(cublasSgemm(h, N, N, 3, 4, 5, &a, A, 3, A, 4, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);  // ldb < k
  CHECK(cublasSgemm(h, N, T, 3, 4, 5, &a, A, 3, A, 3, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);  // ldb < n
  CHECK(cublasSgemm(h, N, N, 3, 4, 5, &a, A, 3, A, 5, &b, C, 2) == CUBLAS_STATUS_INVALID_VALUE);  // ldc < m
  CHECK(cublasSgemm(h, N, N, -1, 4, 5, &a, A, 3, A, 5, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemm(h, N, N, 0, 0, 0, &a, A, 0, A, 0, &b, C, 0) == CUBLAS_STATUS_INVALID_VALUE);  // ld >= 1
  CHECK(cublasSgemm(h, cublasOperation_t(7), N, 3, 4, 5, &a, A, 5, A, 5, &b, C, 3) == CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemmStridedBatched(h, N, N, 3, 4, 5, &a, A, 3, 0, A, 5, 0, &b, C, 3, 0, -1) ==
        CUBLAS_STATUS_INVALID_VALUE);
  CHECK(cublasSgemm(nullptr, N, N, 3, 4, 5, &a, A, 3, A, 5, &b, C, 3) == CUBLAS_STATUS_NOT_INITIALIZED);
  CHECK(cublasSgemm(h, N, N, 0, 4, 5, &a, A, 1, A, 5, &b, C, 1) == CUBLAS_STATUS_SUCCESS);  // empty: no work
  CHECK(std::string(cublasGetStatusString(CUBLAS_STATUS_INVALID_VALUE)).size() > 0);
  CHECK_THROWS_WITH_AS(DASG_CUBLAS_CHECK(cublasSgemm(h, N, N, 3, 4, 5, &a, A, 2, A, 5, &b, C, 3)),
                       Contains("CUBLAS_STATUS_INVALID_VALUE"), dasg::Error);
  DASG_CUBLAS_CHECK(cublasDestroy(h));
}

// ---- cuDNN -------------------------------------------------------------------------------
namespace {

// The element indices of every softmax row of an NCHW tensor, from the definition of the modes.
std::vector<std::vector<size_t>> softmax_rows(int N, int C, int H, int W, cudnnSoftmaxMode_t mode) {
  std::vector<std::vector<size_t>> rows;
  auto at = [&](int n, int c, int h, int w) { return ((size_t(n) * C + c) * H + h) * W + w; };
  for (int n = 0; n < N; ++n) {
    if (mode == CUDNN_SOFTMAX_MODE_INSTANCE) {
      rows.emplace_back();
      for (int c = 0; c < C; ++c)
        for (int h = 0; h < H; ++h)
          for (int w = 0; w < W; ++w) rows.back().push_back(at(n, c, h, w));
    } else {
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          rows.emplace_back();
          for (int c = 0; c < C; ++c) rows.back().push_back(at(n, c, h, w));
        }
    }
  }
  return rows;
}

}  // namespace

TEST_CASE("emulator: cudnn softmax forward and backward against a hand reference") {
  const int N = 2, C = 3, H = 2, W = 2;
  const size_t size = size_t(N) * C * H * W;
  cudnnHandle_t handle;
  cudnnTensorDescriptor_t desc, other;
  DASG_CUDNN_CHECK(cudnnCreate(&handle));
  DASG_CUDNN_CHECK(cudnnSetStream(handle, nullptr));
  DASG_CUDNN_CHECK(cudnnCreateTensorDescriptor(&desc));
  DASG_CUDNN_CHECK(cudnnCreateTensorDescriptor(&other));
  DASG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(desc, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, W));
  const std::vector<float> x = random_floats(size, 11), dy = random_floats(size, 12);
  const float one = 1.0f, zero = 0.0f, half = 0.5f;
  for (cudnnSoftmaxMode_t mode : {CUDNN_SOFTMAX_MODE_INSTANCE, CUDNN_SOFTMAX_MODE_CHANNEL})
    for (cudnnSoftmaxAlgorithm_t algo : {CUDNN_SOFTMAX_FAST, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_LOG}) {
      CAPTURE(mode);
      CAPTURE(algo);
      const bool log = algo == CUDNN_SOFTMAX_LOG;
      std::vector<float> s(size), y_ref(size), dx_ref(size);
      for (const auto& row : softmax_rows(N, C, H, W, mode)) {
        double sum = 0.0;
        for (size_t i : row) sum += std::exp(double(x[i]));
        for (size_t i : row) s[i] = float(std::exp(double(x[i])) / sum);
        for (size_t i : row) y_ref[i] = log ? std::log(s[i]) : s[i];
        for (size_t i : row) {  // dx_i = sum_j dy_j * d y_j / d x_i
          double g = 0.0;
          for (size_t j : row) g += dy[j] * (log ? (i == j) - s[i] : s[j] * ((i == j) - s[i]));
          dx_ref[i] = float(g);
        }
      }
      float* dx = to_device(x);
      float* dyv = to_device(std::vector<float>(size, NAN));  // beta = 0: never read
      DASG_CUDNN_CHECK(cudnnSoftmaxForward(handle, algo, mode, &one, desc, dx, &zero, desc, dyv));
      const std::vector<float> y = to_host(dyv, size);
      for (size_t i = 0; i < size; ++i) CHECK(y[i] == doctest::Approx(y_ref[i]).epsilon(1e-5));

      float *dY = to_device(y), *dG = to_device(dy), *dX = to_device(std::vector<float>(size, 2.0f));
      DASG_CUDNN_CHECK(cudnnSoftmaxBackward(handle, algo, mode, &one, desc, dY, desc, dG, &half, desc, dX));
      const std::vector<float> grad = to_host(dX, size);
      for (size_t i = 0; i < size; ++i) CHECK(grad[i] == doctest::Approx(dx_ref[i] + 1.0f).epsilon(1e-5));
      DASG_CUDA_CHECK(cudaFree(dY));
      DASG_CUDA_CHECK(cudaFree(dG));
      DASG_CUDA_CHECK(cudaFree(dx));
    }
  float buf[24] = {};
  DASG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(other, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, C, H, 1));
  CHECK(cudnnSoftmaxForward(handle, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, desc, buf, &zero, other,
                            buf) == CUDNN_STATUS_BAD_PARAM);
  DASG_CUDNN_CHECK(cudnnSetTensor4dDescriptor(other, CUDNN_TENSOR_NCHW, CUDNN_DATA_DOUBLE, N, C, H, W));
  CHECK(cudnnSoftmaxForward(handle, CUDNN_SOFTMAX_ACCURATE, CUDNN_SOFTMAX_MODE_CHANNEL, &one, other, buf, &zero, other,
                            buf) == CUDNN_STATUS_NOT_SUPPORTED);
  CHECK(cudnnSetTensor4dDescriptor(other, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, 0, C, H, W) == CUDNN_STATUS_BAD_PARAM);
  CHECK_THROWS_WITH_AS(DASG_CUDNN_CHECK(cudnnSoftmaxForward(handle, CUDNN_SOFTMAX_LOG, CUDNN_SOFTMAX_MODE_INSTANCE,
                                                            &one, desc, nullptr, &zero, desc, buf)),
                       Contains("CUDNN_STATUS_BAD_PARAM"), dasg::Error);
  DASG_CUDNN_CHECK(cudnnDestroyTensorDescriptor(desc));
  DASG_CUDNN_CHECK(cudnnDestroyTensorDescriptor(other));
  DASG_CUDNN_CHECK(cudnnDestroy(handle));
}

// engine/cuda/index_math.cuh is __host__ __device__: checked here against plain division.
TEST_CASE("emulator: FastDiv is exact division, collapse merges contiguous dimensions") {
  std::mt19937_64 rng(9);
  std::vector<uint32_t> divisors{1, 2, 3, 7, 64, 65, 768, 1000, 4097, 65535, 65536, 65537, 1u << 31, (1u << 31) + 1,
                                 0xFFFFFFFFu};
  for (int i = 0; i < 200; ++i) divisors.push_back(uint32_t(rng() % 0xFFFFFFFFu) + 1);
  for (uint32_t d : divisors) {
    const dasg::cuda::FastDiv f(d);
    std::vector<uint32_t> ns{0, 1, d - 1, d, d + 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFEu, 0xFFFFFFFFu};
    for (int i = 0; i < 500; ++i) ns.push_back(uint32_t(rng()));
    for (uint32_t n : ns) {
      INFO("n " << n << " / d " << d);
      REQUIRE(f.div(n) == n / d);
    }
  }
  // [4, 3, 5] + [5] broadcast (outermost first, padded to 5 dims): two dimensions, [12, 5].
  const int64_t dims[5] = {1, 1, 4, 3, 5}, sa[5] = {0, 0, 15, 5, 1}, sb[5] = {0, 0, 0, 0, 1};
  const dasg::cuda::Strided s = dasg::cuda::collapse(dims, sa, sb, 2);
  CHECK(s.nd == 2);
  CHECK(s.dims[0] == 12);
  CHECK(s.dims[1] == 5);
  CHECK(s.stride[0][0] == 5);
  CHECK(s.stride[1][0] == 0);
  CHECK(s.fits32);
  // A permutation's output dims with the input strides: [2, 3, 4] -> perm (0, 2, 1) keeps dim 0 apart.
  const int64_t pd[5] = {1, 1, 2, 4, 3}, ps[5] = {0, 0, 12, 1, 4};
  const dasg::cuda::Strided p = dasg::cuda::collapse(pd, ps, ps, 1);
  CHECK(p.nd == 3);
}
