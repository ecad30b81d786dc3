// A finished run's figures from its directory (see run_summary.hpp).
#include "train/run_summary.hpp"

#include <algorithm>
#include <filesystem>
#include <map>

#include "engine/error.hpp"
#include "engine/json.hpp"
#include "model/config.hpp"
#include "model/config_size.hpp"
#include "train/metrics.hpp"

namespace fs = std::filesystem;

namespace dasg {

namespace {

// Per layer, the mean of records[i][key] over the records.
std::vector<double> layer_means(const std::vector<const nlohmann::json*>& records, const char* key) {
  std::vector<double> sum;
  int64_t n = 0;
  for (const nlohmann::json* r : records) {
    if (!r->contains(key)) continue;
    const nlohmann::json& v = (*r)[key];
    if (sum.empty()) sum.assign(v.size(), 0.0);
    for (size_t l = 0; l < sum.size() && l < v.size(); ++l) sum[l] += v[l].get<double>();
    ++n;
  }
  for (double& s : sum) s /= (double)std::max<int64_t>(n, 1);
  return sum;
}

}  // namespace

nlohmann::json RunSummary::to_json() const {
  return {{"metric_name", metric_name}, {"higher_is_better", higher_is_better}, {"metric", metric},
          {"val_loss", val_loss},       {"tokens_per_s", tokens_per_s},          {"deep_rate", deep_rate},
          {"active_params", active_params}, {"steps", steps}};
}

std::string task_metric(const std::string& task) {
  if (task == "lm") return "val_ppl";
  if (task == "sst2" || task == "mrpc") return "dev_accuracy";
  if (task == "listops" || task == "recall") return "test_accuracy";
  DASG_FAIL("task '", task, "'; expected lm, sst2, mrpc, listops or recall");
}

RunSummary summarize_run(const std::string& run_dir, const std::string& task) {
  RunSummary s;
  s.metric_name = task_metric(task);
  s.higher_is_better = task != "lm";
  const std::string path = (fs::path(run_dir) / "metrics.jsonl").string();
  const MetricsRecords m = read_metrics(path);
  const std::map<int64_t, nlohmann::json>& steps = m.steps;
  const nlohmann::json last_eval = m.evals.empty() ? nlohmann::json() : m.evals.back();
  DASG_CHECK(!steps.empty(), "run summary: '", path, "' holds no training step");
  DASG_CHECK(last_eval.is_object() && last_eval.contains(s.metric_name), "run summary: '", path,
             "' holds no evaluation with ", s.metric_name, " (did the run finish?)");
  s.metric = json_number(last_eval, s.metric_name.c_str(), path);
  s.val_loss = json_number(last_eval, task == "lm" ? "val_loss" : "dev_loss", path);
  s.steps = (int64_t)steps.size();

  std::vector<double> tps;
  std::vector<const nlohmann::json*> records;
  for (const auto& [step, rec] : steps) {
    tps.push_back(json_number(rec, "tokens_per_s", path));
    records.push_back(&rec);
  }
  std::nth_element(tps.begin(), tps.begin() + (ptrdiff_t)(tps.size() / 2), tps.end());
  s.tokens_per_s = tps[tps.size() / 2];
  const size_t tail = std::max<size_t>(1, records.size() / 5);
  records.erase(records.begin(), records.end() - (ptrdiff_t)tail);

  const std::string state = (fs::path(run_dir) / "checkpoint" / "state.json").string();
  const Config cfg = Config::from_json(json_object(read_json_file(state), "config", state));
  const std::vector<double> active = layer_means(records, "active_blocks");
  if (cfg.ffn == "dasg") s.deep_rate = layer_means(records, "deep_rate");  // the other kinds have no deep tier
  s.active_params = active_parameters_per_token(cfg, cfg.ffn == "dasg" ? s.deep_rate : std::vector<double>{}, active);
  return s;
}

}  // namespace dasg
