// Atomic, validated checkpoint directories (see checkpoint.hpp).
#include "train/checkpoint.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "engine/error.hpp"
#include "engine/json.hpp"
#include "model/model.hpp"
#include "model/safetensors.hpp"

namespace fs = std::filesystem;

namespace dasg {

namespace {

bool complete(const fs::path& d) {
  std::error_code ec;
  return fs::is_regular_file(d / "model.safetensors", ec) && fs::is_regular_file(d / "optim.safetensors", ec) &&
         fs::is_regular_file(d / "state.json", ec);
}

std::string file(const fs::path& d, const char* name) { return (d / name).string(); }

// Reads and validates the checkpoint in exactly directory d.
Checkpoint load_exact(const fs::path& d, bool reset_optimizer, bool with_optimizer) {
  DASG_CHECK(complete(d), "checkpoint: '", d.string(), "' holds no complete checkpoint (expected model.safetensors, "
             "optim.safetensors and state.json)");
  Checkpoint ckpt;
  ckpt.dir = d.string();
  SafetensorsFile model = read_safetensors(file(d, "model.safetensors"));
  ckpt.model = std::move(model.tensors);
  ckpt.model_metadata = std::move(model.metadata);
  if (reset_optimizer || !with_optimizer) {
    ckpt.optimizer_reset = reset_optimizer;
  } else {
    SafetensorsFile optim = read_safetensors(file(d, "optim.safetensors"));
    for (auto& [name, t] : optim.tensors) ckpt.optim[name] = t;
    ckpt.optim_steps = optim.metadata_int("steps", 0, INT64_MAX);
    if (optim.metadata.count("tensors"))
      DASG_CHECK(optim.metadata_int("tensors", 0, INT64_MAX) == (int64_t)optim.tensors.size(), optim.path, ": holds ",
                 optim.tensors.size(), " tensors but its __metadata__ 'tensors' says ", optim.metadata.at("tensors"),
                 "; the file lost optimizer state (pass --reset-optimizer to start the moments from zero)");
  }
  ckpt.state = read_json_file(file(d, "state.json"));
  validate_checkpoint(ckpt, d.string());
  ckpt.train = read_train_state(ckpt.state, file(d, "state.json"));
  return ckpt;
}

// DIR, or DIR.old when DIR is incomplete or invalid and DIR.old is good (with a warning).
Checkpoint load_with_fallback(const std::string& dir, bool reset_optimizer, bool with_optimizer) {
  const fs::path d(dir), old(dir + ".old");
  std::string why;
  try {
    return load_exact(d, reset_optimizer, with_optimizer);
  } catch (const Error& e) {
    if (!complete(old)) throw;
    why = e.what();
  }
  try {
    Checkpoint c = load_exact(old, reset_optimizer, with_optimizer);
    std::fprintf(stderr, "checkpoint: warning: '%s' is unusable (%s); using the previous checkpoint '%s'\n", dir.c_str(),
                 why.c_str(), old.string().c_str());
    return c;
  } catch (const Error& e) {
    DASG_FAIL("checkpoint: '", dir, "' is unusable (", why, ") and so is '", old.string(), "' (", e.what(), ")");
  }
}

void check_finite_map(const std::map<std::string, Tensor>& tensors, const std::string& path) {
  std::vector<std::pair<std::string, Tensor>> v(tensors.begin(), tensors.end());
  check_all_finite(v, path);
}

}  // namespace

TrainState read_train_state(const nlohmann::json& state, const std::string& where) {
  TrainState s;
  DASG_CHECK(state.is_object(), where, ": expected a JSON object, got ", state.type_name());
  s.step = json_int(state, "step", where, 0, INT64_MAX);
  s.skipped_steps = json_int(state, "skipped_steps", where, 0, s.step);
  const nlohmann::json& rng = json_object(state, "rng", where);
  s.rng_seed = json_uint(rng, "seed", where + ": rng");
  s.rng_offset = json_uint(rng, "offset", where + ": rng");
  s.loader = json_object(state, "loader", where);
  s.adr = json_array(state, "adr", where);
  for (size_t l = 0; l < s.adr.size(); ++l) {
    const std::string at = where + ": adr[" + std::to_string(l) + "]";
    json_bool(s.adr[l], "stats_set", at);
    json_bool(s.adr[l], "baseline_set", at);
    json_number(s.adr[l], "baseline", at);
  }
  return s;
}

void validate_checkpoint(const Checkpoint& ckpt, const std::string& dir) {
  const fs::path d(dir);
  const std::string model_path = file(d, "model.safetensors"), optim_path = file(d, "optim.safetensors");
  auto cfg_text = ckpt.model_metadata.find("config");
  DASG_CHECK(cfg_text != ckpt.model_metadata.end(), model_path, ": __metadata__ has no 'config'; expected the model "
             "configuration as JSON");
  Config cfg;
  try {
    cfg = Config::parse(cfg_text->second);
  } catch (const Error& e) {
    DASG_FAIL(model_path, ": __metadata__ 'config': ", e.what());
  }
  SafetensorsFile meta{model_path, {}, ckpt.model_metadata};
  const bool deep_active = meta.metadata_flag("deep_active", true);

  // Exactly the model's tensors, with its shapes and dtypes, all finite.
  Model expected(cfg);
  std::map<std::string, const NamedTensor*> want;
  for (const NamedTensor& e : expected.parameters().all()) want[e.name] = &e;
  std::set<std::string> seen;
  for (const auto& [name, t] : ckpt.model) {
    auto it = want.find(name);
    DASG_CHECK(it != want.end(), model_path, ": unexpected tensor '", name, "' (not a parameter of the model its "
               "config describes)");
    DASG_CHECK(t.shape() == it->second->tensor.shape() && t.dtype() == it->second->tensor.dtype(), model_path,
               ": tensor '", name, "' is ", t.str(), "; the config needs ", it->second->tensor.str());
    seen.insert(name);
  }
  for (const auto& [name, e] : want)
    DASG_CHECK(seen.count(name), model_path, ": missing tensor '", name, "' (the config needs it)");
  check_all_finite(ckpt.model, model_path);

  // Optimizer state: "<slot>.<parameter>" for trainable parameters, same shapes, finite; every
  // parameter with some state has every slot the file uses.
  if (ckpt.optimizer_reset) return;
  DASG_CHECK(ckpt.optim_steps >= 0, optim_path, ": step count ", ckpt.optim_steps, "; expected an integer >= 0");
  std::set<std::string> slots;
  std::map<std::string, std::set<std::string>> slots_of;
  for (const auto& [key, t] : ckpt.optim) {
    const size_t dot = key.find('.');
    DASG_CHECK(dot != std::string::npos && dot > 0, optim_path, ": tensor '", key, "' is not named <slot>.<parameter>");
    const std::string slot = key.substr(0, dot), name = key.substr(dot + 1);
    auto it = want.find(name);
    DASG_CHECK(it != want.end() && !it->second->buffer, optim_path, ": tensor '", key, "' names no trainable parameter "
               "of the model");
    DASG_CHECK(t.shape() == it->second->tensor.shape(), optim_path, ": tensor '", key, "' is ", t.str(),
               "; its parameter is ", it->second->tensor.str());
    slots.insert(slot);
    slots_of[name].insert(slot);
  }
  for (const auto& [name, have] : slots_of)
    for (const std::string& slot : slots)
      DASG_CHECK(have.count(slot), optim_path, ": missing tensor '", slot, ".", name, "' (the other moments of '", name,
                 "' are present); pass --reset-optimizer to start the optimizer state from zero");
  DASG_CHECK(ckpt.optim.empty() || ckpt.optim_steps > 0, optim_path, ": holds optimizer state but its step count is 0");
  check_finite_map(ckpt.optim, optim_path);
  for (const auto& [key, t] : ckpt.optim) {
    if (key.rfind("v.", 0) != 0 || t.dtype() != DType::f32) continue;
    const Tensor h = t.to(kCPU);
    const float* p = static_cast<const float*>(h.raw_data());
    for (int64_t i = 0; i < h.numel(); ++i)
      DASG_CHECK(p[i] >= 0, optim_path, ": tensor '", key, "' holds ", p[i], " at element ", i,
                 "; a second moment is >= 0");
  }
  (void)deep_active;

  const TrainState st = read_train_state(ckpt.state, file(d, "state.json"));
  DASG_CHECK((int64_t)st.adr.size() == cfg.n_layer, file(d, "state.json"), ": 'adr' holds ", st.adr.size(),
             " layers; the config has n_layer = ", cfg.n_layer);
}

std::string checkpoint_path(const std::string& dir) { return load_with_fallback(dir, false, true).dir; }

bool checkpoint_exists(const std::string& dir) { return complete(dir) || complete(dir + ".old"); }

void save_checkpoint(const std::string& dir, const Checkpoint& ckpt, void (*before_rename)()) {
  fs::path d(dir), tmp(dir + ".tmp"), old(dir + ".old");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  DASG_CHECK(!ec, "checkpoint: cannot create '", tmp.string(), "': ", ec.message());

  write_safetensors((tmp / "model.safetensors").string(), ckpt.model, ckpt.model_metadata);
  std::vector<std::pair<std::string, Tensor>> optim(ckpt.optim.begin(), ckpt.optim.end());
  write_safetensors((tmp / "optim.safetensors").string(), optim,
                    {{"steps", std::to_string(ckpt.optim_steps)}, {"tensors", std::to_string(optim.size())}});
  {
    std::ofstream f(tmp / "state.json");
    f << ckpt.state.dump(2) << "\n";
    f.flush();
    DASG_CHECK(f.good(), "checkpoint: writing '", (tmp / "state.json").string(), "' failed");
  }
  if (before_rename) before_rename();

  if (complete(d)) {
    fs::remove_all(old, ec);
    fs::rename(d, old, ec);
    DASG_CHECK(!ec, "checkpoint: cannot move '", d.string(), "' aside: ", ec.message());
  } else {
    fs::remove_all(d, ec);  // a partial directory that was never a checkpoint
  }
  fs::rename(tmp, d, ec);
  DASG_CHECK(!ec, "checkpoint: cannot rename '", tmp.string(), "' to '", d.string(), "': ", ec.message());
  fs::remove_all(old, ec);
}

Checkpoint load_checkpoint(const std::string& dir, bool reset_optimizer) {
  return load_with_fallback(dir, reset_optimizer, true);
}

std::unique_ptr<Model> load_model(const std::string& dir, Device device) {
  Checkpoint c = load_with_fallback(dir, false, false);
  const std::string path = file(c.dir, "model.safetensors");
  auto model = std::make_unique<Model>(Config::parse(c.model_metadata.at("config")));
  model->load(path);
  model->to(device);
  model->train(false);
  return model;
}

}  // namespace dasg
