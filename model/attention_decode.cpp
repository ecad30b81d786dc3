// Incremental decoding of GMHA and its variants (DESIGN §7.2; the state's layout is in
// model/decode_state.hpp). One step computes, for the new position t of every sequence b
// (H heads of width d, a ring of cap key slots, L the group length):
//   q, k, v = split(qkv_t);  ring slot t mod cap ← k, v
//   keys(t) = [lo, t], the fused kernel's mask (n = t − lo + 1 ≤ cap; full attention: lo = 0)
//   s_j = q·k_j/√d on every slot, −1e9 added outside keys(t);  p = softmax(s);  u = Σ_j p_j v_j
//   C = mean_h max(0, lse − Σ_j p_j s_j) / ln n  (0 when n = 1): the entropy −Σ p ln p, as the kernel's
//   I = ρ/(1+ρ),  ρ = mean_h p_t·n  (the token's own row: causal)
//   gmha: u' = u + MLP_{g(t)}(u);  c = Σ_{g<g(t)} softmax_g(a·k_g/√d) v_g, a = u'·W_aqᵀ + b_aq
//         (c = 0 when g(t) = 0);  then Σu' of t's group += u', and when t closes its group
//         (t mod L = L − 1), k_g, v_g of m_g = Σu'/L are stored and the sum restarts
//   o = (u' + c)·W_oᵀ + b_o
// Every piece is one batched op over the B sequences; what differs between them (their slots,
// masks, which ones close a group) is host metadata of their positions, uploaded, never read back.
// A prefill writes the same state from the trace of an ordinary forward over the context.
#include <algorithm>
#include <cmath>

#include "model/attention.hpp"
#include "ops/cast.hpp"
#include "ops/elementwise.hpp"
#include "ops/index.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"

namespace dasg {

namespace {

// base [R, d] with rows idx (distinct) holding src [|idx|, d]: index_add onto base with those rows
// zeroed first, so they hold src exactly.
Tensor overwrite_rows(const Tensor& base, const std::vector<int32_t>& idx, const Tensor& src) {
  if (idx.empty()) return base;
  std::vector<float> keep((size_t)base.size(0), 1.f);
  for (int32_t r : idx) keep[(size_t)r] = 0.f;
  const Device dev = base.device();
  const Tensor kept = base * constant_tensor(keep, {base.size(0), 1}, dev).to(base.dtype());
  return index_add(kept, constant_tensor(idx, {(int64_t)idx.size()}, dev), src);
}

// [rows·H, d] heads of x [rows, D] (heads contiguous within D): row r·H + h.
Tensor head_rows(const Tensor& x, int64_t H) { return reshape(x, {x.size(0) * H, x.size(1) / H}); }

}  // namespace

int64_t Attention::cache_len() const { return cfg_.attention == "full" ? cfg_.max_seq_len : cfg_.gmha.window; }

LayerDecodeState Attention::decode_state(int64_t B, Device device, DType dtype) const {
  const int64_t D = cfg_.d_model, H = cfg_.n_head, d = D / H;
  DASG_CHECK(cfg_.causal, "Attention::decode_state: the model is an encoder (causal false); incremental decoding "
             "needs a causal model");
  LayerDecodeState s;
  s.keys = Tensor::zeros({B * H * cache_len(), d}, dtype, device);
  s.values = Tensor::zeros({B * H * cache_len(), d}, dtype, device);
  if (aggregates()) {
    s.group_sum = Tensor::zeros({B, D}, dtype, device);
    s.agg_keys = Tensor::zeros({B * H * cfg_.gmha.groups, d}, dtype, device);
    s.agg_values = Tensor::zeros({B * H * cfg_.gmha.groups, d}, dtype, device);
  }
  return s;
}

// The next position is T: keep the keys of positions [T − cap, T) (the older ones are outside
// every later window), Σu' over [g(T)·L, T), and k_g, v_g of the groups g < ⌊T/L⌋.
void Attention::prefill_state(const AttentionTrace& trace, int64_t b, int64_t T, LayerDecodeState& s,
                              DType gemm) const {
  const int64_t D = cfg_.d_model, H = cfg_.n_head, cap = cache_len(), L = cfg_.group_len();
  const int64_t B = s.keys.size(0) / (H * cap);
  DASG_CHECK(b >= 0 && b < B && T >= 0 && T <= cfg_.max_seq_len, "Attention::prefill_state: sequence ", b, " of ", B,
             ", ", T, " positions; expected 0 <= T <= max_seq_len = ", cfg_.max_seq_len);
  // Sequence b's rows are rewritten whole: the ones not written below become 0.
  auto clear = [&](const Tensor& t, int64_t per_seq) {
    std::vector<float> keep((size_t)t.size(0), 1.f);
    std::fill(keep.begin() + b * per_seq, keep.begin() + (b + 1) * per_seq, 0.f);
    return t * constant_tensor(keep, {t.size(0), 1}, t.device()).to(t.dtype());
  };
  s.keys = clear(s.keys, H * cap);
  s.values = clear(s.values, H * cap);
  if (aggregates()) {
    s.group_sum = clear(s.group_sum, 1);
    s.agg_keys = clear(s.agg_keys, H * cfg_.gmha.groups);
    s.agg_values = clear(s.agg_values, H * cfg_.gmha.groups);
  }
  if (T == 0) return;
  DASG_CHECK(trace.qkv.defined() && trace.qkv.dim() == 3 && trace.qkv.size(0) == 1 && trace.qkv.size(1) == T,
             "Attention::prefill_state: the trace's qkv is ", trace.qkv.defined() ? trace.qkv.str() : "undefined",
             "; expected [1, ", T, ", ", 3 * D, "] from a forward over the context");
  const int64_t p0 = std::max<int64_t>(0, T - cap), n = T - p0;
  std::vector<int32_t> rows;  // source row (p − p0)·H + h → slot row (b·H + h)·cap + p mod cap
  for (int64_t p = p0; p < T; ++p)
    for (int64_t h = 0; h < H; ++h) rows.push_back((int32_t)((b * H + h) * cap + p % cap));
  const Tensor recent = cast(reshape(slice(trace.qkv, 1, p0, n), {n, 3 * D}), s.keys.dtype());  // bf16 under mixed precision
  s.keys = index_add(s.keys, constant_tensor(rows, {n * H}, s.keys.device()), head_rows(slice(recent, 1, D, D), H));
  s.values = index_add(s.values, constant_tensor(rows, {n * H}, s.keys.device()), head_rows(slice(recent, 1, 2 * D, D), H));
  if (!aggregates()) return;
  const Tensor u = reshape(trace.refined, {T, D});
  const int64_t closed = T / L, start = closed * L;
  const Device dev = u.device();
  if (T > start)
    s.group_sum = index_add(s.group_sum, constant_tensor(std::vector<int32_t>{(int32_t)b}, {1}, dev),
                            sum(slice(u, 0, start, T - start), 0, true));
  if (closed == 0) return;
  const Tensor m = sum(reshape(slice(u, 0, 0, start), {closed, L, D}), 1) * (1.0 / (double)L);  // [closed, D]
  std::vector<int32_t> agg_rows;  // source row g·H + h → (b·H + h)·G + g
  for (int64_t g = 0; g < closed; ++g)
    for (int64_t h = 0; h < H; ++h) agg_rows.push_back((int32_t)((b * H + h) * cfg_.gmha.groups + g));
  const Tensor idx = constant_tensor(agg_rows, {closed * H}, dev);
  s.agg_keys = index_add(s.agg_keys, idx, head_rows(agg_k_(m, gemm), H));
  s.agg_values = index_add(s.agg_values, idx, head_rows(agg_v_(m, gemm), H));
}

AttentionOutput Attention::step(const Tensor& x, const std::vector<int64_t>& pos, LayerDecodeState& s,
                                DType gemm) const {
  const int64_t B = (int64_t)pos.size();
  DASG_CHECK(x.dim() == 2 && x.size(0) == B && x.size(1) == cfg_.d_model, "Attention::step: x is ", x.str(),
             "; expected [", B, ", ", cfg_.d_model, "] (one row per sequence)");
  for (int64_t b = 0; b < B; ++b)
    DASG_CHECK(pos[(size_t)b] >= 0 && pos[(size_t)b] < cfg_.max_seq_len, "Attention::step: sequence ", b,
               " is at position ", pos[(size_t)b], "; expected 0 <= position < max_seq_len = ", cfg_.max_seq_len,
               " (slide the context first)");
  // The forward's attention reads qkv as stored: rounded to bf16 under mixed precision.
  const Tensor qkv = gemm == DType::f32 ? qkv_(x) : cast(cast(qkv_(x, gemm), gemm), DType::f32);
  AttentionOutput a = attend_step(qkv, pos, s);
  Tensor o = a.out;
  if (cfg_.attention == "gmha") {
    o = refine_step(o, pos, gemm);
    if (aggregates()) o = o + aggregate_step(o, pos, s, gemm);
  }
  a.out = proj_(o, gemm);
  return a;
}

AttentionOutput Attention::attend_step(const Tensor& qkv, const std::vector<int64_t>& pos, LayerDecodeState& s) const {
  const int64_t B = (int64_t)pos.size(), D = cfg_.d_model, H = cfg_.n_head, d = D / H, cap = cache_len();
  const Device dev = qkv.device();
  const DType ft = qkv.dtype();
  // Host metadata: each sequence's slot rows, the mask of its keys on the ring, its own slot.
  std::vector<int32_t> rows((size_t)(B * H));
  std::vector<float> bias((size_t)(B * cap), -1e9f), self((size_t)(B * cap), 0.f), c_scale((size_t)B), i_scale((size_t)B);
  for (int64_t b = 0; b < B; ++b) {
    const int64_t t = pos[(size_t)b], n = allowed_keys(t, t + 1, t + 1), lo = t - n + 1, slot = t % cap;
    for (int64_t h = 0; h < H; ++h) rows[(size_t)(b * H + h)] = (int32_t)((b * H + h) * cap + slot);
    for (int64_t j = 0; j < cap; ++j)
      if (t - ((t - j) % cap + cap) % cap >= lo) bias[(size_t)(b * cap + j)] = 0.f;  // the slot's newest position
    self[(size_t)(b * cap + slot)] = 1.f;
    c_scale[(size_t)b] = n > 1 ? (float)(1.0 / ((double)H * std::log((double)n))) : 0.f;
    i_scale[(size_t)b] = (float)((double)n / (double)H);
  }
  s.keys = overwrite_rows(s.keys, rows, head_rows(slice(qkv, 1, D, D), H));
  s.values = overwrite_rows(s.values, rows, head_rows(slice(qkv, 1, 2 * D, D), H));
  const Tensor q = reshape(slice(qkv, 1, 0, D), {B * H, 1, d});
  const Tensor sc = reshape(bmm(q, reshape(s.keys, {B * H, cap, d}), false, true), {B, H, cap}) * (1.0 / std::sqrt((double)d));
  const Tensor biased = sc + constant_tensor(bias, {B, 1, cap}, dev).to(ft);
  const Tensor p = softmax(biased);  // [B, H, cap], exactly 0 outside keys(t)
  AttentionOutput out;
  out.out = reshape(bmm(reshape(p, {B * H, 1, cap}), reshape(s.values, {B * H, cap, d})), {B, D});
  const Tensor m = max(biased, 2, true).values;
  const Tensor lse = reshape(log(sum(exp(biased - m), 2, true)) + m, {B, H});
  const Tensor entropy = relu(lse - sum(p * sc, 2));  // [B, H]
  out.complexity = sum(entropy, 1) * constant_tensor(c_scale, {B}, dev).to(ft);
  const Tensor rho = sum(sum(p * constant_tensor(self, {B, 1, cap}, dev).to(ft), 2), 1) * constant_tensor(i_scale, {B}, dev).to(ft);
  out.importance = rho / (rho + 1.0);
  return out;
}

Tensor Attention::refine_step(const Tensor& u, const std::vector<int64_t>& pos, DType gemm) const {
  if (group_mlp_.empty()) return u;
  const int64_t B = (int64_t)pos.size(), L = cfg_.group_len();
  auto mlp = [&](const Tensor& x, int64_t g) {
    const GroupMlp& m = group_mlp_[(size_t)g];
    return x + m.fc2(m.fc1.gelu(x, gemm), gemm);
  };
  if (std::all_of(pos.begin(), pos.end(), [&](int64_t t) { return t / L == pos[0] / L; })) return mlp(u, pos[0] / L);
  std::vector<Tensor> rows;
  for (int64_t b = 0; b < B; ++b) rows.push_back(mlp(slice(u, 0, b, 1), pos[(size_t)b] / L));
  return concat(rows, 0);
}

Tensor Attention::aggregate_step(const Tensor& u, const std::vector<int64_t>& pos, LayerDecodeState& s,
                                 DType gemm) const {
  const int64_t B = (int64_t)pos.size(), D = cfg_.d_model, H = cfg_.n_head, d = D / H, L = cfg_.group_len();
  const int64_t G = cfg_.gmha.groups;
  const Device dev = u.device();
  const DType ft = u.dtype();
  std::vector<float> bias((size_t)(B * G), -1e9f), seen((size_t)B, 0.f), keep((size_t)B, 1.f);
  std::vector<int32_t> closing, agg_rows;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t g = pos[(size_t)b] / L;
    for (int64_t j = 0; j < g; ++j) bias[(size_t)(b * G + j)] = 0.f;
    seen[(size_t)b] = g > 0 ? 1.f : 0.f;
    if (pos[(size_t)b] % L == L - 1) {
      closing.push_back((int32_t)b);
      keep[(size_t)b] = 0.f;
      for (int64_t h = 0; h < H; ++h) agg_rows.push_back((int32_t)((b * H + h) * G + g));
    }
  }
  Tensor c;
  if (std::any_of(seen.begin(), seen.end(), [](float v) { return v > 0; })) {
    const Tensor a = reshape(agg_q_(u, gemm), {B * H, 1, d});
    const Tensor sc = reshape(bmm(a, reshape(s.agg_keys, {B * H, G, d}), false, true), {B, H, G}) * (1.0 / std::sqrt((double)d));
    const Tensor p = softmax(sc + constant_tensor(bias, {B, 1, G}, dev).to(ft));
    c = reshape(bmm(reshape(p, {B * H, 1, G}), reshape(s.agg_values, {B * H, G, d})), {B, D}) *
        constant_tensor(seen, {B, 1}, dev).to(ft);
  } else {
    c = Tensor::zeros({B, D}, ft, dev);
  }
  // The group sums grow by u'; a closing group's summary m = Σu'/L becomes its k_g, v_g.
  s.group_sum = s.group_sum + u;
  if (!closing.empty()) {
    const Tensor m = index_select(s.group_sum, constant_tensor(closing, {(int64_t)closing.size()}, dev)) * (1.0 / (double)L);
    s.agg_keys = overwrite_rows(s.agg_keys, agg_rows, head_rows(agg_k_(m, gemm), H));
    s.agg_values = overwrite_rows(s.agg_values, agg_rows, head_rows(agg_v_(m, gemm), H));
    s.group_sum = s.group_sum * constant_tensor(keep, {B, 1}, dev).to(ft);
  }
  return c;
}

}  // namespace dasg
