// Atomic checkpoint directories (see checkpoint.hpp).
#include "train/checkpoint.hpp"

#include <filesystem>
#include <fstream>

#include "engine/error.hpp"
#include "model/model.hpp"
#include "model/safetensors.hpp"

namespace fs = std::filesystem;

namespace dasg {

namespace {
bool complete(const fs::path& d) {
  return fs::exists(d / "model.safetensors") && fs::exists(d / "optim.safetensors") && fs::exists(d / "state.json");
}

// The directory to load: DIR, or DIR.old when a save was cut between its two renames.
fs::path resolve(const std::string& dir) {
  fs::path d(dir), old(dir + ".old");
  if (complete(d)) return d;
  if (complete(old)) return old;
  DASG_FAIL("checkpoint: '", dir, "' holds no complete checkpoint (expected model.safetensors, optim.safetensors "
            "and state.json)");
}
}  // namespace

std::string checkpoint_path(const std::string& dir) { return resolve(dir).string(); }

bool checkpoint_exists(const std::string& dir) { return complete(dir) || complete(dir + ".old"); }

void save_checkpoint(const std::string& dir, const Checkpoint& ckpt, void (*before_rename)()) {
  fs::path d(dir), tmp(dir + ".tmp"), old(dir + ".old");
  std::error_code ec;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  DASG_CHECK(!ec, "checkpoint: cannot create '", tmp.string(), "': ", ec.message());

  write_safetensors((tmp / "model.safetensors").string(), ckpt.model, ckpt.model_metadata);
  std::vector<std::pair<std::string, Tensor>> optim(ckpt.optim.begin(), ckpt.optim.end());
  write_safetensors((tmp / "optim.safetensors").string(), optim, {{"steps", std::to_string(ckpt.optim_steps)}});
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

Checkpoint load_checkpoint(const std::string& dir) {
  fs::path d = resolve(dir);
  Checkpoint ckpt;
  SafetensorsFile model = read_safetensors((d / "model.safetensors").string());
  ckpt.model = std::move(model.tensors);
  ckpt.model_metadata = std::move(model.metadata);
  SafetensorsFile optim = read_safetensors((d / "optim.safetensors").string());
  for (auto& [name, t] : optim.tensors) ckpt.optim[name] = t;
  auto steps = optim.metadata.find("steps");
  ckpt.optim_steps = steps == optim.metadata.end() ? 0 : std::stoll(steps->second);
  std::ifstream f(d / "state.json");
  try {
    ckpt.state = nlohmann::json::parse(f);
  } catch (const nlohmann::json::exception& e) {
    DASG_FAIL("checkpoint: '", (d / "state.json").string(), "' is not valid JSON: ", e.what());
  }
  return ckpt;
}

std::unique_ptr<Model> load_model(const std::string& dir, Device device) {
  fs::path d = resolve(dir);
  SafetensorsFile weights = read_safetensors((d / "model.safetensors").string());
  auto cfg = weights.metadata.find("config");
  DASG_CHECK(cfg != weights.metadata.end(), "checkpoint: ", (d / "model.safetensors").string(),
             " has no \"config\" in its metadata");
  auto model = std::make_unique<Model>(Config::parse(cfg->second));
  model->load((d / "model.safetensors").string());
  model->to(device);
  model->train(false);
  return model;
}

}  // namespace dasg
