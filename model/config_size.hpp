// How big a configured model is, and whether a run of it fits the machine — computed from the
// Config alone, before anything is allocated, with every product and sum checked for overflow.
//   parameter_count: the elements of every tensor DESIGN §8 names for this config (parameters and
//     buffers; a test checks it against the Model's own count for every preset).
//   estimate_memory: the bytes a training run holds at its peak, roughly:
//     parameters, their gradients and the optimizer's moments (f32: 4 + 4 + 8 bytes each), plus
//     the activations kept for backward, B·T tokens × per-token bytes (see config_size.cpp).
//   check_memory_fits: throws when the estimate exceeds the available memory (MemAvailable from
//     /proc/meminfo, or the cgroup's limit, whichever is lower), naming each part and the fix.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.hpp"

namespace dasg {

// a·b and a + b, or dasg::Error "<what>: size overflows int64 (a x b)" when they overflow.
int64_t checked_mul(int64_t a, int64_t b, const char* what);
int64_t checked_add(int64_t a, int64_t b, const char* what);

int64_t parameter_count(const Config& cfg);

// Parameters one token's forward uses, on average: parameter_count less the experts a token is not
// routed to (embedding tables, norms, attention, routers and the policy counted whole). Per layer
// l: dasg, the shared experts plus min(top_k, n_shallow) shallow ones with probability
// 1 − deep_rate[l] and min(top_k, n_deep) deep ones with deep_rate[l] (moe.dynamic_k: top_k is
// the bound, not the mean); switch, top_k of n_shallow; dsmoe, fc1's rows and fc2's columns in
// the share active_blocks[l] of open gates; dense, all. The rate vectors need n_layer entries
// where the FFN kind reads them (dasg: deep_rate, dsmoe: active_blocks), else throw.
double active_parameters_per_token(const Config& cfg, const std::vector<double>& deep_rate,
                                   const std::vector<double>& active_blocks);

struct MemoryEstimate {
  int64_t parameters = 0;   // elements
  int64_t weight_bytes = 0;  // parameters + gradients
  int64_t optimizer_bytes = 0;
  int64_t activation_bytes = 0;
  int64_t total_bytes = 0;
};

// `optimizer_slots`: f32 moments per parameter (AdamW 2, SGD with momentum 1).
MemoryEstimate estimate_memory(const Config& cfg, int64_t batch, int64_t seq_len, int64_t optimizer_slots = 2);

// Bytes the process may still allocate (MemAvailable, capped by a cgroup v2 memory.max), or -1
// when neither can be read. $DASG_MEMORY_LIMIT (bytes) overrides both (tests use it).
int64_t available_memory_bytes();

// Throws dasg::Error "<who>: this run needs about 14.2 GiB (...) but 3.1 GiB is available; ..."
// when the estimate exceeds the available memory; does nothing when that is unknown.
void check_memory_fits(const MemoryEstimate& need, const std::string& who);

}  // namespace dasg
