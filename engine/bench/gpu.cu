// bench_gpu: the GPU benchmark of DESIGN.md §10, built only in native CUDA builds (never under the
// emulator: emulated runs print no timings). In one run, on CUDA device 0:
//   1. f32 GEMM n×n×n (default 4096) through the engine's matmul (ops/matmul: allocation from the
//      caching allocator, checks, dispatch, the row-major→column-major cuBLAS call) next to
//      cublasSgemm called directly on preallocated buffers, with TF32 on and then off (the same
//      setting for both), plus the largest difference between the two results;
//   1b. the bf16 GEMM of mixed precision (bf16 A, B; f32 accumulation; f32 C) through the engine's
//      kernels::gemm (ops/matmul takes f32 operands) next to cublasGemmEx called directly with
//      CUBLAS_COMPUTE_32F, and the largest difference between the two;
//   2. the effective bandwidth of memory-bound kernels — elementwise add, broadcast add (the bias
//      of a linear), the bias-gradient column sum, softmax, layer_norm, embedding backward, top-k of
//      router logits — as a fraction of a device-to-device cudaMemcpy measured in the same run.
//      "Bytes moved" is the minimum traffic (every input read once, the output written once);
//      a kernel that reads its input twice shows up as a lower fraction;
//   3. one GMHA-style attention layer forward + backward (qkv linear, the fused grouped window
//      attention, output linear), in TFLOP/s and as a fraction of the cuBLAS GEMM rate of part 1
//      at the engine's TF32 setting.
// Every figure is the best of R repetitions after warm-up, timed with cudaEvents on the engine's
// stream.
//   usage: bench_gpu [--gemm N] [--reps R] [--elems E]   (defaults 4096, 20, 2^26 f32 elements)
#if DASG_CUDA_EMULATE
#error "bench_gpu is a native-only benchmark; the emulated build must not time anything"
#endif
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "engine/cuda/context.hpp"
#include "engine/cuda/cuda_compat.cuh"
#include "engine/cuda/device_memory.hpp"
#include "engine/rng.hpp"
#include "engine/tensor.hpp"
#include "engine/kernels/embedding.hpp"
#include "engine/kernels/matmul.hpp"
#include "ops/elementwise.hpp"
#include "ops/grouped_attention.hpp"
#include "ops/layer_norm.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/softmax.hpp"
#include "ops/topk.hpp"

using namespace dasg;

namespace {

const Device kGPU = Device::cuda(0);

// Best time in milliseconds of one call of f on `stream`, after two warm-up calls.
double best_ms(cudaStream_t stream, int reps, const std::function<void()>& f) {
  f();
  f();
  DASG_CUDA_CHECK(cudaStreamSynchronize(stream));
  cudaEvent_t e0, e1;
  DASG_CUDA_CHECK(cudaEventCreate(&e0));
  DASG_CUDA_CHECK(cudaEventCreate(&e1));
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    DASG_CUDA_CHECK(cudaEventRecord(e0, stream));
    f();
    DASG_CUDA_CHECK(cudaEventRecord(e1, stream));
    DASG_CUDA_CHECK(cudaEventSynchronize(e1));
    float ms = 0;
    DASG_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    best = std::min(best, (double)ms);
  }
  DASG_CUDA_CHECK(cudaEventDestroy(e0));
  DASG_CUDA_CHECK(cudaEventDestroy(e1));
  return best;
}

// max |a − b| / max |b|
double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, scale = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs((double)a[i] - (double)b[i]));
    scale = std::max(scale, std::abs((double)b[i]));
  }
  return diff / scale;
}

Tensor device_rand(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  Generator g(seed);
  return Tensor::rand(shape, g, lo, hi).to(kGPU);
}

// Returns cuBLAS's TFLOP/s at the engine's own TF32 setting (the peak the GMHA layer is held to).
double bench_gemm(int64_t n, int reps) {
  cudaStream_t s = cuda::stream(0);
  Tensor a = device_rand({n, n}, 1), b = device_rand({n, n}, 2);
  Tensor c_direct = Tensor::empty({n, n}, DType::f32, kGPU);
  cublasHandle_t h = nullptr;  // our own handle on the engine's stream
  DASG_CUBLAS_CHECK(cublasCreate(&h));
  DASG_CUBLAS_CHECK(cublasSetStream(h, s));
  const double flops = 2.0 * n * n * n;
  const int ni = (int)n;
  std::printf("\nGEMM f32 %lldx%lldx%lld, C = A·B row-major (best of %d after warm-up, cudaEvent timing)\n",
              (long long)n, (long long)n, (long long)n, reps);
  std::printf("  %-5s  %10s  %14s  %10s  %14s  %14s  %13s\n", "TF32", "engine ms", "engine TFLOP/s", "cuBLAS ms",
              "cuBLAS TFLOP/s", "engine/cuBLAS", "max rel diff");
  const bool saved = cuda::tf32_enabled();
  double peak = 0;
  for (bool tf32 : {true, false}) {
    cuda::set_tf32(tf32);
    DASG_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    const float alpha = 1, beta = 0;
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: B first, as the engine does it.
    auto direct = [&] {
      DASG_CUBLAS_CHECK(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, ni, ni, ni, &alpha, b.data<float>(), ni,
                                    a.data<float>(), ni, &beta, c_direct.data<float>(), ni));
    };
    Tensor c_engine;
    auto engine = [&] { c_engine = matmul(a, b); };
    const double t_engine = best_ms(s, reps, engine);
    const double t_direct = best_ms(s, reps, direct);
    const double diff = max_rel_diff(c_engine.to_vector<float>(), c_direct.to_vector<float>());
    std::printf("  %-5s  %10.3f  %14.1f  %10.3f  %14.1f  %13.1f%%  %13.2e\n", tf32 ? "on" : "off", t_engine,
                flops / (t_engine * 1e-3) * 1e-12, t_direct, flops / (t_direct * 1e-3) * 1e-12,
                100.0 * t_direct / t_engine, diff);
    if (tf32 == saved) peak = flops / (t_direct * 1e-3) * 1e-12;
  }
  cuda::set_tf32(saved);
  DASG_CUBLAS_CHECK(cublasDestroy(h));
  return peak;
}

// bf16 A, B (rounded from the same random f32 values), f32 C: engine vs cublasGemmEx.
void bench_gemm_bf16(int64_t n, int reps) {
  cudaStream_t s = cuda::stream(0);
  Tensor a = device_rand({n, n}, 1).to(DType::bf16), b = device_rand({n, n}, 2).to(DType::bf16);
  Tensor c_direct = Tensor::empty({n, n}, DType::f32, kGPU);
  cublasHandle_t h = nullptr;
  DASG_CUBLAS_CHECK(cublasCreate(&h));
  DASG_CUBLAS_CHECK(cublasSetStream(h, s));
  const double flops = 2.0 * n * n * n;
  const int ni = (int)n;
  const float alpha = 1, beta = 0;
  auto direct = [&] {
    DASG_CUBLAS_CHECK(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, ni, ni, ni, &alpha, b.raw_data(), CUDA_R_16BF, ni,
                                   a.raw_data(), CUDA_R_16BF, ni, &beta, c_direct.raw_data(), CUDA_R_32F, ni,
                                   CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  };
  Tensor c_engine;
  auto engine = [&] {
    c_engine = Tensor::empty({n, n}, DType::f32, kGPU);
    kernels::gemm(kernels::GemmShape{1, n, n, n, false, false, 0, 0, 0}, a, b, c_engine);
  };
  const double t_engine = best_ms(s, reps, engine);
  const double t_direct = best_ms(s, reps, direct);
  const double diff = max_rel_diff(c_engine.to_vector<float>(), c_direct.to_vector<float>());
  std::printf("\nGEMM bf16 %lldx%lldx%lld → f32 (CUBLAS_COMPUTE_32F), C = A·B row-major (best of %d after warm-up)\n",
              (long long)n, (long long)n, (long long)n, reps);
  std::printf("  %10s  %14s  %10s  %14s  %14s  %13s\n", "engine ms", "engine TFLOP/s", "cuBLAS ms", "cuBLAS TFLOP/s",
              "engine/cuBLAS", "max rel diff");
  std::printf("  %10.3f  %14.1f  %10.3f  %14.1f  %13.1f%%  %13.2e\n", t_engine, flops / (t_engine * 1e-3) * 1e-12,
              t_direct, flops / (t_direct * 1e-3) * 1e-12, 100.0 * t_direct / t_engine, diff);
  DASG_CUBLAS_CHECK(cublasDestroy(h));
}

struct Row {
  std::string name, shape;
  double bytes;
  std::function<void()> f;
};

void bench_bandwidth(int64_t elems, int reps) {
  cudaStream_t s = cuda::stream(0);
  const double tensor_bytes = (double)elems * sizeof(float);
  Tensor x = device_rand({elems}, 3), y = device_rand({elems}, 4);
  Tensor copy_dst = Tensor::empty({elems}, DType::f32, kGPU);
  auto memcpy_d2d = [&] {
    DASG_CUDA_CHECK(cudaMemcpyAsync(copy_dst.data<float>(), x.data<float>(), (size_t)tensor_bytes,
                                    cudaMemcpyDeviceToDevice, s));
  };
  const double t_copy = best_ms(s, reps, memcpy_d2d);
  const double copy_gbs = 2 * tensor_bytes / (t_copy * 1e-3) * 1e-9;

  std::vector<Row> rows;
  rows.push_back({"add (a + b)", "[" + std::to_string(elems) + "]", 3 * tensor_bytes, [&] { Tensor o = add(x, y); }});
  for (int64_t cols : {1024, 4096}) {
    if (elems % cols) continue;
    const int64_t r = elems / cols;
    const std::string shape = "[" + std::to_string(r) + ", " + std::to_string(cols) + "]";
    Tensor xm = x.view({r, cols});
    Tensor w = device_rand({cols}, 5, 0.5, 1.5), bias = device_rand({cols}, 6);
    rows.push_back({"softmax", shape, 2 * tensor_bytes, [xm] { Tensor o = softmax(xm); }});
    rows.push_back({"broadcast add (+ b)", shape, 2 * tensor_bytes + cols * 4.0, [xm, bias] { Tensor o = add(xm, bias); }});
    rows.push_back({"bias grad (sum dim 0)", shape, tensor_bytes + cols * 4.0, [xm] { Tensor o = sum(xm, 0); }});
    rows.push_back({"layer_norm (w, b)", shape, 2 * tensor_bytes + 2.0 * cols * sizeof(float),
                    [xm, w, bias] { Tensor o = layer_norm(xm, w, bias); }});
  }

  {  // embedding backward: g_out [M, D] scattered into [V, D] by M ids (GPT-2's V and D)
    const int64_t D = 768, V = 50304, M = std::max<int64_t>(1, elems / D);
    Generator g(8);
    std::vector<int32_t> id((size_t)M);
    for (int32_t& v : id) v = (int32_t)(g.next_uniform() * (double)V);
    Tensor ids = Tensor::from_vector(id, {M}).to(kGPU);
    Tensor g_out = device_rand({M, D}, 9), g_table = Tensor::empty({V, D}, DType::f32, kGPU);
    rows.push_back({"embedding backward", "[" + std::to_string(M) + ", 768]→[50304, 768]",
                    (double)M * D * 4 + M * 4.0 + (double)V * D * 4,
                    [g_out, ids, g_table]() mutable { kernels::embedding_backward(g_out, ids, g_table); }});
  }
  {  // top-2 of router logits [tokens, 64 experts]
    const int64_t E = 64, N = elems / E;
    Tensor logits = x.view({N, E});
    rows.push_back({"topk (k = 2)", "[" + std::to_string(N) + ", 64]", tensor_bytes + N * 2 * 8.0,
                    [logits] { TopkResult r = topk(logits, 2); }});
  }

  std::printf("\nMemory-bound forward kernels vs a device-to-device cudaMemcpy, f32, %lld elements (%.0f MiB) a "
              "tensor (best of %d after warm-up)\n",
              (long long)elems, tensor_bytes / (1 << 20), reps);
  std::printf("  %-20s  %-16s  %12s  %9s  %9s  %12s\n", "kernel", "shape", "bytes moved", "ms", "GB/s", "% of memcpy");
  std::printf("  %-20s  %-16s  %9.0f MiB  %9.3f  %9.1f  %11.1f%%\n", "cudaMemcpy D2D",
              ("[" + std::to_string(elems) + "]").c_str(), 2 * tensor_bytes / (1 << 20), t_copy, copy_gbs, 100.0);
  for (const Row& row : rows) {
    try {
      const double t = best_ms(s, reps, row.f);
      const double gbs = row.bytes / (t * 1e-3) * 1e-9;
      std::printf("  %-20s  %-16s  %9.0f MiB  %9.3f  %9.1f  %11.1f%%\n", row.name.c_str(), row.shape.c_str(),
                  row.bytes / (1 << 20), t, gbs, 100.0 * gbs / copy_gbs);
    } catch (const Error& e) {
      std::printf("  %-20s  %-16s  not available: %s\n", row.name.c_str(), row.shape.c_str(), e.what());
    }
  }
}

// One attention layer as GMHA runs it: qkv = x·W_qkvᵀ + b, the fused grouped window attention,
// o = u·W_oᵀ + b, then the backward of a random upstream gradient. FLOPs: the two linears
// (2·N·D·3D + 2·N·D·D forward, twice that backward) and the attention (4·B·H·T·w·d forward,
// about 2.5 times that backward with the recomputed probabilities).
void bench_gmha(double gemm_tflops, int reps) {
  const int64_t B = 8, T = 1024, D = 768, H = 12, G = 16, L = T / G;
  cudaStream_t s = cuda::stream(0);
  Tensor x = device_rand({B, T, D}, 11).requires_grad_(true);
  Tensor wqkv = device_rand({3 * D, D}, 12, -0.05, 0.05).requires_grad_(true), bqkv = device_rand({3 * D}, 13);
  Tensor wo = device_rand({D, D}, 14, -0.05, 0.05).requires_grad_(true), bo = device_rand({D}, 15);
  bqkv.requires_grad_(true);
  bo.requires_grad_(true);
  Tensor up = device_rand({B, T, D}, 16);
  const AttentionMask mask{L, L, true};
  auto layer = [&] {
    Tensor qkv = linear(x, wqkv, bqkv);
    Tensor u = grouped_window_attention(qkv, H, mask).out;
    Tensor o = linear(u, wo, bo);
    o.backward(up);
  };
  const double N = (double)B * T, d = (double)D / H;
  // causal window w = L: on average (w + 1)/2 keys a query
  const double attn = 4.0 * B * H * T * ((L + 1) / 2.0) * d;
  const double flops = 3 * (2 * N * D * 3 * D + 2 * N * D * D) + attn * 3.5;
  const double t = best_ms(s, reps, layer);
  const double tflops = flops / (t * 1e-3) * 1e-12;
  std::printf("\nGMHA layer forward + backward, B %lld, T %lld, D %lld, H %lld, group/window %lld (TF32 %s)\n",
              (long long)B, (long long)T, (long long)D, (long long)H, (long long)L,
              cuda::tf32_enabled() ? "on" : "off");
  std::printf("  %.3f ms, %.1f GFLOP, %.1f TFLOP/s, %.1f%% of the cuBLAS GEMM rate above\n", t, flops * 1e-9, tflops,
              gemm_tflops > 0 ? 100.0 * tflops / gemm_tflops : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t gemm_n = 4096, elems = int64_t(1) << 26;
  int reps = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--gemm")) gemm_n = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--elems")) elems = std::atoll(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: bench_gpu [--gemm N] [--reps R] [--elems E]\n");
      return 2;
    }
  }
  int devices = 0;
  const cudaError_t status = cudaGetDeviceCount(&devices);
  if (status != cudaSuccess || devices == 0) {
    if (status != cudaSuccess)
      std::fprintf(stderr, "bench_gpu: no CUDA device can be opened: cudaGetDeviceCount failed: %s (%s)\n",
                   cudaGetErrorName(status), cudaGetErrorString(status));
    else
      std::fprintf(stderr, "bench_gpu: no CUDA device on this machine\n");
    return 1;
  }
  try {
    cudaDeviceProp p;
    DASG_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    std::printf("device 0: %s, sm_%d%d, %d SMs, %.1f GiB; driver %d, runtime %d; cuBLAS %d\n", p.name, p.major,
                p.minor, p.multiProcessorCount, p.totalGlobalMem / double(1 << 30), driver, runtime,
                CUBLAS_VERSION);
    std::printf("allocator: %s\n", cuda::allocator_mode() == cuda::AllocatorMode::caching ? "caching" : "exact");
    const double gemm_tflops = bench_gemm(gemm_n, std::max(1, reps / 2));
    bench_gemm_bf16(gemm_n, std::max(1, reps / 2));
    bench_bandwidth(elems, reps);
    bench_gmha(gemm_tflops, std::max(1, reps / 4));
    const cuda::AllocatorStats st = cuda::allocator_stats();
    std::printf("\nallocator: peak %.0f MiB, %lld cudaMalloc calls\n", st.peak / double(1 << 20),
                (long long)st.malloc_calls);
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_gpu: %s\n", e.what());
    return 1;
  }
  return 0;
}
