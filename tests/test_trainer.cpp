// Suite "trainer": the training loop end to end on a small byte-level data set — resume is
// bit-exact, a NaN injected into a gradient is skipped and counted, too many in a row stop the
// run with the last checkpoint intact, a run that trained nothing is an error, and a missing or
// too small val split is refused before the first step.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "data/shard.hpp"
#include "tests/helpers.hpp"
#include "tests/train_data.hpp"
#include "train/checkpoint.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"

using namespace dasg;
namespace fs = std::filesystem;

namespace {

// The shared fixture (tests/train_data.hpp), under this suite's old names.
std::string make_data(const std::string& name) { return test::make_lm_data(name); }

TrainOptions tiny_options(const std::string& data, const std::string& out) {
  TrainOptions o;
  o.model = Config::parse(R"({"max_seq_len": 32, "d_model": 32, "n_layer": 2, "n_head": 2, "gmha": {"groups": 4},
                              "moe": {"n_shallow": 4, "n_deep": 4, "d_ff": 32, "top_k": 2},
                              "dsse": {"transfer_step": 2}})");
  o.data_dir = data;
  o.out_dir = out;
  o.steps = 6;
  o.batch = 4;
  o.grad_accum = 2;
  o.warmup = 2;
  o.lr = 3e-3;
  o.eval_every = 0;
  o.eval_batches = 2;
  o.ckpt_every = 3;
  o.quiet = true;
  return o;
}

using test::step_records;

struct Crash {};

}  // namespace

TEST_SUITE("trainer") {
  TEST_CASE("trainer: resume is bit-exact") {
    std::string data = make_data("dasg_trainer_resume_data");
    std::string out_a = (fs::temp_directory_path() / "dasg_trainer_a").string();
    std::string out_b = (fs::temp_directory_path() / "dasg_trainer_b").string();
    fs::remove_all(out_a);
    fs::remove_all(out_b);
    TrainResult a = train_language_model(tiny_options(data, out_a));
    // Run B crashes after the step-3 checkpoint, then resumes from it (crossing the DSSE transfer
    // at step 2 and the REINFORCE/evaluator state with it).
    CHECK_THROWS_AS(train_language_model(tiny_options(data, out_b), [](int64_t step, const std::vector<NamedParam>&) { if (step == 4) throw Crash{}; }),
                    Crash);
    TrainOptions resume = tiny_options(data, out_b);
    resume.resume = (fs::path(out_b) / "checkpoint").string();
    TrainResult b = train_language_model(resume);
    auto ra = step_records(a.metrics_path), rb = step_records(b.metrics_path);
    REQUIRE(ra.size() == 6);
    REQUIRE(rb.size() == 3 + 1 + 3);  // steps 0-2, step 3 (before the crash at 4), then 3-5 again
    for (int i = 0; i < 3; ++i) {
      const auto& x = ra[3 + i];
      const auto& y = rb[4 + i];
      CHECK(x["step"] == y["step"]);
      CHECK(x["loss"].get<double>() == y["loss"].get<double>());  // to the last bit
      CHECK(x["grad_norm"].get<double>() == y["grad_norm"].get<double>());
    }
    CHECK(a.final_val_loss == b.final_val_loss);
  }

  TEST_CASE("trainer: a NaN injected into a gradient is skipped and counted") {
    std::string data = make_data("dasg_trainer_nan_data");
    std::string out = (fs::temp_directory_path() / "dasg_trainer_nan").string();
    fs::remove_all(out);
    TrainResult r = train_language_model(tiny_options(data, out), [](int64_t step, const std::vector<NamedParam>& ps) {
      if (step == 2) ps[0].tensor.grad().data<float>()[0] = NAN;
    });
    CHECK(r.skipped_steps == 1);
    auto records = step_records(r.metrics_path);
    REQUIRE(records.size() == 6);
    CHECK(records[2]["skipped"] == true);
    CHECK(records[5]["skipped_steps"] == 1);
    CHECK(std::isfinite(records[5]["loss"].get<double>()));
  }

  TEST_CASE("trainer: too many non-finite steps in a row stop the run, the last checkpoint intact") {
    std::string data = make_data("dasg_trainer_nan_stop_data");
    std::string out = (fs::temp_directory_path() / "dasg_trainer_nan_stop").string();
    fs::remove_all(out);
    TrainOptions o = tiny_options(data, out);
    o.max_bad_steps = 2;
    auto poison_from_4 = [](int64_t step, const std::vector<NamedParam>& ps) {
      if (step >= 4) ps[0].tensor.grad().data<float>()[0] = NAN;
    };
    CHECK_ERROR_CONTAINS(train_language_model(o, poison_from_4), "stopped after 2 non-finite steps", "intact");
    Checkpoint c = load_checkpoint((fs::path(out) / "checkpoint").string());
    CHECK(c.state["step"] == 3);
  }

  TEST_CASE("trainer: a skipped last step still ends the run evaluated and saved") {
    std::string data = make_data("dasg_trainer_nan_last_data");
    std::string out = (fs::temp_directory_path() / "dasg_trainer_nan_last").string();
    fs::remove_all(out);
    TrainOptions o = tiny_options(data, out);
    o.ckpt_every = 0;
    TrainResult r = train_language_model(o, [](int64_t step, const std::vector<NamedParam>& ps) {
      if (step == 5) ps[0].tensor.grad().data<float>()[0] = NAN;
    });
    CHECK(r.skipped_steps == 1);
    CHECK(r.checkpoint_written);
    REQUIRE(!r.last_eval.is_null());
    CHECK(r.last_eval["step"] == 5);
    CHECK(std::isfinite(r.final_val_loss));
    Checkpoint c = load_checkpoint(r.checkpoint_dir);
    CHECK(c.state["step"] == 6);
    CHECK(c.state["skipped_steps"] == 1);
  }

  TEST_CASE("trainer: a run whose every step is skipped is an error and writes no checkpoint") {
    std::string data = make_data("dasg_trainer_nan_all_data");
    std::string out = (fs::temp_directory_path() / "dasg_trainer_nan_all").string();
    fs::remove_all(out);
    TrainOptions o = tiny_options(data, out);
    o.steps = 3;
    o.max_bad_steps = 10;
    auto poison_all = [](int64_t, const std::vector<NamedParam>& ps) { ps[0].tensor.grad().data<float>()[0] = NAN; };
    CHECK_ERROR_CONTAINS(train_language_model(o, poison_all), "every one of the 3 steps from step 0",
                         "no checkpoint was written");
    CHECK(!fs::exists(fs::path(out) / "checkpoint"));
  }

  TEST_CASE("trainer: a missing or too small val split is refused before the first step") {
    std::string data = make_data("dasg_trainer_noval_data");
    std::string out = (fs::temp_directory_path() / "dasg_trainer_noval").string();
    TrainOptions o = tiny_options(data, out);
    o.steps = 2;
    o.ckpt_every = 0;
    // No val shard at all: refused before anything is trained or written.
    fs::remove(fs::path(data) / "toy_val_000.bin");
    fs::remove_all(out);
    CHECK_ERROR_CONTAINS(train_language_model(o), data.c_str(), "val", "--no-val");
    CHECK(!fs::exists(fs::path(out) / "metrics.jsonl"));
    // A val shard shorter than one batch (4 x 33 tokens) is refused the same way.
    data::write_shard((fs::path(data) / "toy_val_000.bin").string(), std::vector<int32_t>(100, 'a'));
    CHECK_ERROR_CONTAINS(train_language_model(o), "the val shards of", "hold 3 samples", "a batch needs B=4", "--no-val");
    CHECK(!fs::exists(fs::path(out) / "metrics.jsonl"));
    // The explicit choice: no validation at all.
    o.no_val = true;
    o.eval_every = 0;
    TrainResult r = train_language_model(o);
    CHECK(r.checkpoint_written);
    CHECK(r.last_eval.is_null());
  }
}
