// tests/fuzz/targets.hpp — the fuzz targets, one per parser of untrusted input. Each takes
// arbitrary bytes; a dasg::Error is the expected answer to bad input and is swallowed; anything
// else — a crash, a sanitizer report, a hang, or a broken property (thrown as
// dasg_fuzz::PropertyFailure) — is a bug. libFuzzer drives them (tests/fuzz/main.cpp,
// tests/fuzz.sh); the normal test suite replays the committed seeds and crashers through the same
// functions (tests/test_model_fuzz_inputs.cpp).
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace dasg_fuzz {

struct PropertyFailure : std::logic_error {
  using std::logic_error::logic_error;
};

int shard(const uint8_t* data, size_t size);        // data/shard: check_shard_image
int safetensors(const uint8_t* data, size_t size);  // model/safetensors_layout
int config(const uint8_t* data, size_t size);       // model/config, config_size
int glue(const uint8_t* data, size_t size);         // data/glue: parse_glue
int gpt2_vocab(const uint8_t* data, size_t size);   // data/gpt2: encoder.json '\0' vocab.bpe
int bpe(const uint8_t* data, size_t size);          // data/gpt2 + bpe_merges on GPT-2's vocabulary

using Target = int (*)(const uint8_t*, size_t);
struct NamedTarget {
  const char* name;
  Target fn;
};
inline constexpr NamedTarget kTargets[] = {{"shard", shard},   {"safetensors", safetensors}, {"config", config},
                                           {"glue", glue},     {"gpt2_vocab", gpt2_vocab},   {"bpe", bpe}};

}  // namespace dasg_fuzz
