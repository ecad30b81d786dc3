// Packed, register-blocked f32 GEMM (GotoBLAS/BLIS scheme, written for this engine):
//   C (M×N) = alpha · op(A) (M×K) · op(B) (K×N) + beta · C,   all row-major, beta = 0 never reads C.
//
// Blocking, outermost first (a B sliver KC×NR stays in L1, an A block MC×KC in a 512 KiB L2, the
// B panel in L2/L3):
//   for jc in N by NC:  for pc in K by KC:
//     pack the B panel op(B)[pc:pc+KC, jc:jc+NC] as NR-column slivers [KC × NR] (row p of a
//       sliver contiguous), the threads sharing the slivers
//     for each unit, an MC×NU block of C (the threads take units dynamically):
//       its A block op(A)[i0:i0+MC, pc:pc+KC] as MR-row slivers [KC × MR], packed by the unit's
//         thread, or read in place (below)
//       for jr in the unit by NR:  for ir in the unit by MR:
//         micro-kernel: an MR×NR tile of C in registers, KC rank-1 updates
//           acc[i][v] += broadcast(op(A)[i][p]) · b[p][v·W .. v·W+W)    (W lanes a packet, FMA)
//         then C_tile = alpha·acc + beta_k·C_tile (+ bias[j] on the first K block), beta_k = beta
//         on the first K block, 1 after
// The transpose flags are handled while packing (op(X)[r][c] read through two strides), so the
// micro-kernel sees one B layout. op(A) = A (ta = 0) has rows contiguous in k already: its whole
// slivers are read in place (packing them cost 5–15% at N = 256), only a last partial one is
// packed. Packing pads past M, N with zeros; a tile on the edge goes through a small buffer and a
// scalar store of its valid part.
//
// Micro-kernels, one template over Eigen's packets (GemmKernel): scalar 4×4 (P = float), AVX2+FMA
// 6×16 (Packet8f, 12 ymm accumulators), AVX-512 6×32 (Packet16f). Which exist is decided when
// compiling: the build uses -march=native, so the whole binary (Eigen included) targets the build
// machine and a runtime check here would not make it portable; a build on a machine without AVX2
// gets the scalar kernel. Threads: one OpenMP region per product, `omp for` over B slivers, then
// over units (their implicit barriers order packing and use). The packing buffers (the B panel the
// calling thread's, each A block its thread's) are thread_local, grown on demand (see scratch);
// they carry no values from one call to the next.
#include "engine/kernels/gemm_packed_cpu.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <vector>

namespace dasg::kernels {

namespace {

constexpr int64_t kKC = 256;   // depth of the panels: the model's K = 256 in one step
constexpr int64_t kMC = 144;   // rows of a unit's A block, at most (whole slivers, split evenly)
constexpr int64_t kNU = 256;   // columns of a unit, at most
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

// A matrix as a strided view: X[r][c] = x[r·rs + c·cs].
struct View {
  const float* x;
  int64_t rs, cs;
};

// One sliver of a panel: out[p·R + r] = X[r0 + r][c0 + p] for p < kc, r < R, zero for r >= rows.
// An A sliver is R = MR rows of op(A); a B sliver is R = NR rows of op(B)ᵀ. The loops walk the
// source along its contiguous direction (rs = 1 or cs = 1; the views below have one or the other):
// rs = 1, row p of the sliver is a copy; cs = 1, a transpose, in 8×8 blocks of packets where it can.
template <int R>
void pack_sliver(const View& X, int64_t r0, int64_t rows, int64_t c0, int64_t kc, float* out) {
  using namespace Eigen::internal;
  if (X.rs == 1) {
    for (int64_t p = 0; p < kc; ++p) {
      const float* x = X.x + r0 + (c0 + p) * X.cs;
      float* o = out + p * R;
      if (rows == R) {
        for (int r = 0; r < R; ++r) o[r] = x[r];
      } else {
        for (int64_t r = 0; r < R; ++r) o[r] = r < rows ? x[r] : 0.0f;
      }
    }
    return;
  }
  int64_t p0 = 0;  // columns done by the block transpose
#if defined(EIGEN_VECTORIZE_AVX)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // Packet8f (__m256) as a template argument
  if (R % 8 == 0 && rows == R) {
    for (; p0 + 8 <= kc; p0 += 8)
      for (int r = 0; r < R; r += 8) {
        PacketBlock<Packet8f, 8> blk;
        for (int k = 0; k < 8; ++k) blk.packet[k] = ploadu<Packet8f>(X.x + (r0 + r + k) * X.rs + c0 + p0);
        ptranspose(blk);
        for (int k = 0; k < 8; ++k) pstoreu(out + (p0 + k) * R + r, blk.packet[k]);
      }
  }
#pragma GCC diagnostic pop
#endif
  for (int64_t r = 0; r < R; ++r) {
    const float* x = X.x + (r0 + r) * X.rs + c0;
    for (int64_t p = p0; p < kc; ++p) out[p * R + r] = r < rows ? x[p] : 0.0f;
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

// The micro-kernel: an MR × NR tile (NR = NV packets of W lanes) from an A sliver read through
// strides (a packed one: ars = 1, aps = MR; rows of a row-major op(A) read in place: ars = lda,
// aps = 1) and a packed B sliver b [kc × NR]:
//   C[i][j] = alpha·Σ_p a[i·ars + p·aps]·b[p·NR + j] + beta·C[i][j] (+ bias[j])   for i < mr, j < nr.
template <int W, int MR_, int NV>
struct Tile {
  using P = typename FloatPacket<W>::type;
  static_assert(sizeof(P) == W * sizeof(float), "a packet of W floats");
  static constexpr int MR = MR_, NR = NV * W;

  static void run(int64_t kc, const float* a, int64_t ars, int64_t aps, const float* b, float* c, int64_t ldc,
                  int64_t mr, int64_t nr, float alpha, float beta, const float* bias) {
    using namespace Eigen::internal;
    P acc[MR][NV];
    for (int i = 0; i < MR; ++i)
      for (int v = 0; v < NV; ++v) acc[i][v] = pset1<P>(0.0f);
    for (int64_t p = 0; p < kc; ++p, a += aps, b += NR) {
      P bv[NV];
      for (int v = 0; v < NV; ++v) bv[v] = pload<P>(b + v * W);
      for (int i = 0; i < MR; ++i) {
        const P ai = pset1<P>(a[i * ars]);
        for (int v = 0; v < NV; ++v) acc[i][v] = pmadd(ai, bv[v], acc[i][v]);
      }
    }
    if (mr == MR && nr == NR) {  // a whole tile: packet stores straight into C
      const P pa = pset1<P>(alpha), pb = pset1<P>(beta);
      P bias_v[NV];
      for (int v = 0; v < NV; ++v) bias_v[v] = bias ? ploadu<P>(bias + v * W) : pset1<P>(0.0f);
      for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v) {
          float* ct = c + i * ldc + v * W;
          P r = pmul(pa, acc[i][v]);
          if (beta != 0.0f) r = pmadd(pb, ploadu<P>(ct), r);
          if (bias) r = padd(r, bias_v[v]);
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
        ct = (beta == 0.0f ? alpha * t[i * NR + j] : alpha * t[i * NR + j] + beta * ct) + (bias ? bias[j] : 0.0f);
      }
  }
};

// The blocked product with one micro-kernel (the loops of the header comment).
template <class K>
void gemm_blocked(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                  int threads, const float* bias) {
  constexpr int MR = K::MR, NR = K::NR;
  const int64_t M = s.M, N = s.N, Kd = s.K;
  const View A = s.ta ? View{a, 1, M} : View{a, Kd, 1};   // op(A): A stored K×M when ta, else M×K
  const View Bt = s.tb ? View{b, Kd, 1} : View{b, 1, N};  // op(B)ᵀ: B stored N×K when tb, else K×N
  const int64_t kc_max = std::min(Kd, kKC);
  const int64_t nc_max = std::min(round_up(N, NR), round_up(kNC, NR));
  if (M * N * Kd < 64 * 64 * 64) threads = 1;  // a parallel region costs microseconds
  // Units: mc rows (about kMC at most) × nu columns of C. With several threads, at least 4 units a
  // thread, taken dynamically, so that a thread slowed down (a shared machine) delays the rest little.
  const int64_t nu = std::min(nc_max, kNU);
  int64_t units_m = ceil_div(M, kMC);
  if (threads > 1) units_m = std::max(units_m, ceil_div(4 * threads, ceil_div(nc_max, nu)));
  const int64_t mc = round_up(ceil_div(M, units_m), MR);
  float* bp = scratch(1, kc_max * nc_max);  // the caller's B panel, shared by the team
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    float* ap = scratch(0, mc * kc_max);  // this thread's A block
    int64_t ap_rows = -1;                 // the first row of the block ap holds for this pc (-1: none)
    for (int64_t jc = 0; jc < N; jc += nc_max) {
      const int64_t nc = std::min(nc_max, N - jc);
      for (int64_t pc = 0; pc < Kd; pc += kc_max) {
        const int64_t kc = std::min(kc_max, Kd - pc);
        const float beta_k = pc == 0 ? beta : 1.0f;
        const float* bias_k = pc == 0 ? bias : nullptr;  // the bias joins the first K block
        const int64_t b_slivers = ceil_div(nc, NR);
        ap_rows = -1;
#pragma omp for schedule(dynamic, 4)
        for (int64_t q = 0; q < b_slivers; ++q)
          pack_sliver<NR>(Bt, jc + q * NR, std::min<int64_t>(NR, nc - q * NR), pc, kc, bp + q * NR * kc);
        // implicit barrier: the B panel is whole before any tile reads it
        const int64_t um = ceil_div(M, mc), un = ceil_div(nc, nu);
#pragma omp for schedule(dynamic, 1)
        for (int64_t u = 0; u < um * un; ++u) {
          const int64_t i0 = (u / un) * mc, i1 = std::min(i0 + mc, M);
          const int64_t j0 = (u % un) * nu, j1 = std::min(j0 + nu, nc);
          // A slivers: whole ones of op(A) = A are read in place; the others are packed at ap + (ir − i0)·kc
          // (kept while this thread's next unit is in the same rows).
          const int64_t packed_from = s.ta ? i0 : std::max(i0, M / MR * MR);
          if (ap_rows != i0) {
            for (int64_t ir = packed_from; ir < i1; ir += MR)
              pack_sliver<MR>(A, ir, std::min<int64_t>(MR, M - ir), pc, kc, ap + (ir - i0) * kc);
            ap_rows = i0;
          }
          for (int64_t jr = j0; jr < j1; jr += NR)
            for (int64_t ir = i0; ir < i1; ir += MR) {
              const int64_t mr = std::min<int64_t>(MR, M - ir), nr = std::min<int64_t>(NR, nc - jr);
              float* ct = c + ir * N + jc + jr;
              const float* bt = bias_k ? bias_k + jc + jr : nullptr;
              if (ir < packed_from)
                K::run(kc, a + ir * Kd + pc, Kd, 1, bp + jr * kc, ct, N, mr, nr, alpha, beta_k, bt);
              else
                K::run(kc, ap + (ir - i0) * kc, 1, MR, bp + jr * kc, ct, N, mr, nr, alpha, beta_k, bt);
            }
        }  // implicit barrier: every tile is done before the panel is packed again
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

GemmKernel gemm_kernel_widest() {
#if defined(EIGEN_VECTORIZE_AVX512)
  return GemmKernel::avx512;
#elif defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
  return GemmKernel::avx2;
#else
  return GemmKernel::scalar;
#endif
}

const char* gemm_kernel_name(GemmKernel k) {
  switch (k) {
    case GemmKernel::scalar: return "scalar 4x4";
    case GemmKernel::avx2: return "AVX2+FMA 6x16";
    case GemmKernel::avx512: return "AVX-512 6x32";
  }
  return "?";
}

void gemm_packed_f32(const GemmShape& s, const float* a, const float* b, float* c, float alpha, float beta,
                     int threads, GemmKernel k, const float* bias) {
  DASG_CHECK(s.M >= 0 && s.N >= 0 && s.K >= 0, "gemm_packed_f32: shape M=", s.M, " N=", s.N, " K=", s.K,
             "; expected sizes >= 0");
  if (s.M == 0 || s.N == 0) return;
  if (s.K == 0) {  // empty sum: C = beta·C (+ bias)
    for (int64_t i = 0; i < s.M * s.N; ++i) c[i] = (beta == 0.0f ? 0.0f : beta * c[i]) + (bias ? bias[i % s.N] : 0.0f);
    return;
  }
  switch (k) {
    case GemmKernel::scalar: return gemm_blocked<Scalar4x4>(s, a, b, c, alpha, beta, threads, bias);
#if defined(EIGEN_VECTORIZE_AVX2) && defined(EIGEN_VECTORIZE_FMA)
    case GemmKernel::avx2: return gemm_blocked<Avx2_6x16>(s, a, b, c, alpha, beta, threads, bias);
#endif
#if defined(EIGEN_VECTORIZE_AVX512)
    case GemmKernel::avx512: return gemm_blocked<Avx512_6x32>(s, a, b, c, alpha, beta, threads, bias);
#endif
    default: break;
  }
  DASG_FAIL("gemm_packed_f32: the ", gemm_kernel_name(k), " micro-kernel is not in this build (compiled: the ",
            gemm_kernel_name(gemm_kernel_widest()), " one and narrower)");
}

}  // namespace dasg::kernels
