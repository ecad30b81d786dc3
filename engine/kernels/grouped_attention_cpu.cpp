// Grouped sliding-window attention on the CPU (the math is in grouped_attention.hpp).
//
// Forward, one task per (b, h, group), parallel over tasks; per real query i of the group:
//   pass 1  s_j = q_i·k_j/√d for j ∈ keys(i), kept in a row buffer of ≤ min(L, T) scores; m = max_j s_j
//   pass 2  e_j = exp(s_j − m); Z = Σ e_j; u_i = Σ e_j v_j / Z; lse_i = m + ln Z;
//           H_i = ln Z − Σ_j e_j (s_j − m) / Z;  ρ terms from p_ij = e_j / Z
// then one pass over (b, t) turns the per-head H and ρ terms into C and I (head means).
// Cost O(T·w·d) per head; nothing of size T×w is stored (lse [B,H,T] is what backward keeps).
//
// Backward, one task per (b, h, group) again (a group's dk, dv are written only by its own task):
//   per real query i:  D_i = do_i·u_i;  per j ∈ keys(i): p = exp(s_ij − lse_i), dp = do_i·v_j,
//   ds = p (dp − D_i)/√d;  dv_j += p do_i;  dq_i += ds k_j;  dk_j += ds q_i.
#include <cmath>
#include <limits>
#include <vector>

#include "engine/kernels/grouped_attention.hpp"

namespace dasg::kernels {

namespace {

template <class T>
inline T dot(const T* a, const T* b, int64_t d) {
  T s = 0;
  for (int64_t c = 0; c < d; ++c) s += a[c] * b[c];
  return s;
}

template <class T>
inline void axpy(T a, const T* x, T* y, int64_t d) {
  for (int64_t c = 0; c < d; ++c) y[c] += a * x[c];
}

// Real length of sequence b: lengths[b], or T without lengths.
inline int64_t seq_len(const int32_t* len, int64_t b, int64_t T) { return len ? (int64_t)len[b] : T; }

// Run task(t, scratch) for t < n_tasks on OpenMP threads; each thread owns `scratch` (2·row floats).
template <class T, class F>
void for_each_task(int64_t n_tasks, int64_t row, bool parallel, F task) {
#pragma omp parallel if (parallel)
  {
    std::vector<T> scratch((size_t)(2 * row));
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < n_tasks; ++t) task(t, scratch.data());
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
    const int64_t row = std::min(L, TT);
    const T scale = T(1) / std::sqrt(T(d));
    // Per-head entropies and ρ terms, [B,H,T], reduced over heads at the end.
    std::vector<double> ent((size_t)(B * H * TT), 0.0), rho((size_t)(B * H * TT), 0.0);

    const bool parallel = B * H * TT * std::min(s.w, TT) * d > kParallelGrain && B * H * G > 1;
    for_each_task<T>(B * H * G, row, parallel, [&](int64_t task, T* buf) {
      const int64_t b = task / (H * G), h = (task / G) % H, g = task % G;
      const int64_t n = seq_len(len, b, TT), bh = b * H + h;
      const int64_t base = b * s.sb + h * s.sh, i0 = g * L, i1 = i0 + std::min(L, TT - i0);
      T* sc = buf;         // scores s_j
      T* ex = buf + row;   // e_j = exp(s_j − m)
      for (int64_t i = i0; i < i1; ++i) {
        T* ui = u + (b * TT + i) * Hd + h * d;
        const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
        if (ks.hi < ks.lo) {  // padded query: no key
          for (int64_t c = 0; c < d; ++c) ui[c] = 0;
          lse[bh * TT + i] = 0;
          continue;
        }
        const T* qi = q + base + i * s.st;
        const int64_t ni = ks.hi - ks.lo + 1;
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t j = ks.lo; j <= ks.hi; ++j) {
          const T sj = dot(qi, k + base + j * s.st, d) * scale;
          sc[j - ks.lo] = sj;
          m = std::max(m, sj);
        }
        for (int64_t c = 0; c < d; ++c) ui[c] = 0;
        T Z = 0, es = 0;
        for (int64_t j = ks.lo; j <= ks.hi; ++j) {
          const T sm = sc[j - ks.lo] - m, e = std::exp(sm);
          ex[j - ks.lo] = e;
          Z += e;
          es += e * sm;
          axpy(e, v + base + j * s.st, ui, d);
        }
        const T inv = T(1) / Z;
        for (int64_t c = 0; c < d; ++c) ui[c] *= inv;
        lse[bh * TT + i] = m + std::log(Z);
        ent[(size_t)(bh * TT + i)] = std::max(0.0, (double)std::log(Z) - (double)(es * inv));
        if (s.causal) {
          rho[(size_t)(bh * TT + i)] = (double)(ex[i - ks.lo] * inv) * (double)ni;
        } else {  // scatter p_ij·n_i to the keys; all of them lie in this task's group
          for (int64_t j = ks.lo; j <= ks.hi; ++j) rho[(size_t)(bh * TT + j)] += (double)(ex[j - ks.lo] * inv) * (double)ni;
        }
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
    for_each_task<T>(B * H * G, 0, parallel, [&](int64_t task, T*) {
      const int64_t b = task / (H * G), h = (task / G) % H, g = task % G;
      const int64_t n = seq_len(len, b, TT), bh = b * H + h;
      const int64_t base = b * s.sb + h * s.sh, i0 = g * L, i1 = i0 + std::min(L, TT - i0);
      for (int64_t i = i0; i < std::min(i1, n); ++i) {  // real queries only
        const KeySpan ks = attention_keys(L, s.w, s.causal, i, n);
        const T* qi = q + base + i * s.st;
        T* dqi = dq + base + i * s.st;
        const T* doi = du + (b * TT + i) * Hd + h * d;
        const T Di = dot(doi, u + (b * TT + i) * Hd + h * d, d);
        const T li = lse[bh * TT + i];
        for (int64_t j = ks.lo; j <= ks.hi; ++j) {
          const T* kj = k + base + j * s.st;
          const T* vj = v + base + j * s.st;
          const T p = std::exp(dot(qi, kj, d) * scale - li);
          const T ds = p * (dot(doi, vj, d) - Di) * scale;
          axpy(p, doi, dv + base + j * s.st, d);
          axpy(ds, kj, dqi, d);
          axpy(ds, qi, dk + base + j * s.st, d);
        }
      }
    });
  });
}

}  // namespace dasg::kernels
