// Suite "model": every config in train/configs/ loads, builds its model and runs a training
// forward and backward with a finite loss (dasg: before and after the DSSE transfer); the
// parameter names of DESIGN §8 exist whatever the flags.
#include <doctest/doctest.h>

#include <set>

#include <cmath>
#include <filesystem>

#include "model/model.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

namespace {

Tensor random_tokens(int64_t B, int64_t T, int64_t V, Generator& gen) {
  std::vector<int32_t> v((size_t)(B * T));
  for (auto& x : v) x = (int32_t)(gen.next_uniform() * (double)V);
  return Tensor::from_vector(v, {B, T});
}

void train_step(Model& m, int64_t T, Generator& gen) {
  const Config& c = m.config();
  Tensor tokens = random_tokens(2, T, c.vocab_size, gen);
  Tensor targets = c.causal ? random_tokens(2, T, c.vocab_size, gen) : random_tokens(1, 2, c.n_classes, gen).view({2});
  ForwardResult r = m.forward(tokens, targets);
  REQUIRE(std::isfinite(r.loss.item()));
  CHECK(r.ce.item() > 0);
  r.loss.backward();
  int64_t with_grad = 0, non_finite = 0;
  for (const Tensor& p : m.parameters().trainable()) {
    if (!p.grad().defined()) continue;
    ++with_grad;
    for (float g : p.grad().to_vector<float>()) non_finite += !std::isfinite(g);
  }
  CHECK(with_grad > 0);
  CHECK(non_finite == 0);
  for (Tensor p : m.parameters().trainable()) p.zero_grad();
}

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("model: every config in train/configs loads and runs forward/backward") {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("train/configs")) {
      if (entry.path().extension() != ".json") continue;
      ++n;
      INFO("config " << entry.path().string());
      Config c = Config::load(entry.path().string());
      Model m(c, 1);
      Generator gen(5);
      const int64_t T = std::min<int64_t>(c.max_seq_len, 64);
      m.train(true);
      train_step(m, T, gen);
      if (c.ffn == "dasg") {
        m.transfer_dsse();
        train_step(m, T, gen);
      }
      m.train(false);
      CHECK(std::isfinite(m.forward(random_tokens(1, T, c.vocab_size, gen)).loss.item()));
    }
    CHECK(n >= 8);
  }

  TEST_CASE("model: parameter names and shapes of DESIGN §8, exactly those the config uses") {
    Config c = Config::parse(R"({"max_seq_len": 32, "d_model": 16, "n_head": 2, "gmha": {"groups": 4},
                                 "moe": {"n_shallow": 3, "n_deep": 2, "n_shared": 1, "d_ff": 8, "d_ff_deep": 12, "top_k": 1},
                                 "causal": false})");
    Model m(c);
    const Parameters& p = m.parameters();
    auto shape = [&](const char* name) { return p.get(name).shape(); };
    CHECK(shape("wte.weight") == Shape{256, 16});
    CHECK(shape("wpe.weight") == Shape{32, 16});
    CHECK(shape("ln_f.weight") == Shape{16});
    CHECK(shape("cls.weight") == Shape{2, 16});
    CHECK(shape("cls.bias") == Shape{2});
    CHECK(shape("blocks.1.ln1.bias") == Shape{16});
    CHECK(shape("blocks.1.ln2.weight") == Shape{16});
    CHECK(shape("blocks.0.attn.qkv.weight") == Shape{48, 16});
    CHECK(shape("blocks.0.attn.qkv.bias") == Shape{48});
    CHECK(shape("blocks.0.attn.proj.weight") == Shape{16, 16});
    CHECK(shape("blocks.0.attn.group_mlp.3.fc1.weight") == Shape{2, 16});
    CHECK(shape("blocks.0.attn.group_mlp.3.fc2.weight") == Shape{16, 2});
    CHECK(shape("blocks.0.attn.agg.v.weight") == Shape{16, 16});
    CHECK(shape("blocks.0.attn.agg.q.bias") == Shape{16});
    CHECK(shape("blocks.0.ffn.router.shallow.weight") == Shape{3, 16});
    CHECK(shape("blocks.0.ffn.router.deep.weight") == Shape{2, 16});
    CHECK(shape("blocks.0.ffn.policy.w") == Shape{16});
    CHECK(shape("blocks.0.ffn.policy.v") == Shape{3});
    CHECK(shape("blocks.0.ffn.policy.b") == Shape{1});
    CHECK(shape("blocks.0.ffn.evaluator.mean") == Shape{1});
    CHECK(shape("blocks.0.ffn.evaluator.std") == Shape{1});
    CHECK(shape("blocks.0.ffn.shallow.2.fc1.weight") == Shape{8, 16});
    CHECK(shape("blocks.0.ffn.shallow.2.fc2.weight") == Shape{16, 8});
    CHECK(shape("blocks.0.ffn.shared.0.fc1.weight") == Shape{8, 16});
    CHECK(shape("blocks.0.ffn.deep.1.fc1.weight") == Shape{8, 16});
    CHECK(shape("blocks.0.ffn.deep.1.fc2.weight") == Shape{12, 8});
    CHECK(shape("blocks.0.ffn.deep.1.fc3.weight") == Shape{8, 12});
    CHECK(shape("blocks.0.ffn.deep.1.fc4.weight") == Shape{16, 8});
    CHECK(shape("blocks.0.ffn.deep.1.fc4.bias") == Shape{16});
    // What the config does not use does not exist: a causal LM has no head, "local" attention and
    // aggregate false no aggregation, group_mlp_hidden 0 no group MLPs, adr.enabled false no policy.
    auto names = [](const Model& model) {
      std::set<std::string> n;
      for (const NamedTensor& e : model.parameters().all()) n.insert(e.name);
      return n;
    };
    auto has_prefix = [](const std::set<std::string>& n, const std::string& prefix) {
      for (const std::string& s : n)
        if (s.rfind(prefix, 0) == 0 || s.find("." + prefix) != std::string::npos) return true;
      return false;
    };
    Config lm = c;
    lm.causal = true;
    CHECK(!has_prefix(names(Model(lm)), "cls."));
    Config local = c;
    local.attention = "local";
    CHECK(!has_prefix(names(Model(local)), "attn.agg."));
    CHECK(!has_prefix(names(Model(local)), "attn.group_mlp."));
    Config no_agg = c;
    no_agg.gmha.aggregate = false;
    CHECK(!has_prefix(names(Model(no_agg)), "attn.agg."));
    CHECK(has_prefix(names(Model(no_agg)), "attn.group_mlp."));
    Config no_mlp = c;
    no_mlp.gmha.group_mlp_hidden = 0;
    CHECK(!has_prefix(names(Model(no_mlp)), "attn.group_mlp."));
    Config fixed = c;
    fixed.adr.enabled = false;
    CHECK(!has_prefix(names(Model(fixed)), "ffn.policy."));
    CHECK(has_prefix(names(Model(fixed)), "ffn.evaluator."));
    CHECK(!p.get("blocks.0.ffn.evaluator.mean").requires_grad());
    CHECK(p.get("blocks.0.ffn.evaluator.mean").item() == 0.5);
    CHECK(p.get("blocks.0.ffn.evaluator.std").item() == 0.25);

    Model dense(Config::parse(R"({"ffn": "dense", "d_ff": 40, "d_model": 16})"));
    CHECK(dense.parameters().get("blocks.1.ffn.fc1.weight").shape() == Shape{40, 16});
    CHECK(dense.parameters().get("blocks.1.ffn.fc2.bias").shape() == Shape{16});
    Model sw(Config::parse(R"({"ffn": "switch", "attention": "full", "d_model": 16})"));
    CHECK(sw.parameters().get("blocks.0.ffn.router.weight").shape() == Shape{8, 16});
    CHECK(sw.parameters().get("blocks.0.ffn.experts.7.fc2.weight").shape() == Shape{16, 32});
    Model ds(Config::parse(R"({"ffn": "dsmoe", "d_model": 16})"));
    CHECK(ds.parameters().get("blocks.0.ffn.gate.weight").shape() == Shape{8, 16});
    CHECK(ds.parameters().get("blocks.0.ffn.gate.bias").shape() == Shape{8});
    CHECK(ds.parameters().get("blocks.0.ffn.fc1.weight").shape() == Shape{64, 16});
  }
}
