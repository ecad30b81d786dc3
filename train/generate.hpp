// Generating text from a causal model (`dasg generate`, `dasg bench generate`): B sequences
// advanced one token at a time, in evaluation mode with Switch capacity off (DESIGN §7.6).
//
// Two paths compute the same logits (to round-off) under the same slide rule:
//   cached (default): one forward over each prompt fills the model's decode state (prefill,
//     model/decode_state.hpp), then every token is one Model::step for all B sequences — a
//     bounded amount of work and memory per token, nothing proportional to the text's length;
//   recompute: a full forward over each sequence's context for every token (the reference).
//
// The slide rule. Positions are learned and absolute, so a context cannot shift by one token
// without recomputing it. A sequence of n tokens has the context tokens[start(n), n):
//   start(n) = 0 for n ≤ M = max_seq_len, else ⌈(n − M)/S⌉·S,  S = max(1, ⌊G/2⌋)·L
// (G = gmha.groups, L = M/G): when the context is full and a token arrives, the oldest half of
// the groups (at least one group) is dropped and the cached path rebuilds the state from the
// remaining M − S tokens by one prefill, then steps the new token. Whole groups keep every
// remaining token's group and window neighbours; dropping half (as llama.cpp's context shift
// does) makes the rebuild cost one forward of M − S tokens every S tokens, amortised ≈ one
// batched token per generated token. With G = 1 the context restarts from the newest token.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/rng.hpp"
#include "model/decode_state.hpp"
#include "train/sampling.hpp"

namespace dasg {

class Model;
struct Config;

// S of the slide rule, and start(n).
int64_t slide_tokens(const Config& cfg);
int64_t context_start(int64_t n, const Config& cfg);

// B sequences, each a prompt and the tokens appended to it, with the logits of each one's next
// token. Puts the model in evaluation mode with capacity off for its lifetime (capacity back on
// at the end). The same (model, prompts) give the same logits on either path, to round-off —
// except under adr.random, whose routing draws depend on how the tokens are batched.
class DecodeSession {
 public:
  DecodeSession(Model& model, std::vector<std::vector<int32_t>> prompts, bool cache, Generator& model_gen);
  ~DecodeSession();
  DecodeSession(const DecodeSession&) = delete;
  DecodeSession& operator=(const DecodeSession&) = delete;

  int64_t batch() const { return (int64_t)seqs_.size(); }
  int64_t vocab() const { return vocab_; }
  // Host logits of every sequence's next token, [B·V] (row b at b·V).
  const std::vector<float>& logits() const { return logits_; }
  // Appends tokens[b] to sequence b, sliding contexts by the rule, and computes the next logits:
  // one Model::step for all B (cached; a sequence that slid is re-prefilled first) or B forwards.
  void append(const std::vector<int32_t>& tokens);
  const std::vector<int32_t>& tokens(int64_t b) const { return seqs_[(size_t)b]; }
  int64_t context_start(int64_t b) const { return start_[(size_t)b]; }
  const DecodeState& state() const { return state_; }  // empty on the recompute path
  int64_t slides() const { return slides_; }

 private:
  Tensor context_logits(int64_t b);  // recompute: forward over sequence b's context, last row [V]

  Model& model_;
  Generator& gen_;
  bool cache_;
  int64_t vocab_ = 0, slides_ = 0;
  std::vector<std::vector<int32_t>> seqs_;
  std::vector<int64_t> start_;
  DecodeState state_;
  std::vector<float> logits_;
};

struct GenerateOptions {
  int64_t tokens = 200;      // how many tokens to append to each prompt (fewer when stopped)
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = the whole vocabulary
  double top_p = 1.0;        // nucleus: 1 = every candidate
  uint64_t seed = 1337;      // the sampling stream (and the model's generator, for adr.random)
  int64_t vocab_limit = 0;   // sample only ids below this (the tokenizer's vocabulary; 0 = all)
  int32_t stop_token = -1;   // a sequence stops after producing this token (−1: none)
  bool cache = true;         // false: the recompute path
  // Called for each token a sequence produces, in order (streaming); returning true stops that
  // sequence after this token (a stop string). Optional.
  std::function<bool(int64_t seq, int32_t token)> on_token;
};

// Timings of one generate_batch call (seconds, wall clock; the logits copy to the host ends
// each prefill and step, so device work is included).
struct GenerateStats {
  int64_t prefill_tokens = 0, decode_tokens = 0, slides = 0;
  double prefill_s = 0, decode_s = 0;  // decode: sampling, steps and the slides' re-prefills
  size_t state_bytes = 0;              // the decode state's tensors (0 on the recompute path)
};

// Each prompt followed by the tokens sampled for it, up to o.tokens or its stop. Sequences are
// sampled in order b = 0..B−1 at each step from one stream seeded with o.seed, so the same
// (model, prompts, options) give the same tokens. A sequence that stopped is still advanced
// (its further tokens are not returned) until every one has stopped. Throws for an encoder, an
// empty prompt or a token outside the vocabulary.
std::vector<std::vector<int32_t>> generate_batch(Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                                 const GenerateOptions& o, GenerateStats* stats = nullptr);
// One prompt: generate_batch({prompt}, o)[0].
std::vector<int32_t> generate(Model& model, std::vector<int32_t> prompt, const GenerateOptions& o);

}  // namespace dasg
