// Suite "attention": the fused grouped sliding-window attention (DESIGN §7.2 step 2).
// Checked against a naive reference written here from the definition: the full T×T score matrix
// with the mask applied by plain conditions, softmax, entropies and ρ by their formulas, and an
// analytic backward through the full matrix (ds = p ∘ (dp − rowsum(p ∘ dp))), so nothing is shared
// with the kernel (not its key-span helper, not its D_i = do·u shortcut).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>

#include "ops/grouped_attention.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using test::rand64;
using Inputs = std::vector<Tensor>;
using Vec = std::vector<double>;

namespace {

struct Ref {
  Vec u, C, I, dq, dk, dv;  // u, du [B,T,H·d]; C, I [B,T]; dq, dk, dv [B,H,T,d]
};

// q, k, v [B,H,T,d]; du [B,T,H·d]; lens empty = all T.
Ref naive_attention(int64_t B, int64_t H, int64_t T, int64_t d, const Vec& q, const Vec& k, const Vec& v,
                    const Vec& du, int64_t L, int64_t w, bool causal, const std::vector<int32_t>& lens) {
  const int64_t Hd = H * d;
  Ref r{Vec(B * T * Hd, 0.0), Vec(B * T, 0.0), Vec(B * T, 0.0), Vec(q.size(), 0.0), Vec(q.size(), 0.0),
        Vec(q.size(), 0.0)};
  Vec rho(B * T, 0.0);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = lens.empty() ? T : lens[b];
    auto allowed = [&](int64_t i, int64_t j) {
      return i < n && j < n && i / L == j / L && std::abs(i - j) < w && (!causal || j <= i);
    };
    std::vector<int64_t> ni(T, 0);
    for (int64_t i = 0; i < T; ++i)
      for (int64_t j = 0; j < T; ++j) ni[i] += allowed(i, j);
    for (int64_t h = 0; h < H; ++h) {
      auto at = [&](int64_t t, int64_t c) { return ((b * H + h) * T + t) * d + c; };
      Vec P(T * T, 0.0);
      for (int64_t i = 0; i < T; ++i) {
        if (ni[i] == 0) continue;
        double m = -1e300;
        for (int64_t j = 0; j < T; ++j)
          if (allowed(i, j)) {
            double s = 0;
            for (int64_t c = 0; c < d; ++c) s += q[at(i, c)] * k[at(j, c)];
            P[i * T + j] = s / std::sqrt((double)d);
            m = std::max(m, P[i * T + j]);
          }
        double Z = 0;
        for (int64_t j = 0; j < T; ++j)
          if (allowed(i, j)) Z += (P[i * T + j] = std::exp(P[i * T + j] - m));
        double H_i = 0;
        for (int64_t j = 0; j < T; ++j) {
          P[i * T + j] /= Z;
          if (P[i * T + j] > 0) H_i -= P[i * T + j] * std::log(P[i * T + j]);
          for (int64_t c = 0; c < d; ++c) r.u[(b * T + i) * Hd + h * d + c] += P[i * T + j] * v[at(j, c)];
        }
        if (ni[i] > 1) r.C[b * T + i] += H_i / std::log((double)ni[i]) / (double)H;
      }
      for (int64_t i = 0; i < T; ++i) {  // ρ
        if (causal) {
          rho[b * T + i] += P[i * T + i] * (double)ni[i] / (double)H;
        } else {
          double sum = 0;
          int64_t count = 0;
          for (int64_t i2 = 0; i2 < T; ++i2)
            if (allowed(i2, i)) sum += P[i2 * T + i] * (double)ni[i2], ++count;
          if (count) rho[b * T + i] += sum / (double)count / (double)H;
        }
      }
      // Backward through the full matrix.
      for (int64_t i = 0; i < T; ++i) {
        if (ni[i] == 0) continue;
        Vec dP(T, 0.0);
        double rowsum = 0;
        for (int64_t j = 0; j < T; ++j) {
          for (int64_t c = 0; c < d; ++c) dP[j] += du[(b * T + i) * Hd + h * d + c] * v[at(j, c)];
          rowsum += P[i * T + j] * dP[j];
        }
        for (int64_t j = 0; j < T; ++j) {
          const double ds = P[i * T + j] * (dP[j] - rowsum) / std::sqrt((double)d);
          for (int64_t c = 0; c < d; ++c) {
            r.dq[at(i, c)] += ds * k[at(j, c)];
            r.dk[at(j, c)] += ds * q[at(i, c)];
            r.dv[at(j, c)] += P[i * T + j] * du[(b * T + i) * Hd + h * d + c];
          }
        }
      }
    }
  }
  for (int64_t i = 0; i < B * T; ++i) r.I[i] = rho[i] / (1 + rho[i]);
  return r;
}

void check_near(const Vec& got, const Vec& want, double tol, const char* what) {
  REQUIRE(got.size() == want.size());
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double e = std::abs(got[i] - want[i]);
    if (!(e <= worst)) worst = e, at = i;  // NaN wins
  }
  INFO(what << ": worst element " << at << " got " << got[at] << " want " << want[at]);
  CHECK(worst <= tol);
}

Vec f64(const Tensor& t) { return t.to(DType::f64).to_vector<double>(); }

Tensor lengths_of(const std::vector<int32_t>& lens) {
  return lens.empty() ? Tensor() : Tensor::from_vector(lens, {(int64_t)lens.size()});
}

// Runs the op (separate layout) in `dtype` and compares u, C, I and dq, dk, dv with the reference.
void compare_with_naive(int64_t B, int64_t H, int64_t T, int64_t d, int64_t L, int64_t w, bool causal,
                        const std::vector<int32_t>& lens, DType dtype, uint64_t seed) {
  INFO("B=" << B << " H=" << H << " T=" << T << " d=" << d << " L=" << L << " w=" << w << " causal=" << causal
            << " padded=" << !lens.empty() << " " << dtype_name(dtype));
  Generator g(seed);
  Tensor q = Tensor::rand({B, H, T, d}, g, -2, 2, dtype), k = Tensor::rand({B, H, T, d}, g, -2, 2, dtype),
         v = Tensor::rand({B, H, T, d}, g, -1, 1, dtype), du = Tensor::rand({B, T, H * d}, g, -1, 1, dtype);
  Ref ref = naive_attention(B, H, T, d, f64(q), f64(k), f64(v), f64(du), L, w, causal, lens);
  for (Tensor* t : {&q, &k, &v}) t->requires_grad_(true);
  GroupedAttentionResult r = grouped_window_attention(q, k, v, {L, w, causal}, lengths_of(lens));
  r.out.backward(du);
  const double tol = dtype == DType::f64 ? 1e-11 : 2e-5;
  check_near(f64(r.out), ref.u, tol, "u");
  check_near(f64(r.complexity), ref.C, tol, "C");
  check_near(f64(r.importance), ref.I, tol, "I");
  check_near(f64(q.grad()), ref.dq, tol * 4, "dq");
  check_near(f64(k.grad()), ref.dk, tol * 4, "dk");
  check_near(f64(v.grad()), ref.dv, tol * 4, "dv");
  CHECK_FALSE(r.complexity.requires_grad());
  CHECK_FALSE(r.importance.requires_grad());
}

// [B,H,T,d] tensors → one packed [B,T,3·H·d] tensor (q, k, v blocks, heads contiguous).
Tensor pack(const Tensor& q, const Tensor& k, const Tensor& v) {
  const int64_t B = q.size(0), H = q.size(1), T = q.size(2), d = q.size(3), D = H * d;
  Vec out(B * T * 3 * D);
  const Tensor* parts[3] = {&q, &k, &v};
  for (int p = 0; p < 3; ++p) {
    Vec x = f64(*parts[p]);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t t = 0; t < T; ++t)
          for (int64_t c = 0; c < d; ++c) out[(b * T + t) * 3 * D + p * D + h * d + c] = x[((b * H + h) * T + t) * d + c];
  }
  return Tensor::from_vector(out, {B, T, 3 * D});
}

bool all_finite(const Vec& x) {
  for (double e : x)
    if (!std::isfinite(e)) return false;
  return true;
}

}  // namespace

TEST_SUITE("attention") {
  TEST_CASE("gradcheck:grouped_window_attention") {
    Generator g(21);
    for (bool causal : {true, false})
      for (bool padded : {false, true}) {
        if (causal && padded) continue;  // padding is an encoder's
        INFO("causal=" << causal << " padded=" << padded);
        const AttentionMask mask{3, 2, causal};
        Tensor lens = padded ? Tensor::from_vector(std::vector<int32_t>{7, 4}, {2}) : Tensor();
        Tensor q = rand64({2, 3, 7, 3}, g), k = rand64({2, 3, 7, 3}, g), v = rand64({2, 3, 7, 3}, g);
        CHECK_GRADCHECK([=](const Inputs& in) { return grouped_window_attention(in[0], in[1], in[2], mask, lens).out; },
                        (Inputs{q, k, v}));
        Tensor qkv = rand64({2, 7, 3 * 6}, g);
        CHECK_GRADCHECK([=](const Inputs& in) { return grouped_window_attention(in[0], 2, mask, lens).out; },
                        (Inputs{qkv}));
      }
  }

  TEST_CASE("grouped_window_attention matches the naive masked reference") {
    struct Case {
      int64_t T, L, w;
    };
    uint64_t seed = 100;
    for (Case c : {Case{7, 3, 1}, {7, 3, 2}, {7, 3, 3}, {8, 4, 4}, {12, 4, 3}, {9, 9, 5}, {5, 8, 8}, {16, 16, 16}})
      for (bool causal : {true, false})
        for (int64_t H : {2, 3}) {
          const int64_t d = H == 2 ? 3 : 5;
          compare_with_naive(2, H, c.T, d, c.L, c.w, causal, {}, DType::f64, ++seed);
          if (!causal) {
            std::vector<int32_t> lens{(int32_t)c.T, (int32_t)std::max<int64_t>(1, c.T / 2 - 1), 1};
            compare_with_naive(3, H, c.T, d, c.L, c.w, false, lens, DType::f64, ++seed);
          }
        }
    // Big enough for the kernels' OpenMP path (tasks over (b, h, group)).
    compare_with_naive(2, 3, 64, 17, 16, 8, true, {}, DType::f64, 5);
    compare_with_naive(2, 3, 64, 17, 16, 8, false, {64, 37}, DType::f64, 6);
    compare_with_naive(2, 3, 7, 5, 3, 2, true, {}, DType::f32, 7);
    compare_with_naive(2, 3, 7, 5, 3, 2, false, {7, 2}, DType::f32, 8);
    // Several query blocks and key blocks per group (the CPU kernel tiles 32 queries × 64 keys,
    // rescaling its running softmax between key blocks), banded and full windows.
    compare_with_naive(1, 2, 200, 8, 150, 100, true, {}, DType::f64, 9);
    compare_with_naive(2, 2, 200, 8, 150, 100, false, {200, 171}, DType::f64, 10);
    compare_with_naive(1, 2, 150, 8, 150, 150, true, {}, DType::f64, 11);
    compare_with_naive(1, 2, 150, 8, 150, 150, false, {}, DType::f32, 12);
    // Head widths 16, 32 and 64 take the register-blocked paths (rows in blocks of up to 4, the
    // rest one at a time: 150 = 4·37 + 2 rows, 61 and 30 real ones), banded and full windows.
    compare_with_naive(1, 2, 150, 32, 150, 100, true, {}, DType::f64, 13);
    compare_with_naive(2, 1, 90, 16, 45, 30, false, {90, 61}, DType::f64, 14);
    compare_with_naive(1, 1, 70, 64, 70, 70, true, {}, DType::f64, 15);
    compare_with_naive(1, 2, 150, 32, 150, 150, true, {}, DType::f32, 16);
    compare_with_naive(2, 1, 75, 64, 75, 40, false, {75, 30}, DType::f32, 17);
  }

  TEST_CASE("full attention: one group with window T is standard MHA") {
    for (bool causal : {true, false})
      for (int64_t T : {1, 6, 13}) {
        const AttentionMask m = full_attention_mask(T, causal);
        CHECK(m.group_len == T);
        CHECK(m.window == T);
        // The reference's mask with L = w = T is every j ≤ i (causal) or every j.
        compare_with_naive(2, 2, T, 3, T, T, causal, {}, DType::f64, 300 + T);
      }
    compare_with_naive(2, 3, 10, 3, 10, 10, false, {10, 6}, DType::f64, 400);
    // A group and window longer than any input (no overflow in the key spans).
    for (bool causal : {true, false})
      compare_with_naive(1, 2, 9, 3, int64_t(1) << 62, int64_t(1) << 62, causal, {}, DType::f64, 401);
  }

  TEST_CASE("packed qkv layout equals separate q, k, v") {
    Generator g(31);
    for (bool causal : {true, false}) {
      const int64_t B = 2, H = 3, T = causal ? 7 : 41, d = causal ? 3 : 16;  // d 16: the register-blocked path
      const AttentionMask mask{causal ? 3 : 20, causal ? 2 : 12, causal};
      Tensor lens = causal ? Tensor() : Tensor::from_vector(std::vector<int32_t>{41, 29}, {2});
      Tensor q = rand64({B, H, T, d}, g), k = rand64({B, H, T, d}, g), v = rand64({B, H, T, d}, g);
      Tensor qkv = pack(q, k, v);
      qkv.requires_grad_(true);
      Tensor du = Tensor::rand({B, T, H * d}, g, -1, 1, DType::f64);
      auto a = grouped_window_attention(q, k, v, mask, lens);
      auto b = grouped_window_attention(qkv, H, mask, lens);
      a.out.backward(du);
      b.out.backward(du);
      check_near(f64(b.out), f64(a.out), 1e-14, "u");
      check_near(f64(b.complexity), f64(a.complexity), 1e-14, "C");
      check_near(f64(b.importance), f64(a.importance), 1e-14, "I");
      check_near(f64(qkv.grad()), f64(pack(q.grad(), k.grad(), v.grad())), 1e-14, "dqkv");
    }
  }

  TEST_CASE("grouped_window_attention statistics: uniform attention and single-key rows") {
    // q = 0 ⇒ every allowed key gets p = 1/n_i ⇒ C = 1 where n_i > 1, and ρ = 1 ⇒ I = 1/2.
    for (bool causal : {true, false}) {
      Tensor q = Tensor::zeros({1, 2, 7, 3}, DType::f64);
      Generator g(41);
      Tensor k = Tensor::rand({1, 2, 7, 3}, g, -1, 1, DType::f64), v = k.clone();
      auto r = grouped_window_attention(q, k, v, {3, 3, causal});
      Vec C = f64(r.complexity), I = f64(r.importance);
      for (int64_t t = 0; t < 7; ++t) {
        // n_i = 1: a causal group's first token, and position 6, alone in the last group {6}
        const bool single = (causal && t % 3 == 0) || t == 6;
        CHECK(C[t] == doctest::Approx(single ? 0.0 : 1.0).epsilon(1e-12));
        CHECK(I[t] == doctest::Approx(0.5).epsilon(1e-12));
      }
    }
    // w = 1: n_i = 1 everywhere ⇒ C = 0, u_i = v_i, ρ = 1.
    for (bool causal : {true, false}) {
      Generator g(42);
      Tensor q = Tensor::rand({1, 2, 5, 3}, g, -3, 3, DType::f64), k = q.clone(), v = Tensor::rand({1, 2, 5, 3}, g);
      v = v.to(DType::f64);
      auto r = grouped_window_attention(q, k, v, {2, 1, causal});
      for (double c : f64(r.complexity)) CHECK(c == 0.0);
      for (double i : f64(r.importance)) CHECK(i == doctest::Approx(0.5).epsilon(1e-12));
      Vec u = f64(r.out), vv = f64(v);
      for (int64_t h = 0; h < 2; ++h)
        for (int64_t t = 0; t < 5; ++t)
          for (int64_t c = 0; c < 3; ++c) CHECK(u[t * 6 + h * 3 + c] == doctest::Approx(vv[(h * 5 + t) * 3 + c]));
    }
  }

  TEST_CASE("grouped_window_attention padding: padded positions give zeros, no NaN") {
    Generator g(51);
    const int64_t B = 3, H = 2, T = 7, d = 3;
    // Length 1 (every group after the first fully padded, the first with one real key), 4 (group 2 fully
    // padded, group 1 partly) and 7; large scores to stress the max-subtraction.
    Tensor lens = Tensor::from_vector(std::vector<int32_t>{1, 4, 7}, {B});
    Tensor q = Tensor::rand({B, H, T, d}, g, -30, 30, DType::f64).requires_grad_(true);
    Tensor k = Tensor::rand({B, H, T, d}, g, -30, 30, DType::f64).requires_grad_(true);
    Tensor v = Tensor::rand({B, H, T, d}, g, -1, 1, DType::f64).requires_grad_(true);
    auto r = grouped_window_attention(q, k, v, {3, 3, false}, lens);
    r.out.backward(Tensor::ones({B, T, H * d}, DType::f64));
    Vec u = f64(r.out), C = f64(r.complexity), I = f64(r.importance);
    CHECK(all_finite(u));
    CHECK(all_finite(C));
    CHECK(all_finite(I));
    CHECK(all_finite(f64(q.grad())));
    CHECK(all_finite(f64(k.grad())));
    CHECK(all_finite(f64(v.grad())));
    const int32_t n[3] = {1, 4, 7};
    Vec dk = f64(k.grad()), dv = f64(v.grad()), dq = f64(q.grad());
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = n[b]; t < T; ++t) {
        CHECK(C[b * T + t] == 0.0);
        CHECK(I[b * T + t] == 0.0);
        for (int64_t c = 0; c < H * d; ++c) CHECK(u[(b * T + t) * H * d + c] == 0.0);
        for (int64_t h = 0; h < H; ++h)
          for (int64_t c = 0; c < d; ++c) {
            const size_t at = (size_t)(((b * H + h) * T + t) * d + c);
            CHECK(dq[at] == 0.0);
            CHECK(dk[at] == 0.0);
            CHECK(dv[at] == 0.0);
          }
      }
    // Sequence 0 has one real position: it attends only itself.
    CHECK(C[0] == 0.0);
    CHECK(I[0] == doctest::Approx(0.5));
  }

  TEST_CASE("grouped_window_attention errors") {
    Tensor q = Tensor::zeros({2, 2, 6, 3}), k = q.clone(), v = q.clone();
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, Tensor::zeros({2, 2, 5, 3}), v, {3, 3, true}),
                         "grouped_window_attention", "[2, 2, 5, 3]", "[B, H, T, d]");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q.view({2, 12, 3}), k.view({2, 12, 3}), v.view({2, 12, 3}), {3, 3, true}),
                         "[B, H, T, d]");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v.to(DType::f64), {3, 3, true}), "grouped_window_attention");
    Tensor lens = Tensor::from_vector(std::vector<int32_t>{6, 3}, {2});
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 3, true}, lens), "lengths", "causal");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 0, false}), "window 0", "1 <= window <= group_len");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 4, false}), "window 4", "1 <= window <= group_len (3)");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {0, 1, false}), "group_len 0");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 3, false}, Tensor::from_vector(std::vector<int32_t>{6, 0}, {2})),
                         "lengths[1] = 0", "expected 1..6");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 3, false}, Tensor::from_vector(std::vector<int32_t>{7, 6}, {2})),
                         "lengths[0] = 7", "expected 1..6");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 3, false}, Tensor::from_vector(std::vector<int32_t>{6}, {1})),
                         "lengths", "i32[2]");
    CHECK_ERROR_CONTAINS(grouped_window_attention(q, k, v, {3, 3, false}, Tensor::ones({2})), "lengths", "i32[2]");
    // Packed layout.
    CHECK_ERROR_CONTAINS(grouped_window_attention(Tensor::zeros({2, 6, 8}), 2, {3, 3, true}), "qkv", "[B, T, 3·D]");
    CHECK_ERROR_CONTAINS(grouped_window_attention(Tensor::zeros({2, 6, 9}), 2, {3, 3, true}), "n_head 2", "D = 3");
    CHECK_ERROR_CONTAINS(grouped_window_attention(Tensor::zeros({2, 6, 9}, DType::i32), 3, {3, 3, true}),
                         "grouped_window_attention");
  }
}
