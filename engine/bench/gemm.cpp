// bench_gemm: GFLOP/s of the engine's matmul (ops/matmul: allocation, checks, dispatch and the
// Eigen-mapped GEMM) next to a plain Eigen GEMM on preallocated matrices, in the same run.
//   usage: bench_gemm [sizes...]      (default 512 1024 2048, f32, square)
// Each figure is the best of several repetitions after a warm-up.
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "engine/parallel.hpp"
#include "engine/rng.hpp"
#include "ops/matmul.hpp"

using namespace dasg;
using Clock = std::chrono::steady_clock;

template <class F>
static double best_seconds(F f, int reps) {
  f();  // warm-up
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = Clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

int main(int argc, char** argv) {
  std::vector<int64_t> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atoll(argv[i]));
  if (sizes.empty()) sizes = {512, 1024, 2048};
  std::printf("threads: %d\n", num_threads());
  std::printf("%6s  %14s  %14s  %8s\n", "n", "engine GFLOP/s", "Eigen GFLOP/s", "ratio");
  for (int64_t n : sizes) {
    Generator gen(1);
    Tensor a = Tensor::rand({n, n}, gen), b = Tensor::rand({n, n}, gen);
    using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    RowMat ea = Eigen::Map<const RowMat>(a.data<float>(), n, n), eb = Eigen::Map<const RowMat>(b.data<float>(), n, n);
    RowMat ec(n, n);
    const int reps = n <= 512 ? 20 : n <= 1024 ? 8 : 3;
    const double flops = 2.0 * n * n * n;
    double t_engine = best_seconds([&] { Tensor c = matmul(a, b); }, reps);
    double t_eigen = best_seconds([&] { ec.noalias() = ea * eb; }, reps);
    std::printf("%6lld  %14.1f  %14.1f  %7.1f%%\n", (long long)n, flops / t_engine * 1e-9, flops / t_eigen * 1e-9,
                100.0 * t_eigen / t_engine);
  }
  return 0;
}
