// Experiments (`dasg experiment SPEC.json`): a grid of config overrides × seeds, each run a
// training run of its own, resumable, summarised with 95% confidence intervals over the seeds
// (train/experiment_results.hpp). This file knows the spec, the grid and the bookkeeping; how one
// run is started is the caller's Runner (the command line spawns `dasg train|finetune`), so
// train/ knows no command line.
//
// A spec is one JSON object:
//   "task":    "lm" (shards in "data"), "sst2", "mrpc", "listops" or "recall"   (required)
//   "config":  the base config, a preset name or a JSON file                     (required)
//   "steps":   optimizer steps of every run                                        (required)
//   "seeds":   a list of seeds, or a count n meaning 1..n                          (default 3)
//   "seq_len": tokens per sequence; also the config's max_seq_len, so the group length L =
//              seq_len / gmha.groups follows a gmha.groups axis                    (default: none)
//   "grid":    {"dotted.key": [v1, v2, ...], ...} — the cells are the product of the axes, in
//              the keys' order (sorted, as JSON objects are read); a value that is an object
//              merges into the object at its key (e.g. "adr": [{"theta_s": 0.2, "theta_d": 0.6}]
//              sweeps θ pairs); the axis "config" swaps the base config (matched baselines)
//   "args":    more flags of the command, e.g. ["--batch", "32", "--lr", "2e-3"]
//   "data":    lm: the token shards' folder
//   "budget_s": a wall-clock limit per run in seconds (0 = none; a run past it fails)
//   "name":    the experiment's name (default: the spec file's stem)
// Every cell's config is built and checked (Config::from_json) before any run starts, so a
// misspelt key fails at once, naming the cell and the key.
//
// On disk, under out_dir: cells/<cell>/seed-<s>/{config.json, run/, log.txt, done.json};
// done.json records the run's identity (task, config, seed, steps, seq_len, args, data), its
// status and its summary. A run whose done.json says "ok" with the same identity is not run
// again (resume); a failed or unfinished one is re-run from scratch; a done.json of another
// identity stops the experiment (another spec wrote there).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace dasg {

struct ExperimentSpec {
  std::string name, task, config, data;
  int64_t steps = 0, seq_len = 0;
  std::vector<uint64_t> seeds = {1, 2, 3};
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::vector<nlohmann::json>>> grid;
  double budget_s = 0;

  // Throws dasg::Error naming `where` and the key on a missing, unknown or ill-typed field.
  static ExperimentSpec from_json(const nlohmann::json& j, const std::string& where);
  static ExperimentSpec load(const std::string& path);  // name defaults to the file's stem
};

struct Cell {
  std::string id;      // "gmha.groups=4,adr.random=true"; "base" for an empty grid
  std::string folder;  // the id made a safe file name
  std::vector<std::pair<std::string, nlohmann::json>> overrides;
  std::string config;  // the base config (spec.config, or this cell's "config" value)
};

// The product of the grid's axes, the first axis varying slowest.
std::vector<Cell> expand_grid(const ExperimentSpec& spec);

// `raw` with each override set: "a.b.c" → raw["a"]["b"]["c"] (objects created on the way); an
// object value merges into an object there (RFC 7386 merge patch). Throws naming `where` when a
// key path runs through a non-object.
nlohmann::json apply_overrides(nlohmann::json raw, const std::vector<std::pair<std::string, nlohmann::json>>& overrides,
                               const std::string& where);

// One run of a cell with a seed: what a Runner needs.
struct CellRun {
  const Cell* cell = nullptr;
  uint64_t seed = 0;
  std::string dir;          // <out>/cells/<cell>/seed-<s>
  std::string config_path;  // dir/config.json, written before the run
  std::string run_dir;      // dir/run: the training run's --out (empty when the run starts)
  std::string log_path;     // dir/log.txt: the run's output
  int threads = 1;          // CPU threads this run may use
  nlohmann::json identity;  // task, config, seed, steps, seq_len, args, data
};

struct ExperimentOptions {
  std::string out_dir;
  int jobs = 1;     // runs at once
  int threads = 0;  // CPU threads in all, split evenly between the jobs (0 = num_threads())
  bool quiet = false;
};

// The raw JSON of a base config by name (a preset or a file).
using ConfigLoader = std::function<nlohmann::json(const std::string& name)>;
// Runs one; returns its exit status (0 = success; 124 = stopped past the spec's budget_s). An exception stops the experiment (no new
// run starts; those running finish) and is rethrown after the results so far are written.
using Runner = std::function<int(const CellRun&)>;

struct ExperimentResult {
  nlohmann::json results;  // what results.json holds (train/experiment_results.hpp)
  std::string results_path, table_path;
  int64_t ran = 0, reused = 0, failed = 0;
};

ExperimentResult run_experiment(const ExperimentSpec& spec, const ExperimentOptions& options,
                                const ConfigLoader& load_config, const Runner& runner);

}  // namespace dasg
