// GMHA and the "local"/"full" variants (DESIGN §7.2). Shapes: B batch, T length, D width,
// H heads of width d, L group length, G_T = ⌈T/L⌉ groups present at length T.
#include "model/attention.hpp"

#include <algorithm>
#include <cmath>

#include "ops/elementwise.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"
#include "ops/softmax.hpp"

namespace dasg {

Attention::Attention(const Config& cfg, Parameters& p, const std::string& prefix, Generator& gen) : cfg_(cfg) {
  const int64_t D = cfg.d_model, Hg = cfg.gmha.group_mlp_hidden;
  const double residual_std = 0.02 / std::sqrt(2.0 * cfg.n_layer);
  qkv_ = Linear::make(p, prefix + ".qkv", 3 * D, D, 0.02, gen);
  proj_ = Linear::make(p, prefix + ".proj", D, D, residual_std, gen);
  if (cfg.attention != "gmha") return;
  if (Hg > 0)
    for (int64_t g = 0; g < cfg.gmha.groups; ++g) {
      const std::string name = prefix + ".group_mlp." + std::to_string(g);
      group_mlp_.push_back({Linear::make(p, name + ".fc1", Hg, D, 0.02, gen), Linear::make(p, name + ".fc2", D, Hg, 0.02, gen)});
    }
  if (cfg.gmha.aggregate) {
    agg_q_ = Linear::make(p, prefix + ".agg.q", D, D, 0.02, gen);
    agg_k_ = Linear::make(p, prefix + ".agg.k", D, D, 0.02, gen);
    agg_v_ = Linear::make(p, prefix + ".agg.v", D, D, 0.02, gen);
  }
}

AttentionMask Attention::mask(int64_t T) const {
  if (cfg_.attention == "full") return full_attention_mask(T, cfg_.causal);
  return {cfg_.group_len(), cfg_.gmha.window, cfg_.causal};
}

int64_t Attention::allowed_keys(int64_t t, int64_t n, int64_t T) const {
  if (t >= n) return 0;
  const AttentionMask m = mask(T);
  const int64_t start = t / m.group_len * m.group_len;
  const int64_t lo = std::max(start, t - m.window + 1);
  const int64_t hi = m.causal ? t : std::min({start + m.group_len - 1, t + m.window - 1, n - 1});
  return hi - lo + 1;
}

AttentionOutput Attention::forward(const Tensor& x, const BatchInfo& batch, AttentionTrace* trace) const {
  const int64_t T = batch.T;
  const Tensor qkv = gemm_operand(qkv_(x, batch.gemm), batch.gemm);  // stored in bf16 under mixed precision
  GroupedAttentionResult a = grouped_window_attention(qkv, cfg_.n_head, mask(T), batch.lengths);
  Tensor o = a.out;
  if (cfg_.attention == "gmha") {
    o = refine_groups(o, T, batch.gemm);
    if (trace) trace->refined = o;
    if (Tensor c = aggregate(o, batch); c.defined()) o = o + c;
  }
  if (trace) trace->qkv = qkv;
  return {proj_(o, batch.gemm), a.complexity, a.importance};
}

// u'_i = u_i + W2_g·GELU(W1_g·u_i + b1_g) + b2_g. The full groups run at once: their rows laid
// out group-major, [G, B·L, D], through two batched GEMMs against the groups' weights stacked
// [G, out, in] (one GEMM per group per pass, no per-group slice whose backward would write a
// whole-sequence gradient, G of them summed: O(G·T·D) at long T). A last, partial group
// (T not a multiple of L, as in generation) takes its own MLP. `gemm`: the GEMMs' operand dtype.
Tensor Attention::refine_groups(const Tensor& u, int64_t T, DType gemm) const {
  if (group_mlp_.empty()) return u;
  const int64_t B = u.shape()[0], D = cfg_.d_model, L = cfg_.group_len(), full = T / L, rest = T - full * L;
  std::vector<Tensor> y;
  if (full > 0) {
    const int64_t Hg = cfg_.gmha.group_mlp_hidden;
    auto fc = [&](Linear GroupMlp::*layer, const Tensor& x, int64_t out, int64_t in) {
      std::vector<Tensor> w, b;
      for (int64_t g = 0; g < full; ++g) {
        const Linear& l = group_mlp_[(size_t)g].*layer;
        w.push_back(reshape(l.weight, {1, out, in}));
        b.push_back(reshape(l.bias, {1, 1, out}));
      }
      const Tensor stacked = full == 1 ? w[0] : concat(w, 0);
      return bmm(gemm_operand(x, gemm), gemm_operand(stacked, gemm), false, true) + (full == 1 ? b[0] : concat(b, 0));
    };
    const Tensor whole = rest ? slice(u, 1, 0, full * L) : u;
    const Tensor x = reshape(permute(reshape(whole, {B, full, L, D}), {1, 0, 2, 3}), {full, B * L, D});
    const Tensor h = gelu(fc(&GroupMlp::fc1, x, Hg, D));
    const Tensor o = fc(&GroupMlp::fc2, h, D, Hg);  // [G, B·L, D]
    y.push_back(reshape(permute(reshape(o, {full, B, L, D}), {1, 0, 2, 3}), {B, full * L, D}));
  }
  if (rest > 0) {
    const GroupMlp& m = group_mlp_[(size_t)full];
    y.push_back(m.fc2(m.fc1.gelu(slice(u, 1, full * L, rest), gemm), gemm));
  }
  return u + (y.size() == 1 ? y[0] : concat(y, 1));
}

// c_i = concat_h Σ_{g'∈V(i)} softmax(a_i·k_g'/√d) v_g', with m_g the mean of u' over the real
// positions of group g. Returns an undefined tensor when no position sees any group.
Tensor Attention::aggregate(const Tensor& u, const BatchInfo& batch) const {
  const int64_t B = batch.B, T = batch.T, D = cfg_.d_model, H = cfg_.n_head, d = D / H;
  const int64_t L = cfg_.group_len(), G = (T + L - 1) / L;
  if (!cfg_.gmha.aggregate || G == 1) return Tensor();
  // weight[b, t] = 1/(real positions of t's group) for real t, 0 for padding; visible bias 0 or −1e9.
  std::vector<float> weight((size_t)(B * T), 0.f), bias((size_t)(B * T * G), -1e9f), row_seen((size_t)(B * T), 0.f);
  for (int64_t b = 0; b < B; ++b) {
    std::vector<int64_t> count((size_t)G, 0);
    for (int64_t t = 0; t < batch.length[(size_t)b]; ++t) count[(size_t)(t / L)]++;
    for (int64_t t = 0; t < batch.length[(size_t)b]; ++t)
      weight[(size_t)(b * T + t)] = 1.f / (float)count[(size_t)(t / L)];
    for (int64_t t = 0; t < T; ++t)
      for (int64_t g = 0; g < G; ++g) {
        const bool visible = cfg_.causal ? g < t / L : (g != t / L && count[(size_t)g] > 0);
        if (!visible) continue;
        bias[(size_t)((b * T + t) * G + g)] = 0.f;
        row_seen[(size_t)(b * T + t)] = 1.f;
      }
  }
  const Device dev = batch.device;
  // m [B, G, D]: the weighted rows summed within each group (the last one padded with zero rows to L).
  Tensor weighted = u * constant_tensor(weight, {B, T, 1}, dev);
  if (G * L > T) weighted = concat({weighted, Tensor::zeros({B, G * L - T, D}, u.dtype(), dev)}, 1);
  Tensor m = sum(reshape(weighted, {B, G, L, D}), 2);
  auto heads = [&](const Tensor& t, int64_t len) {            // [B, len, D] → [B·H, len, d]
    return reshape(permute(reshape(t, {B, len, H, d}), {0, 2, 1, 3}), {B * H, len, d});
  };
  // The queries scaled by 1/√d before the product: T·D multiplications instead of T·G·H.
  Tensor q = heads(agg_q_(u, batch.gemm) * (1.0 / std::sqrt((double)d)), T), k = heads(agg_k_(m, batch.gemm), G),
         v = heads(agg_v_(m, batch.gemm), G);
  Tensor scores = reshape(bmm(q, k, false, true), {B, H, T, G});
  Tensor p = softmax(scores + constant_tensor(bias, {B, 1, T, G}, dev));
  Tensor c = bmm(reshape(p, {B * H, T, G}), v);  // [B·H, T, d]
  c = reshape(permute(reshape(c, {B, H, T, d}), {0, 2, 1, 3}), {B, T, D});
  return c * constant_tensor(row_seen, {B, T, 1}, dev);
}

}  // namespace dasg
