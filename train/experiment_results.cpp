// An experiment's results.json and Markdown table (see experiment_results.hpp).
#include "train/experiment_results.hpp"

#include <cmath>
#include <cstdio>

#include "engine/error.hpp"
#include "train/confidence.hpp"
#include "train/run_summary.hpp"

namespace dasg {

namespace {

nlohmann::json stats(const std::vector<double>& x) {
  const MeanCI m = mean_ci95(x);
  return {{"n", m.n}, {"mean", m.mean}, {"sd", m.sd}, {"half", std::isnan(m.half) ? nlohmann::json() : nlohmann::json(m.half)},
          {"values", x}};
}

}  // namespace

std::string format_mean_ci(const nlohmann::json& s, int decimals) {
  if (!s.is_object() || !s.contains("mean") || !s["mean"].is_number()) return "—";
  char buf[96];
  const double mean = s["mean"].get<double>();
  if (!s.contains("half") || !s["half"].is_number()) std::snprintf(buf, sizeof buf, "%.*f (1 seed)", decimals, mean);
  else std::snprintf(buf, sizeof buf, "%.*f ± %.*f", decimals, mean, decimals, s["half"].get<double>());
  return buf;
}

nlohmann::json experiment_results(const ExperimentSpec& spec, const std::vector<Cell>& cells,
                                  const std::vector<nlohmann::json>& done) {
  DASG_CHECK(done.size() == cells.size() * spec.seeds.size(), "experiment results: ", done.size(), " run records for ",
             cells.size(), " cells x ", spec.seeds.size(), " seeds");
  nlohmann::json out = {{"name", spec.name},   {"task", spec.task},   {"metric", task_metric(spec.task)},
                        {"higher_is_better", spec.task != "lm"},    {"steps", spec.steps},
                        {"seeds", spec.seeds}, {"cells", nlohmann::json::array()}};
  for (size_t c = 0; c < cells.size(); ++c) {
    nlohmann::json overrides = nlohmann::json::object();
    for (const auto& [k, v] : cells[c].overrides) overrides[k] = v;
    nlohmann::json cell = {{"id", cells[c].id}, {"config", cells[c].config}, {"overrides", overrides},
                           {"runs", nlohmann::json::array()}};
    std::vector<double> metric, val_loss, tps, active;
    std::vector<std::vector<double>> deep;
    int64_t ok = 0, failed = 0;
    for (size_t s = 0; s < spec.seeds.size(); ++s) {
      const nlohmann::json& d = done[c * spec.seeds.size() + s];
      nlohmann::json run = {{"seed", spec.seeds[s]}};
      if (d.is_null()) {
        run["status"] = "not run";
        ++failed;
      } else if (d.value("status", "") != "ok") {
        run["status"] = "failed";
        run["error"] = d.value("error", "");
        ++failed;
      } else {
        run["status"] = "ok";
        const nlohmann::json& sum = d["summary"];
        run["summary"] = sum;
        metric.push_back(sum["metric"].get<double>());
        val_loss.push_back(sum["val_loss"].get<double>());
        tps.push_back(sum["tokens_per_s"].get<double>());
        active.push_back(sum["active_params"].get<double>());
        const nlohmann::json& dr = sum["deep_rate"];
        if (deep.size() < dr.size()) deep.resize(dr.size());
        for (size_t l = 0; l < dr.size(); ++l) deep[l].push_back(dr[l].get<double>());
        ++ok;
      }
      cell["runs"].push_back(run);
    }
    cell["ok"] = ok;
    cell["failed"] = failed;
    if (ok > 0) {
      cell["metric"] = stats(metric);
      cell["val_loss"] = stats(val_loss);
      cell["tokens_per_s"] = stats(tps);
      cell["active_params"] = stats(active);
      cell["deep_rate"] = nlohmann::json::array();
      for (const std::vector<double>& l : deep) cell["deep_rate"].push_back(stats(l));
    }
    out["cells"].push_back(cell);
  }
  return out;
}

std::string results_markdown(const nlohmann::json& r) {
  const std::string metric = r["metric"].get<std::string>();
  std::string md = "# " + r["name"].get<std::string>() + "\n\nTask " + r["task"].get<std::string>() + ", " +
                   std::to_string(r["steps"].get<int64_t>()) + " steps, seeds " + r["seeds"].dump() +
                   "; mean ± 95% confidence half-width (Student t over the seeds that finished); " + metric +
                   (r["higher_is_better"].get<bool>() ? " (higher is better)" : " (lower is better)") +
                   "; deep rate per layer over the last fifth of the steps.\n\n";
  const std::string loss = r["task"] == "lm" ? "val loss" : "dev loss";
  md += "| cell | " + metric + " | " + loss + " | tokens/s | deep rate per layer | active params/token | seeds ok |\n";
  md += "| --- | ---: | ---: | ---: | --- | ---: | ---: |\n";
  std::string problems;
  for (const nlohmann::json& c : r["cells"]) {
    std::string deep = "—";
    if (c.contains("deep_rate") && !c["deep_rate"].empty()) {
      deep.clear();
      for (const nlohmann::json& l : c["deep_rate"]) deep += (deep.empty() ? "" : " / ") + format_mean_ci(l, 3);
    }
    const int64_t ok = c["ok"].get<int64_t>(), n = ok + c["failed"].get<int64_t>();
    md += "| " + c["id"].get<std::string>() + " | " + (ok ? format_mean_ci(c["metric"], 4) : "**failed**") + " | " +
          format_mean_ci(c["val_loss"], 4) + " | " + format_mean_ci(c["tokens_per_s"], 0) + " | " + deep + " | " + format_mean_ci(c["active_params"], 0) +
          " | " + std::to_string(ok) + " of " + std::to_string(n) + " |\n";
    for (const nlohmann::json& run : c["runs"])
      if (run["status"] != "ok")
        problems += "- " + c["id"].get<std::string>() + ", seed " + run["seed"].dump() + ": " +
                    run["status"].get<std::string>() +
                    (run.contains("error") ? " — " + run["error"].get<std::string>() : std::string()) + "\n";
  }
  if (!problems.empty()) md += "\nRuns that did not finish (not in the statistics):\n\n" + problems;
  return md;
}

}  // namespace dasg
