// Checkpoints (DESIGN §8): a directory holding
//   model.safetensors   parameters and buffers; __metadata__ {config, deep_active}
//   optim.safetensors   optimizer state ("m.<name>", "v.<name>", ...); __metadata__ {steps}
//   state.json          step, config, RNG states, data position, router baselines, counters
// Saving is atomic as a whole: everything is written into DIR.tmp/, then DIR is moved to
// DIR.old/, DIR.tmp/ to DIR/, and DIR.old/ removed. A crash at any point leaves a whole
// checkpoint: DIR, or (between the two renames) DIR.old, which load_checkpoint falls back to.
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

class Model;

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> model;
  std::map<std::string, std::string> model_metadata;
  std::map<std::string, Tensor> optim;
  int64_t optim_steps = 0;
  nlohmann::json state;
};

// `before_rename` runs after DIR.tmp/ is complete and before any rename (tests use it to
// simulate a crash there).
void save_checkpoint(const std::string& dir, const Checkpoint& ckpt, void (*before_rename)() = nullptr);
Checkpoint load_checkpoint(const std::string& dir);
bool checkpoint_exists(const std::string& dir);
// The directory a load of `dir` reads: dir itself, or dir.old after a cut save.
std::string checkpoint_path(const std::string& dir);

// The model of a checkpoint (its config from model.safetensors' metadata, its weights and the
// evaluator's running statistics), in evaluation mode, on `device` (a checkpoint records no
// device: one written on any loads on any other).
std::unique_ptr<Model> load_model(const std::string& dir, Device device = kCPU);

}  // namespace dasg
