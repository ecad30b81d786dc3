// Model: embeddings, blocks, heads and losses (DESIGN §7.1, §7.7).
#include "model/model.hpp"

#include <cmath>

#include "model/safetensors.hpp"
#include "ops/compare.hpp"
#include "ops/cross_entropy.hpp"
#include "ops/dropout.hpp"
#include "ops/elementwise.hpp"
#include "ops/embedding.hpp"
#include "ops/matmul.hpp"
#include "ops/reduce.hpp"
#include "ops/shape.hpp"

namespace dasg {

Model::Model(const Config& cfg, uint64_t seed, Device device) : cfg_(cfg), seed_(seed) {
  cfg_.validate();
  Generator init(seed);
  const int64_t D = cfg.d_model;
  wte_ = params_.normal("wte.weight", {cfg.vocab_size, D}, 0.02, init);
  wpe_ = params_.normal("wpe.weight", {cfg.max_seq_len, D}, 0.02, init);
  ln_f_ = LayerNorm::make(params_, "ln_f", D);
  if (!cfg.causal) cls_ = Linear::make(params_, "cls", cfg.n_classes, D, 0.02, init);
  for (int64_t l = 0; l < cfg.n_layer; ++l) {
    const std::string prefix = "blocks." + std::to_string(l);
    Block b;
    b.ln1 = LayerNorm::make(params_, prefix + ".ln1", D);
    b.ln2 = LayerNorm::make(params_, prefix + ".ln2", D);
    b.attn = std::make_unique<Attention>(cfg_, params_, prefix + ".attn", init);
    b.ffn = make_ffn(cfg_, params_, prefix + ".ffn", init);
    blocks_.push_back(std::move(b));
  }
  if (cfg.ffn == "dasg" && cfg.dsse.transfer_step == 0) transfer_dsse();
  to(device);
}

void Model::to(Device device) {
  for (const NamedTensor& e : params_.all()) Tensor(e.tensor).move_to_(device);
  device_ = device;
}

void check_precision(const char* where, DType gemm, Device device) {
  DASG_CHECK(gemm == DType::f32 || !device.is_cpu(), where, ": precision ", dtype_name(gemm),
             " (mixed precision) needs a CUDA device; the model is on ", device.str(),
             ": use --precision f32 or --device cuda");
}

DType parse_precision(const std::string& name) {
  if (name == "f32") return DType::f32;
  if (name == "bf16") return DType::bf16;
  DASG_FAIL("precision '", name, "'; expected f32 or bf16");
}

void Model::set_precision(DType gemm) {
  DASG_CHECK(gemm == DType::f32 || gemm == DType::bf16, "Model::set_precision: ", dtype_name(gemm),
             "; expected f32 or bf16");
  check_precision("Model::set_precision", gemm, device_);
  precision_ = gemm;
}

ForwardResult Model::forward(const Tensor& tokens, const Tensor& targets, const Tensor& lengths) const {
  Generator gen(seed_ ^ 0x9E3779B97F4A7C15ull);
  return forward(tokens, targets, lengths, gen);
}

ForwardResult Model::forward(const Tensor& tokens, const Tensor& targets, const Tensor& lengths, Generator& gen) const {
  return run(tokens, targets, lengths, gen, capacity_, nullptr);
}

ForwardResult Model::run(const Tensor& tokens_in, const Tensor& targets_in, const Tensor& lengths, Generator& gen,
                         bool capacity, std::vector<AttentionTrace>* traces) const {
  DASG_CHECK(tokens_in.dtype() == DType::i32 && tokens_in.dim() == 2, "Model::forward: tokens are ", tokens_in.str(),
             "; expected i32 [B, T]");
  BatchInfo batch;
  batch.B = tokens_in.size(0);
  batch.T = tokens_in.size(1);
  batch.N = batch.B * batch.T;
  batch.training = training_;
  batch.capacity = capacity;
  batch.device = device_;
  batch.gen = &gen;
  batch.gemm = precision_;
  check_precision("Model::forward", precision_, device_);
  const int64_t B = batch.B, T = batch.T, N = batch.N, D = cfg_.d_model;
  DASG_CHECK(B >= 1 && T >= 1 && T <= cfg_.max_seq_len, "Model::forward: tokens are ", tokens_in.str(),
             "; expected B >= 1 and 1 <= T <= max_seq_len = ", cfg_.max_seq_len);
  DASG_CHECK(!(lengths.defined() && cfg_.causal), "Model::forward: lengths given to a causal model; padding is for "
             "encoders only (causal: false)");
  const Tensor tokens = tokens_in.to(device_);
  batch.length.assign((size_t)B, (int32_t)T);
  if (lengths.defined()) {
    DASG_CHECK(lengths.dtype() == DType::i32 && lengths.shape() == Shape{B}, "Model::forward: lengths are ",
               lengths.str(), "; expected i32 [", B, "]");
    batch.length = lengths.to(kCPU).to_vector<int32_t>();  // input metadata (a copy only if given on a device)
    for (int64_t b = 0; b < B; ++b)
      DASG_CHECK(batch.length[(size_t)b] >= 1 && batch.length[(size_t)b] <= T, "Model::forward: lengths[", b, "] = ",
                 batch.length[(size_t)b], "; expected 1..", T);
    batch.lengths = lengths.to(device_);
  }
  // Host metadata of the batch's shape, uploaded once: the real rows, and the rows whose attention
  // may use more than one key (n_i > 1, the evaluator's counted tokens).
  std::vector<float> real_mask((size_t)N, 0.f), context((size_t)N, 0.f);
  std::vector<int32_t> real_rows;
  const Attention& attn0 = *blocks_.front().attn;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < batch.length[(size_t)b]; ++t) {
      real_mask[(size_t)(b * T + t)] = 1.f;
      real_rows.push_back((int32_t)(b * T + t));
      context[(size_t)(b * T + t)] = attn0.allowed_keys(t, batch.length[(size_t)b], T) > 1 ? 1.f : 0.f;
    }
  batch.n_real = (int64_t)real_rows.size();
  const DType ft = wte_.dtype();
  batch.real_mask = constant_tensor(real_mask, {N, 1}, device_).to(ft);
  if (batch.padded()) batch.real_rows = constant_tensor(real_rows, {batch.n_real}, device_);
  const Tensor has_context = constant_tensor(context, {N}, device_).to(ft);

  ForwardResult r;
  Tensor zero = Tensor::scalar(0, ft, device_);
  r.balance = r.z = r.sparsity = r.ce = zero;
  Tensor x = embedding(wte_, tokens) + embedding(wpe_, Tensor::arange(T, device_));
  x = dropout(x, cfg_.dropout, training_, gen);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& blk = blocks_[l];
    AttentionOutput a = blk.attn->forward(blk.ln1(x), batch, traces ? &(*traces)[l] : nullptr);
    Tensor h = x + dropout(a.out, cfg_.dropout, training_, gen);
    FfnInput in;
    in.x = reshape(blk.ln2(h), {N, D});
    in.C = reshape(a.complexity, {N});
    in.I = reshape(a.importance, {N});
    in.has_context = has_context;
    in.batch = &batch;
    in.deep_active = deep_active_;
    in.exchange = exchange_;
    FfnOutput f = blk.ffn->forward(in);
    x = h + dropout(reshape(f.y, {B, T, D}), cfg_.dropout, training_, gen);
    r.balance = r.balance + f.balance;
    r.z = r.z + f.z;
    r.sparsity = r.sparsity + f.sparsity;
    LayerRouting& lr = f.routing;
    lr.C = a.complexity;
    lr.I = a.importance;
    if (!lr.s.defined()) lr.s = lr.pi = lr.tier = Tensor::zeros({B, T}, ft, device_);
    r.layers.push_back(std::move(lr));
  }
  Tensor xf = ln_f_(x);
  if (cfg_.causal) {
    r.logits = linear(gemm_operand(xf, precision_), gemm_operand(wte_, precision_));  // tied head, [B, T, V]
  } else {
    std::vector<float> pool((size_t)(B * T), 0.f);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < batch.length[(size_t)b]; ++t) pool[(size_t)(b * T + t)] = 1.f / (float)batch.length[(size_t)b];
    r.logits = cls_(reshape(bmm(constant_tensor(pool, {B, 1, T}, device_).to(ft), xf), {B, D}), precision_);  // [B, C]
  }
  if (targets_in.defined()) {
    const Shape want = cfg_.causal ? Shape{B, T} : Shape{B};
    DASG_CHECK(targets_in.dtype() == DType::i32 && targets_in.shape() == want, "Model::forward: targets are ",
               targets_in.str(), "; expected i32 ", shape_str(want), cfg_.causal ? " (next tokens)" : " (class labels)");
    const Tensor targets = targets_in.to(device_);
    Tensor per = cross_entropy(r.logits, targets, -100, Reduction::none);  // 0 where ignored
    if (cfg_.causal) {
      const Tensor counted = greater(targets.to(ft), -0.5);  // targets are >= 0 or the ignored −100
      const Tensor n = sum(counted);
      r.ce = sum(per) / where(greater(n, 0.5), n, 1.0);
      r.row_loss = reshape(per.detach(), {N});
      r.row_has_loss = reshape(counted, {N});
    } else {
      r.ce = sum(per) * (1.0 / (double)B);
      r.row_loss = reshape(reshape(per.detach(), {B, 1}) * Tensor::ones({B, T}, ft, device_), {N});
      r.row_has_loss = Tensor::ones({N}, ft, device_);
    }
    r.token_ce = per.detach();
  }
  r.loss = r.ce + r.balance + r.z + r.sparsity;
  return r;
}

void Model::set_expert_exchange(std::shared_ptr<RowExchange> exchange) {
  if (exchange) {
    const int W = exchange->size();
    DASG_CHECK(cfg_.ffn == "dasg" || cfg_.ffn == "switch", "expert parallel: the FFN is '", cfg_.ffn,
               "'; only dasg and switch have experts to spread over ranks");
    DASG_CHECK(cfg_.moe.n_shallow % W == 0 && (cfg_.ffn == "switch" || cfg_.moe.n_deep % W == 0),
               "expert parallel: moe.n_shallow ", cfg_.moe.n_shallow, cfg_.ffn == "dasg" ? " and moe.n_deep " : "",
               cfg_.ffn == "dasg" ? std::to_string(cfg_.moe.n_deep) : std::string(), " over ", W,
               " ranks; expected a multiple of the number of ranks in each tier");
  }
  exchange_ = std::move(exchange);
}

int Model::expert_rank_of(const std::string& name, int world) const {
  // blocks.<l>.ffn.<tier>.<e>.…: tier "experts" (switch), "shallow" or "deep" (dasg); "shared" is replicated.
  const size_t ffn = name.find(".ffn.");
  if (name.rfind("blocks.", 0) != 0 || ffn == std::string::npos) return -1;
  const size_t tier_at = ffn + 5, dot = name.find('.', tier_at);
  if (dot == std::string::npos) return -1;
  const std::string tier = name.substr(tier_at, dot - tier_at);
  int64_t E = 0;
  if (cfg_.ffn == "switch" && tier == "experts") E = cfg_.moe.n_shallow;
  if (cfg_.ffn == "dasg" && tier == "shallow") E = cfg_.moe.n_shallow;
  if (cfg_.ffn == "dasg" && tier == "deep") E = cfg_.moe.n_deep;
  if (E == 0) return -1;
  const int64_t e = std::stoll(name.substr(dot + 1, name.find('.', dot + 1) - dot - 1));
  return expert_rank(e, E, world);
}

bool Model::reachable(const std::string& name) const {
  if (cfg_.ffn != "dasg" || deep_active_) return true;
  return name.find(".ffn.deep.") == std::string::npos && name.find(".ffn.router.deep.") == std::string::npos;
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
  DASG_CHECK(it == meta.end() || it->second == "true" || it->second == "false", "Model::load: ", path,
             ": __metadata__ deep_active is '", it == meta.end() ? "" : it->second, "'; expected \"true\" or \"false\"");
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
