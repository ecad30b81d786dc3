// `dasg report`: one self-contained HTML page (inline SVG from train/svg_plot.hpp; no script, no
// network, no external file) of training runs and experiments, read from their directories.
//   a run directory (metrics.jsonl, from dasg train or dasg finetune): one group of one run;
//   an experiment directory (results.json, from dasg experiment): first the task metric and the
//     tokens/s against each swept value (mean ± the 95% Student-t half-width over the seeds, as
//     results.json holds them: train/experiment_results.hpp; one series per combination of the
//     other axes), the metric against the mean deep rate when the cells have one, and the results
//     table; then one group per cell, its runs being the seeds that finished.
// Per group: the training loss and the validation loss (and accuracy, where evaluated) against the
// step, the mean over the group's runs with a band from their minimum to their maximum at each
// step; dasg runs also the deep rate and the policy entropy of every layer against the step, and
// the expert load of each tier (every expert's share of its tier's assignments, per layer, mean
// over the last fifth of the steps and the runs, as train/run_summary.hpp averages deep rates).
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace dasg {

struct Report {
  std::string html;
  // The experiments' summary plots as standalone SVG files: (file name, SVG text).
  std::vector<std::pair<std::string, std::string>> svgs;
  int64_t plots = 0;  // <svg> elements in the page
};

// Throws dasg::Error naming the directory when one does not exist, holds neither metrics.jsonl
// nor results.json, or holds a malformed one (the file and line named), or a run no step record.
Report make_report(const std::vector<std::string>& dirs, const std::string& title);

}  // namespace dasg
