// The helpers of the "dist" suite's files (test_dist.cpp, test_dist_experts.cpp): the 2-rank
// communicator, folders, the tiny runs' options and the comparisons of two runs' records and
// checkpoints.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <thread>

#include "dist/communicator.hpp"
#include "model/config.hpp"
#include "tests/train_data.hpp"
#include "data/synthetic.hpp"
#include "train/checkpoint.hpp"
#include "train/data_parallel.hpp"
#include "ops/elementwise.hpp"
#include "ops/reduce.hpp"
#include "autograd/node.hpp"
#include "train/classifier.hpp"
#include "train/optimizer.hpp"
#include "train/trainer.hpp"

namespace dasg::dist_test {

namespace fs = std::filesystem;

// Short enough that a case failing on one rank ends the run in a minute, not ten.
inline dist::CommOptions test_comm() {
  dist::CommOptions o;
  o.timeout_s = 60;
  o.bucket_bytes = 64 << 10;  // the tiny models' gradients in several buckets, most started during the backward
  return o;
}

// The launcher's communicator, or null (and a message) when not run by mpirun with 2 ranks.
inline std::shared_ptr<dist::Communicator> two_ranks(const dist::CommOptions& o = test_comm()) {
  std::shared_ptr<dist::Communicator> c = dist::from_launcher("test_dist", o);
  if (c->size() != 2) {
    MESSAGE("skipped: needs 2 ranks (tests/dist.sh runs this under mpirun -np 2); world size is " << c->size());
    return nullptr;
  }
  return c;
}

// A fresh folder of this rank's own.
inline std::string tmp(const std::string& name) {
  const fs::path p = fs::temp_directory_path() / name;
  fs::remove_all(p);
  return p.string();
}

// A fresh folder both ranks use: rank 0 clears it, then both go on.
inline std::string shared_tmp(dist::Communicator& comm, const std::string& name) {
  const fs::path p = fs::temp_directory_path() / name;
  if (comm.rank() == 0) fs::remove_all(p);
  comm.barrier();
  return p.string();
}

// A 10-step run of a tiny preset on the toy shards: B sequences of 32 tokens, no evaluation.
inline TrainOptions options(const std::string& preset, const std::string& data, const std::string& out) {
  TrainOptions o;
  o.model = Config::load("train/configs/" + preset + ".json");
  if (o.model.ffn == "dasg") o.model.dsse.transfer_step = 3;  // sampling and REINFORCE from step 3 on
  o.data_dir = data;
  o.out_dir = out;
  o.steps = 10;
  o.batch = 2;
  o.seq_len = 32;
  o.warmup = 2;
  o.lr = 3e-3;
  // Exactly-zero gradients (attention's key bias) are rounding noise that differs with the batch
  // split; AdamW with eps 1e-8 would turn it into lr-sized steps (see tests/test_device_train.cpp).
  o.adam_eps = 1e-5;
  o.eval_every = 0;
  o.ckpt_every = 0;
  o.no_val = true;
  o.tensorboard = false;
  o.quiet = true;
  return o;
}

// Relative to `rel`, with an absolute floor of 1e-6 for values that are round-off themselves
// (the REINFORCE surrogate of a step whose advantages are centred on the batch's own mean: a
// sum of terms of order 1e-2 that cancels to about 1e-3, so summing the micro-batches' gradients
// in another order moved it by 1.7e-7, 1e-4 of its value, in the ListOps fine-tuning case).
inline bool close(double a, double b, double rel = 1e-5) {
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b)) + 1e-6;
}

// Two JSON values alike: numbers to `rel`, arrays element by element, anything else equal.
inline void check_same_value(const nlohmann::json& a, const nlohmann::json& b, double rel) {
  if (a.is_number() && b.is_number()) {
    CHECK(close(a.get<double>(), b.get<double>(), rel));
  } else if (a.is_array() && b.is_array()) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) check_same_value(a[i], b[i], rel);
  } else {
    CHECK(a == b);
  }
}

// Every number of two step records (losses, norm, routing statistics) to `rel`, tokens/s aside.
inline void check_same_step(const nlohmann::json& a, const nlohmann::json& b, double rel = 1e-5) {
  for (const auto& [key, va] : a.items()) {
    if (key == "tokens_per_s") continue;
    INFO("step " << a["step"] << ", " << key << ": " << va.dump() << " vs " << b.value(key, nlohmann::json()).dump());
    REQUIRE(b.contains(key));
    check_same_value(va, b[key], rel);
  }
}

// Every tensor of two checkpoints' models (parameters and the evaluator buffers) to `rel` of
// the tensor's largest magnitude, the router state and the data position; with `same_split`
// (the same micro-batch size and count) also the loader options and the random state.
inline void check_same_checkpoint(const std::string& a, const std::string& b, bool same_split = true, double rel = 1e-5) {
  const Checkpoint ca = load_checkpoint(a), cb = load_checkpoint(b);
  REQUIRE(ca.model.size() == cb.model.size());
  for (size_t i = 0; i < ca.model.size(); ++i) {
    INFO(ca.model[i].first);
    REQUIRE(ca.model[i].first == cb.model[i].first);
    const std::vector<float> x = ca.model[i].second.to_vector<float>(), y = cb.model[i].second.to_vector<float>();
    double scale = 0, diff = 0;
    for (size_t k = 0; k < x.size(); ++k) {
      scale = std::max(scale, (double)std::abs(x[k]));
      diff = std::max(diff, (double)std::abs(x[k] - y[k]));
    }
    CHECK(diff <= rel * scale + 1e-9);
  }
  for (const char* key : {"offset", "epoch"})  // the LM loader's position (what a split leaves the same)
    CHECK(ca.state["loader"].value(key, nlohmann::json()) == cb.state["loader"].value(key, nlohmann::json()));
  if (same_split) {
    CHECK(ca.state["loader"] == cb.state["loader"]);
    CHECK(ca.state["rng"] == cb.state["rng"]);
  }
  CHECK(ca.state["step"] == cb.state["step"]);
  for (size_t l = 0; l < ca.state["adr"].size(); ++l) {
    CHECK(ca.state["adr"][l]["baseline_set"] == cb.state["adr"][l]["baseline_set"]);
    CHECK(close(ca.state["adr"][l]["baseline"].get<double>(), cb.state["adr"][l]["baseline"].get<double>()));
  }
}

inline void check_same_run(const std::string& out_a, const std::string& out_b, size_t steps, bool same_split = true,
                    double rel = 1e-5) {
  const auto ra = test::step_records(out_a + "/metrics.jsonl"), rb = test::step_records(out_b + "/metrics.jsonl");
  REQUIRE(ra.size() == steps);
  REQUIRE(rb.size() == steps);
  for (size_t i = 0; i < steps; ++i) check_same_step(ra[i], rb[i], rel);
  check_same_checkpoint(out_a + "/checkpoint", out_b + "/checkpoint", same_split, rel);
}

// The parameters as the hook sees them (before the step's update), copied to the host.
inline std::vector<Tensor> host_copy(const std::vector<NamedParam>& ps) {
  std::vector<Tensor> out;
  for (const NamedParam& p : ps) out.push_back(p.tensor.to(kCPU).clone());
  return out;
}

struct Crash {};

}  // namespace dasg::dist_test
