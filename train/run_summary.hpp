// What one finished training run says, read from its directory (metrics.jsonl and
// checkpoint/state.json): the figures `dasg experiment` compares across cells and seeds.
//   metric:       the task's headline number from the last evaluation — lm: val_ppl (lower is
//                 better); sst2, mrpc: dev_accuracy (GLUE's test labels are not public);
//                 listops, recall: test_accuracy (the held-out split, after the last step)
//   val_loss:     the last evaluation's val_loss (lm) or dev_loss (classification)
//   tokens_per_s: the median of the step records' tokens_per_s (robust to the first step's setup)
//   deep_rate:    per layer, the mean over the last fifth of the step records (at least one;
//                 the DSSE transfer and the policy have settled by then); dasg only
//   active_params: model/config_size.hpp's active_parameters_per_token of the run's config with
//                 those rates (dsmoe: its active_blocks, averaged the same way)
// A resumed run's {"resumed": true} record at step s supersedes the records before it at s and later.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace dasg {

struct RunSummary {
  std::string metric_name;
  bool higher_is_better = true;
  double metric = 0, val_loss = 0, tokens_per_s = 0, active_params = 0;
  std::vector<double> deep_rate;
  int64_t steps = 0;  // step records (skipped ones excluded)
  nlohmann::json to_json() const;
};

// The task's metric name (val_ppl, dev_accuracy or test_accuracy); throws on an unknown task.
std::string task_metric(const std::string& task);

// Throws dasg::Error naming the file when metrics.jsonl is missing or malformed, holds no step
// record, or no evaluation with the task's metric.
RunSummary summarize_run(const std::string& run_dir, const std::string& task);

}  // namespace dasg
