// Sampling text from a causal model (`dasg generate`): one token at a time, each step running
// the model on the context cropped to its last max_seq_len tokens (DESIGN §7: groups are fixed
// spans, so any length up to max_seq_len works), in evaluation mode and with Switch capacity off
// (§7.6), and drawing the next token from the last position's logits.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "engine/rng.hpp"

namespace dasg {

class Model;

// The next token from one row of logits: temperature 0 = greedy (the largest logit, ties to the
// lower id); otherwise softmax(logits / temperature) over the top_k largest logits (0 = all; ties
// to the lower id), drawn with one gen.next_uniform(). Throws on an empty row, temperature < 0 or
// top_k < 0, and when no logit is finite.
int32_t sample_next(std::span<const float> logits, double temperature, int64_t top_k, Generator& gen);

struct GenerateOptions {
  int64_t tokens = 200;      // how many tokens to append
  double temperature = 1.0;  // 0 = greedy
  int64_t top_k = 0;         // 0 = the whole vocabulary
  uint64_t seed = 1337;      // the sampling stream (and the model's generator, for adr.random)
  int64_t vocab_limit = 0;   // sample only ids below this (the tokenizer's vocabulary; 0 = all)
};

// prompt followed by o.tokens sampled tokens. The same (model, prompt, options) give the same
// tokens. The model is left in evaluation mode with capacity back on; its generator is reseeded
// with o.seed. Throws for an encoder model, an empty prompt or a token outside the vocabulary.
std::vector<int32_t> generate(Model& model, std::vector<int32_t> prompt, const GenerateOptions& o);

}  // namespace dasg
