// Grouped sliding-window attention on CUDA (the math is in grouped_attention.hpp).
//
// Every kernel gives one warp one position (grid-stride over positions, 4 warps a block, so a
// block is one (b, h, tile of 4 queries) unit): the lanes split the d channels (c ≡ lane mod 32),
// dot products are a butterfly __shfl_xor_sync sum (bitwise the same in every lane, so every lane
// takes the same branches), and the running accumulators of d channels live in the warp's slice
// of dynamic shared memory, each lane touching only its own channels (no barriers needed; none
// used, except around the forward's K/V stages). Nothing of size T×w is stored: p is recomputed
// from lse. Launch: 128 threads, min(⌈positions/4⌉, 65535) blocks, (accumulators per warp)·4·d
// (+ 2·stage rows·d in the forward)·sizeof(T) bytes of shared memory.
//
// forward (one warp per (b, h, query i), B·H·T of them; a block's 4 queries share K/V rows staged
//   in shared memory, see the kernel): online softmax over keys(i) in ascending j, with the running max m, normaliser Z and A = Σ_j e_j (s_j − m), rescaled by
//   α = exp(m − m') when the max grows; u_i = acc / Z, lse_i = m + ln Z, entropy H_i = ln Z − A/Z
//   (kept per head in a [B,H,T] f64 scratch).
// statistics (one warp per (b, t)): C_t = mean_h H^h_t / ln n_t; ρ from p recomputed from lse:
//   causal ρ_t = mean_h p_tt·n_t; encoder ρ_t = mean_h (1/n_t) Σ_{i ∈ keys(t)} p_it·n_i (the mask is
//   symmetric there, so the queries that attend t are keys(t)) — a gather, no scatter, no atomics.
// backward, two kernels, each output row written by exactly one warp (race-free, deterministic):
//   A (one warp per query i, K/V staged as in the forward): D_i = do_i·u_i (kept in a [B,H,T] scratch),
//     dq_i = Σ_{j ∈ keys(i)} ds_ij k_j,  ds_ij = p_ij (do_i·v_j − D_i)/√d,  p_ij = exp(s_ij − lse_i);
//   B (one warp per key j, over the queries that attend j: keys(j) cut to i ≥ j when causal; Q and
//     dO rows staged in shared memory for a block's 4 keys):
//     dk_j = Σ_i ds_ij q_i,  dv_j = Σ_i p_ij do_i.
//   Every row of dq, dk, dv is written (zeros for padded positions), so no zero fill is needed,
//   and the packed layout (one tensor, three column blocks) is covered exactly once.
// q, k, v are read in their storage type S and computed in T = Compute<S> (engine/cuda/storage.cuh):
// f32 and f64 as they are; bf16 (mixed precision) widened to f32 as it is loaded, with u, lse, C, I
// and the gradients f32.
#include <algorithm>
#include <cmath>

#include "engine/cuda/kernel_utils.cuh"
#include "engine/cuda/storage.cuh"
#include "engine/kernels/grouped_attention.hpp"

namespace dasg::kernels {

namespace {

constexpr int kWarps = 4;  // warps (positions in flight) a block
constexpr size_t kMaxShared = 48 * 1024;

// Σ_c a[c]·b[c] over the warp in T, the same bits in every lane; a and b in T or in its storage type.
template <class T, class A, class B>
__device__ inline T warp_dot(const A* a, const B* b, int64_t d, int lane) {
  T s = 0;
  for (int64_t c = lane; c < d; c += 32) s += (T)cuda::load(a[c]) * (T)cuda::load(b[c]);
  for (int offset = 16; offset > 0; offset /= 2) s += __shfl_xor_sync(0xffffffffu, s, offset);
  return s;
}

// The queries that may attend key j: keys(j) of the symmetric (encoder) mask, cut to i ≥ j when causal.
__device__ inline KeySpan attention_queries(const AttentionShape& s, int64_t j, int64_t n) {
  KeySpan span = attention_keys(s.L, s.w, false, j, n);
  if (s.causal && span.hi >= span.lo) span.lo = j;
  return span;
}

__device__ inline int64_t seq_len(const int32_t* len, int64_t b, int64_t T) { return len ? (int64_t)len[b] : T; }

// A block owns one (b, h, tile of kWarps consecutive queries) unit at a time; warp w takes query
// i = tile·kWarps + w. The keys of the tile's queries (the union of their spans, ≤ w + kWarps − 1
// rows within one group) are staged through shared memory `tile_rows` rows of K and V at a time,
// so each K/V row is read from global memory once per tile instead of once per query; each warp
// then walks its own keys in the stage in ascending j, exactly the sequence (and arithmetic) of a
// warp reading them directly. The unit and stage loops are uniform over the block, so every
// thread reaches both __syncthreads().
template <class S, class T = cuda::Compute<S>>
__global__ void attention_forward_kernel(const S* q, const S* k, const S* v, const int32_t* len, T* u, T* lse,
                                         double* ent, AttentionShape s, T scale, int64_t tile_rows) {
  DASG_DYNAMIC_SHARED(T, shared);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d = s.d, TT = s.T, Hd = s.H * d, qtiles = (TT + kWarps - 1) / kWarps, units = s.B * s.H * qtiles;
  T* acc = shared + warp * d;
  T* k_stage = shared + kWarps * d;  // tile_rows × d
  T* v_stage = k_stage + tile_rows * d;
  for (int64_t unit = blockIdx.x; unit < units; unit += gridDim.x) {
    const int64_t bh = unit / qtiles, qt = unit - bh * qtiles, b = bh / s.H, h = bh - b * s.H;
    const int64_t n = seq_len(len, b, TT), i = qt * kWarps + warp;
    const KeySpan ks = i < TT ? attention_keys(s.L, s.w, s.causal, i, n) : KeySpan{0, -1};
    int64_t lo = TT, hi = -1;  // the union of the tile's spans, the same in every thread
    for (int w2 = 0; w2 < kWarps; ++w2) {
      const int64_t i2 = qt * kWarps + w2;
      if (i2 >= TT) break;
      const KeySpan k2 = attention_keys(s.L, s.w, s.causal, i2, n);
      if (k2.hi < k2.lo) continue;
      lo = min(lo, k2.lo);
      hi = max(hi, k2.hi);
    }
    const int64_t base = b * s.sb + h * s.sh;
    const S* qi = q + base + (i < TT ? i : 0) * s.st;
    for (int64_t c = lane; c < d; c += 32) acc[c] = T(0);
    T m = -INFINITY, Z = T(0), A = T(0);
    for (int64_t j0 = lo; j0 <= hi; j0 += tile_rows) {
      const int64_t rows = min(tile_rows, hi - j0 + 1);
      for (int64_t x = threadIdx.x; x < rows * d; x += blockDim.x) {
        const int64_t r = x / d, c = x - r * d;
        k_stage[x] = cuda::load(k[base + (j0 + r) * s.st + c]);
        v_stage[x] = cuda::load(v[base + (j0 + r) * s.st + c]);
      }
      __syncthreads();
      const int64_t jlo = max(j0, ks.lo), jhi = min(j0 + rows - 1, ks.hi);
      for (int64_t j = jlo; j <= jhi; ++j) {
        const T* kj = k_stage + (j - j0) * d;
        const T sj = warp_dot<T>(qi, kj, d, lane) * scale;
        if (sj > m) {
          if (Z > T(0)) {  // rescale what was summed relative to the old max
            const T alpha = exp(m - sj);
            A = alpha * (A + Z * (m - sj));
            Z *= alpha;
            for (int64_t c = lane; c < d; c += 32) acc[c] *= alpha;
          }
          m = sj;
        }
        const T ej = exp(sj - m);
        Z += ej;
        A += ej * (sj - m);
        const T* vj = v_stage + (j - j0) * d;
        for (int64_t c = lane; c < d; c += 32) acc[c] += ej * vj[c];
      }
      __syncthreads();  // the stage is read before the next one overwrites it
    }
    if (i >= TT) continue;
    const int64_t e = bh * TT + i;
    T* ui = u + (b * TT + i) * Hd + h * d;
    if (ks.hi < ks.lo) {  // padded query: no key
      for (int64_t c = lane; c < d; c += 32) ui[c] = T(0);
      if (lane == 0) {
        lse[e] = T(0);
        ent[e] = 0.0;
      }
      continue;
    }
    const T inv = T(1) / Z;
    for (int64_t c = lane; c < d; c += 32) ui[c] = acc[c] * inv;
    if (lane == 0) {
      lse[e] = m + log(Z);
      const double hi_e = (double)log(Z) - (double)(A * inv);
      ent[e] = hi_e > 0.0 ? hi_e : 0.0;
    }
  }
}

template <class S, class T = cuda::Compute<S>>
__global__ void attention_stats_kernel(const S* q, const S* k, const int32_t* len, const T* lse, const double* ent,
                                       T* C, T* I, AttentionShape s, T scale) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t TT = s.T, H = s.H, total = s.B * TT;
  for (int64_t bt = (int64_t)blockIdx.x * kWarps + warp; bt < total; bt += (int64_t)gridDim.x * kWarps) {
    const int64_t b = bt / TT, t = bt % TT, n = seq_len(len, b, TT);
    const KeySpan ks = attention_keys(s.L, s.w, s.causal, t, n);
    const int64_t nt = ks.hi - ks.lo + 1;
    if (nt <= 0) {
      if (lane == 0) {
        C[bt] = T(0);
        I[bt] = T(0);
      }
      continue;
    }
    double hsum = 0, rsum = 0;
    for (int64_t h = 0; h < H; ++h) {
      const int64_t bh = b * H + h, base = b * s.sb + h * s.sh;
      hsum += ent[bh * TT + t];
      const S* kt = k + base + t * s.st;
      if (s.causal) {
        const T st = warp_dot<T>(q + base + t * s.st, kt, s.d, lane) * scale;
        rsum += (double)exp(st - lse[bh * TT + t]) * (double)nt;
      } else {
        for (int64_t i = ks.lo; i <= ks.hi; ++i) {  // the queries that attend t
          const KeySpan ki = attention_keys(s.L, s.w, false, i, n);
          const T si = warp_dot<T>(q + base + i * s.st, kt, s.d, lane) * scale;
          rsum += (double)exp(si - lse[bh * TT + i]) * (double)(ki.hi - ki.lo + 1);
        }
      }
    }
    if (lane == 0) {
      const double r = s.causal ? rsum / (double)H : rsum / ((double)H * (double)nt);
      C[bt] = nt > 1 ? (T)(hsum / (double)H / log((double)nt)) : T(0);
      I[bt] = (T)(r / (1.0 + r));
    }
  }
}

// Units and K/V stages as in the forward kernel.
template <class S, class T = cuda::Compute<S>>
__global__ void attention_backward_dq_kernel(const S* q, const S* k, const S* v, const int32_t* len, const T* u,
                                             const T* lse, const T* du, T* dq, T* Dbuf, AttentionShape s, T scale,
                                             int64_t tile_rows) {
  DASG_DYNAMIC_SHARED(T, shared);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d = s.d, TT = s.T, Hd = s.H * d, qtiles = (TT + kWarps - 1) / kWarps, units = s.B * s.H * qtiles;
  T* acc = shared + warp * d;
  T* k_stage = shared + kWarps * d;
  T* v_stage = k_stage + tile_rows * d;
  for (int64_t unit = blockIdx.x; unit < units; unit += gridDim.x) {
    const int64_t bh = unit / qtiles, qt = unit - bh * qtiles, b = bh / s.H, h = bh - b * s.H;
    const int64_t n = seq_len(len, b, TT), i = qt * kWarps + warp, ic = i < TT ? i : 0;
    const KeySpan ks = i < TT ? attention_keys(s.L, s.w, s.causal, i, n) : KeySpan{0, -1};
    int64_t lo = TT, hi = -1;
    for (int w2 = 0; w2 < kWarps; ++w2) {
      const int64_t i2 = qt * kWarps + w2;
      if (i2 >= TT) break;
      const KeySpan k2 = attention_keys(s.L, s.w, s.causal, i2, n);
      if (k2.hi < k2.lo) continue;
      lo = min(lo, k2.lo);
      hi = max(hi, k2.hi);
    }
    const int64_t base = b * s.sb + h * s.sh, e = bh * TT + ic;
    const S* qi = q + base + ic * s.st;
    const T* doi = du + (b * TT + ic) * Hd + h * d;
    const bool real = ks.hi >= ks.lo;
    const T Di = real ? warp_dot<T>(doi, u + (b * TT + ic) * Hd + h * d, d, lane) : T(0);
    const T li = real ? lse[e] : T(0);
    for (int64_t c = lane; c < d; c += 32) acc[c] = T(0);
    for (int64_t j0 = lo; j0 <= hi; j0 += tile_rows) {
      const int64_t rows = min(tile_rows, hi - j0 + 1);
      for (int64_t x = threadIdx.x; x < rows * d; x += blockDim.x) {
        const int64_t r = x / d, c = x - r * d;
        k_stage[x] = cuda::load(k[base + (j0 + r) * s.st + c]);
        v_stage[x] = cuda::load(v[base + (j0 + r) * s.st + c]);
      }
      __syncthreads();
      const int64_t jlo = max(j0, ks.lo), jhi = min(j0 + rows - 1, ks.hi);
      for (int64_t j = jlo; j <= jhi; ++j) {
        const T* kj = k_stage + (j - j0) * d;
        const T p = exp(warp_dot<T>(qi, kj, d, lane) * scale - li);
        const T ds = p * (warp_dot<T>(doi, v_stage + (j - j0) * d, d, lane) - Di) * scale;
        for (int64_t c = lane; c < d; c += 32) acc[c] += ds * kj[c];
      }
      __syncthreads();
    }
    if (i >= TT) continue;
    T* dqi = dq + base + i * s.st;
    for (int64_t c = lane; c < d; c += 32) dqi[c] = real ? acc[c] : T(0);  // a padded query: 0
    if (lane == 0) Dbuf[e] = Di;
  }
}

// A block owns kWarps consecutive keys j of one (b, h); the Q and dO rows of the union of their
// query spans are staged through shared memory as K/V are in the forward; each warp walks its
// own queries in ascending i.
template <class S, class T = cuda::Compute<S>>
__global__ void attention_backward_dkv_kernel(const S* q, const S* k, const S* v, const int32_t* len, const T* lse,
                                              const T* du, const T* Dbuf, T* dk, T* dv, AttentionShape s, T scale,
                                              int64_t tile_rows) {
  DASG_DYNAMIC_SHARED(T, shared);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int64_t d = s.d, TT = s.T, Hd = s.H * d, jtiles = (TT + kWarps - 1) / kWarps, units = s.B * s.H * jtiles;
  T* dk_acc = shared + 2 * warp * d;
  T* dv_acc = dk_acc + d;
  T* q_stage = shared + 2 * kWarps * d;  // tile_rows × d
  T* do_stage = q_stage + tile_rows * d;
  for (int64_t unit = blockIdx.x; unit < units; unit += gridDim.x) {
    const int64_t bh = unit / jtiles, jt = unit - bh * jtiles, b = bh / s.H, h = bh - b * s.H;
    const int64_t n = seq_len(len, b, TT), j = jt * kWarps + warp, jc = j < TT ? j : 0;
    const KeySpan qs = j < TT ? attention_queries(s, j, n) : KeySpan{0, -1};
    int64_t lo = TT, hi = -1;
    for (int w2 = 0; w2 < kWarps; ++w2) {
      const int64_t j2 = jt * kWarps + w2;
      if (j2 >= TT) break;
      const KeySpan q2 = attention_queries(s, j2, n);
      if (q2.hi < q2.lo) continue;
      lo = min(lo, q2.lo);
      hi = max(hi, q2.hi);
    }
    const int64_t base = b * s.sb + h * s.sh;
    const S* kj = k + base + jc * s.st;
    const S* vj = v + base + jc * s.st;
    for (int64_t c = lane; c < d; c += 32) {
      dk_acc[c] = T(0);
      dv_acc[c] = T(0);
    }
    for (int64_t i0 = lo; i0 <= hi; i0 += tile_rows) {
      const int64_t rows = min(tile_rows, hi - i0 + 1);
      for (int64_t x = threadIdx.x; x < rows * d; x += blockDim.x) {
        const int64_t r = x / d, c = x - r * d;
        q_stage[x] = cuda::load(q[base + (i0 + r) * s.st + c]);
        do_stage[x] = du[(b * TT + i0 + r) * Hd + h * d + c];
      }
      __syncthreads();
      const int64_t ilo = max(i0, qs.lo), ihi = min(i0 + rows - 1, qs.hi);
      for (int64_t i = ilo; i <= ihi; ++i) {
        const T* qi = q_stage + (i - i0) * d;
        const T* doi = do_stage + (i - i0) * d;
        const int64_t ei = bh * TT + i;
        const T p = exp(warp_dot<T>(qi, kj, d, lane) * scale - lse[ei]);
        const T ds = p * (warp_dot<T>(doi, vj, d, lane) - Dbuf[ei]) * scale;
        for (int64_t c = lane; c < d; c += 32) {
          dv_acc[c] += p * doi[c];
          dk_acc[c] += ds * qi[c];
        }
      }
      __syncthreads();
    }
    if (j >= TT) continue;
    T* dkj = dk + base + j * s.st;
    T* dvj = dv + base + j * s.st;
    for (int64_t c = lane; c < d; c += 32) {
      dkj[c] = dk_acc[c];
      dvj[c] = dv_acc[c];
    }
  }
}

unsigned blocks_for_positions(int64_t n) {
  const int64_t b = (n + kWarps - 1) / kWarps;
  return (unsigned)std::max<int64_t>(1, std::min<int64_t>(b, 65535));
}

// Rows of K and V the forward stages at once: as many as fit beside the accumulators, at most 64.
template <class T>
int64_t forward_tile_rows(const AttentionShape& s) {
  const int64_t room = (int64_t)(kMaxShared / sizeof(T)) - kWarps * s.d;
  return std::max<int64_t>(1, std::min<int64_t>(64, room / std::max<int64_t>(1, 2 * s.d)));
}

// The same beside the dk/dv kernel's two accumulators a warp.
template <class T>
int64_t dkv_tile_rows(const AttentionShape& s) {
  const int64_t room = (int64_t)(kMaxShared / sizeof(T)) - 2 * kWarps * s.d;
  return std::max<int64_t>(1, std::min<int64_t>(64, room / std::max<int64_t>(1, 2 * s.d)));
}

// Dynamic shared memory for `per_warp` accumulators of d elements in each of the block's warps
// (plus `stage_rows` rows of K and of V).
template <class T>
size_t shared_bytes(const AttentionShape& s, int per_warp, int64_t stage_rows = 0) {
  const size_t bytes = ((size_t)kWarps * (size_t)per_warp + 2 * (size_t)stage_rows) * (size_t)s.d * sizeof(T);
  DASG_CHECK(bytes <= kMaxShared, "grouped_window_attention: head size d = ", s.d, " needs ", bytes,
             " bytes of shared memory a block on CUDA; expected at most ", kMaxShared, " (d <= ",
             kMaxShared / (kWarps * 2 * sizeof(T)), ")");
  return bytes;
}

}  // namespace

void grouped_attention_forward_cuda(const AttentionShape& s, const Tensor& q_, const Tensor& k_, const Tensor& v_,
                                    const Tensor& lengths, Tensor& u_, Tensor& lse_, Tensor& complexity,
                                    Tensor& importance) {
  cuda::dispatch_stored(q_.dtype(), "grouped_window_attention", [&]<class S>() {
    using T = cuda::Compute<S>;
    const int64_t positions = s.B * s.H * s.T;
    if (positions == 0) return;
    const T scale = T(1) / std::sqrt(T(s.d));
    const int32_t* len = lengths.defined() ? lengths.data<int32_t>() : nullptr;
    Tensor ent = Tensor::empty({s.B, s.H, s.T}, DType::f64, q_.device());
    cudaStream_t stream = cuda::stream_of(q_);
    const S* q = cuda::elements<S>(q_) + s.q_off;
    const S* k = cuda::elements<S>(k_) + s.k_off;
    const S* v = cuda::elements<S>(v_) + s.v_off;
    const int64_t tile_rows = forward_tile_rows<T>(s);
    DASG_LAUNCH(attention_forward_kernel<S>, blocks_for_positions(s.B * s.H * ((s.T + kWarps - 1) / kWarps) * kWarps),
                kWarps * 32, shared_bytes<T>(s, 1, tile_rows), stream, q, k, v, len, u_.data<T>(), lse_.data<T>(),
                ent.data<double>(), s, scale, tile_rows);
    DASG_LAUNCH(attention_stats_kernel<S>, blocks_for_positions(s.B * s.T), kWarps * 32, 0, stream, q, k, len,
                (const T*)lse_.data<T>(), (const double*)ent.data<double>(), complexity.data<T>(),
                importance.data<T>(), s, scale);
  });
}

void grouped_attention_backward_cuda(const AttentionShape& s, const Tensor& q_, const Tensor& k_, const Tensor& v_,
                                     const Tensor& lengths, const Tensor& u_, const Tensor& lse_, const Tensor& du_,
                                     Tensor& dq_, Tensor& dk_, Tensor& dv_) {
  cuda::dispatch_stored(q_.dtype(), "grouped_window_attention backward", [&]<class S>() {
    using T = cuda::Compute<S>;
    const int64_t positions = s.B * s.H * s.T;
    if (positions == 0) return;
    const T scale = T(1) / std::sqrt(T(s.d));
    const int32_t* len = lengths.defined() ? lengths.data<int32_t>() : nullptr;
    Tensor Dbuf = Tensor::empty({s.B, s.H, s.T}, u_.dtype(), q_.device());
    cudaStream_t stream = cuda::stream_of(q_);
    const S* q = cuda::elements<S>(q_) + s.q_off;
    const S* k = cuda::elements<S>(k_) + s.k_off;
    const S* v = cuda::elements<S>(v_) + s.v_off;
    const int64_t tile_rows = forward_tile_rows<T>(s);
    DASG_LAUNCH(attention_backward_dq_kernel<S>,
                blocks_for_positions(s.B * s.H * ((s.T + kWarps - 1) / kWarps) * kWarps), kWarps * 32,
                shared_bytes<T>(s, 1, tile_rows), stream, q, k, v, len, u_.data<T>(), lse_.data<T>(), du_.data<T>(),
                dq_.data<T>() + s.q_off, Dbuf.data<T>(), s, scale, tile_rows);
    const int64_t dkv_rows = dkv_tile_rows<T>(s);
    DASG_LAUNCH(attention_backward_dkv_kernel<S>,
                blocks_for_positions(s.B * s.H * ((s.T + kWarps - 1) / kWarps) * kWarps), kWarps * 32,
                shared_bytes<T>(s, 2, dkv_rows), stream, q, k, v, len, lse_.data<T>(), du_.data<T>(),
                (const T*)Dbuf.data<T>(), dk_.data<T>() + s.k_off, dv_.data<T>() + s.v_off, s, scale, dkv_rows);
  });
}

}  // namespace dasg::kernels
