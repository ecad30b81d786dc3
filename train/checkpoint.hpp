// Checkpoints (DESIGN §8): a directory holding
//   model.safetensors   parameters and buffers; __metadata__ {config, deep_active}
//   optim.safetensors   optimizer state ("m.<name>", "v.<name>", ...); __metadata__ {steps, tensors}
//   state.json          step, config, RNG states, data position, router baselines, counters
// Saving is atomic as a whole: everything is written into DIR.tmp/, then DIR is moved to
// DIR.old/, DIR.tmp/ to DIR/, and DIR.old/ removed. A crash at any point leaves a whole
// checkpoint: DIR, or (between the two renames) DIR.old.
//
// Loading validates everything before a run trusts it (validate_checkpoint): the config in the
// metadata, deep_active "true"/"false", exactly the model's tensors with the model's shapes, every
// value finite; for every parameter that has optimizer state, all of its slots (AdamW: m and v)
// with the parameter's shape, finite, second moments >= 0, and as many tensors as the metadata's
// count; the step count an integer >= 0; state.json's fields typed and in range. When DIR fails
// any of that and DIR.old is a good checkpoint, the load falls back to DIR.old with a warning on
// stderr naming both. Every error names the file and the tensor or key, and what was expected.
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
struct Config;

// state.json's common fields, read with type and range checks.
struct TrainState {
  int64_t step = 0;           // the next step to run, >= 0
  int64_t skipped_steps = 0;  // >= 0, <= step
  uint64_t rng_seed = 0, rng_offset = 0;
  nlohmann::json loader = nlohmann::json::object();  // the loader's own state (it checks it)
  nlohmann::json adr = nlohmann::json::array();      // per layer, see RouterState::from_json
};
// Throws "<where>: key 'step' is -5; expected an integer in [0, ...]" and the like.
TrainState read_train_state(const nlohmann::json& state, const std::string& where);

struct Checkpoint {
  std::vector<std::pair<std::string, Tensor>> model;
  std::map<std::string, std::string> model_metadata;
  std::map<std::string, Tensor> optim;
  int64_t optim_steps = 0;
  nlohmann::json state;
  // Filled by load_checkpoint:
  std::string dir;            // the directory read: DIR, or DIR.old after a fallback
  TrainState train;           // state, typed
  bool optimizer_reset = false;  // loaded with reset_optimizer: optim is empty, optim_steps 0
};

// `before_rename` runs after DIR.tmp/ is complete and before any rename (tests use it to
// simulate a crash there).
void save_checkpoint(const std::string& dir, const Checkpoint& ckpt, void (*before_rename)() = nullptr);

// reset_optimizer: optim.safetensors is not read (it may be missing or damaged); the optimizer
// starts from zero moments and step 0. The caller says so to the user.
Checkpoint load_checkpoint(const std::string& dir, bool reset_optimizer = false);
bool checkpoint_exists(const std::string& dir);
// The directory a load of `dir` reads: dir itself, or dir.old when dir is incomplete or fails
// validation (this validates, so it costs a load).
std::string checkpoint_path(const std::string& dir);

// The checks listed above, on a checkpoint in memory; `dir` names the files in messages.
void validate_checkpoint(const Checkpoint& ckpt, const std::string& dir);

// The model of a checkpoint (its config from model.safetensors' metadata, its weights and the
// evaluator's running statistics), in evaluation mode, on `device` (a checkpoint records no
// device: one written on any loads on any other). The checkpoint is validated (its optimizer
// state is not read), so non-finite weights are an error naming the tensor.
std::unique_ptr<Model> load_model(const std::string& dir, Device device = kCPU);

}  // namespace dasg
