// An experiment's results (train/experiment.hpp): per cell, over the seeds whose run finished,
// mean ± the 95% Student-t half-width (train/confidence.hpp) of the task metric, the validation
// loss, tokens/s, the deep rate of each layer and the active parameters per token (the figures
// of train/run_summary.hpp); the failed and unfinished runs listed, never dropped.
//
// results.json: {"name", "task", "metric", "higher_is_better", "steps", "seeds", "cells": [{"id",
//   "config", "overrides", "runs": [{"seed", "status" (ok | failed | not run), "error"?,
//   "summary"?}], "ok", "failed", "metric" | "val_loss" | "tokens_per_s" | "active_params":
//   {"n", "mean", "sd", "half", "values"}, "deep_rate": [one such per layer]}]}
// (the statistics are absent when no seed of the cell finished; "half" is null for one seed).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "train/experiment.hpp"

namespace dasg {

// `done`: one done.json record per run, cell-major and seed-minor as expand_grid × spec.seeds
// (null: the run did not finish).
nlohmann::json experiment_results(const ExperimentSpec& spec, const std::vector<Cell>& cells,
                                  const std::vector<nlohmann::json>& done);

// A statistic of results.json as text: "0.8123 ± 0.0120", "0.8123 (1 seed)" (no half-width), or
// "—" when absent (or without a mean),
// with `decimals` digits after the point.
std::string format_mean_ci(const nlohmann::json& stats, int decimals);

// The results as a Markdown table, one row per cell, plus a line per failed or unfinished run.
std::string results_markdown(const nlohmann::json& results);

}  // namespace dasg
