// Model: embeddings, blocks, heads, losses and the REINFORCE surrogate (DESIGN §7.1, §7.4, §7.7).
#include "model/model.hpp"

#include <cmath>

#include "model/safetensors.hpp"
#include "ops/cross_entropy.hpp"
#include "ops/dropout.hpp"
#include "ops/elementwise.hpp"
#include "ops/embedding.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"

namespace dasg {

Model::Model(const Config& cfg, uint64_t seed) : cfg_(cfg), gen_(seed ^ 0x9E3779B97F4A7C15ull) {
  cfg_.validate();
  Generator init(seed);
  const int64_t D = cfg.d_model;
  wte_ = params_.normal("wte.weight", {cfg.vocab_size, D}, 0.02, init);
  wpe_ = params_.normal("wpe.weight", {cfg.max_seq_len, D}, 0.02, init);
  ln_f_ = LayerNorm::make(params_, "ln_f", D);
  cls_ = Linear::make(params_, "cls", cfg.n_classes, D, 0.02, init);
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    const std::string prefix = "blocks." + std::to_string(l);
    Block b;
    b.ln1 = LayerNorm::make(params_, prefix + ".ln1", D);
    b.ln2 = LayerNorm::make(params_, prefix + ".ln2", D);
    b.attn = std::make_unique<Attention>(cfg_, params_, prefix + ".attn", init);
    b.ffn = make_ffn(cfg_, params_, prefix + ".ffn", init);
    blocks_.push_back(std::move(b));
  }
  adr_state_.assign((size_t)cfg.n_layer, {});
  pending_r_.assign((size_t)cfg.n_layer, {});
  pending_reward_.assign((size_t)cfg.n_layer, {});
  if (cfg.ffn == "dasg" && cfg.dsse.transfer_step == 0) transfer_dsse();
}

ForwardResult Model::forward(const Tensor& tokens, const Tensor& targets, const Tensor& lengths) {
  DASG_CHECK(tokens.dtype() == DType::i32 && tokens.dim() == 2, "Model::forward: tokens are ", tokens.str(),
             "; expected i32 [B, T]");
  BatchInfo batch;
  batch.B = tokens.size(0);
  batch.T = tokens.size(1);
  batch.N = batch.B * batch.T;
  batch.training = training_;
  batch.device = tokens.device();
  const int64_t B = batch.B, T = batch.T, N = batch.N, D = cfg_.d_model;
  DASG_CHECK(B >= 1 && T >= 1 && T <= cfg_.max_seq_len, "Model::forward: tokens are ", tokens.str(),
             "; expected B >= 1 and 1 <= T <= max_seq_len = ", cfg_.max_seq_len);
  DASG_CHECK(!(lengths.defined() && cfg_.causal), "Model::forward: lengths given to a causal model; padding is for "
             "encoders only (causal: false)");
  batch.length.assign((size_t)B, (int32_t)T);
  if (lengths.defined()) {
    DASG_CHECK(lengths.dtype() == DType::i32 && lengths.shape() == Shape{B}, "Model::forward: lengths are ",
               lengths.str(), "; expected i32 [", B, "]");
    batch.length = lengths.to(kCPU).to_vector<int32_t>();
    for (int64_t b = 0; b < B; ++b)
      DASG_CHECK(batch.length[(size_t)b] >= 1 && batch.length[(size_t)b] <= T, "Model::forward: lengths[", b, "] = ",
                 batch.length[(size_t)b], "; expected 1..", T);
    batch.lengths = lengths;
  }
  batch.is_real.assign((size_t)N, 0);
  std::vector<float> real_mask((size_t)N, 0.f);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < batch.length[(size_t)b]; ++t) {
      batch.is_real[(size_t)(b * T + t)] = 1;
      batch.real_rows.push_back((int32_t)(b * T + t));
      real_mask[(size_t)(b * T + t)] = 1.f;
    }
  batch.real_mask = constant_tensor(real_mask, {N, 1}, batch.device);

  ForwardResult r;
  Tensor zero = Tensor::scalar(0, wte_.dtype(), wte_.device());
  r.balance = r.z = r.sparsity = r.policy = r.ce = zero;
  Tensor x = embedding(wte_, tokens) + embedding(wpe_, Tensor::arange(T, batch.device));
  x = dropout(x, cfg_.dropout, training_, gen_);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& blk = blocks_[l];
    AttentionOutput a = blk.attn->forward(blk.ln1(x), batch);
    Tensor h = x + dropout(a.out, cfg_.dropout, training_, gen_);
    FfnInput in;
    in.x = reshape(blk.ln2(h), {N, D});
    in.C = host_floats(a.complexity);
    in.I = host_floats(a.importance);
    in.n_keys.resize((size_t)N);
    for (int64_t row = 0; row < N; ++row)
      in.n_keys[(size_t)row] = blk.attn->allowed_keys(row % T, batch.length[(size_t)(row / T)], T);
    in.batch = &batch;
    in.deep_active = deep_active_;
    in.capacity = capacity_;
    FfnOutput f = blk.ffn->forward(in, gen_);
    x = h + dropout(reshape(f.y, {B, T, D}), cfg_.dropout, training_, gen_);
    r.balance = r.balance + f.balance;
    r.z = r.z + f.z;
    r.sparsity = r.sparsity + f.sparsity;
    LayerRouting& lr = f.routing;
    lr.C = a.complexity;
    lr.I = a.importance;
    if (!lr.s.defined()) lr.s = lr.pi = lr.tier = Tensor::zeros({B, T}, wte_.dtype(), batch.device);
    if (training_) pending_r_[l].insert(pending_r_[l].end(), lr.counted_r.begin(), lr.counted_r.end());
    r.layers.push_back(std::move(lr));
  }
  Tensor xf = ln_f_(x);
  if (cfg_.causal) {
    r.logits = linear(xf, wte_);  // tied head, [B, T, V]
  } else {
    std::vector<float> pool((size_t)(B * T), 0.f);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < batch.length[(size_t)b]; ++t) pool[(size_t)(b * T + t)] = 1.f / (float)batch.length[(size_t)b];
    r.logits = cls_(reshape(bmm(constant_tensor(pool, {B, 1, T}, batch.device), xf), {B, D}));  // [B, C]
  }
  if (targets.defined()) {
    const Shape want = cfg_.causal ? Shape{B, T} : Shape{B};
    DASG_CHECK(targets.dtype() == DType::i32 && targets.shape() == want, "Model::forward: targets are ", targets.str(),
               "; expected i32 ", shape_str(want), cfg_.causal ? " (next tokens)" : " (class labels)");
    Tensor per = cross_entropy(r.logits, targets, -100, Reduction::none);
    int64_t counted = 0;
    for (int32_t t : targets.to(kCPU).to_vector<int32_t>()) counted += t != -100;
    r.ce = sum(per) * (1.0 / (double)std::max<int64_t>(counted, 1));
    r.token_ce = per.detach();
    r.policy = policy_loss(r, r.token_ce, targets, batch);
  }
  r.loss = r.ce + r.balance + r.z + r.policy + r.sparsity;
  return r;
}

// The REINFORCE surrogate of every layer (model/reinforce.hpp). The reward of a token is its own
// detached CE (LM) or its sequence's (encoder); LM rows whose target is ignored carry no reward.
Tensor Model::policy_loss(ForwardResult& r, const Tensor& token_ce, const Tensor& targets, const BatchInfo& batch) {
  const int64_t N = batch.N, T = batch.T;
  const double cost_shallow = (double)cfg_.d_model / (double)(cfg_.d_model + cfg_.moe.d_ff_deep);
  std::vector<float> ce = host_floats(token_ce);
  std::vector<int32_t> target = targets.to(kCPU).to_vector<int32_t>();
  Tensor total = Tensor::scalar(0, wte_.dtype(), wte_.device());
  r.mean_reward.assign(blocks_.size(), 0.0);
  r.baseline.assign(blocks_.size(), 0.0);
  for (size_t l = 0; l < r.layers.size(); ++l) {
    LayerRouting& lr = r.layers[l];
    r.baseline[l] = adr_state_[l].baseline.value;
    if (!lr.log_prob.defined()) continue;
    std::vector<float> reward;
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < N; ++i) {
      if (!lr.sampled[(size_t)i] || (cfg_.causal && target[(size_t)i] == -100)) continue;
      const double loss = cfg_.causal ? ce[(size_t)i] : ce[(size_t)(i / T)];
      reward.push_back((float)tier_reward(loss, lr.deep[(size_t)i], cfg_.adr.cost_coef, cost_shallow));
      rows.push_back(i);
    }
    if (reward.empty()) continue;
    double mean_r = 0;
    for (float v : reward) mean_r += v;
    mean_r /= (double)reward.size();
    const double b = adr_state_[l].baseline.current(mean_r);
    std::vector<float> adv((size_t)N, 0.f);
    for (size_t k = 0; k < rows.size(); ++k) adv[(size_t)rows[k]] = (float)(reward[k] - b);
    total = total + reinforce_surrogate(lr.log_prob, adv, (int64_t)rows.size(), cfg_.adr.policy_coef);
    r.mean_reward[l] = mean_r;
    if (training_) pending_reward_[l].insert(pending_reward_[l].end(), reward.begin(), reward.end());
  }
  return total;
}

void Model::discard_step() {
  for (auto& v : pending_r_) v.clear();
  for (auto& v : pending_reward_) v.clear();
}

void Model::end_step() {
  for (size_t l = 0; l < blocks_.size(); ++l) {
    if (auto* f = dynamic_cast<DasgFfn*>(blocks_[l].ffn.get()); f && !pending_r_[l].empty()) {
      f->tier_router().update_stats(pending_r_[l], !adr_state_[l].stats_set);
      adr_state_[l].stats_set = true;
    }
    if (!pending_reward_[l].empty()) {
      double m = 0;
      for (float v : pending_reward_[l]) m += v;
      adr_state_[l].baseline.update(m / (double)pending_reward_[l].size(), cfg_.adr.baseline_momentum);
    }
    pending_r_[l].clear();
    pending_reward_[l].clear();
  }
}

void Model::set_adr_state(const std::vector<AdrLayerState>& s) {
  DASG_CHECK(s.size() == blocks_.size(), "Model::set_adr_state: ", s.size(), " layers given; the model has ",
             blocks_.size());
  adr_state_ = s;
}

void Model::transfer_dsse() {
  for (Block& b : blocks_)
    if (auto* f = dynamic_cast<DasgFfn*>(b.ffn.get())) f->transfer(false);
  deep_active_ = true;
}

void Model::save(const std::string& path) const {
  params_.save(path, {{"config", cfg_.to_json().dump()}, {"deep_active", deep_active_ ? "true" : "false"}});
}

void Model::load(const std::string& path) {
  std::map<std::string, std::string> meta = params_.load(path);
  auto it = meta.find("deep_active");
  const bool active = it == meta.end() || it->second == "true";
  DASG_CHECK(active || !deep_active_, "Model::load: ", path, " was saved before the DSSE transfer, but this model has "
             "already transferred (deep_active); load it into a fresh model");
  if (active && cfg_.ffn == "dasg") {
    for (Block& b : blocks_)
      if (auto* f = dynamic_cast<DasgFfn*>(b.ffn.get())) f->transfer(true);
  }
  deep_active_ = active;
}

}  // namespace dasg
