// Config: the model's configuration (DESIGN §6) — read from one JSON object, every field with a
// default, every value checked. Derived defaults (d_ff = 4·d_model, moe.d_ff = 2·d_model,
// moe.d_ff_deep = moe.d_ff, gmha.window = L = max_seq_len / groups, gmha.group_mlp_hidden =
// d_model / 8) are resolved when the JSON is read, so a Config in hand holds plain numbers;
// the member initialisers below are those values for the default sizes, so Config{} is valid.
// Unknown keys (nested ones too), wrong types and out-of-range values throw dasg::Error naming
// the key, e.g. "config: moe.top_k = 9 is larger than moe.n_shallow = 8".
//
// Size limits: every size field has a ceiling (below), so no size computation derived from a
// config can overflow int64 unchecked, and a config with 10^6 experts or 10^7 layers is refused
// by `dasg config --check` rather than by the kernel's OOM killer. The ceilings are far above any
// model this engine trains; model/config_size.hpp counts parameters with checked arithmetic and
// estimates a run's memory against the machine's.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace dasg {

constexpr int64_t kMaxVocab = int64_t(1) << 24;   // vocab_size, n_classes
constexpr int64_t kMaxSeqLen = int64_t(1) << 20;  // max_seq_len
constexpr int64_t kMaxWidth = int64_t(1) << 20;   // d_model
constexpr int64_t kMaxHidden = int64_t(1) << 22;  // d_ff, moe.d_ff, moe.d_ff_deep, gmha.group_mlp_hidden
constexpr int64_t kMaxLayers = 1024;              // n_layer
constexpr int64_t kMaxExperts = 4096;             // moe.n_shallow, moe.n_deep, moe.n_shared

struct GmhaConfig {
  int64_t groups = 16;
  int64_t window = 16;           // derived: L = max_seq_len / groups
  int64_t group_mlp_hidden = 8;  // derived: d_model / 8; 0 turns the per-group MLPs off
  bool aggregate = true;
};

struct MoeConfig {
  int64_t n_shallow = 8;
  int64_t n_deep = 8;
  int64_t d_ff = 128;       // derived: 2·d_model
  int64_t d_ff_deep = 128;  // derived: moe.d_ff
  int64_t top_k = 2;
  bool dynamic_k = false;
  int64_t n_shared = 0;
  double balance_coef = 0.01;
  double z_coef = 0.001;
  double capacity_factor = 1.25;  // switch only
};

struct AdrConfig {
  bool enabled = true;
  double theta_s = 0.3;
  double theta_d = 0.7;
  double alpha = 0.5;
  bool normalize = true;
  double stats_momentum = 0.99;
  double task_urgency = 0.5;
  double policy_coef = 1.0;
  double cost_coef = 0.1;
  double baseline_momentum = 0.9;
  double explore_eps = 0.05;
  bool random = false;
};

struct DsseConfig {
  double transfer_fraction = 0.25;
  std::optional<int64_t> transfer_step;  // absolute; overrides the fraction; 0 = at initialisation
};

struct DsmoeConfig {
  int64_t blocks = 8;
  double threshold = 0.5;
  double sparsity_coef = 1.0;
};

struct Config {
  int64_t vocab_size = 256;
  int64_t max_seq_len = 256;
  int64_t d_model = 64;
  int64_t n_layer = 2;
  int64_t n_head = 4;
  int64_t d_ff = 256;  // derived: 4·d_model (dense, dsmoe)
  double dropout = 0;
  bool causal = true;     // false: encoder with a classification head
  int64_t n_classes = 2;  // encoder only
  std::string attention = "gmha";  // "gmha", "full", "local"
  GmhaConfig gmha;
  std::string ffn = "dasg";  // "dasg", "dense", "switch", "dsmoe"
  MoeConfig moe;
  AdrConfig adr;
  DsseConfig dsse;
  DsmoeConfig dsmoe;

  // The group length L = max_seq_len / gmha.groups.
  int64_t group_len() const { return max_seq_len / gmha.groups; }
  int64_t head_dim() const { return d_model / n_head; }
  // The step of the DSSE transfer in a run of total_steps: dsse.transfer_step when set, else
  // round(transfer_fraction · total_steps).
  int64_t dsse_transfer_step(int64_t total_steps) const;

  // Reads a JSON object; absent keys take their defaults. Throws dasg::Error naming the key.
  static Config from_json(const nlohmann::json& j);
  // JSON text (nesting depth limited, engine/json.hpp); errors start "config: ".
  static Config parse(const std::string& text);
  static Config load(const std::string& path);  // a JSON file; errors name the file
  // Every field, derived ones resolved (dsse.transfer_step is null when unset).
  nlohmann::json to_json() const;
  // Re-checks every constraint (from_json calls it; call it after editing fields in code).
  void validate() const;
};

}  // namespace dasg
