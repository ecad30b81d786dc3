// Suite "model": Config from JSON — defaults, derived defaults, every check naming its key,
// and to_json round-tripping every field.
#include <doctest/doctest.h>

#include "model/config.hpp"
#include "tests/helpers.hpp"

using namespace dasg;
using nlohmann::json;

TEST_SUITE("model") {
  TEST_CASE("config: defaults of DESIGN §6") {
    Config c = Config::parse("{}");
    CHECK(c.vocab_size == 256);
    CHECK(c.max_seq_len == 256);
    CHECK(c.d_model == 64);
    CHECK(c.n_layer == 2);
    CHECK(c.n_head == 4);
    CHECK(c.d_ff == 256);
    CHECK(c.dropout == 0);
    CHECK(c.causal);
    CHECK(c.n_classes == 2);
    CHECK(c.attention == "gmha");
    CHECK(c.gmha.groups == 16);
    CHECK(c.gmha.window == 16);
    CHECK(c.gmha.group_mlp_hidden == 8);
    CHECK(c.gmha.aggregate);
    CHECK(c.ffn == "dasg");
    CHECK(c.moe.n_shallow == 8);
    CHECK(c.moe.n_deep == 8);
    CHECK(c.moe.d_ff == 128);
    CHECK(c.moe.d_ff_deep == 128);
    CHECK(c.moe.top_k == 2);
    CHECK(!c.moe.dynamic_k);
    CHECK(c.moe.n_shared == 0);
    CHECK(c.moe.balance_coef == 0.01);
    CHECK(c.moe.z_coef == 0.001);
    CHECK(c.moe.capacity_factor == 1.25);
    CHECK(c.adr.enabled);
    CHECK(c.adr.theta_s == 0.3);
    CHECK(c.adr.theta_d == 0.7);
    CHECK(c.adr.alpha == 0.5);
    CHECK(c.adr.normalize);
    CHECK(c.adr.stats_momentum == 0.99);
    CHECK(c.adr.task_urgency == 0.5);
    CHECK(c.adr.policy_coef == 1.0);
    CHECK(c.adr.cost_coef == 0.1);
    CHECK(c.adr.baseline_momentum == 0.9);
    CHECK(c.adr.explore_eps == 0.05);
    CHECK(!c.adr.random);
    CHECK(c.dsse.transfer_fraction == 0.25);
    CHECK(!c.dsse.transfer_step);
    CHECK(c.dsmoe.blocks == 8);
    CHECK(c.dsmoe.threshold == 0.5);
    CHECK(c.dsmoe.sparsity_coef == 1.0);
    // Config{} holds the same resolved values.
    CHECK(Config{}.to_json() == c.to_json());
  }

  TEST_CASE("config: derived defaults follow the sizes they derive from") {
    Config c = Config::parse(R"({"d_model": 128, "max_seq_len": 64, "gmha": {"groups": 4}, "moe": {"d_ff": 96}})");
    CHECK(c.d_ff == 512);
    CHECK(c.moe.d_ff == 96);
    CHECK(c.moe.d_ff_deep == 96);
    CHECK(c.gmha.window == 16);
    CHECK(c.gmha.group_mlp_hidden == 16);
    Config d = Config::parse(R"({"d_model": 32})");
    CHECK(d.moe.d_ff == 64);
    CHECK(d.moe.d_ff_deep == 64);
    CHECK(Config::parse(R"({"dsse": {"transfer_step": 100}})").dsse.transfer_step == 100);
    CHECK(!Config::parse(R"({"dsse": {"transfer_step": null}})").dsse.transfer_step);
    CHECK(Config{}.dsse_transfer_step(1000) == 250);
    CHECK(Config::parse(R"({"dsse": {"transfer_step": 7}})").dsse_transfer_step(1000) == 7);
  }

  TEST_CASE("config: to_json prints every field and round-trips") {
    Config c = Config::parse(R"({"ffn": "switch", "attention": "full", "moe": {"top_k": 1}, "dsse": {"transfer_step": 5}})");
    json j = c.to_json();
    for (const char* k : {"vocab_size", "max_seq_len", "d_model", "n_layer", "n_head", "d_ff", "dropout", "causal",
                          "n_classes", "attention", "gmha", "ffn", "moe", "adr", "dsse", "dsmoe"})
      CHECK(j.contains(k));
    CHECK(j["moe"].size() == 10);
    CHECK(j["adr"].size() == 12);
    CHECK(j["gmha"].size() == 4);
    CHECK(j["dsse"].size() == 2);
    CHECK(j["dsmoe"].size() == 3);
    CHECK(Config::from_json(j).to_json() == j);
    CHECK(Config{}.to_json()["dsse"]["transfer_step"].is_null());
  }

  TEST_CASE("config: unknown keys, also nested, are errors naming the key") {
    CHECK_ERROR_CONTAINS(Config::parse(R"({"d_modle": 3})"), "unknown key", "d_modle");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"moe": {"topk": 3}})"), "unknown key", "moe.topk");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"theta": 3}})"), "adr.theta");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"gmha": {"group": 3}})"), "gmha.group");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"dsse": {"x": 3}})"), "dsse.x");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"dsmoe": {"x": 3}})"), "dsmoe.x");
  }

  TEST_CASE("config: wrong types are errors naming the key") {
    CHECK_ERROR_CONTAINS(Config::parse(R"({"d_model": "64"})"), "d_model", "integer");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"d_model": 64.5})"), "d_model", "integer");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"causal": 1})"), "causal", "true or false");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"dropout": "x"})"), "dropout", "number");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"ffn": 3})"), "ffn", "string");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"moe": 3})"), "moe", "object");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"enabled": "yes"}})"), "adr.enabled");
    CHECK_ERROR_CONTAINS(Config::parse(R"([1, 2])"), "object");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"d_model": )"), "JSON");
    // A whole number written as 0.5-free double is accepted for a number field.
    CHECK(Config::parse(R"({"adr": {"alpha": 1}})").adr.alpha == 1.0);
  }

  TEST_CASE("config: range checks name the key") {
    CHECK_ERROR_CONTAINS(Config::parse(R"({"n_head": 5})"), "n_head", "d_model");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"gmha": {"groups": 3}})"), "gmha.groups", "max_seq_len");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"gmha": {"window": 0}})"), "gmha.window");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"gmha": {"window": 17}})"), "gmha.window", "16");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"moe": {"top_k": 9}})"), "moe.top_k", "moe.n_shallow");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"moe": {"n_deep": 1}})"), "moe.top_k", "moe.n_deep");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"dsmoe": {"blocks": 7}})"), "dsmoe.blocks", "d_ff");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"theta_s": 0.8}})"), "theta_s", "theta_d");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"theta_s": -0.1}})"), "adr.theta_s");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"theta_d": 1.5}})"), "adr.theta_d");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"stats_momentum": 1}})"), "adr.stats_momentum");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"adr": {"baseline_momentum": -0.5}})"), "adr.baseline_momentum");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"n_classes": 1})"), "n_classes");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"attention": "sparse"})"), "attention", "\"full\"");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"ffn": "moe"})"), "ffn", "\"dsmoe\"");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"d_model": 0})"), "d_model");
    CHECK_ERROR_CONTAINS(Config::parse(R"({"dsse": {"transfer_step": -1}})"), "dsse.transfer_step");
    CHECK(Config::parse(R"({"adr": {"theta_s": 0.5, "theta_d": 0.5}})").adr.theta_d == 0.5);
  }

  TEST_CASE("config: load names the file") {
    CHECK_ERROR_CONTAINS(Config::load("/nonexistent/x.json"), "/nonexistent/x.json");
  }
}
