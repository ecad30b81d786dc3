// Suite "experiment" (`dasg experiment`, train/experiment.hpp): Student-t quantiles and a 95%
// interval against a hand computation, through results.json too; the grid's cells and
// overrides; an interrupted grid resumed without re-running a finished run; failed runs reported,
// not dropped; a spec that changed under a used folder, and a misspelt config key, refused. The
// runs are fake (a Runner writing metrics.jsonl and state.json), so no model trains here.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <set>

#include "engine/json.hpp"
#include "model/config.hpp"
#include "tests/helpers.hpp"
#include "train/confidence.hpp"
#include "train/experiment.hpp"
#include "train/experiment_results.hpp"

using namespace dasg;
namespace fs = std::filesystem;

namespace {

const char* kBase = R"({"max_seq_len": 32, "d_model": 16, "n_layer": 2, "n_head": 2, "gmha": {"groups": 4},
  "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 16, "top_k": 1}})";

ExperimentSpec spec_of(const char* text) { return ExperimentSpec::from_json(nlohmann::json::parse(text), "spec"); }

nlohmann::json load_base(const std::string&) { return nlohmann::json::parse(kBase); }

// A finished run as the trainer leaves it: step records, an evaluation with `accuracy`, the config.
void fake_run(const CellRun& r, double accuracy) {
  fs::create_directories(fs::path(r.run_dir) / "checkpoint");
  std::ofstream m(fs::path(r.run_dir) / "metrics.jsonl");
  for (int step = 0; step < 10; ++step)
    m << nlohmann::json{{"step", step}, {"loss", 1.0}, {"tokens_per_s", 100.0 + step}, {"deep_rate", {0.25, 0.5}}}.dump()
      << "\n";
  m << nlohmann::json{{"step", 9}, {"eval", true}, {"dev_loss", 0.5}, {"dev_accuracy", 0.5}, {"test_accuracy", accuracy}}
           .dump()
    << "\n";
  const Config cfg = Config::from_json(read_json_file(r.config_path));
  std::ofstream(fs::path(r.run_dir) / "checkpoint" / "state.json") << nlohmann::json{{"config", cfg.to_json()}}.dump();
}

ExperimentOptions options(const std::string& name, int jobs = 1) {
  ExperimentOptions o;
  o.out_dir = (fs::temp_directory_path() / name).string();
  o.jobs = jobs;
  o.threads = 2;
  o.quiet = true;
  return o;
}

}  // namespace

TEST_SUITE("experiment") {
  TEST_CASE("experiment: Student t quantiles and a 95% interval by hand") {
    CHECK(student_t_cdf(0, 3) == doctest::Approx(0.5));
    CHECK(student_t_cdf(1, 1) == doctest::Approx(0.75));  // Cauchy: 1/2 + atan(1)/π
    CHECK(student_t_quantile(0.975, 1) == doctest::Approx(12.706204736).epsilon(1e-9));
    CHECK(student_t_quantile(0.975, 2) == doctest::Approx(4.302652730).epsilon(1e-9));
    CHECK(student_t_quantile(0.975, 4) == doctest::Approx(2.776445105).epsilon(1e-9));
    CHECK(student_t_quantile(0.975, 30) == doctest::Approx(2.042272456).epsilon(1e-9));
    CHECK(student_t_quantile(0.025, 2) == doctest::Approx(-4.302652730).epsilon(1e-9));
    // 0.80, 0.82, 0.84: mean 0.82, s = sqrt((0.0004 + 0 + 0.0004) / 2) = 0.02,
    // half = t(0.975, 2) · 0.02 / √3 = 4.302652730 · 0.011547005 = 0.049682755.
    const MeanCI m = mean_ci95({0.80, 0.82, 0.84});
    CHECK(m.n == 3);
    CHECK(m.mean == doctest::Approx(0.82));
    CHECK(m.sd == doctest::Approx(0.02));
    CHECK(m.half == doctest::Approx(0.049682755).epsilon(1e-8));
    CHECK(std::isnan(mean_ci95({0.5}).half));
    CHECK_ERROR_CONTAINS(mean_ci95({}), "no values");

    // The same numbers through a whole (fake) experiment's results.json.
    const ExperimentSpec spec = spec_of(R"({"task": "listops", "config": "tiny", "steps": 10, "seeds": [7, 8, 9]})");
    ExperimentOptions o = options("dasg_experiment_ci");
    fs::remove_all(o.out_dir);
    ExperimentResult r = run_experiment(spec, o, load_base, [](const CellRun& run) {
      fake_run(run, run.seed == 7 ? 0.80 : run.seed == 8 ? 0.82 : 0.84);
      return 0;
    });
    const nlohmann::json cell = read_json_file(r.results_path)["cells"][0];
    CHECK(cell["id"] == "base");
    CHECK(cell["metric"]["mean"].get<double>() == doctest::Approx(0.82));
    CHECK(cell["metric"]["half"].get<double>() == doctest::Approx(0.049682755).epsilon(1e-8));
    CHECK(cell["tokens_per_s"]["mean"].get<double>() == 105);  // the median of 100..109 (upper middle)
    CHECK(cell["deep_rate"][1]["mean"].get<double>() == doctest::Approx(0.5));
    CHECK(cell["deep_rate"][1]["half"].get<double>() == 0);
    std::ifstream md(r.table_path);
    const std::string table((std::istreambuf_iterator<char>(md)), std::istreambuf_iterator<char>());
    CHECK(table.find("| base | 0.8200 ± 0.0497 |") != std::string::npos);
  }

  TEST_CASE("experiment: the grid's cells, ids and overrides") {
    const ExperimentSpec spec = spec_of(R"({"task": "sst2", "config": "tiny", "steps": 5,
      "grid": {"gmha.groups": [1, 2], "adr": [{"theta_s": 0.2, "theta_d": 0.6}], "config": ["a", "b"]}})");
    CHECK(spec.seeds == std::vector<uint64_t>{1, 2, 3});
    const std::vector<Cell> cells = expand_grid(spec);
    REQUIRE(cells.size() == 4);  // axes in key order: adr, config, gmha.groups
    CHECK(cells[0].id == R"(adr={"theta_d":0.6,"theta_s":0.2},config=a,gmha.groups=1)");
    CHECK(cells[3].config == "b");
    CHECK(cells[0].folder.find('"') == std::string::npos);
    const nlohmann::json raw = apply_overrides(nlohmann::json::parse(kBase), cells[1].overrides, "test");
    CHECK(raw["gmha"]["groups"] == 2);
    CHECK(raw["adr"]["theta_s"] == 0.2);
    CHECK(raw["d_model"] == 16);
    const nlohmann::json merged = apply_overrides(nlohmann::json::parse(R"({"adr": {"alpha": 0.3}})"),
                                                  {{"adr", {{"theta_s", 0.1}}}, {"moe.top_k", 2}}, "test");
    CHECK(merged["adr"]["alpha"] == 0.3);  // merged, not replaced
    CHECK(merged["moe"]["top_k"] == 2);
    CHECK_ERROR_CONTAINS(apply_overrides(nlohmann::json::parse(R"({"ffn": "dasg"})"), {{"ffn.x", 1}}, "cell c"),
                         "cell c", "ffn.x");
    CHECK_ERROR_CONTAINS(spec_of(R"({"task": "glue", "config": "c", "steps": 1})"), "expected lm, sst2");
    CHECK_ERROR_CONTAINS(spec_of(R"({"task": "sst2", "config": "c", "steps": 1, "sedes": 3})"), "unknown key \"sedes\"");
    CHECK_ERROR_CONTAINS(spec_of(R"({"task": "lm", "config": "c", "steps": 1})"), "needs \"data\"");
    CHECK_ERROR_CONTAINS(spec_of(R"({"task": "sst2", "config": "c", "steps": 1, "seeds": [1, 1]})"), "listed twice");
    CHECK_ERROR_CONTAINS(spec_of(R"({"task": "sst2", "config": "c", "steps": 1, "grid": {"ffn": ["dense", "dense"]}})"),
                         "grid.ffn lists \"dense\" twice");
  }

  TEST_CASE("experiment: resuming an interrupted grid re-runs no finished run") {
    struct Interrupted {};
    const ExperimentSpec spec = spec_of(R"({"task": "listops", "config": "tiny", "steps": 10, "seeds": 2,
      "grid": {"gmha.groups": [2, 4], "adr.random": [false, true]}})");
    ExperimentOptions o = options("dasg_experiment_resume");
    fs::remove_all(o.out_dir);
    std::set<std::string> first;
    int calls = 0;
    CHECK_THROWS_AS(run_experiment(spec, o, load_base, [&](const CellRun& r) {
                      if (++calls == 5) {  // killed mid-run: half a run on disk, no done.json
                        fs::create_directories(r.run_dir);
                        std::ofstream(fs::path(r.run_dir) / "metrics.jsonl") << "{\"step\": 0";
                        throw Interrupted{};
                      }
                      fake_run(r, 0.5);
                      first.insert(r.dir);
                      return 0;
                    }),
                    Interrupted);
    CHECK(first.size() == 4);
    std::map<std::string, fs::file_time_type> stamps;
    for (const std::string& d : first) stamps[d] = fs::last_write_time(fs::path(d) / "done.json");

    std::mutex mu;
    std::set<std::string> second;
    o.jobs = 2;
    ExperimentResult r = run_experiment(spec, o, load_base, [&](const CellRun& run) {
      CHECK(!fs::exists(fs::path(run.run_dir) / "metrics.jsonl"));  // the interrupted run starts from nothing
      CHECK(run.threads == 1);                                        // 2 threads, 2 jobs
      fake_run(run, 0.5);
      std::lock_guard<std::mutex> lock(mu);
      second.insert(run.dir);
      return 0;
    });
    CHECK(second.size() == 4);
    for (const std::string& d : second) CHECK(first.count(d) == 0);
    for (const auto& [d, t] : stamps) CHECK(fs::last_write_time(fs::path(d) / "done.json") == t);
    CHECK(r.reused == 4);
    CHECK(r.ran == 4);
    CHECK(r.failed == 0);
    for (const nlohmann::json& c : r.results["cells"]) CHECK(c["ok"] == 2);

    // Everything finished: a third invocation runs nothing.
    const ExperimentResult again = run_experiment(spec, o, load_base, [&](const CellRun&) -> int {
      FAIL("a finished run ran again");
      return 1;
    });
    CHECK(again.reused == 8);
  }

  TEST_CASE("experiment: failed runs are reported and not dropped, a changed spec or a bad key refused") {
    const char* text = R"({"task": "listops", "config": "tiny", "steps": 10, "seeds": 2, "grid": {"ffn": ["dasg", "dense"]}})";
    ExperimentOptions o = options("dasg_experiment_failed");
    fs::remove_all(o.out_dir);
    ExperimentResult r = run_experiment(spec_of(text), o, load_base, [](const CellRun& run) {
      if (run.cell->id == "ffn=dense" && run.seed == 2) return 3;
      fake_run(run, 0.6);
      return 0;
    });
    CHECK(r.failed == 1);
    const nlohmann::json& dense = r.results["cells"][1];
    CHECK(dense["id"] == "ffn=dense");
    CHECK(dense["ok"] == 1);
    CHECK(dense["failed"] == 1);
    CHECK(dense["runs"][1]["status"] == "failed");
    CHECK(dense["runs"][1]["error"].get<std::string>().find("exited with status 3") != std::string::npos);
    CHECK(dense["metric"]["n"] == 1);
    CHECK(dense["metric"]["half"].is_null());
    CHECK(dense["deep_rate"].empty());  // dense has no tiers
    const std::string md = results_markdown(r.results);
    CHECK(md.find("| ffn=dense | 0.6000 (1 seed) |") != std::string::npos);
    CHECK(md.find("- ffn=dense, seed 2: failed — exited with status 3") != std::string::npos);

    // The failed run is the only one a resume runs.
    int calls = 0;
    r = run_experiment(spec_of(text), o, load_base, [&](const CellRun& run) {
      ++calls;
      fake_run(run, 0.6);
      return 0;
    });
    CHECK(calls == 1);
    CHECK(r.results["cells"][1]["ok"] == 2);

    ExperimentSpec changed = spec_of(text);
    changed.steps = 20;
    CHECK_ERROR_CONTAINS(run_experiment(changed, o, load_base, [](const CellRun&) { return 0; }),
                         "records a run of another spec");
    CHECK_ERROR_CONTAINS(run_experiment(spec_of(R"({"task": "sst2", "config": "tiny", "steps": 1,
                           "grid": {"gmha.groupz": [2]}})"), o, load_base, [](const CellRun&) { return 0; }),
                         "cell gmha.groupz=2", "gmha.groupz");
  }
}
