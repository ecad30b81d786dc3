// Suite "train": checkpoint directories — atomic saves, and validation on load: every bad input
// of issue 14 (non-finite weights or moments, a moment missing, metadata missing or not a number,
// a negative or fractional step, deep_active neither "true" nor "false", a truncated DIR beside a
// good DIR.old) is an error naming the file and the tensor or key, or a fallback with a warning.
// Each bad checkpoint is made here from a good one.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

#include "model/model.hpp"
#include "model/safetensors.hpp"
#include "tests/helpers.hpp"
#include "train/checkpoint.hpp"
#include "train/router_state.hpp"

using namespace dasg;
namespace fs = std::filesystem;

namespace {

const char* kTinyConfig = R"({"vocab_size": 32, "max_seq_len": 16, "d_model": 16, "n_layer": 1, "n_head": 2,
  "gmha": {"groups": 2}, "moe": {"n_shallow": 2, "n_deep": 2, "top_k": 1}})";

Checkpoint good_checkpoint(int64_t step = 3) {
  Model model(Config::parse(kTinyConfig), 1);
  Checkpoint c;
  c.model = model.parameters().state_dict();
  c.model_metadata = {{"config", model.config().to_json().dump()}, {"deep_active", "false"}};
  for (const NamedTensor& t : model.parameters().all()) {
    if (t.buffer) continue;
    c.optim["m." + t.name] = Tensor::full(t.tensor.shape(), 0.01);
    c.optim["v." + t.name] = Tensor::full(t.tensor.shape(), 0.001);
  }
  c.optim_steps = step;
  c.state = {{"step", step},
             {"skipped_steps", 0},
             {"config", model.config().to_json()},
             {"loader", nlohmann::json::object()},
             {"rng", {{"seed", 1}, {"offset", 0}}},
             {"adr", RouterState(model.config()).to_json()}};
  return c;
}

struct Dir {
  std::string path, model, optim, old;  // DIR, its two safetensors files, DIR.old
  explicit Dir(const std::string& name)
      : path((fs::temp_directory_path() / ("dasg_test_ckpt_" + name)).string()),
        model(path + "/model.safetensors"),
        optim(path + "/optim.safetensors"),
        old(path + ".old") {
    clean();
  }
  ~Dir() { clean(); }
  void clean() const {
    for (const char* s : {"", ".old", ".tmp"}) fs::remove_all(path + s);
  }
  std::string operator/(const char* f) const { return path + "/" + f; }
};

// Rewrites one safetensors file of a checkpoint through f(tensors, metadata).
template <class F>
void edit(const std::string& file, F f) {
  SafetensorsFile s = read_safetensors(file);
  f(s.tensors, s.metadata);
  write_safetensors(file, s.tensors, s.metadata);
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("checkpoint: round trip, validated") {
    Dir d("roundtrip");
    save_checkpoint(d.path, good_checkpoint(7));
    Checkpoint c = load_checkpoint(d.path);
    CHECK(c.dir == d.path);
    CHECK(c.train.step == 7);
    CHECK(c.optim_steps == 7);
    CHECK(c.optim.size() == good_checkpoint().optim.size());
    CHECK(read_safetensors(d / "optim.safetensors").metadata.at("tensors") == std::to_string(c.optim.size()));
    CHECK(load_model(d.path)->config().d_model == 16);
  }

  TEST_CASE("checkpoint: a crash between writing and renaming leaves the previous checkpoint loadable") {
    Dir d("crash");
    save_checkpoint(d.path, good_checkpoint(1));
    struct Crash {};
    CHECK_THROWS_AS(save_checkpoint(d.path, good_checkpoint(2), [] { throw Crash{}; }), Crash);
    CHECK(load_checkpoint(d.path).train.step == 1);
    fs::resize_file(d.path + ".tmp/model.safetensors", 10);  // a crash mid-write: DIR.tmp is never read
    CHECK(load_checkpoint(d.path).train.step == 1);
    fs::rename(d.path, d.path + ".old");  // cut between the two renames
    CHECK(load_checkpoint(d.path).train.step == 1);
    save_checkpoint(d.path, good_checkpoint(3));
    CHECK(load_checkpoint(d.path).train.step == 3);
    CHECK(!fs::exists(d.path + ".old"));
    CHECK(!fs::exists(d.path + ".tmp"));
  }

  TEST_CASE("checkpoint: a directory without a checkpoint is named") {
    CHECK_ERROR_CONTAINS(load_checkpoint("/nonexistent/ckpt"), "/nonexistent/ckpt", "no complete checkpoint");
  }

  TEST_CASE("checkpoint: non-finite weights or moments are errors naming the file and tensor") {
    Dir d("nan");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "model.safetensors", [](auto& t, auto&) {
      for (auto& [name, x] : t)
        if (name == "wte.weight") x = Tensor::full(x.shape(), std::numeric_limits<double>::quiet_NaN());
    });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "'wte.weight'", "non-finite");
    CHECK_ERROR_CONTAINS(load_model(d.path), d.model.c_str(), "non-finite");
    CHECK_ERROR_CONTAINS(checkpoint_path(d.path), "non-finite");

    save_checkpoint(d.path, good_checkpoint());
    edit(d / "optim.safetensors", [](auto& t, auto&) { t[3].second = Tensor::full(t[3].second.shape(), INFINITY); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "non-finite");
    CHECK(load_checkpoint(d.path, /*reset_optimizer=*/true).optimizer_reset);
    CHECK(load_checkpoint(d.path, true).optim.empty());

    save_checkpoint(d.path, good_checkpoint());
    edit(d / "optim.safetensors", [](auto& t, auto&) {
      for (auto& [name, x] : t)
        if (name.rfind("v.", 0) == 0) x = Tensor::full(x.shape(), -1.0);
    });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "second moment is >= 0");
  }

  TEST_CASE("checkpoint: missing optimizer state or metadata is an error, not zeros") {
    Dir d("optim");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "optim.safetensors", [](auto& t, auto&) { t.erase(t.begin() + 1); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "lost optimizer state",
                         "--reset-optimizer");
    edit(d / "optim.safetensors", [](auto&, auto& m) { m.erase("tensors"); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "missing tensor",
                         "--reset-optimizer");
    CHECK(load_checkpoint(d.path, true).optim_steps == 0);

    save_checkpoint(d.path, good_checkpoint());
    edit(d / "optim.safetensors", [](auto&, auto& m) { m.clear(); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "no 'steps'");
    edit(d / "optim.safetensors", [](auto&, auto& m) { m["steps"] = "abc"; });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "'steps'", "\"abc\" is not an integer");
    edit(d / "optim.safetensors", [](auto&, auto& m) { m["steps"] = "-3"; });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.optim.c_str(), "-3 is out of range");
    edit(d / "optim.safetensors", [](auto&, auto& m) { m["steps"] = "0"; });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), "holds optimizer state but its step count is 0");

    save_checkpoint(d.path, good_checkpoint());
    edit(d / "optim.safetensors", [](auto& t, auto& m) {
      t.emplace_back("m.nothing", Tensor::zeros({1}));
      m["tensors"] = std::to_string(t.size());
    });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), "'m.nothing' names no trainable parameter");
  }

  TEST_CASE("checkpoint: model tensors must match the config; metadata is typed") {
    Dir d("model");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "model.safetensors", [](auto&, auto& m) { m["deep_active"] = "yes"; });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "'deep_active' is \"yes\"",
                         "expected \"true\" or \"false\"");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "model.safetensors", [](auto& t, auto&) { t.pop_back(); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "missing tensor");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "model.safetensors", [](auto& t, auto&) { t[0].second = Tensor::zeros({3}); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "the config needs");
    save_checkpoint(d.path, good_checkpoint());
    edit(d / "model.safetensors", [](auto&, auto& m) { m["config"] = std::string(100000, '[') + std::string(100000, ']'); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "'config'", "nested deeper");
    edit(d / "model.safetensors", [](auto&, auto& m) { m.erase("config"); });
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.model.c_str(), "no 'config'");
  }

  TEST_CASE("checkpoint: state.json is read typed, with ranges, naming the file and key") {
    Dir d("state");
    const std::string state = d / "state.json";
    auto with = [&](const char* key, nlohmann::json value) {
      Checkpoint c = good_checkpoint();
      if (value.is_null()) c.state.erase(key);
      else c.state[key] = value;
      save_checkpoint(d.path, c);
    };
    with("step", -5);
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "key 'step' is -5", "expected an integer in [0,");
    with("step", 2.5);
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "key 'step' is 2.5");
    with("step", nullptr);
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "key 'step' is missing");
    with("skipped_steps", 99);
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "'skipped_steps' is 99");
    with("rng", "x");
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "'rng'", "expected an object");
    with("adr", nlohmann::json::array());
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "'adr' holds 0 layers");
    save_checkpoint(d.path, good_checkpoint());
    write_text(state, "{\"step\": 1,");
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "malformed JSON at byte offset");
    write_text(state, std::string(200000, '[') + std::string(200000, ']'));
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), state.c_str(), "nested deeper than 256 levels");
  }

  TEST_CASE("checkpoint: a damaged DIR falls back to a good DIR.old with a warning naming both") {
    Dir d("fallback");
    save_checkpoint(d.path, good_checkpoint(4));
    fs::copy(d.path, d.path + ".old", fs::copy_options::recursive);
    save_checkpoint(d.path + ".new", good_checkpoint(8));  // a newer DIR, then truncated
    fs::remove_all(d.path);
    fs::rename(d.path + ".new", d.path);
    fs::resize_file(d / "model.safetensors", 100);
    Checkpoint c = load_checkpoint(d.path);
    CHECK(c.dir == d.path + ".old");
    CHECK(c.train.step == 4);
    CHECK(checkpoint_path(d.path) == d.path + ".old");
    // both bad: the error names both
    fs::resize_file(d.path + ".old/state.json", 3);
    CHECK_ERROR_CONTAINS(load_checkpoint(d.path), d.path.c_str(), d.old.c_str(), "unusable");
  }
}
