// The packed, register-blocked f32 GEMM of the CPU backend (gemm_packed_cpu.cpp; the blocking
// scheme is described there). One product C = alpha·op(A)·op(B) + beta·C on row-major pointers,
// shaped by a GemmShape whose batch fields it ignores (matmul_cpu.cpp loops over a batch).
// beta = 0 never reads C. Tests and bench_gemm call it with each compiled micro-kernel.
#pragma once
#include <vector>

#include "engine/kernels/matmul.hpp"

namespace dasg::kernels {

// The micro-kernels (register tiles MR × NR): scalar 4×4 (every build), AVX2+FMA 6×16 (builds with
// __AVX2__ and __FMA__), AVX-512 6×32 (builds with __AVX512F__).
enum class GemmKernel { scalar, avx2, avx512 };

std::vector<GemmKernel> gemm_kernels_compiled();  // the ones this build has, narrowest first
GemmKernel gemm_kernel_widest();                  // what matmul uses
const char* gemm_kernel_name(GemmKernel k);

// threads: how many OpenMP threads share this one product (1: no parallel region, e.g. when the
// caller is already inside one). bias (optional, N floats): C = alpha·op(A)·op(B) + beta·C + bias
// broadcast over the rows, added as the first K block is stored (no separate pass over C).
void gemm_packed_f32(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                     int threads, GemmKernel k, const float* bias = nullptr);

}  // namespace dasg::kernels
