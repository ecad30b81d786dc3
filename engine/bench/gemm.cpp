// bench_gemm: GFLOP/s of the engine's f32 GEMM, in the same run as a plain Eigen GEMM.
//   usage: bench_gemm [--reps R] [sizes...]
// 1. Square n×n (default 512 1024 2048): the engine's `matmul` (allocation, checks, dispatch and
//    the packed GEMM included) against Eigen on preallocated matrices, best of several repetitions.
// 2. The model's shapes (linear layers at batch 8 × 256 tokens = 2048 rows, and expert GEMMs):
//    fwd  y = x·Wᵀ   [2048×256]·[N×256]ᵀ      dx = dy·W  [2048×N]·[N×256]
//    dW = dyᵀ·x      [2048×N]ᵀ·[2048×256]     (N = 768, 1024, 512, 256: layers out of D = 256),
//    the same three for layers into D = 256 from n = 1024, 512, then expert rows.
//    Plain Eigen (the previous f32 path) against the packed GEMM with each compiled SIMD
//    micro-kernel, on the same preallocated operands, the variants alternating within each of R
//    repetitions (default 15, after a warm-up); the median of each is printed, so a machine whose
//    speed drifts slows all columns alike.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/kernels/gemm_packed_cpu.hpp"
#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "ops/matmul.hpp"

using namespace dasg;
using Clock = std::chrono::steady_clock;
using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <class F>
static double seconds(F&& f) {
  auto t0 = Clock::now();
  f();
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

template <class F>
static double best_seconds(F f, int reps) {
  f();  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) best = std::min(best, seconds(f));
  return best;
}

static double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct ModelShape {
  const char* what;
  int64_t M, N, K;
  bool ta, tb;
};

// C = op(A)·op(B) by Eigen on maps of the stored operands (gemm_one of the previous matmul_cpu.cpp).
static void eigen_gemm(const ModelShape& s, const float* a, const float* b, float* c) {
  Eigen::Map<const RowMat> A(a, s.ta ? s.K : s.M, s.ta ? s.M : s.K), B(b, s.tb ? s.N : s.K, s.tb ? s.K : s.N);
  Eigen::Map<RowMat> C(c, s.M, s.N);
  if (!s.ta && !s.tb) C.noalias() = A * B;
  else if (s.ta && !s.tb) C.noalias() = A.transpose() * B;
  else if (!s.ta && s.tb) C.noalias() = A * B.transpose();
  else C.noalias() = A.transpose() * B.transpose();
}

static void model_shapes(int reps) {
  std::vector<ModelShape> shapes;
  for (int64_t n : {768, 1024, 512, 256}) {
    shapes.push_back({"fwd", 2048, n, 256, false, true});
    shapes.push_back({"dx", 2048, 256, n, false, false});
    shapes.push_back({"dW", n, 256, 2048, true, false});
  }
  for (int64_t n : {1024, 512}) {  // layers into D = 256 from n (dense fc2, experts' last layer)
    shapes.push_back({"fwd", 2048, 256, n, false, true});
    shapes.push_back({"dx", 2048, n, 256, false, false});
    shapes.push_back({"dW", 256, n, 2048, true, false});
  }
  for (int64_t rows : {128, 512, 1024}) {  // one expert's fc1 (256 -> 512) and fc2 (512 -> 256)
    shapes.push_back({"exp fc1", rows, 512, 256, false, true});
    shapes.push_back({"exp fc2", rows, 256, 512, false, true});
    shapes.push_back({"exp dW1", 512, 256, rows, true, false});
  }
  std::vector<kernels::GemmKernel> ks;
  for (kernels::GemmKernel k : kernels::gemm_kernels_compiled())
    if (k != kernels::GemmKernel::scalar) ks.push_back(k);
  std::printf("\nmodel shapes, GFLOP/s, median of %d (Eigen and the packed kernels alternating):\n", reps);
  std::printf("%-8s %5s %5s %5s %2s %2s  %8s", "product", "M", "N", "K", "ta", "tb", "Eigen");
  for (kernels::GemmKernel k : ks) std::printf("  %16s", kernels::gemm_kernel_name(k));
  std::printf("  %s\n", "best packed / Eigen");
  for (const ModelShape& s : shapes) {
    Generator gen(1);
    Tensor a = Tensor::rand({s.M * s.K}, gen), b = Tensor::rand({s.K * s.N}, gen);
    std::vector<float> c((size_t)(s.M * s.N));
    kernels::GemmShape gs{1, s.M, s.N, s.K, s.ta, s.tb, 0, 0, 0};
    std::vector<std::function<void()>> runs = {[&] { eigen_gemm(s, a.data<float>(), b.data<float>(), c.data()); }};
    for (kernels::GemmKernel k : ks)
      runs.push_back([&, k] { kernels::gemm_packed_f32(gs, a.data<float>(), b.data<float>(), c.data(), 1, 0, num_threads(), k); });
    std::vector<std::vector<double>> t(runs.size());
    for (auto& f : runs) f();  // warm-up
    for (int r = 0; r < reps; ++r)
      for (size_t v = 0; v < runs.size(); ++v) t[v].push_back(seconds(runs[v]));
    const double flops = 2.0 * s.M * s.N * s.K;
    std::printf("%-8s %5lld %5lld %5lld %2d %2d  %8.1f", s.what, (long long)s.M, (long long)s.N, (long long)s.K, s.ta,
                s.tb, flops / median(t[0]) * 1e-9);
    double best = 1e30;
    for (size_t v = 1; v < runs.size(); ++v) {
      std::printf("  %16.1f", flops / median(t[v]) * 1e-9);
      best = std::min(best, median(t[v]));
    }
    std::printf("  %6.2f\n", median(t[0]) / best);
  }
}

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  int reps = 15;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else sizes.push_back(std::atoll(argv[i]));
  }
  if (sizes.empty()) sizes = {512, 1024, 2048};
  std::printf("threads: %d; f32 micro-kernel: %s\n", num_threads(), kernels::gemm_kernel_name(kernels::gemm_kernel_widest()));
  std::printf("%6s  %14s  %14s  %8s\n", "n", "engine GFLOP/s", "Eigen GFLOP/s", "ratio");
  for (int64_t n : sizes) {
    Generator gen(1);
    Tensor a = Tensor::rand({n, n}, gen), b = Tensor::rand({n, n}, gen);
    RowMat ea = Eigen::Map<const RowMat>(a.data<float>(), n, n), eb = Eigen::Map<const RowMat>(b.data<float>(), n, n);
    RowMat ec(n, n);
    const int sq_reps = n <= 512 ? 20 : n <= 1024 ? 8 : 3;
    const double flops = 2.0 * n * n * n;
    double t_engine = best_seconds([&] { Tensor c = matmul(a, b); }, sq_reps);
    double t_eigen = best_seconds([&] { ec.noalias() = ea * eb; }, sq_reps);
    std::printf("%6lld  %14.1f  %14.1f  %7.1f%%\n", (long long)n, flops / t_engine * 1e-9, flops / t_eigen * 1e-9,
                100.0 * t_eigen / t_engine);
  }
  model_shapes(reps);
  return 0;
}
