// Parameter count and memory estimate of a Config, with checked arithmetic (config_size.hpp).
#include "model/config_size.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "engine/error.hpp"

namespace dasg {

int64_t checked_mul(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  DASG_CHECK(!__builtin_mul_overflow(a, b, &r), what, ": size overflows int64 (", a, " x ", b, ")");
  return r;
}

int64_t checked_add(int64_t a, int64_t b, const char* what) {
  int64_t r = 0;
  DASG_CHECK(!__builtin_add_overflow(a, b, &r), what, ": size overflows int64 (", a, " + ", b, ")");
  return r;
}

namespace {

const char* kWhat = "config: parameter count";

// A Linear's weight [out, in] and bias [out].
int64_t linear(int64_t out, int64_t in) { return checked_add(checked_mul(out, in, kWhat), out, kWhat); }

int64_t sum(std::initializer_list<int64_t> xs) {
  int64_t s = 0;
  for (int64_t x : xs) s = checked_add(s, x, kWhat);
  return s;
}

int64_t layer_count(const Config& c) {
  const int64_t D = c.d_model, F = c.moe.d_ff, Fd = c.moe.d_ff_deep;
  int64_t attn = sum({linear(3 * D, D), linear(D, D)});
  if (c.attention == "gmha") {
    if (c.gmha.group_mlp_hidden > 0) {
      const int64_t Hg = c.gmha.group_mlp_hidden;
      attn = sum({attn, checked_mul(c.gmha.groups, sum({linear(Hg, D), linear(D, Hg)}), kWhat)});
    }
    if (c.gmha.aggregate) attn = sum({attn, checked_mul(3, linear(D, D), kWhat)});
  }
  const int64_t shallow = sum({linear(F, D), linear(D, F)});
  int64_t ffn = 0;
  if (c.ffn == "dense") {
    ffn = sum({linear(c.d_ff, D), linear(D, c.d_ff)});
  } else if (c.ffn == "dsmoe") {
    ffn = sum({linear(c.dsmoe.blocks, D), linear(c.d_ff, D), linear(D, c.d_ff)});
  } else if (c.ffn == "switch") {
    ffn = sum({checked_mul(c.moe.n_shallow, D, kWhat), checked_mul(c.moe.n_shallow, shallow, kWhat)});
  } else {  // dasg
    const int64_t deep = sum({linear(F, D), linear(Fd, F), linear(F, Fd), linear(D, F)});
    ffn = sum({checked_mul(c.moe.n_shallow + c.moe.n_deep, D, kWhat),  // the two routers
               D + 3 + 1 + 2,                                          // policy w, v, b; evaluator mean, std
               checked_mul(c.moe.n_shallow + c.moe.n_shared, shallow, kWhat), checked_mul(c.moe.n_deep, deep, kWhat)});
  }
  return sum({4 * D, attn, ffn});  // ln1, ln2
}

}  // namespace

int64_t parameter_count(const Config& c) {
  const int64_t D = c.d_model;
  int64_t n = sum({checked_mul(c.vocab_size, D, kWhat), checked_mul(c.max_seq_len, D, kWhat), 2 * D});
  if (!c.causal) n = sum({n, linear(c.n_classes, D)});
  return sum({n, checked_mul(c.n_layer, layer_count(c), kWhat)});
}

double active_parameters_per_token(const Config& c, const std::vector<double>& deep_rate,
                                   const std::vector<double>& active_blocks) {
  const int64_t D = c.d_model, F = c.moe.d_ff, Fd = c.moe.d_ff_deep, L = c.n_layer;
  const double shallow = (double)sum({linear(F, D), linear(D, F)});
  const double deep = (double)sum({linear(F, D), linear(Fd, F), linear(F, Fd), linear(D, F)});
  double unused = 0;
  if (c.ffn == "dasg") {
    DASG_CHECK((int64_t)deep_rate.size() == L, "active parameters: ", deep_rate.size(), " deep rates for ", L,
               " layers");
    const double ks = (double)std::min(c.moe.top_k, c.moe.n_shallow), kd = (double)std::min(c.moe.top_k, c.moe.n_deep);
    for (double r : deep_rate)
      unused += (double)c.moe.n_shallow * shallow + (double)c.moe.n_deep * deep - (1 - r) * ks * shallow - r * kd * deep;
  } else if (c.ffn == "switch") {
    unused = (double)L * (double)(c.moe.n_shallow - std::min(c.moe.top_k, c.moe.n_shallow)) * shallow;
  } else if (c.ffn == "dsmoe") {
    DASG_CHECK((int64_t)active_blocks.size() == L, "active parameters: ", active_blocks.size(),
               " active-block shares for ", L, " layers");
    for (double a : active_blocks) unused += (1 - a) * (double)(2 * c.d_ff * D + c.d_ff);  // fc1 rows + bias, fc2 columns
  }
  return (double)parameter_count(c) - unused;
}

MemoryEstimate estimate_memory(const Config& c, int64_t batch, int64_t seq_len, int64_t optimizer_slots) {
  const char* what = "memory estimate";
  MemoryEstimate m;
  m.parameters = parameter_count(c);
  m.weight_bytes = checked_mul(m.parameters, 8, what);
  m.optimizer_bytes = checked_mul(m.parameters, checked_mul(4, optimizer_slots, what), what);
  // Activations saved for backward, per token: per layer about 16 D-wide rows (norms, q/k/v,
  // attention output, residuals, group refinement and aggregation) plus the FFN's hidden rows (the
  // experts a token visits: top_k of the deeper tier's F + Fd + F, or the dense/DSMoE d_ff, twice
  // for the activation's input and output); then the logits and their gradient (2·V, or 2·C).
  const int64_t D = c.d_model;
  int64_t hidden = c.d_ff;
  if (c.ffn == "dasg") hidden = checked_mul(c.moe.top_k + c.moe.n_shared, 2 * c.moe.d_ff + c.moe.d_ff_deep, what);
  if (c.ffn == "switch") hidden = c.moe.d_ff;
  const int64_t per_layer = checked_add(checked_mul(16, D, what), checked_mul(2, hidden, what), what);
  int64_t per_token = checked_add(checked_mul(c.n_layer, per_layer, what), 2 * (c.causal ? c.vocab_size : c.n_classes), what);
  m.activation_bytes = checked_mul(checked_mul(checked_mul(batch, seq_len, what), per_token, what), 4, what);
  m.total_bytes = checked_add(checked_add(m.weight_bytes, m.optimizer_bytes, what), m.activation_bytes, what);
  return m;
}

int64_t available_memory_bytes() {
  if (const char* env = std::getenv("DASG_MEMORY_LIMIT"); env && *env) return std::atoll(env);
  int64_t avail = -1;
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit)
    if (key == "MemAvailable:") {
      avail = kb * 1024;
      break;
    }
  std::ifstream cg("/sys/fs/cgroup/memory.max");
  std::string limit;
  if (cg >> limit && limit != "max") {
    int64_t max = std::atoll(limit.c_str());
    std::ifstream cur("/sys/fs/cgroup/memory.current");
    int64_t used = 0;
    if (max > 0 && cur >> used) {
      int64_t left = max - used;
      if (avail < 0 || left < avail) avail = left;
    }
  }
  return avail;
}

namespace {
std::string gib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", (double)bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}
}  // namespace

void check_memory_fits(const MemoryEstimate& m, const std::string& who) {
  const int64_t avail = available_memory_bytes();
  if (avail < 0) return;
  DASG_CHECK(m.total_bytes <= avail, who, ": this run needs about ", gib(m.total_bytes), " (", m.parameters,
             " parameters and their gradients ", gib(m.weight_bytes), ", optimizer state ", gib(m.optimizer_bytes),
             ", activations ", gib(m.activation_bytes), ") but only ", gib(avail),
             " is available; use a smaller config, --batch or --seq-len");
}

}  // namespace dasg
