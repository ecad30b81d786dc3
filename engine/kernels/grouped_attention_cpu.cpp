// Grouped sliding-window attention on the CPU (the math is in grouped_attention.hpp), as tiles.
//
// One task per (b, h, group), parallel over tasks (a group's writes stay in its own rows, so the
// tasks never race). Within a group, queries go in blocks of kBq rows and their keys in blocks of
// kBk columns (flash-style: full attention is the same kernel with one group of length T):
//   S = Q·Kᵀ/√d  [nq × nk]   against Kᵀ packed into [d × kBk] tiles once per task, kRows query
//                            rows by two packets of keys at a time in registers (rows_times_tile);
//                            the products with rows (U += P·V, dq, dk, dv) likewise up to kRows
//                            rows at a time (weighted_rows); the mask zeroes P and dS off each
//                            row's keys
// Forward, online softmax per query row r over the key blocks:
//   m' = max(m, max_j s_j), α = e^(m−m');  Z ← αZ + Σ e^(s_j−m');  U ← αU + Σ e^(s_j−m') v_j
//   E  ← α(E + (m − m')Z) + Σ e^(s_j−m')(s_j−m')            (E = Σ_j e_j (s_j − m), for H_i)
//   then u = U/Z, lse = m + ln Z, H_i = ln Z − E/Z, causal ρ term p_ii·n_i from the kept s_ii;
//   the encoder's ρ scatters p_ij·n_i to the keys in a second pass over the tiles (needs lse).
// Backward (p recomputed from lse), per query block and key block:
//   D_i = do_i·u_i;  P = exp(S − lse);  dP = dO·Vᵀ (against a Vᵀ tile);  dS = P∘(dP − D)/√d
//   dq_i += Σ_j dS_ij k_j;  dk_j += Σ_i dS_ij q_i;  dv_j += Σ_i P_ij do_i
// Cost O(T·w·d) per head; nothing of size T×w is stored (lse [B,H,T] is what backward keeps).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "engine/kernels/grouped_attention.hpp"
#include "engine/kernels/vecmath_cpu.hpp"

namespace dasg::kernels {

namespace {

constexpr int64_t kBq = 32, kBk = 64;

// Real length of sequence b: lengths[b], or T without lengths.
inline int64_t seq_len(const int32_t* len, int64_t b, int64_t T) { return len ? (int64_t)len[b] : T; }

template <class T>
inline void axpy(T a, const T* x, T* y, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}
template <class T>
inline T dot(const T* a, const T* b, int64_t d) {
  T s = 0;
  for (int64_t c = 0; c < d; ++c) s += a[c] * b[c];
  return s;
}

// y[0..n) = exp(x[0..n)): packet math for f32, libm for f64.
inline void exp_span(const float* x, float* y, int64_t n) { vec::exp(x, y, n); }
inline void exp_span(const double* x, double* y, int64_t n) {
  for (int64_t j = 0; j < n; ++j) y[j] = std::exp(x[j]);
}

// A group's keys (or values) packed once per task, so that no query block reads the strided
// input again (a head's rows sit 3·H·d apart in the packed qkv layout: at T = 8K one head's keys
// span 24 MB):
//   pack_tiles: tiles[t·d·kBk + c·kBk + jj] = rows[(t·kBk + jj)·st + c], jj < kBk (zeros past n):
//               the transposed [d × kBk] tile of key block t;
//   pack_rows:  out[j·d + c] = rows[j·st + c], j < n: the rows, contiguous.
template <class T>
inline void pack_tiles(const T* rows, int64_t st, int64_t n, int64_t d, std::vector<T>& tiles) {
  const int64_t nt = (n + kBk - 1) / kBk;
  tiles.assign((size_t)(nt * d * kBk), T(0));
  for (int64_t j = 0; j < n; ++j) {
    const T* r = rows + j * st;
    T* t = tiles.data() + (j / kBk) * d * kBk + j % kBk;
    for (int64_t c = 0; c < d; ++c) t[c * kBk] = r[c];
  }
}
template <class T>
inline void pack_rows(const T* rows, int64_t st, int64_t n, int64_t d, std::vector<T>& out) {
  out.resize((size_t)(n * d));
  for (int64_t j = 0; j < n; ++j) std::copy(rows + j * st, rows + j * st + d, out.data() + j * d);
}

// Register blocks, written with Eigen's packets (P: PS lanes of T; AVX2 or AVX-512 as compiled):
// kRows rows at once against two packets of a tile's columns (S = A·Bᵀ), or RB rows of a d-wide
// accumulator (Y += W·X): about eight packets of accumulators either way.
template <class T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <class T>
constexpr int kLanes = Eigen::internal::unpacket_traits<Packet<T>>::size;
constexpr int kRows = 4;

// out[r·kBk + jj] = Σ_c A[r·as + c]·tile[c·kBk + jj] for r < na, every jj < kBk: a block of rows
// against a transposed tile (columns past the tile's keys hold whatever the tile's stale rows
// give; callers read only their keys).
template <class T>
inline void rows_times_tile(const T* A, int64_t as, int64_t na, const T* tile, int64_t d, T* out) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int PS = kLanes<T>, NC = 2;
  static_assert(kBk % (NC * PS) == 0, "a tile's width is whole column chunks");
  int64_t r = 0;
  for (; r + kRows <= na; r += kRows)
    for (int64_t j = 0; j < kBk; j += NC * PS) {
      P acc[kRows][NC];
      for (int rr = 0; rr < kRows; ++rr)
        for (int cc = 0; cc < NC; ++cc) acc[rr][cc] = pset1<P>(T(0));
      for (int64_t c = 0; c < d; ++c) {
        const T* t = tile + c * kBk + j;
        P tc[NC];
        for (int cc = 0; cc < NC; ++cc) tc[cc] = ploadu<P>(t + cc * PS);
        for (int rr = 0; rr < kRows; ++rr) {
          const P a = pset1<P>(A[(r + rr) * as + c]);
          for (int cc = 0; cc < NC; ++cc) acc[rr][cc] = pmadd(a, tc[cc], acc[rr][cc]);
        }
      }
      for (int rr = 0; rr < kRows; ++rr)
        for (int cc = 0; cc < NC; ++cc) pstoreu(out + (r + rr) * kBk + j + cc * PS, acc[rr][cc]);
    }
  for (; r < na; ++r) {  // the last rows, one at a time
    T* o = out + r * kBk;
    for (int64_t jj = 0; jj < kBk; ++jj) o[jj] = 0;
    for (int64_t c = 0; c < d; ++c) {
      const T a = A[r * as + c];
      const T* t = tile + c * kBk;
      for (int64_t jj = 0; jj < kBk; ++jj) o[jj] += a * t[jj];
    }
  }
}

// Y[r·ys + c] += Σ_{j<nx} W[r·wr + j·wj]·X[j·xs + c] for r < ny, c < d: weights times rows of X,
// accumulated into rows of Y (d a compile-time DC of whole packets; RB rows share each X row's
// loads). W is read through two strides, so a tile serves as it is (wr = kBk, wj = 1: U += P·V,
// dq += dS·K) or transposed (wr = 1, wj = kBk: dv += Pᵀ·dO, dk += dSᵀ·Q) without a copy.
template <int DC, int RB, class T>
inline void weighted_rows_fixed(const T* W, int64_t wr, int64_t wj, const T* X, int64_t xs, int64_t nx, T* Y,
                                int64_t ys, int64_t ny) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int PS = kLanes<T>, NC = DC / PS;
  int64_t r = 0;
  for (; r + RB <= ny; r += RB) {
    P acc[RB][NC];
    for (int rr = 0; rr < RB; ++rr)
      for (int cc = 0; cc < NC; ++cc) acc[rr][cc] = ploadu<P>(Y + (r + rr) * ys + cc * PS);
    for (int64_t j = 0; j < nx; ++j) {
      const T* x = X + j * xs;
      P xc[NC];
      for (int cc = 0; cc < NC; ++cc) xc[cc] = ploadu<P>(x + cc * PS);
      for (int rr = 0; rr < RB; ++rr) {
        const P w = pset1<P>(W[(r + rr) * wr + j * wj]);
        for (int cc = 0; cc < NC; ++cc) acc[rr][cc] = pmadd(w, xc[cc], acc[rr][cc]);
      }
    }
    for (int rr = 0; rr < RB; ++rr)
      for (int cc = 0; cc < NC; ++cc) pstoreu(Y + (r + rr) * ys + cc * PS, acc[rr][cc]);
  }
  if constexpr (RB > 1)
    if (r < ny) weighted_rows_fixed<DC, 1>(W + r * wr, wr, wj, X, xs, nx, Y + r * ys, ys, ny - r);
}
// RB for a DC-wide row: as many rows as fit eight packets of accumulators, 1 to kRows.
template <int DC, class T>
constexpr int rows_per_block() {
  constexpr int per_row = DC / kLanes<T>;
  return per_row >= 8 ? 1 : (8 / per_row < kRows ? 8 / per_row : kRows);
}
template <class T>
inline void weighted_rows(const T* W, int64_t wr, int64_t wj, const T* X, int64_t xs, int64_t nx, int64_t d, T* Y,
                          int64_t ys, int64_t ny) {
  static_assert(16 % kLanes<T> == 0, "head widths 16, 32, 64 are whole packets");
  switch (d) {
    case 16: return weighted_rows_fixed<16, rows_per_block<16, T>()>(W, wr, wj, X, xs, nx, Y, ys, ny);
    case 32: return weighted_rows_fixed<32, rows_per_block<32, T>()>(W, wr, wj, X, xs, nx, Y, ys, ny);
    case 64: return weighted_rows_fixed<64, rows_per_block<64, T>()>(W, wr, wj, X, xs, nx, Y, ys, ny);
    default:
      for (int64_t r = 0; r < ny; ++r)
        for (int64_t j = 0; j < nx; ++j) axpy(W[r * wr + j * wj], X + j * xs, Y + r * ys, d);
  }
}

// Reductions over a span x[0..n) in packets (a scalar tail): max, Σ x, Σ x·y.
template <class T>
inline T span_max(const T* x, int64_t n, T init) {
  using namespace Eigen::internal;
  constexpr int PS = kLanes<T>;
  int64_t j = 0;
  T m = init;
  if (n >= PS) {
    Packet<T> acc = ploadu<Packet<T>>(x);
    for (j = PS; j + PS <= n; j += PS) acc = pmax(acc, ploadu<Packet<T>>(x + j));
    m = std::max(m, predux_max(acc));
  }
  for (; j < n; ++j) m = std::max(m, x[j]);
  return m;
}
template <class T>
inline void span_sum_dot(const T* x, const T* y, int64_t n, T& sum, T& dot_xy) {
  using namespace Eigen::internal;
  using P = Packet<T>;
  constexpr int PS = kLanes<T>;
  P s = pset1<P>(T(0)), e = pset1<P>(T(0));
  int64_t j = 0;
  for (; j + PS <= n; j += PS) {
    const P xj = ploadu<P>(x + j);
    s = padd(s, xj);
    e = pmadd(xj, ploadu<P>(y + j), e);
  }
  sum = predux(s);
  dot_xy = predux(e);
  for (; j < n; ++j) {
    sum += x[j];
    dot_xy += x[j] * y[j];
  }
}

// Per-thread scratch: the task's packed keys and values (and, backward, its dk and dv rows), the
// block's scaled queries, the [kBq × kBk] tiles S, P (e), dP and dS, and the block's running state.
template <class T>
struct Scratch {
  std::vector<T> kt, vt, kr, vr, dkr, dvr;  // resized per task: O(group length · d)
  std::vector<T> qs, U, S, P, dP, dS;
  std::vector<T> m, Z, E, sdiag;
  Scratch(int64_t d)
      : qs((size_t)(kBq * d)), U((size_t)(kBq * d)), S((size_t)(kBq * kBk)), P((size_t)(kBq * kBk)),
        dP((size_t)(kBq * kBk)), dS((size_t)(kBq * kBk)), m(kBq), Z(kBq), E(kBq), sdiag(kBq) {}
};

// Runs task(t, scratch) for t < n_tasks on OpenMP threads, each with its own scratch.
template <class T, class F>
void for_each_task(int64_t n_tasks, int64_t d, bool parallel, F task) {
#pragma omp parallel if (parallel)
  {
    Scratch<T> sc(d);
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n_tasks; ++t) task(t, sc);
  }
}

}  // namespace

void grouped_attention_forward_cpu(const AttentionShape& s, const Tensor& q_, const Tensor& k_, const Tensor& v_,
                                   const Tensor& lengths, Tensor& u_, Tensor& lse_, Tensor& complexity,
                                   Tensor& importance) {
  dispatch_float(q_.dtype(), "grouped_window_attention", [&]<class T>() {
    const T* q = q_.data<T>() + s.q_off;
    const T* k = k_.data<T>() + s.k_off;
    const T* v = v_.data<T>() + s.v_off;
    T* u = u_.data<T>();
    T* lse = lse_.data<T>();
    const int32_t* len = lengths.defined() ? lengths.data<int32_t>() : nullptr;
    const int64_t B = s.B, H = s.H, TT = s.T, d = s.d, L = s.L, G = s.groups(), Hd = H * d;
    const T scale = T(1) / std::sqrt(T(d));
    const T ninf = -std::numeric_limits<T>::infinity();
    // Per-head entropies and ρ terms, [B,H,T], reduced over heads at the end.
    std::vector<double> ent((size_t)(B * H * TT), 0.0), rho((size_t)(B * H * TT), 0.0);

    const bool parallel = B * H * TT * std::min(s.w, TT) * d > kParallelGrain && B * H * G > 1;
    for_each_task<T>(B * H * G, d, parallel, [&](int64_t task, Scratch<T>& sc) {
      const int64_t b = task / (H * G), h = (task / G) % H, g = task % G;
      const int64_t n = seq_len(len, b, TT), bh = b * H + h;
      const int64_t base = b * s.sb + h * s.sh, g0 = g * L, g1 = g0 + std::min(L, TT - g0);
      const T* kh = k + base;
      const T* vh = v + base;
      const int64_t nkeys = std::max<int64_t>(0, std::min(g1, n) - g0);  // the group's real keys
      pack_tiles(kh + g0 * s.st, s.st, nkeys, d, sc.kt);
      pack_rows(vh + g0 * s.st, s.st, nkeys, d, sc.vr);
      for (int64_t i0 = g0; i0 < g1; i0 += kBq) {
        const int64_t nq = std::min(kBq, g1 - i0);
        for (int64_t r = 0; r < nq; ++r) {
          sc.m[r] = ninf;
          sc.Z[r] = 0;
          sc.E[r] = 0;
          sc.sdiag[r] = 0;
        }
        std::fill(sc.U.begin(), sc.U.begin() + nq * d, T(0));
        // Keys of the block: lo and hi of keys(i) never decrease with i.
        int64_t klo = -1, khi = -2;
        for (int64_t r = 0; r < nq; ++r) {
          const KeySpan ks = attention_keys(L, s.w, s.causal, i0 + r, n);
          if (ks.hi < ks.lo) continue;
          if (klo < 0) klo = ks.lo;
          khi = std::max(khi, ks.hi);
        }
        for (int64_t r = 0; r < nq; ++r)
          for (int64_t c = 0; c < d; ++c) sc.qs[r * d + c] = q[base + (i0 + r) * s.st + c] * scale;
        // Key blocks at multiples of kBk from the group's start (the packed tiles).
        for (int64_t kb = g0 + (klo - g0) / kBk * kBk; klo >= 0 && kb <= khi; kb += kBk) {
          const int64_t nk = std::min(kBk, g0 + nkeys - kb);
          const T* kt = sc.kt.data() + (kb - g0) / kBk * d * kBk;
          rows_times_tile(sc.qs.data(), d, nq, kt, d, sc.S.data());  // S = Q·Kᵀ/√d
          for (int64_t r = 0; r < nq; ++r) {
            const int64_t i = i0 + r;
            const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
            const int64_t j0 = std::max(ks.lo, kb) - kb, j1 = std::min(ks.hi, kb + nk - 1) - kb;
            T* srow = sc.S.data() + r * kBk;
            T* erow = sc.P.data() + r * kBk;
            std::fill(erow, erow + nk, T(0));  // e = 0 off the row's keys: the block's U product skips nothing
            if (j1 < j0) continue;
            const T mb = span_max(srow + j0, j1 - j0 + 1, sc.m[r]);
            const T mo = sc.m[r];
            if (mb > mo && sc.Z[r] > 0) {  // rescale what the earlier key blocks summed
              const T alpha = std::exp(mo - mb);
              sc.E[r] = alpha * (sc.E[r] + (mo - mb) * sc.Z[r]);
              sc.Z[r] *= alpha;
              T* Ur = sc.U.data() + r * d;
              for (int64_t c = 0; c < d; ++c) Ur[c] *= alpha;
            }
            sc.m[r] = mb;
            for (int64_t jj = j0; jj <= j1; ++jj) srow[jj] -= mb;
            exp_span(srow + j0, erow + j0, j1 - j0 + 1);
            T Z, E;
            span_sum_dot(erow + j0, srow + j0, j1 - j0 + 1, Z, E);
            sc.Z[r] += Z;
            sc.E[r] += E;
            if (s.causal && i >= kb && i < kb + nk) sc.sdiag[r] = srow[i - kb] + mb;
          }
          // U_r += Σ_j e_rj v_j over the block's keys.
          weighted_rows(sc.P.data(), kBk, 1, sc.vr.data() + (kb - g0) * d, d, nk, d, sc.U.data(), d, nq);
        }
        for (int64_t r = 0; r < nq; ++r) {
          const int64_t i = i0 + r;
          T* ui = u + (b * TT + i) * Hd + h * d;
          const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
          if (ks.hi < ks.lo) {  // padded query: no key
            for (int64_t c = 0; c < d; ++c) ui[c] = 0;
            lse[bh * TT + i] = 0;
            continue;
          }
          const T inv = T(1) / sc.Z[r];
          const T* Ur = sc.U.data() + r * d;
          for (int64_t c = 0; c < d; ++c) ui[c] = Ur[c] * inv;
          const T l = sc.m[r] + std::log(sc.Z[r]);
          lse[bh * TT + i] = l;
          ent[(size_t)(bh * TT + i)] = std::max(0.0, (double)std::log(sc.Z[r]) - (double)(sc.E[r] * inv));
          if (s.causal)
            rho[(size_t)(bh * TT + i)] = (double)std::exp(sc.sdiag[r] - l) * (double)(ks.hi - ks.lo + 1);
        }
      }
      if (s.causal) return;
      // Encoder ρ: scatter p_ij·n_i to the keys (all of them in this group), p from lse.
      for (int64_t i = g0; i < std::min(g1, n); ++i) {
        const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
        const T* qi = q + base + i * s.st;
        const T li = lse[bh * TT + i];
        const double ni = (double)(ks.hi - ks.lo + 1);
        for (int64_t j = ks.lo; j <= ks.hi; ++j)
          rho[(size_t)(bh * TT + j)] += (double)std::exp(dot(qi, kh + j * s.st, d) * scale - li) * ni;
      }
    });

    // Statistics: head means, then C = mean H / ln n_i and I = ρ/(1+ρ).
    T* C = complexity.data<T>();
    T* I = importance.data<T>();
#pragma omp parallel for if (B * TT * H > kParallelGrain)
    for (int64_t bt = 0; bt < B * TT; ++bt) {
      const int64_t b = bt / TT, t = bt % TT;
      const KeySpan ks = attention_keys(L, s.w, s.causal, t, seq_len(len, b, TT));
      const int64_t ni = ks.hi - ks.lo + 1;
      if (ni <= 0) {
        C[bt] = 0;
        I[bt] = 0;
        continue;
      }
      double hsum = 0, rsum = 0;
      for (int64_t h = 0; h < H; ++h) {
        hsum += ent[(size_t)((b * H + h) * TT + t)];
        rsum += rho[(size_t)((b * H + h) * TT + t)];
      }
      const double r = s.causal ? rsum / (double)H : rsum / ((double)H * (double)ni);
      C[bt] = ni > 1 ? (T)(hsum / (double)H / std::log((double)ni)) : T(0);
      I[bt] = (T)(r / (1.0 + r));
    }
  });
}

void grouped_attention_backward_cpu(const AttentionShape& s, const Tensor& q_, const Tensor& k_, const Tensor& v_,
                                    const Tensor& lengths, const Tensor& u_, const Tensor& lse_, const Tensor& du_,
                                    Tensor& dq_, Tensor& dk_, Tensor& dv_) {
  dispatch_float(q_.dtype(), "grouped_window_attention backward", [&]<class T>() {
    // Zero the gradients once each (the packed layout passes one tensor three times).
    dq_.zero_();
    if (dk_.raw_data() != dq_.raw_data()) dk_.zero_();
    if (dv_.raw_data() != dq_.raw_data() && dv_.raw_data() != dk_.raw_data()) dv_.zero_();
    const T* q = q_.data<T>() + s.q_off;
    const T* k = k_.data<T>() + s.k_off;
    const T* v = v_.data<T>() + s.v_off;
    T* dq = dq_.data<T>() + s.q_off;
    T* dk = dk_.data<T>() + s.k_off;
    T* dv = dv_.data<T>() + s.v_off;
    const T* u = u_.data<T>();
    const T* lse = lse_.data<T>();
    const T* du = du_.data<T>();
    const int32_t* len = lengths.defined() ? lengths.data<int32_t>() : nullptr;
    const int64_t B = s.B, H = s.H, TT = s.T, d = s.d, L = s.L, G = s.groups(), Hd = H * d;
    const T scale = T(1) / std::sqrt(T(d));

    const bool parallel = B * H * TT * std::min(s.w, TT) * d > kParallelGrain && B * H * G > 1;
    for_each_task<T>(B * H * G, d, parallel, [&](int64_t task, Scratch<T>& sc) {
      const int64_t b = task / (H * G), h = (task / G) % H, g = task % G;
      const int64_t n = seq_len(len, b, TT), bh = b * H + h;
      const int64_t base = b * s.sb + h * s.sh, g0 = g * L, g1 = std::min(g0 + std::min(L, TT - g0), n);
      const T* kh = k + base;
      const T* vh = v + base;
      const int64_t nkeys = std::max<int64_t>(0, g1 - g0);  // the group's real keys
      pack_tiles(kh + g0 * s.st, s.st, nkeys, d, sc.kt);
      pack_tiles(vh + g0 * s.st, s.st, nkeys, d, sc.vt);
      pack_rows(kh + g0 * s.st, s.st, nkeys, d, sc.kr);
      sc.dkr.assign((size_t)(nkeys * d), T(0));
      sc.dvr.assign((size_t)(nkeys * d), T(0));
      for (int64_t i0 = g0; i0 < g1; i0 += kBq) {  // real queries only
        const int64_t nq = std::min(kBq, g1 - i0);
        T* D = sc.Z.data();  // D_i = do_i·u_i, one per row of the block
        for (int64_t r = 0; r < nq; ++r) {
          const int64_t i = i0 + r;
          D[r] = dot(du + (b * TT + i) * Hd + h * d, u + (b * TT + i) * Hd + h * d, d);
        }
        const int64_t klo = attention_keys(L, s.w, s.causal, i0, n).lo;
        const int64_t khi = attention_keys(L, s.w, s.causal, i0 + nq - 1, n).hi;
        T* qs = sc.qs.data();  // the block's queries, scaled by 1/√d
        for (int64_t r = 0; r < nq; ++r)
          for (int64_t c = 0; c < d; ++c) qs[r * d + c] = q[base + (i0 + r) * s.st + c] * scale;
        const T* dO = du + (b * TT + i0) * Hd + h * d;  // the block's output gradients, rows Hd apart
        for (int64_t kb = g0 + (klo - g0) / kBk * kBk; kb <= khi; kb += kBk) {
          const int64_t nk = std::min(kBk, g0 + nkeys - kb);
          const int64_t tile = (kb - g0) / kBk * d * kBk;
          rows_times_tile(qs, d, nq, sc.kt.data() + tile, d, sc.S.data());    // S = Q·Kᵀ/√d
          rows_times_tile(dO, Hd, nq, sc.vt.data() + tile, d, sc.dP.data());  // dP = dO·Vᵀ
          // P and dS tiles [nq × nk], zero outside each row's keys.
          for (int64_t r = 0; r < nq; ++r) {
            const int64_t i = i0 + r;
            T* p = sc.P.data() + r * kBk;
            T* ds = sc.dS.data() + r * kBk;
            for (int64_t jj = 0; jj < nk; ++jj) p[jj] = ds[jj] = 0;
            const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
            const int64_t j0 = std::max(ks.lo, kb) - kb, j1 = std::min(ks.hi, kb + nk - 1) - kb;
            if (j1 < j0) continue;
            T* srow = sc.S.data() + r * kBk;
            const T* dp = sc.dP.data() + r * kBk;
            const T li = lse[bh * TT + i];
            for (int64_t jj = j0; jj <= j1; ++jj) srow[jj] -= li;
            exp_span(srow + j0, p + j0, j1 - j0 + 1);
            const T Di = D[r];
            for (int64_t jj = j0; jj <= j1; ++jj) ds[jj] = p[jj] * (dp[jj] - Di) * scale;
          }
          // dq_r += Σ_j dS_rj k_j;  dv_j += Σ_r P_rj do_r;  dk_j += Σ_r dS_rj q_r (the tiles read transposed).
          T* dkb = sc.dkr.data() + (kb - g0) * d;
          T* dvb = sc.dvr.data() + (kb - g0) * d;
          weighted_rows(sc.dS.data(), kBk, 1, sc.kr.data() + (kb - g0) * d, d, nk, d, dq + base + i0 * s.st, s.st, nq);
          weighted_rows(sc.P.data(), 1, kBk, dO, Hd, nq, d, dvb, d, nk);
          weighted_rows(sc.dS.data(), 1, kBk, q + base + i0 * s.st, s.st, nq, d, dkb, d, nk);
        }
      }
      // The group's key rows are this task's alone: its dk and dv go out once.
      for (int64_t j = 0; j < nkeys; ++j)
        for (int64_t c = 0; c < d; ++c) {
          dk[base + (g0 + j) * s.st + c] += sc.dkr[(size_t)(j * d + c)];
          dv[base + (g0 + j) * s.st + c] += sc.dvr[(size_t)(j * d + c)];
        }
    });
  });
}

}  // namespace dasg::kernels
