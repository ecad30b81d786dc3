// Incremental decoding: prefill and step of the whole model (DESIGN §7.1, §7.2; issue 15).
//   prefill(b, tokens[0..T)):  forward over [1, T] (the ordinary one, Switch capacity off), whose
//                              per-layer traces fill sequence b's state for position T.
//   step(tokens [B]):          at position t_b of every sequence b,
//     x = wte[token_b] + wpe[t_b]                                             [B, D]
//     per layer: h = x + Attention::step(LN1(x));  x = h + FFN(LN2(h))       (rows alone)
//     logits = LN_f(x)·wteᵀ                                                   [B, V]
// Under mixed precision (Model::set_precision) the step's GEMMs take bf16 operands as forward's do.
// The FFN is the very forward of model/ffn.cpp on a batch of B one-token rows (without its
// auxiliary losses and routing statistics, BatchInfo::aux): in evaluation
// mode every FFN kind routes each row by itself — dasg's tier from the token's own C, I and the
// frozen evaluator statistics (π ≥ 0.5 in the middle band), its local top-k, dense, dsmoe's
// thresholded gates, Switch's top-1 without capacity — so a row's output is the one it has in
// the full forward.
#include <algorithm>

#include "model/model.hpp"
#include "ops/elementwise.hpp"
#include "ops/embedding.hpp"
#include "ops/matmul.hpp"
#include "ops/shape.hpp"

namespace dasg {

size_t DecodeState::nbytes() const {
  size_t n = 0;
  for (const LayerDecodeState& l : layers)
    for (const Tensor* t : {&l.keys, &l.values, &l.group_sum, &l.agg_keys, &l.agg_values})
      if (t->defined()) n += t->nbytes();
  return n;
}

DecodeState Model::start_decode(int64_t batch) const {
  DASG_CHECK(cfg_.causal, "Model::start_decode: the model is an encoder (causal false); incremental decoding needs "
             "a causal model");
  DASG_CHECK(batch >= 1, "Model::start_decode: batch ", batch, "; expected >= 1");
  DecodeState st;
  st.batch = batch;
  st.cap = blocks_.front().attn->cache_len();
  st.next.assign((size_t)batch, 0);
  for (const Block& blk : blocks_) st.layers.push_back(blk.attn->decode_state(batch, device_, wte_.dtype()));
  return st;
}

Tensor Model::prefill(DecodeState& st, int64_t b, const std::vector<int32_t>& tokens, Generator& gen) const {
  DASG_CHECK(!training_, "Model::prefill: the model is in training mode; decoding runs in evaluation mode "
             "(model.train(false))");
  DASG_CHECK(b >= 0 && b < st.batch && st.layers.size() == blocks_.size(), "Model::prefill: sequence ", b,
             " of a state for ", st.batch, " sequences and ", st.layers.size(), " layers; this model has ",
             blocks_.size());
  const int64_t T = (int64_t)tokens.size();
  DASG_CHECK(T <= cfg_.max_seq_len, "Model::prefill: ", T, " tokens; a context holds at most max_seq_len = ",
             cfg_.max_seq_len, " (slide it first)");
  std::vector<AttentionTrace> traces(blocks_.size());
  Tensor logits;
  if (T > 0) {
    ForwardResult r = run(Tensor::from_vector(tokens, {1, T}), Tensor(), Tensor(), gen, false, &traces);
    logits = reshape(slice(r.logits, 1, T - 1, 1), {cfg_.vocab_size});
  }
  for (size_t l = 0; l < blocks_.size(); ++l) blocks_[l].attn->prefill_state(traces[l], b, T, st.layers[l], precision_);
  st.next[(size_t)b] = T;
  return logits;
}

Tensor Model::step(DecodeState& st, const std::vector<int32_t>& tokens, Generator& gen) const {
  DASG_CHECK(!training_, "Model::step: the model is in training mode; decoding runs in evaluation mode "
             "(model.train(false))");
  const int64_t B = st.batch;
  DASG_CHECK((int64_t)tokens.size() == B && st.layers.size() == blocks_.size(), "Model::step: ", tokens.size(),
             " tokens for a state of ", B, " sequences and ", st.layers.size(), " layers; expected one token per "
             "sequence and ", blocks_.size(), " layers");
  std::vector<int32_t> pos32((size_t)B);
  std::vector<float> context((size_t)B);
  const Attention& attn0 = *blocks_.front().attn;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t t = st.next[(size_t)b];
    DASG_CHECK(tokens[(size_t)b] >= 0 && tokens[(size_t)b] < cfg_.vocab_size, "Model::step: token ", tokens[(size_t)b],
               " of sequence ", b, " is outside the vocabulary 0..", cfg_.vocab_size - 1);
    DASG_CHECK(t < cfg_.max_seq_len, "Model::step: sequence ", b, " already holds max_seq_len = ", cfg_.max_seq_len,
               " tokens; slide its context first (train/generate.hpp)");
    pos32[(size_t)b] = (int32_t)t;
    context[(size_t)b] = attn0.allowed_keys(t, t + 1, t + 1) > 1 ? 1.f : 0.f;
  }
  // The FFNs' batch: B real one-token rows, evaluation mode, no capacity.
  BatchInfo batch;
  batch.B = B;
  batch.T = 1;
  batch.N = B;
  batch.training = false;
  batch.capacity = false;
  batch.aux = false;  // no loss or routing record is wanted from a decoding step
  batch.device = device_;
  batch.gemm = precision_;
  check_precision("Model::step", precision_, device_);
  batch.gen = &gen;
  batch.length.assign((size_t)B, 1);
  batch.n_real = B;
  const DType ft = wte_.dtype();
  batch.real_mask = Tensor::ones({B, 1}, ft, device_);
  const Tensor has_context = constant_tensor(context, {B}, device_).to(ft);
  const std::vector<int64_t> pos(st.next.begin(), st.next.end());

  Tensor x = embedding(wte_, constant_tensor(tokens, {B}, device_)) + embedding(wpe_, constant_tensor(pos32, {B}, device_));
  for (size_t l = 0; l < blocks_.size(); ++l) {
    const Block& blk = blocks_[l];
    AttentionOutput a = blk.attn->step(blk.ln1(x), pos, st.layers[l], precision_);
    const Tensor h = x + a.out;
    FfnInput in;
    in.x = blk.ln2(h);
    in.C = a.complexity;
    in.I = a.importance;
    in.has_context = has_context;
    in.batch = &batch;
    in.deep_active = deep_active_;
    x = h + blk.ffn->forward(in).y;
  }
  for (int64_t& t : st.next) ++t;
  return linear(gemm_operand(ln_f_(x), precision_), gemm_operand(wte_, precision_));  // [B, V], the tied head
}

}  // namespace dasg
