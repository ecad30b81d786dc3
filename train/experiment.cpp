// Experiment grids: the spec, its cells, and running them resumably (see experiment.hpp).
#include "train/experiment.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "engine/error.hpp"
#include "engine/json.hpp"
#include "engine/parallel.hpp"
#include "model/config.hpp"
#include "train/experiment_results.hpp"
#include "train/run_summary.hpp"
#include "train/text_file.hpp"

namespace fs = std::filesystem;

namespace dasg {

namespace {

// A value as it reads in a cell's name: strings bare, anything else as compact JSON.
std::string value_text(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

std::string safe_name(const std::string& s) {
  std::string out;
  for (char c : s) out += std::isalnum((unsigned char)c) || c == '.' || c == '=' || c == ',' || c == '-' || c == '+' ? c : '_';
  return out.substr(0, 200);
}

}  // namespace

ExperimentSpec ExperimentSpec::from_json(const nlohmann::json& j, const std::string& where) {
  DASG_CHECK(j.is_object(), where, ": an experiment spec is a JSON object");
  static const char* known[] = {"name", "task", "config", "data", "steps", "seq_len", "seeds", "args", "grid", "budget_s"};
  for (const auto& [k, v] : j.items()) {
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    DASG_CHECK(ok, where, ": unknown key \"", k, "\"; expected name, task, config, data, steps, seq_len, seeds, args, grid "
               "or budget_s");
  }
  ExperimentSpec s;
  if (j.contains("name")) s.name = json_string(j, "name", where);
  s.task = json_string(j, "task", where);
  task_metric(s.task);  // throws on an unknown task
  s.config = json_string(j, "config", where);
  s.steps = json_int(j, "steps", where, 1, INT32_MAX);
  if (j.contains("seq_len")) s.seq_len = json_int(j, "seq_len", where, 1, INT32_MAX);
  if (j.contains("data")) s.data = json_string(j, "data", where);
  DASG_CHECK(s.task != "lm" || !s.data.empty(), where, ": task lm needs \"data\", the token shards' folder");
  if (j.contains("budget_s")) s.budget_s = json_number(j, "budget_s", where);
  DASG_CHECK(s.budget_s >= 0, where, ": budget_s ", s.budget_s, "; expected >= 0");
  if (j.contains("seeds")) {
    const nlohmann::json& v = j["seeds"];
    s.seeds.clear();
    if (v.is_number_integer()) {
      const int64_t n = json_int(j, "seeds", where, 1, 1000);
      for (int64_t i = 1; i <= n; ++i) s.seeds.push_back((uint64_t)i);
    } else {
      DASG_CHECK(v.is_array() && !v.empty(), where, ": seeds must be a count or a non-empty list of seeds");
      for (const nlohmann::json& e : v) {
        DASG_CHECK(e.is_number_unsigned(), where, ": seeds: ", json_excerpt(e), " is not a non-negative integer");
        DASG_CHECK(std::find(s.seeds.begin(), s.seeds.end(), e.get<uint64_t>()) == s.seeds.end(), where,
                   ": seeds: ", e.get<uint64_t>(), " is listed twice");
        s.seeds.push_back(e.get<uint64_t>());
      }
    }
  }
  if (j.contains("args"))
    for (const nlohmann::json& a : json_array(j, "args", where)) {
      DASG_CHECK(a.is_string(), where, ": args: ", json_excerpt(a), " is not a string");
      s.args.push_back(a.get<std::string>());
    }
  if (j.contains("grid"))
    for (const auto& [k, v] : json_object(j, "grid", where).items()) {
      DASG_CHECK(v.is_array() && !v.empty(), where, ": grid.", k, " must be a non-empty list of values");
      DASG_CHECK(k != "config" || std::all_of(v.begin(), v.end(), [](const nlohmann::json& e) { return e.is_string(); }),
                 where, ": grid.config must list config names");
      for (size_t a = 0; a < v.size(); ++a)
        for (size_t b = 0; b < a; ++b)
          DASG_CHECK(v[a] != v[b], where, ": grid.", k, " lists ", json_excerpt(v[a]), " twice");
      s.grid.emplace_back(k, std::vector<nlohmann::json>(v.begin(), v.end()));
    }
  return s;
}

ExperimentSpec ExperimentSpec::load(const std::string& path) {
  ExperimentSpec s = from_json(read_json_file(path), path);
  if (s.name.empty()) s.name = fs::path(path).stem().string();
  return s;
}

std::vector<Cell> expand_grid(const ExperimentSpec& spec) {
  std::vector<Cell> cells(1);
  for (const auto& [key, values] : spec.grid) {
    std::vector<Cell> next;
    for (const Cell& c : cells)
      for (const nlohmann::json& v : values) {
        Cell n = c;
        n.overrides.emplace_back(key, v);
        next.push_back(std::move(n));
      }
    cells = std::move(next);
  }
  for (Cell& c : cells) {
    c.config = spec.config;
    for (const auto& [k, v] : c.overrides) {
      c.id += (c.id.empty() ? "" : ",") + k + "=" + value_text(v);
      if (k == "config") c.config = v.get<std::string>();
    }
    if (c.id.empty()) c.id = "base";
    c.folder = safe_name(c.id);
  }
  for (size_t i = 0; i < cells.size(); ++i)  // two ids made the same file name: number them
    for (size_t k = 0; k < i; ++k)
      if (cells[k].folder == cells[i].folder) cells[i].folder += "-" + std::to_string(i);
  return cells;
}

nlohmann::json apply_overrides(nlohmann::json raw, const std::vector<std::pair<std::string, nlohmann::json>>& overrides,
                               const std::string& where) {
  for (const auto& [key, value] : overrides) {
    if (key == "config") continue;
    nlohmann::json* at = &raw;
    size_t from = 0;
    for (;;) {
      if (at->is_null()) *at = nlohmann::json::object();
      DASG_CHECK(at->is_object(), where, ": override ", key, ": the part before '", key.substr(from), "' is not an object");
      const size_t dot = key.find('.', from);
      const std::string part = key.substr(from, dot == std::string::npos ? std::string::npos : dot - from);
      DASG_CHECK(!part.empty(), where, ": override '", key, "' has an empty key part");
      at = &(*at)[part];
      if (dot == std::string::npos) break;
      from = dot + 1;
    }
    if (value.is_object() && at->is_object()) at->merge_patch(value);
    else *at = value;
  }
  return raw;
}

ExperimentResult run_experiment(const ExperimentSpec& spec, const ExperimentOptions& o, const ConfigLoader& load_config,
                                const Runner& runner) {
  DASG_CHECK(o.jobs >= 1, "experiment: --jobs ", o.jobs, "; expected >= 1");
  const std::vector<Cell> cells = expand_grid(spec);
  const int total_threads = o.threads > 0 ? o.threads : num_threads();
  const int threads = std::max(1, total_threads / o.jobs);

  // Every cell's config, built and checked before anything runs.
  std::vector<CellRun> runs;
  for (const Cell& c : cells) {
    const std::string where = "experiment " + spec.name + ", cell " + c.id;
    nlohmann::json raw = load_config(c.config);
    if (spec.seq_len > 0) raw["max_seq_len"] = spec.seq_len;
    raw = apply_overrides(std::move(raw), c.overrides, where);
    try {
      Config::from_json(raw);
    } catch (const Error& e) {
      DASG_FAIL(where, ": ", e.what());
    }
    for (uint64_t seed : spec.seeds) {
      CellRun r;
      r.cell = &c;
      r.seed = seed;
      r.dir = (fs::path(o.out_dir) / "cells" / c.folder / ("seed-" + std::to_string(seed))).string();
      r.config_path = (fs::path(r.dir) / "config.json").string();
      r.run_dir = (fs::path(r.dir) / "run").string();
      r.log_path = (fs::path(r.dir) / "log.txt").string();
      r.threads = threads;
      r.identity = {{"task", spec.task}, {"config", raw},         {"seed", seed},       {"steps", spec.steps},
                    {"seq_len", spec.seq_len}, {"args", spec.args}, {"data", spec.data}};
      runs.push_back(std::move(r));
    }
  }

  // Which runs are finished already.
  ExperimentResult result;
  std::vector<nlohmann::json> done(runs.size());
  std::vector<size_t> pending;
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string path = (fs::path(runs[i].dir) / "done.json").string();
    if (fs::exists(path)) {
      nlohmann::json d = read_json_file(path);
      DASG_CHECK(d.is_object() && d.contains("identity") && d["identity"] == runs[i].identity, "experiment: '", path,
                 "' records a run of another spec (its task, config, seed, steps or args differ); give another --out "
                 "or remove that folder");
      if (d.value("status", "") == "ok") {
        done[i] = std::move(d);
        ++result.reused;
        continue;
      }
    }
    pending.push_back(i);
  }
  if (!o.quiet)
    std::fprintf(stderr, "experiment %s: %zu cells x %zu seeds = %zu runs; %lld finished already, %zu to run, %d at "
                 "once with %d thread(s) each\n", spec.name.c_str(), cells.size(), spec.seeds.size(), runs.size(),
                 (long long)result.reused, pending.size(), o.jobs, threads);

  std::mutex mu;
  std::atomic<size_t> next{0};
  std::exception_ptr stop;
  int64_t finished = 0;
  auto work = [&] {
    for (;;) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return;
      }
      const size_t k = next++;
      if (k >= pending.size()) return;
      CellRun& r = runs[pending[k]];
      nlohmann::json d = {{"cell", r.cell->id}, {"seed", r.seed}, {"identity", r.identity}};
      const auto t0 = std::chrono::steady_clock::now();
      try {
        std::error_code ec;
        fs::remove_all(r.dir, ec);  // an unfinished or failed run starts again from nothing
        fs::create_directories(r.dir);
        write_text_file(r.config_path, r.identity["config"].dump(2) + "\n");
        const int status = runner(r);
        d["exit_status"] = status;
        if (status == 0) {
          try {
            d["summary"] = summarize_run(r.run_dir, spec.task).to_json();
            d["status"] = "ok";
          } catch (const Error& e) {
            d["status"] = "failed";
            d["error"] = e.what();
          }
        } else {
          d["status"] = "failed";
          d["error"] = (status == 124 && spec.budget_s > 0 ? "stopped past budget_s = " + json_excerpt(spec.budget_s) + " s"
                                                           : "exited with status " + std::to_string(status)) +
                       " (see " + r.log_path + ")";
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!stop) stop = std::current_exception();
        return;
      }
      d["wall_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      write_text_file((fs::path(r.dir) / "done.json").string(), d.dump(2) + "\n");
      std::lock_guard<std::mutex> lock(mu);
      ++finished;
      if (d["status"] == "ok") ++result.ran;
      else ++result.failed;
      if (!o.quiet)
        std::fprintf(stderr, "[%lld/%zu] %s seed %llu: %s (%.0f s)%s%s\n", (long long)finished, pending.size(),
                     r.cell->id.c_str(), (unsigned long long)r.seed, d["status"].get<std::string>().c_str(),
                     d["wall_s"].get<double>(), d.contains("error") ? " — " : "",
                     d.contains("error") ? d["error"].get<std::string>().c_str() : "");
      done[pending[k]] = std::move(d);
    }
  };
  std::vector<std::thread> pool;
  for (int j = 0; j < std::min<int>(o.jobs, (int)std::max<size_t>(pending.size(), 1)); ++j) pool.emplace_back(work);
  for (std::thread& t : pool) t.join();

  result.results = experiment_results(spec, cells, done);
  result.results_path = (fs::path(o.out_dir) / "results.json").string();
  result.table_path = (fs::path(o.out_dir) / "results.md").string();
  fs::create_directories(o.out_dir);
  write_text_file(result.results_path, result.results.dump(2) + "\n");
  write_text_file(result.table_path, results_markdown(result.results));
  if (stop) std::rethrow_exception(stop);
  return result;
}

}  // namespace dasg
