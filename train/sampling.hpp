// Drawing the next token from one row of logits (`dasg generate`, train/generate.hpp).
#pragma once
#include <cstdint>
#include <span>

#include "engine/rng.hpp"

namespace dasg {

// temperature 0 = greedy (the largest logit, ties to the lower id; nothing drawn). Otherwise the
// candidates are the top_k largest logits (0 = all; ties to the lower id), then of those, by
// decreasing probability p = softmax(logits / temperature), the shortest prefix whose p sum to at
// least top_p (nucleus sampling; 1 = all); one token is drawn from the kept candidates in
// proportion to p, with one gen.next_uniform(). Throws on an empty row, temperature < 0,
// top_k < 0, top_p outside (0, 1], and when no logit is finite.
int32_t sample_next(std::span<const float> logits, double temperature, int64_t top_k, Generator& gen,
                    double top_p = 1.0);

}  // namespace dasg
