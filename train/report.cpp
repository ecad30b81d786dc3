// The HTML report of runs and experiments (see report.hpp).
#include "train/report.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "engine/error.hpp"
#include "engine/json.hpp"
#include "train/experiment_results.hpp"
#include "train/html.hpp"
#include "train/metrics.hpp"
#include "train/svg_plot.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace dasg {

namespace {

const char* kStyle = R"(body { font-family: sans-serif; margin: 1.5em; color: #222; }
h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
.plots { display: flex; flex-wrap: wrap; gap: 8px; }
table { border-collapse: collapse; font-size: 13px; margin: 0.5em 0; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
.note { color: #666; font-size: 13px; }
)";

// A run's records: its step records and its evaluations by step (the last one at a step).
struct Run {
  std::map<int64_t, json> steps, evals;
};

struct Group {
  std::string heading;
  std::vector<Run> runs;
};

Run read_run(const std::string& dir) {
  const std::string path = (fs::path(dir) / "metrics.jsonl").string();
  MetricsRecords m = read_metrics(path);
  DASG_CHECK(!m.steps.empty(), "report: '", path, "' holds no training step");
  Run r;
  r.steps = std::move(m.steps);
  for (json& e : m.evals) {
    const int64_t step = e["step"].get<int64_t>();  // before the move: json's operator= takes its argument by value
    r.evals[step] = std::move(e);
  }
  return r;
}

// rec[key] (index < 0) or rec[key][index], NaN where the record has no such number.
double field(const json& rec, const std::string& key, int64_t index = -1) {
  auto it = rec.find(key);
  if (it == rec.end()) return NAN;
  if (index < 0) return it->is_number() ? it->get<double>() : NAN;
  if (!it->is_array() || index >= (int64_t)it->size() || !(*it)[(size_t)index].is_number()) return NAN;
  return (*it)[(size_t)index].get<double>();
}

// A value against the step over a group's runs: at every step some run has it, the mean, and
// (for several runs) the band from the minimum to the maximum. Empty when no run has it.
PlotSeries over_steps(const std::string& name, const std::vector<Run>& runs, bool evals,
                      const std::function<double(const json&)>& value) {
  std::map<int64_t, std::vector<double>> at;
  for (const Run& r : runs)
    for (const auto& [step, rec] : evals ? r.evals : r.steps) {
      const double v = value(rec);
      if (std::isfinite(v)) at[step].push_back(v);
    }
  PlotSeries s;
  s.name = runs.size() > 1 ? name + " (mean of " + std::to_string(runs.size()) + " runs, band min..max)" : name;
  for (const auto& [step, v] : at) {
    double sum = 0;
    for (double x : v) sum += x;
    s.x.push_back((double)step);
    s.y.push_back(sum / (double)v.size());
    if (runs.size() > 1) {
      s.lo.push_back(*std::min_element(v.begin(), v.end()));
      s.hi.push_back(*std::max_element(v.begin(), v.end()));
    }
  }
  s.markers = evals;
  return s;
}

// The number of entries of rec[key] in the group's first step record holding it (0: none).
int64_t width(const std::vector<Run>& runs, const std::string& key) {
  for (const Run& r : runs)
    for (const auto& [step, rec] : r.steps)
      if (rec.contains(key) && rec[key].is_array()) return (int64_t)rec[key].size();
  return 0;
}

struct Page {
  std::string body;
  int64_t plots = 0;
  void add(const Plot& p) {
    body += svg_plot(p);
    ++plots;
  }
};

// The expert loads of one tier: x = expert, a series per layer, the mean over the last fifth of
// every run's steps and over the runs.
Plot load_plot(const std::vector<Run>& runs, const std::string& key, const std::string& tier) {
  Plot p{"expert load, " + tier + " tier (last fifth of the steps)", "expert", "share of the tier's assignments", {}, {}};
  const int64_t layers = width(runs, key);
  for (int64_t l = 0; l < layers; ++l) {
    std::vector<double> sum;
    int64_t n = 0;
    for (const Run& r : runs) {
      const size_t tail = std::max<size_t>(1, r.steps.size() / 5);
      auto it = r.steps.end();
      std::advance(it, -(ptrdiff_t)std::min(tail, r.steps.size()));
      for (; it != r.steps.end(); ++it) {
        const json& rec = it->second;
        if (!rec.contains(key) || !rec[key].is_array() || (int64_t)rec[key].size() <= l) continue;
        const json& v = rec[key][(size_t)l];
        if (sum.empty()) sum.assign(v.size(), 0.0);
        for (size_t e = 0; e < sum.size() && e < v.size(); ++e) sum[e] += v[e].get<double>();
        ++n;
      }
    }
    if (sum.empty()) continue;
    PlotSeries s;
    s.name = "layer " + std::to_string(l);
    s.markers = true;
    for (size_t e = 0; e < sum.size(); ++e) s.x.push_back((double)e), s.y.push_back(sum[e] / (double)n);
    if (p.x_ticks.size() < sum.size())
      for (size_t e = p.x_ticks.size(); e < sum.size(); ++e) p.x_ticks.push_back(std::to_string(e));
    p.series.push_back(std::move(s));
  }
  return p;
}

// A group's plots: losses, evaluations, and for dasg runs the routing.
void add_group(Page& page, const Group& g) {
  if (!g.heading.empty()) page.body += "<h3>" + html_escape(g.heading) + "</h3>\n";
  if (g.runs.empty()) {
    page.body += "<p class=\"note\">no finished run</p>\n";
    return;
  }
  page.body += "<div class=\"plots\">\n";
  auto one = [&](const std::string& title, const std::string& y, const PlotSeries& s) {
    if (!s.x.empty()) page.add(Plot{title, "step", y, {s}, {}});
  };
  one("training loss", "loss", over_steps("loss", g.runs, false, [](const json& r) { return field(r, "loss"); }));
  for (const char* key : {"val_loss", "dev_loss", "dev_accuracy"})
    one(std::string("validation: ") + key, key,
        over_steps(key, g.runs, true, [key](const json& r) { return field(r, key); }));
  using Pair = std::pair<std::string, std::string>;
  if (width(g.runs, "load_deep") > 0) {  // dasg: tiers
    for (const auto& [key, title] :
         {Pair{"deep_rate", "deep rate per layer"}, Pair{"policy_entropy", "policy entropy per layer (nats)"}}) {
      Plot p{title, "step", key, {}, {}};
      for (int64_t l = 0; l < width(g.runs, key); ++l) {
        PlotSeries s = over_steps("layer " + std::to_string(l), g.runs, false,
                                  [key = key, l](const json& r) { return field(r, key, l); });
        if (!s.x.empty()) p.series.push_back(std::move(s));
      }
      if (!p.series.empty()) page.add(p);
    }
  }
  for (const auto& [key, tier] : {Pair{"load_shallow", "shallow"}, Pair{"load_deep", "deep"}}) {
    Plot p = load_plot(g.runs, key, tier);
    if (!p.series.empty()) page.add(p);
  }
  page.body += "</div>\n";
}

std::string value_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string file_name(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum((unsigned char)c) || c == '.' || c == '-' ? c : '_';
  return out;
}

// An experiment: its summary plots and table, then a group per cell.
void add_experiment(Page& page, Report& report, const std::string& dir) {
  const std::string path = (fs::path(dir) / "results.json").string();
  const json r = read_json_file(path);
  const std::string name = json_string(r, "name", path), metric = json_string(r, "metric", path);
  const json& cells = json_array(r, "cells", path);
  page.body += "<h2>experiment " + html_escape(name) + " (" + html_escape(dir) + ")</h2>\n<p>task " +
               html_escape(json_string(r, "task", path)) + ", " + std::to_string(json_int(r, "steps", path)) +
               " steps, seeds " + html_escape(r.value("seeds", json::array()).dump()) + "; " + html_escape(metric) +
               (r.value("higher_is_better", true) ? " (higher is better)" : " (lower is better)") +
               "; error bars: 95% Student-t interval over the seeds that finished.</p>\n";

  // The axes and their values in the order they first appear (the grid's order).
  std::vector<std::pair<std::string, std::vector<json>>> axes;
  for (const json& c : cells) {
    const json o = c.value("overrides", json::object());
    for (const auto& [k, v] : o.items()) {
      auto a = std::find_if(axes.begin(), axes.end(), [&, k = k](const auto& x) { return x.first == k; });
      if (a == axes.end()) a = axes.emplace(axes.end(), k, std::vector<json>{});
      if (std::find(a->second.begin(), a->second.end(), v) == a->second.end()) a->second.push_back(v);
    }
  }
  page.body += "<div class=\"plots\">\n";
  auto keep = [&](const Plot& p, const std::string& file) {
    page.add(p);
    report.svgs.emplace_back(file_name(name + "-" + file) + ".svg", svg_plot(p));
  };
  for (const auto& [axis, values] : axes)
    for (const std::string& stat : {metric, std::string("tokens_per_s")}) {
      Plot p{stat + " against " + axis, axis, stat, {}, {}};
      const bool ordered = std::all_of(values.begin(), values.end(), [](const json& v) { return v.is_number(); });
      for (const json& v : values)  // a config file by its stem
        p.x_ticks.push_back(axis == "config" ? fs::path(value_text(v)).stem().string() : value_text(v));
      std::map<std::string, size_t> series_of;  // the other axes' values → series
      for (const json& c : cells) {
        const json& s = stat == metric ? c.value("metric", json()) : c.value("tokens_per_s", json());
        const json o = c.value("overrides", json::object());
        if (!s.is_object() || !o.contains(axis)) continue;
        std::string others;
        for (const auto& [k, v] : o.items())
          if (k != axis) others += (others.empty() ? "" : ", ") + k + "=" + value_text(v);
        if (others.empty()) others = "mean ± 95% CI";
        auto [it, fresh] = series_of.emplace(others, p.series.size());
        if (fresh) p.series.push_back(PlotSeries{others, {}, {}, {}, {}, {}, true, ordered});
        PlotSeries& ps = p.series[it->second];
        ps.x.push_back((double)(std::find(values.begin(), values.end(), o[axis]) - values.begin()));
        ps.y.push_back(json_number(s, "mean", path));
        ps.err.push_back(s.contains("half") && s["half"].is_number() ? s["half"].get<double>() : NAN);
      }
      if (!p.series.empty()) keep(p, axis + "-" + stat);
    }
  Plot dr{metric + " against the deep rate", "deep rate (mean over layers)", metric, {}, {}};
  for (const json& c : cells) {
    if (!c.contains("metric") || !c.contains("deep_rate") || c["deep_rate"].empty()) continue;
    double d = 0;
    for (const json& l : json_array(c, "deep_rate", path)) d += json_number(l, "mean", path);
    const json& m = json_object(c, "metric", path);
    dr.series.push_back(PlotSeries{json_string(c, "id", path), {d / (double)c["deep_rate"].size()},
                                   {json_number(m, "mean", path)}, {}, {},
                                   {m.contains("half") && m["half"].is_number() ? m["half"].get<double>() : NAN},
                                   true, false});
  }
  if (!dr.series.empty()) keep(dr, "deep_rate-" + metric);
  page.body += "</div>\n<table>\n<tr><th>cell</th><th>" + html_escape(metric) +
               "</th><th>validation loss</th><th>tokens/s</th><th>deep rate per layer</th><th>seeds ok</th></tr>\n";
  std::string problems;
  for (const json& c : cells) {
    std::string deep;
    for (const json& l : c.value("deep_rate", json::array())) deep += (deep.empty() ? "" : " / ") + format_mean_ci(l, 3);
    page.body += "<tr><td>" + html_escape(c.value("id", "")) + "</td><td>" + format_mean_ci(c.value("metric", json()), 4) +
                 "</td><td>" + format_mean_ci(c.value("val_loss", json()), 4) + "</td><td>" +
                 format_mean_ci(c.value("tokens_per_s", json()), 0) + "</td><td>" + (deep.empty() ? "—" : deep) +
                 "</td><td>" + std::to_string(c.value("ok", 0)) + " of " +
                 std::to_string(c.value("ok", 0) + c.value("failed", 0)) + "</td></tr>\n";
    for (const json& run : c.value("runs", json::array()))
      if (run.value("status", "") != "ok")
        problems += "<li>" + html_escape(c.value("id", "") + ", seed " + run.value("seed", json()).dump() + ": " +
                                         run.value("status", "") + " " + run.value("error", "")) + "</li>\n";
  }
  page.body += "</table>\n";
  if (!problems.empty()) page.body += "<p>Runs that did not finish (not in the statistics):</p>\n<ul>\n" + problems + "</ul>\n";

  // The cells' runs: every seed whose done.json says ok, by cell id.
  std::map<std::string, std::map<uint64_t, std::string>> ok_runs;
  const fs::path cells_dir = fs::path(dir) / "cells";
  if (fs::is_directory(cells_dir))
    for (const fs::directory_entry& cell : fs::directory_iterator(cells_dir))
      for (const fs::directory_entry& seed : fs::directory_iterator(cell.path())) {
        const fs::path done = seed.path() / "done.json";
        if (!fs::is_regular_file(done)) continue;
        const json d = read_json_file(done.string());
        if (d.value("status", "") == "ok")
          ok_runs[json_string(d, "cell", done.string())][json_uint(d, "seed", done.string())] = (seed.path() / "run").string();
      }
  for (const json& c : cells) {
    Group g;
    g.heading = "cell " + c.value("id", "");
    for (const auto& [seed, run] : ok_runs[c.value("id", "")]) g.runs.push_back(read_run(run));
    g.heading += " (" + std::to_string(g.runs.size()) + (g.runs.size() == 1 ? " seed)" : " seeds)");
    add_group(page, g);
  }
}

}  // namespace

Report make_report(const std::vector<std::string>& dirs, const std::string& title) {
  DASG_CHECK(!dirs.empty(), "report: no directory given; expected run or experiment directories");
  Report report;
  Page page;
  page.body = "<h1>" + html_escape(title) + "</h1>\n<p class=\"note\">dasg report of " + std::to_string(dirs.size()) +
              (dirs.size() == 1 ? " directory" : " directories") +
              ". Curves: the mean over a group's runs at every step, the band from their minimum to their maximum.</p>\n";
  for (const std::string& dir : dirs) {
    DASG_CHECK(fs::is_directory(dir), "report: '", dir, "' is not a directory; expected a run directory (dasg train, "
               "dasg finetune: metrics.jsonl) or an experiment directory (dasg experiment: results.json)");
    if (fs::is_regular_file(fs::path(dir) / "results.json")) {
      add_experiment(page, report, dir);
    } else {
      DASG_CHECK(fs::is_regular_file(fs::path(dir) / "metrics.jsonl"), "report: '", dir, "' holds neither metrics.jsonl "
                 "(a run of dasg train or dasg finetune) nor results.json (an experiment of dasg experiment)");
      page.body += "<h2>run " + html_escape(dir) + "</h2>\n";
      add_group(page, Group{"", {read_run(dir)}});
    }
  }
  report.plots = page.plots;
  report.html = html_page(title, kStyle, page.body);
  return report;
}

}  // namespace dasg
