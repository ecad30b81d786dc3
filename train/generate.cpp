// The slide rule, the decode session (cached and recompute paths) and the sampling loop (see
// generate.hpp).
#include "train/generate.hpp"

#include <algorithm>
#include <chrono>

#include "autograd/node.hpp"
#include "model/model.hpp"
#include "ops/shape.hpp"

namespace dasg {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::vector<float> host_floats(const Tensor& t) { return t.to(kCPU).to(DType::f32).to_vector<float>(); }

}  // namespace

int64_t slide_tokens(const Config& cfg) { return std::max<int64_t>(1, cfg.gmha.groups / 2) * cfg.group_len(); }

int64_t context_start(int64_t n, const Config& cfg) {
  const int64_t M = cfg.max_seq_len, S = slide_tokens(cfg);
  return n <= M ? 0 : (n - M + S - 1) / S * S;
}

DecodeSession::DecodeSession(Model& model, std::vector<std::vector<int32_t>> prompts, bool cache, Generator& gen)
    : model_(model), gen_(gen), cache_(cache), seqs_(std::move(prompts)) {
  const Config& cfg = model.config();
  DASG_CHECK(cfg.causal, "DecodeSession: the model is an encoder (causal false); generation needs a causal model");
  DASG_CHECK(!seqs_.empty(), "DecodeSession: no prompt (expected at least one)");
  vocab_ = cfg.vocab_size;
  for (size_t b = 0; b < seqs_.size(); ++b) {
    DASG_CHECK(!seqs_[b].empty(), "DecodeSession: prompt ", b, " is empty (it must hold at least one token)");
    for (int32_t t : seqs_[b])
      DASG_CHECK(t >= 0 && t < cfg.vocab_size, "DecodeSession: prompt ", b, " holds token ", t,
                 ", outside the vocabulary 0..", cfg.vocab_size - 1);
  }
  model_.train(false);
  model_.set_capacity(false);
  NoGradGuard no_grad;
  const int64_t B = batch();
  if (cache_) state_ = model_.start_decode(B);
  logits_.assign((size_t)(B * vocab_), 0.f);
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<int32_t>& s = seqs_[(size_t)b];
    start_.push_back(dasg::context_start((int64_t)s.size(), cfg));
    const Tensor row = cache_ ? model_.prefill(state_, b, std::vector<int32_t>(s.begin() + start_.back(), s.end()), gen_)
                              : context_logits(b);
    const std::vector<float> h = host_floats(row);  // the prefill's one copy to the host
    std::copy(h.begin(), h.end(), logits_.begin() + b * vocab_);
  }
}

DecodeSession::~DecodeSession() { model_.set_capacity(true); }

Tensor DecodeSession::context_logits(int64_t b) {
  const std::vector<int32_t>& s = seqs_[(size_t)b];
  const int64_t T = (int64_t)s.size() - start_[(size_t)b];
  const Tensor ctx = Tensor::from_vector(std::vector<int32_t>(s.end() - T, s.end()), {1, T});
  return reshape(slice(model_.forward(ctx, Tensor(), Tensor(), gen_).logits, 1, T - 1, 1), {vocab_});
}

void DecodeSession::append(const std::vector<int32_t>& tokens) {
  const int64_t B = batch();
  DASG_CHECK((int64_t)tokens.size() == B, "DecodeSession::append: ", tokens.size(), " tokens for ", B,
             " sequences; expected one each");
  NoGradGuard no_grad;
  for (int64_t b = 0; b < B; ++b) {
    DASG_CHECK(tokens[(size_t)b] >= 0 && tokens[(size_t)b] < vocab_, "DecodeSession::append: token ",
               tokens[(size_t)b], " of sequence ", b, " is outside the vocabulary 0..", vocab_ - 1);
    std::vector<int32_t>& s = seqs_[(size_t)b];
    s.push_back(tokens[(size_t)b]);
    const int64_t start = dasg::context_start((int64_t)s.size(), model_.config());
    if (start == start_[(size_t)b]) continue;
    // Slide: rebuild b's state from the context without its newest token, which the step adds.
    start_[(size_t)b] = start;
    ++slides_;
    if (cache_) model_.prefill(state_, b, std::vector<int32_t>(s.begin() + start, s.end() - 1), gen_);
  }
  if (cache_) {
    logits_ = host_floats(model_.step(state_, tokens, gen_));  // the step's one copy to the host
    return;
  }
  for (int64_t b = 0; b < B; ++b) {
    const std::vector<float> h = host_floats(context_logits(b));
    std::copy(h.begin(), h.end(), logits_.begin() + b * vocab_);
  }
}

std::vector<std::vector<int32_t>> generate_batch(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& o, GenerateStats* stats) {
  const Config& cfg = model.config();
  DASG_CHECK(cfg.causal, "generate: the model is an encoder (causal false); generation needs a causal model");
  DASG_CHECK(o.tokens >= 0, "generate: tokens ", o.tokens, "; expected >= 0");
  for (const std::vector<int32_t>& p : prompts)
    DASG_CHECK(!p.empty(), "generate: the prompt is empty (it must hold at least one token)");
  const int64_t V = o.vocab_limit > 0 ? std::min(o.vocab_limit, cfg.vocab_size) : cfg.vocab_size;
  Generator gen(o.seed), model_gen(o.seed);  // sampling; the model's own draws (adr.random)
  GenerateStats st;
  auto t0 = std::chrono::steady_clock::now();
  DecodeSession session(model, prompts, o.cache, model_gen);
  st.prefill_s = seconds_since(t0);
  for (const std::vector<int32_t>& p : prompts) st.prefill_tokens += std::min<int64_t>((int64_t)p.size(), cfg.max_seq_len);
  const int64_t B = session.batch();
  std::vector<std::vector<int32_t>> out = prompts;
  std::vector<bool> done((size_t)B, o.tokens == 0);
  t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < o.tokens; ++i) {
    std::vector<int32_t> next((size_t)B);
    for (int64_t b = 0; b < B; ++b) {
      std::span<const float> row(session.logits().data() + b * session.vocab(), (size_t)V);
      next[(size_t)b] = sample_next(row, o.temperature, o.top_k, gen, o.top_p);
      if (done[(size_t)b]) continue;
      out[(size_t)b].push_back(next[(size_t)b]);
      ++st.decode_tokens;
      const bool stop_string = o.on_token && o.on_token(b, next[(size_t)b]);
      done[(size_t)b] = stop_string || next[(size_t)b] == o.stop_token;
    }
    if (i + 1 == o.tokens || std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    session.append(next);
  }
  st.decode_s = seconds_since(t0);
  st.slides = session.slides();
  st.state_bytes = session.state().nbytes();
  if (stats) *stats = st;
  return out;
}

std::vector<int32_t> generate(Model& model, std::vector<int32_t> prompt, const GenerateOptions& o) {
  return generate_batch(model, {std::move(prompt)}, o)[0];
}

}  // namespace dasg
