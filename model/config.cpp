// Config: JSON → Config with defaults, derived defaults and checks; Config → JSON (DESIGN §6).
#include "model/config.hpp"

#include <cmath>
#include <set>

#include "engine/error.hpp"
#include "engine/json.hpp"

namespace dasg {

namespace {

using nlohmann::json;

// An integer that fits int64 (nlohmann stores 2^63..2^64-1 as unsigned; get<int64_t> would wrap).
bool is_int64(const json& v) {
  return v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX));
}

// Reads the fields of one JSON object, remembering which keys it used, so that finish() can
// reject the rest as unknown. `prefix` is the object's path ("" or "moe.") for messages.
class ObjectReader {
 public:
  ObjectReader(const json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {
    DASG_CHECK(obj.is_object(), "config: ", prefix_.empty() ? std::string("the config") : prefix_.substr(0, prefix_.size() - 1),
               " is ", obj.type_name(), "; expected a JSON object");
  }

  bool has(const char* key) const { return obj_.contains(key); }

  void read(const char* key, int64_t& out) {
    if (const json* v = take(key)) {
      DASG_CHECK(is_int64(*v), "config: ", prefix_, key, " is ", json_excerpt(*v), "; expected an integer");
      out = v->get<int64_t>();
    }
  }
  void read(const char* key, double& out) {
    if (const json* v = take(key)) {
      DASG_CHECK(v->is_number(), "config: ", prefix_, key, " is ", json_excerpt(*v), "; expected a number");
      out = v->get<double>();
    }
  }
  void read(const char* key, bool& out) {
    if (const json* v = take(key)) {
      DASG_CHECK(v->is_boolean(), "config: ", prefix_, key, " is ", json_excerpt(*v), "; expected true or false");
      out = v->get<bool>();
    }
  }
  void read(const char* key, std::string& out) {
    if (const json* v = take(key)) {
      DASG_CHECK(v->is_string(), "config: ", prefix_, key, " is ", json_excerpt(*v), "; expected a string");
      out = v->get<std::string>();
    }
  }
  // An integer or null (null leaves it unset).
  void read(const char* key, std::optional<int64_t>& out) {
    if (const json* v = take(key)) {
      if (v->is_null()) {
        out.reset();
        return;
      }
      DASG_CHECK(is_int64(*v), "config: ", prefix_, key, " is ", json_excerpt(*v), "; expected an integer or null");
      out = v->get<int64_t>();
    }
  }
  // The nested object under key (an empty one when absent).
  ObjectReader nested(const char* key) {
    static const json empty = json::object();
    const json* v = take(key);
    return ObjectReader(v ? *v : empty, prefix_ + key + ".");
  }
  void finish() const {
    for (auto it = obj_.begin(); it != obj_.end(); ++it)
      DASG_CHECK(used_.count(it.key()), "config: unknown key '", prefix_, it.key(), "'");
  }

 private:
  const json* take(const char* key) {
    used_.insert(key);
    auto it = obj_.find(key);
    return it == obj_.end() ? nullptr : &*it;
  }
  const json& obj_;
  std::string prefix_;
  std::set<std::string> used_;
};

void check_positive(const char* key, int64_t v) {
  DASG_CHECK(v >= 1, "config: ", key, " = ", v, "; expected >= 1");
}

// A size field: 1 <= v <= its ceiling (see config.hpp, "Size limits").
void check_size(const char* key, int64_t v, int64_t max) {
  DASG_CHECK(v >= 1 && v <= max, "config: ", key, " = ", v, "; expected 1 <= ", key, " <= ", max);
}

void check_unit(const char* key, double v, bool right_open) {
  DASG_CHECK(v >= 0 && (right_open ? v < 1 : v <= 1), "config: ", key, " = ", v, "; expected in [0, 1",
             right_open ? ")" : "]");
}

}  // namespace

Config Config::from_json(const json& j) {
  Config c;
  ObjectReader r(j, "");
  r.read("vocab_size", c.vocab_size);
  r.read("max_seq_len", c.max_seq_len);
  r.read("d_model", c.d_model);
  r.read("n_layer", c.n_layer);
  r.read("n_head", c.n_head);
  check_size("d_model", c.d_model, kMaxWidth);  // before the derived sizes multiply it
  check_size("max_seq_len", c.max_seq_len, kMaxSeqLen);
  c.d_ff = 4 * c.d_model;
  r.read("d_ff", c.d_ff);
  r.read("dropout", c.dropout);
  r.read("causal", c.causal);
  r.read("n_classes", c.n_classes);
  r.read("attention", c.attention);
  r.read("ffn", c.ffn);

  ObjectReader g = r.nested("gmha");
  g.read("groups", c.gmha.groups);
  check_size("gmha.groups", c.gmha.groups, c.max_seq_len);
  c.gmha.window = c.max_seq_len / c.gmha.groups;
  g.read("window", c.gmha.window);
  c.gmha.group_mlp_hidden = c.d_model / 8;
  g.read("group_mlp_hidden", c.gmha.group_mlp_hidden);
  g.read("aggregate", c.gmha.aggregate);
  g.finish();

  ObjectReader m = r.nested("moe");
  m.read("n_shallow", c.moe.n_shallow);
  m.read("n_deep", c.moe.n_deep);
  c.moe.d_ff = 2 * c.d_model;
  m.read("d_ff", c.moe.d_ff);
  check_size("moe.d_ff", c.moe.d_ff, kMaxHidden);
  c.moe.d_ff_deep = c.moe.d_ff;
  m.read("d_ff_deep", c.moe.d_ff_deep);
  m.read("top_k", c.moe.top_k);
  m.read("dynamic_k", c.moe.dynamic_k);
  m.read("n_shared", c.moe.n_shared);
  m.read("balance_coef", c.moe.balance_coef);
  m.read("z_coef", c.moe.z_coef);
  m.read("capacity_factor", c.moe.capacity_factor);
  m.finish();

  ObjectReader a = r.nested("adr");
  a.read("enabled", c.adr.enabled);
  a.read("theta_s", c.adr.theta_s);
  a.read("theta_d", c.adr.theta_d);
  a.read("alpha", c.adr.alpha);
  a.read("normalize", c.adr.normalize);
  a.read("stats_momentum", c.adr.stats_momentum);
  a.read("task_urgency", c.adr.task_urgency);
  a.read("policy_coef", c.adr.policy_coef);
  a.read("cost_coef", c.adr.cost_coef);
  a.read("baseline_momentum", c.adr.baseline_momentum);
  a.read("explore_eps", c.adr.explore_eps);
  a.read("random", c.adr.random);
  a.finish();

  ObjectReader d = r.nested("dsse");
  d.read("transfer_fraction", c.dsse.transfer_fraction);
  d.read("transfer_step", c.dsse.transfer_step);
  d.finish();

  ObjectReader s = r.nested("dsmoe");
  s.read("blocks", c.dsmoe.blocks);
  s.read("threshold", c.dsmoe.threshold);
  s.read("sparsity_coef", c.dsmoe.sparsity_coef);
  s.finish();

  r.finish();
  c.validate();
  return c;
}

void Config::validate() const {
  check_size("vocab_size", vocab_size, kMaxVocab);
  check_size("max_seq_len", max_seq_len, kMaxSeqLen);
  check_size("d_model", d_model, kMaxWidth);
  check_size("n_layer", n_layer, kMaxLayers);
  check_size("n_head", n_head, d_model);
  check_size("d_ff", d_ff, kMaxHidden);
  DASG_CHECK(d_model % n_head == 0, "config: n_head = ", n_head, " does not divide d_model = ", d_model);
  check_unit("dropout", dropout, true);
  DASG_CHECK(n_classes >= 2 && n_classes <= kMaxVocab, "config: n_classes = ", n_classes, "; expected 2 <= n_classes <= ",
             kMaxVocab);
  DASG_CHECK(attention == "gmha" || attention == "full" || attention == "local", "config: attention = \"", attention,
             "\"; expected \"gmha\", \"full\" or \"local\"");
  DASG_CHECK(ffn == "dasg" || ffn == "dense" || ffn == "switch" || ffn == "dsmoe", "config: ffn = \"", ffn,
             "\"; expected \"dasg\", \"dense\", \"switch\" or \"dsmoe\"");

  check_size("gmha.groups", gmha.groups, max_seq_len);
  DASG_CHECK(max_seq_len % gmha.groups == 0, "config: gmha.groups = ", gmha.groups, " does not divide max_seq_len = ",
             max_seq_len);
  DASG_CHECK(gmha.window >= 1 && gmha.window <= group_len(), "config: gmha.window = ", gmha.window,
             "; expected 1 <= window <= L = max_seq_len / groups = ", group_len());
  DASG_CHECK(gmha.group_mlp_hidden >= 0 && gmha.group_mlp_hidden <= kMaxHidden, "config: gmha.group_mlp_hidden = ",
             gmha.group_mlp_hidden, "; expected 0 <= group_mlp_hidden <= ", kMaxHidden, " (0: off)");

  check_size("moe.n_shallow", moe.n_shallow, kMaxExperts);
  check_size("moe.n_deep", moe.n_deep, kMaxExperts);
  check_size("moe.d_ff", moe.d_ff, kMaxHidden);
  check_size("moe.d_ff_deep", moe.d_ff_deep, kMaxHidden);
  check_positive("moe.top_k", moe.top_k);
  DASG_CHECK(moe.top_k <= moe.n_shallow, "config: moe.top_k = ", moe.top_k, " is larger than moe.n_shallow = ",
             moe.n_shallow);
  DASG_CHECK(moe.top_k <= moe.n_deep, "config: moe.top_k = ", moe.top_k, " is larger than moe.n_deep = ", moe.n_deep);
  DASG_CHECK(moe.n_shared >= 0 && moe.n_shared <= kMaxExperts, "config: moe.n_shared = ", moe.n_shared,
             "; expected 0 <= n_shared <= ", kMaxExperts);
  DASG_CHECK(moe.balance_coef >= 0, "config: moe.balance_coef = ", moe.balance_coef, "; expected >= 0");
  DASG_CHECK(moe.z_coef >= 0, "config: moe.z_coef = ", moe.z_coef, "; expected >= 0");
  DASG_CHECK(moe.capacity_factor > 0, "config: moe.capacity_factor = ", moe.capacity_factor, "; expected > 0");

  check_unit("adr.theta_s", adr.theta_s, false);
  check_unit("adr.theta_d", adr.theta_d, false);
  DASG_CHECK(adr.theta_s <= adr.theta_d, "config: adr.theta_s = ", adr.theta_s, " is larger than adr.theta_d = ",
             adr.theta_d, "; expected 0 <= theta_s <= theta_d <= 1");
  check_unit("adr.alpha", adr.alpha, false);
  check_unit("adr.stats_momentum", adr.stats_momentum, true);
  check_unit("adr.baseline_momentum", adr.baseline_momentum, true);
  check_unit("adr.task_urgency", adr.task_urgency, false);
  DASG_CHECK(adr.explore_eps >= 0 && adr.explore_eps < 0.5, "config: adr.explore_eps = ", adr.explore_eps,
             "; expected in [0, 0.5)");
  DASG_CHECK(adr.policy_coef >= 0, "config: adr.policy_coef = ", adr.policy_coef, "; expected >= 0");
  DASG_CHECK(adr.cost_coef >= 0, "config: adr.cost_coef = ", adr.cost_coef, "; expected >= 0");

  check_unit("dsse.transfer_fraction", dsse.transfer_fraction, false);
  DASG_CHECK(!dsse.transfer_step || *dsse.transfer_step >= 0, "config: dsse.transfer_step = ", *dsse.transfer_step,
             "; expected >= 0 or null");

  check_size("dsmoe.blocks", dsmoe.blocks, d_ff);
  DASG_CHECK(d_ff % dsmoe.blocks == 0, "config: dsmoe.blocks = ", dsmoe.blocks, " does not divide d_ff = ", d_ff);
  check_unit("dsmoe.threshold", dsmoe.threshold, true);
  DASG_CHECK(dsmoe.sparsity_coef >= 0, "config: dsmoe.sparsity_coef = ", dsmoe.sparsity_coef, "; expected >= 0");
}

int64_t Config::dsse_transfer_step(int64_t total_steps) const {
  return dsse.transfer_step ? *dsse.transfer_step : (int64_t)std::llround(dsse.transfer_fraction * (double)total_steps);
}

Config Config::parse(const std::string& text) { return from_json(parse_json(text, "config")); }

Config Config::load(const std::string& path) {
  json j = read_json_file(path);
  try {
    return from_json(j);
  } catch (const Error& e) {
    DASG_FAIL(path, ": ", e.what());
  }
}

json Config::to_json() const {
  json j = json::object();
  j["vocab_size"] = vocab_size;
  j["max_seq_len"] = max_seq_len;
  j["d_model"] = d_model;
  j["n_layer"] = n_layer;
  j["n_head"] = n_head;
  j["d_ff"] = d_ff;
  j["dropout"] = dropout;
  j["causal"] = causal;
  j["n_classes"] = n_classes;
  j["attention"] = attention;
  j["gmha"] = {{"groups", gmha.groups},
               {"window", gmha.window},
               {"group_mlp_hidden", gmha.group_mlp_hidden},
               {"aggregate", gmha.aggregate}};
  j["ffn"] = ffn;
  j["moe"] = {{"n_shallow", moe.n_shallow},       {"n_deep", moe.n_deep},
              {"d_ff", moe.d_ff},                 {"d_ff_deep", moe.d_ff_deep},
              {"top_k", moe.top_k},               {"dynamic_k", moe.dynamic_k},
              {"n_shared", moe.n_shared},         {"balance_coef", moe.balance_coef},
              {"z_coef", moe.z_coef},             {"capacity_factor", moe.capacity_factor}};
  j["adr"] = {{"enabled", adr.enabled},
              {"theta_s", adr.theta_s},
              {"theta_d", adr.theta_d},
              {"alpha", adr.alpha},
              {"normalize", adr.normalize},
              {"stats_momentum", adr.stats_momentum},
              {"task_urgency", adr.task_urgency},
              {"policy_coef", adr.policy_coef},
              {"cost_coef", adr.cost_coef},
              {"baseline_momentum", adr.baseline_momentum},
              {"explore_eps", adr.explore_eps},
              {"random", adr.random}};
  j["dsse"] = {{"transfer_fraction", dsse.transfer_fraction},
               {"transfer_step", dsse.transfer_step ? json(*dsse.transfer_step) : json(nullptr)}};
  j["dsmoe"] = {{"blocks", dsmoe.blocks}, {"threshold", dsmoe.threshold}, {"sparsity_coef", dsmoe.sparsity_coef}};
  return j;
}

}  // namespace dasg
