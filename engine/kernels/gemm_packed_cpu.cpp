// Packed, register-blocked f32 GEMM (GotoBLAS/BLIS scheme, written for this engine):
//   C (M×N) = alpha · op(A) (M×K) · op(B) (K×N) + beta · C,   all row-major, beta = 0 never reads C.
//
// Blocking, outermost first (KC×NR and MC×KC are sized so that a B sliver stays in L1 and an A
// block in a 512 KiB L2; the B panel, KC×NC, lives in L2/L3):
//   for jc in N by NC:                       B panel  = op(B)[pc:pc+KC, jc:jc+NC], packed once,
//     for pc in K by KC:                                 shared by all threads, as NR-column slivers
//       pack the B panel (threads split the slivers)      [KC × NR] each (row p of a sliver contiguous)
//       for ic in M by MC (threads split the blocks):   A block = op(A)[ic:ic+MC, pc:pc+KC], packed by
//         pack the A block into this thread's buffer     its thread as MR-row slivers [KC × MR]
//         for jr in the panel by NR:  for ir in the block by MR:
//           micro-kernel: an MR×NR tile of C in registers, KC rank-1 updates
//             acc[i][v] += broadcast(a[p][i]) · b[p][v·W .. v·W+W)      (W lanes a packet, FMA)
//           then C_tile = alpha·acc + beta_k·C_tile, beta_k = beta on the first K block, 1 after
// The transpose flags are handled while packing (op(X)[r][c] read through two strides), so the
// micro-kernel sees one layout. Packing pads past M, N with zeros; a tile on the edge goes through a
// small buffer and a scalar store of its valid part.
//
// Micro-kernels, one template over Eigen's packets (GemmKernel): scalar 4×4 (P = float), AVX2+FMA
// 6×16 (Packet8f, 12 ymm accumulators), AVX-512 6×32 (Packet16f). Which exist is decided when
// compiling: the build uses -march=native, so the whole binary (Eigen included) targets the build
// machine and a runtime check here would not make it portable; a build on a machine without AVX2
// gets the scalar kernel. Threads: one OpenMP region per product, `omp for` over B slivers and M
// blocks (their implicit barriers order packing and use). The packing buffers are thread_local,
// grown on demand (see scratch); they carry no values from one call to the next.
#include "engine/kernels/gemm_packed_cpu.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

namespace dasg::kernels {

namespace {

constexpr int64_t kKC = 256;   // depth of a block: the model's K = 256 in one step
constexpr int64_t kMC = 144;   // rows of an A block (rounded to whole slivers, split evenly)
constexpr int64_t kNC = 2048;  // columns of a B panel

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// A packing buffer of at least n floats, one per thread and role (0: A block, 1: B panel), aligned
// for the widest packet. Kept for the thread's life so steady-state GEMMs allocate nothing.
float* scratch(int role, int64_t n) {
  thread_local std::vector<float, Eigen::aligned_allocator<float>> buffers[2];
  auto& buf = buffers[role];
  if ((int64_t)buf.size() < n) buf.resize(n);
  return buf.data();
}

// op(X) as a strided view: op(X)[r][c] = x[r·rs + c·cs].
struct View {
  const float* x;
  int64_t rs, cs;
  float at(int64_t r, int64_t c) const { return x[r * rs + c * cs]; }
};

// out[p·MR + i] = op(A)[i0 + i][p0 + p] for p < kc, i < MR (zero for rows past `rows`).
template <int MR>
void pack_a_sliver(const View& A, int64_t i0, int64_t rows, int64_t p0, int64_t kc, float* out) {
  for (int64_t p = 0; p < kc; ++p) {
    float* o = out + p * MR;
    for (int64_t i = 0; i < rows; ++i) o[i] = A.at(i0 + i, p0 + p);
    for (int64_t i = rows; i < MR; ++i) o[i] = 0;
  }
}

// out[p·NR + j] = op(B)[p0 + p][j0 + j] for p < kc, j < NR (zero for columns past `cols`).
template <int NR>
void pack_b_sliver(const View& B, int64_t p0, int64_t kc, int64_t j0, int64_t cols, float* out) {
  for (int64_t p = 0; p < kc; ++p) {
    float* o = out + p * NR;
    for (int64_t j = 0; j < cols; ++j) o[j] = B.at(p0 + p, j0 + j);
    for (int64_t j = cols; j < NR; ++j) o[j] = 0;
  }
}

// Eigen's packet of W floats (W = 1: a plain float, for the scalar kernel).
template <int W>
struct FloatPacket {
  using type = float;
};
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
template <>
struct FloatPacket<8> {
  using type = Eigen::internal::Packet8f;
};
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
template <>
struct FloatPacket<16> {
  using type = Eigen::internal::Packet16f;
};
#endif

// The micro-kernel: an MR × NR tile (NR = NV packets of W lanes) from packed slivers a [kc × MR]
// and b [kc × NR]:  C[i][j] = alpha·Σ_p a[p·MR + i]·b[p·NR + j] + beta·C[i][j]  for i < mr, j < nr.
template <int W, int MR_, int NV>
struct Tile {
  using P = typename FloatPacket<W>::type;
  static_assert(sizeof(P) == W * sizeof(float), "a packet of W floats");
  static constexpr int MR = MR_, NR = NV * W;

  static void run(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                  float alpha, float beta) {
    using namespace Eigen::internal;
    P acc[MR][NV];
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) acc[i][v] = pset1<P>(0.0f);
    for (int64_t p = 0; p < kc; ++p, a += MR, b += NR) {
      P bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = pload<P>(b + v * W);
      for (int i = 0; i < MR; ++i) {
        const P ai = pset1<P>(a[i]);
        for (int v = 0; v < NV; ++v) acc[i][v] = pmadd(ai, bv[v], acc[i][v]);
      }
    }
    if (mr == MR && nr == NR) {  // a whole tile: packet stores straight into C
      const P pa = pset1<P>(alpha), pb = pset1<P>(beta);
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) {
          float* ct = c + i * ldc + v * W;
          P r = pmul(pa, acc[i][v]);
          if (beta != 0.0f) r = pmadd(pb, ploadu<P>(ct), r);
          pstoreu(ct, r);
        }
      return;
    }
    alignas(64) float t[MR * NR];  // an edge tile: through a buffer, then its valid part
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) pstoreu(t + i * NR + v * W, acc[i][v]);
    for (int64_t i = 0; i < mr; ++i)
      for (int64_t j = 0; j < nr; ++j) {
        float& ct = c[i * ldc + j];
        ct = beta == 0.0f ? alpha * t[i * NR + j] : alpha * t[i * NR + j] + beta * ct;
      }
  }
};

// The blocked product with one micro-kernel (the loops of the header comment).
template <class K>
void gemm_blocked(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                  int threads) {
  constexpr int MR = K::MR, NR = K::NR;
  const int64_t M = s.M, N = s.N, Kd = s.K;
  const View A = s.ta ? View{a, 1, M} : View{a, Kd, 1};  // A stored K×M when ta, else M×K
  const View B = s.tb ? View{b, 1, Kd} : View{b, N, 1};  // B stored N×K when tb, else K×N
  const int64_t kc_max = std::min(Kd, kKC);
  const int64_t nc_max = std::min(round_up(N, NR), round_up(kNC, NR));
  // Threads: no more than there are slivers of rows, and one for a product under 64³ multiply-adds
  // (a parallel region costs microseconds). M blocks: whole slivers, at most about kMC rows, their
  // count a multiple of the threads.
  if (M * N * Kd < 64 * 64 * 64) threads = 1;
  threads = (int)std::max<int64_t>(1, std::min<int64_t>(threads, ceil_div(M, MR)));
  const int64_t blocks = round_up(ceil_div(M, kMC), threads);
  const int64_t mc = round_up(ceil_div(M, blocks), MR);
  const int64_t nblocks = ceil_div(M, mc);
  float* bp = scratch(1, kc_max * nc_max);  // the caller's buffer, shared by the team
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* ap = scratch(0, mc * kc_max);  // this thread's own
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, N - jc);
      for (int64_t pc = 0; pc < Kd; pc += kc_max) {
        const int64_t kc = std::min(kc_max, Kd - pc);
        const float beta_k = pc == 0 ? beta : 1.0f;
        const int64_t slivers = ceil_div(nc, NR);
#pragma omp for schedule(static)
        for (int64_t q = 0; q < slivers; ++q)
          pack_b_sliver<NR>(B, pc, kc, jc + q * NR, std::min<int64_t>(NR, nc - q * NR), bp + q * NR * kc);
#pragma omp for schedule(static)
        for (int64_t ib = 0; ib < nblocks; ++ib) {
          const int64_t ic = ib * mc, m = std::min(mc, M - ic);
          for (int64_t ir = 0; ir < m; ir += MR)
            pack_a_sliver<MR>(A, ic + ir, std::min<int64_t>(MR, m - ir), pc, kc, ap + ir * kc);
          for (int64_t jr = 0; jr < nc; jr += NR)
            for (int64_t ir = 0; ir < m; ir += MR)
              K::run(kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * N + jc + jr, N, std::min<int64_t>(MR, m - ir),
                     std::min<int64_t>(NR, nc - jr), alpha, beta_k);
        }  // the implicit barrier: every tile is done before the panel is packed again
      }
    }
  }
}

using Scalar4x4 = Tile<1, 4, 4>;
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
using Avx2_6x16 = Tile<8, 6, 2>;
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
using Avx512_6x32 = Tile<16, 6, 2>;
#endif

}  // namespace

std::vector<GemmKernel> gemm_kernels_compiled() {
  std::vector<GemmKernel> ks{GemmKernel::scalar};
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
  ks.push_back(GemmKernel::avx2);
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
  ks.push_back(GemmKernel::avx512);
#endif
  return ks;
}

GemmKernel gemm_kernel_widest() { return gemm_kernels_compiled().back(); }

const char* gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::scalar: return "scalar 4x4";
    case GemmKernel::avx2: return "AVX2+FMA 6x16";
    case GemmKernel::avx512: return "AVX-512 6x32";
  }
  return "?";
}

void gemm_packed_f32(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                     int threads, GemmKernel k) {
  DASG_CHECK(s.M >= 0 && s.N >= 0 && s.K >= 0, "gemm_packed_f32: shape M=", s.M, " N=", s.N, " K=", s.K,
             "; expected sizes >= 0");
  if (s.M == 0 || s.N == 0) return;
  if (s.K == 0) {  // empty sum: C = beta·C
    for (int64_t i = 0; i < s.M * s.N; ++i) c[i] = beta == 0.0f ? 0.0f : beta * c[i];
    return;
  }
  switch (k) {
    case GemmKernel::scalar: return gemm_blocked<Scalar4x4>(s, a, b, c, alpha, beta, threads);
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
    case GemmKernel::avx2: return gemm_blocked<Avx2_6x16>(s, a, b, c, alpha, beta, threads);
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
    case GemmKernel::avx512: return gemm_blocked<Avx512_6x32>(s, a, b, c, alpha, beta, threads);
#endif
    default: break;
  }
  DASG_FAIL("gemm_packed_f32: the ", gemm_kernel_name(k), " micro-kernel is not in this build (compiled: the ",
            gemm_kernel_name(gemm_kernel_widest()), " one and narrower)");
}

}  // namespace dasg::kernels
