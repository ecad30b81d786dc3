// Suite "model": the parity dump of `dasg forward` (DESIGN §8, model/parity_dump.hpp) — its tensor
// list and shapes for every FFN kind, its values equal to Model::forward's in evaluation (logits,
// losses, routing, gradients), evaluation semantics with the training graph (Switch capacity on,
// statistics frozen, nothing sampled), deep_active from the file's metadata, and its errors.
#include <doctest/doctest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "autograd/node.hpp"
#include "data/shard.hpp"
#include "model/model.hpp"
#include "model/parity_dump.hpp"
#include "model/safetensors.hpp"
#include "tests/helpers.hpp"
#include "tests/model_helpers.hpp"

using namespace dasg;
using test::prepare_dasg;

namespace {

// Two layers, L = 4, window 3, a wide policy band so every ADR branch runs (as in the invariants).
Config dump_config(const std::string& ffn, bool causal) {
  nlohmann::json j = {{"vocab_size", 32}, {"max_seq_len", 16}, {"d_model", 16}, {"n_layer", 2}, {"n_head", 2},
                      {"causal", causal}, {"n_classes", 3}, {"attention", ffn == "switch" ? "full" : "gmha"},
                      {"ffn", ffn},
                      {"gmha", {{"groups", 4}, {"window", 3}, {"group_mlp_hidden", 4}}},
                      {"moe", {{"n_shallow", 4}, {"n_deep", 4}, {"d_ff", 16}, {"top_k", 2}, {"n_shared", 1}}},
                      {"adr", {{"theta_s", 0.2}, {"theta_d", 0.8}}},
                      {"dsmoe", {{"blocks", 4}}}};
  if (ffn == "switch") j["moe"]["top_k"] = 1;
  return Config::from_json(j);
}

std::vector<int32_t> random_ids(int64_t n, int64_t V, Generator& gen) {
  std::vector<int32_t> v((size_t)n);
  for (auto& x : v) x = (int32_t)(gen.next_uniform() * (double)V);
  return v;
}


// A batch of B = 2, T = 8: LM targets are next tokens; the encoder gets labels and lengths {8, 5}.
DumpInput make_input(const Config& c, Generator& gen, bool with_lengths = true) {
  DumpInput in;
  in.batch = 2;
  in.tokens = random_ids(16, c.vocab_size, gen);
  if (c.causal) {
    in.targets = random_ids(16, c.vocab_size, gen);
  } else {
    in.targets = std::vector<int32_t>{2, 0};
    if (with_lengths) in.lengths = std::vector<int32_t>{8, 5};
  }
  return in;
}

std::map<std::string, Tensor> as_map(const std::vector<std::pair<std::string, Tensor>>& v) {
  std::map<std::string, Tensor> m;
  for (const auto& [name, t] : v) {
    CHECK_MESSAGE(!m.count(name), "duplicate " << name);
    m[name] = t;
  }
  return m;
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<float> x = a.detach().to(DType::f32).to_vector<float>(), y = b.detach().to(DType::f32).to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, (double)std::abs(x[i] - y[i]));
  return worst;
}

bool all_zero(const Tensor& t) {
  for (float v : t.to_vector<float>())
    if (v != 0) return false;
  return true;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dasg_test_forward_" + std::to_string(::getpid()) + "_" + name)).string();
}

const char* kFfns[] = {"dasg", "dense", "switch", "dsmoe"};

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("forward dump: tensor names and shapes for every FFN kind, LM and encoder") {
    for (const char* ffn : kFfns)
      for (bool causal : {true, false}) {
        INFO("ffn " << std::string(ffn) << (causal ? ", LM" : ", encoder"));
        const Config c = dump_config(ffn, causal);
        Model m(c, 3);
        Generator gen(21);
        if (c.ffn == "dasg") prepare_dasg(m, gen, Tensor::from_vector(random_ids(4 * 16, 32, gen), {4, 16}));
        std::map<std::string, Tensor> d = as_map(parity_dump(m, make_input(c, gen)));

        std::set<std::string> want = {"logits", "loss.total", "loss.ce", "loss.balance", "loss.z", "loss.sparsity",
                                      "loss.policy"};
        REQUIRE(d.count("logits"));
        CHECK(d["logits"].shape() == (causal ? Shape{2, 8, 32} : Shape{2, 3}));
        for (const char* loss : {"loss.total", "loss.ce", "loss.balance", "loss.z", "loss.sparsity", "loss.policy"}) {
          REQUIRE(d.count(loss));
          CHECK(d[loss].shape() == Shape{});
        }
        if (c.ffn == "dasg")
          for (int l = 0; l < 2; ++l)
            for (const char* f : {"C", "I", "s", "pi", "tier"}) {
              const std::string name = "layers." + std::to_string(l) + "." + f;
              want.insert(name);
              REQUIRE(d.count(name));
              CHECK(d[name].shape() == Shape{2, 8});
            }
        for (const NamedTensor& e : m.parameters().all()) {
          const bool frozen_fc1 = e.name.find(".ffn.deep.") != std::string::npos && e.name.find(".fc1.") != std::string::npos;
          if (e.buffer || (c.ffn == "dasg" && frozen_fc1)) {  // dasg here is after the transfer
            CHECK_MESSAGE(!d.count("grad." + e.name), "grad." << e.name << " should not be dumped");
            continue;
          }
          want.insert("grad." + e.name);
          REQUIRE_MESSAGE(d.count("grad." + e.name), "grad." << e.name << " missing");
          CHECK(d["grad." + e.name].shape() == e.tensor.shape());
        }
        std::set<std::string> got;
        for (const auto& [name, t] : d) {
          got.insert(name);
          CHECK(t.dtype() == DType::f32);
        }
        CHECK(got == want);
        // Padding (encoder, second sequence of length 5): C, I, s, π and tier are 0 there.
        if (c.ffn == "dasg" && !causal)
          for (int l = 0; l < 2; ++l)
            for (const char* f : {"C", "I", "s", "pi", "tier"}) {
              std::vector<float> v = d["layers." + std::to_string(l) + "." + f].to_vector<float>();
              for (int64_t t = 5; t < 8; ++t) CHECK(v[(size_t)(8 + t)] == 0);
            }
      }
  }

  TEST_CASE("forward dump: logits, losses, routing and grad.* equal Model::forward's in evaluation") {
    for (const char* ffn : kFfns)
      for (bool causal : {true, false}) {
        INFO("ffn " << std::string(ffn) << (causal ? ", LM" : ", encoder"));
        const Config c = dump_config(ffn, causal);
        Model m(c, 4);
        Generator gen(22);
        if (c.ffn == "dasg") prepare_dasg(m, gen, Tensor::from_vector(random_ids(4 * 16, 32, gen), {4, 16}));
        m.train(true);
        const DumpInput in = make_input(c, gen);
        std::map<std::string, double> stats;
        for (const NamedTensor& e : m.parameters().all())
          if (e.buffer) stats[e.name] = e.tensor.item();

        std::map<std::string, Tensor> d = as_map(parity_dump(m, in));
        CHECK(m.training());  // the mode is restored
        for (const NamedTensor& e : m.parameters().all()) {
          if (e.buffer) CHECK(e.tensor.item() == stats[e.name]);  // statistics frozen
          CHECK(!e.tensor.grad().defined());                     // gradients cleared after
        }

        // The reference: an evaluation forward and backward of loss.total by hand.
        const int64_t B = 2, T = 8;
        m.train(false);
        Tensor tokens = Tensor::from_vector(in.tokens, {B, T});
        Tensor targets = Tensor::from_vector(*in.targets, causal ? Shape{B, T} : Shape{B});
        Tensor lengths = in.lengths ? Tensor::from_vector(*in.lengths, {B}) : Tensor();
        ForwardResult r = m.forward(tokens, targets, lengths);
        r.loss.backward();
        CHECK(max_abs_diff(d["logits"], r.logits) <= 1e-6);
        const std::pair<const char*, Tensor> losses[] = {{"loss.total", r.loss}, {"loss.ce", r.ce},
                                                         {"loss.balance", r.balance}, {"loss.z", r.z},
                                                         {"loss.sparsity", r.sparsity}};
        for (const auto& [name, t] : losses) CHECK(d[name].item() == doctest::Approx(t.item()).epsilon(1e-6));
        CHECK(d["loss.policy"].item() == 0);  // nothing sampled in evaluation
        CHECK(d["loss.ce"].item() > 0);
        if (c.ffn == "dasg") {
          for (size_t l = 0; l < r.layers.size(); ++l) {
            const std::string p = "layers." + std::to_string(l) + ".";
            CHECK(max_abs_diff(d[p + "C"], r.layers[l].C) == 0);
            CHECK(max_abs_diff(d[p + "I"], r.layers[l].I) == 0);
            CHECK(max_abs_diff(d[p + "s"], r.layers[l].s) == 0);
            CHECK(max_abs_diff(d[p + "pi"], r.layers[l].pi) == 0);
            CHECK(max_abs_diff(d[p + "tier"], r.layers[l].tier) == 0);
          }
          // Both tiers and the policy are exercised.
          std::vector<float> tier = d["layers.0.tier"].to_vector<float>(), pi = d["layers.0.pi"].to_vector<float>();
          CHECK(std::count(tier.begin(), tier.end(), 1.f) > 0);
          CHECK(std::count_if(pi.begin(), pi.end(), [](float v) { return v != 0; }) > 0);
        }
        int64_t nonzero = 0;
        for (const std::string& name : dump_trainable_names(m)) {
          INFO(name);
          const Tensor p = m.parameters().get(name);
          const Tensor& g = d["grad." + name];
          if (p.grad().defined()) {
            CHECK(max_abs_diff(g, p.grad()) <= 1e-6);
            nonzero += !all_zero(g);
          } else {
            CHECK(all_zero(g));  // unused by the forward: 0
          }
        }
        CHECK(nonzero > 0);
        // Only an encoder has the classification head (DESIGN §8: exactly the parameters the config uses).
        CHECK(d.count("grad.cls.weight") == (causal ? 0 : 1));
        if (!causal) CHECK(!all_zero(d["grad.cls.weight"]));
        for (NamedTensor e : m.parameters().all()) e.tensor.zero_grad();
      }
  }

  TEST_CASE("forward dump: the training graph — Switch capacity applied, every gradient of a dsmoe layer") {
    // Switch with capacity factor 0.5 drops tokens; the dump applies capacity even when the
    // model had it switched off (as generation does).
    Config c = dump_config("switch", true);
    c.moe.capacity_factor = 0.5;
    Model m(c, 5);
    Generator gen(23);
    const DumpInput in = make_input(c, gen);
    m.set_capacity(false);
    std::map<std::string, Tensor> d = as_map(parity_dump(m, in));
    m.train(false);
    Tensor tokens = Tensor::from_vector(in.tokens, {2, 8}), targets = Tensor::from_vector(*in.targets, {2, 8});
    m.set_capacity(true);
    ForwardResult with = m.forward(tokens, targets);
    CHECK(with.layers[0].summary().dropped > 0);
    CHECK(max_abs_diff(d["logits"], with.logits) <= 1e-6);
    m.set_capacity(false);
    CHECK(max_abs_diff(d["logits"], m.forward(tokens, targets).logits) > 1e-6);

    // dsmoe: the gates of every layer get a gradient (every block computed, straight-through).
    Model s(dump_config("dsmoe", true), 6);
    std::map<std::string, Tensor> ds = as_map(parity_dump(s, make_input(s.config(), gen)));
    CHECK(!all_zero(ds["grad.blocks.0.ffn.gate.weight"]));
    CHECK(!all_zero(ds["grad.blocks.1.ffn.gate.bias"]));
    CHECK(ds["loss.sparsity"].item() > 0);
  }

  TEST_CASE("forward dump: dasg before the transfer dumps the deep fc1 gradient (zero: the deep tier is unused)") {
    const Config c = dump_config("dasg", true);
    Model m(c, 7);
    REQUIRE(!m.deep_active());
    Generator gen(24);
    std::map<std::string, Tensor> d = as_map(parity_dump(m, make_input(c, gen)));
    REQUIRE(d.count("grad.blocks.0.ffn.deep.0.fc1.weight"));
    CHECK(all_zero(d["grad.blocks.0.ffn.deep.0.fc1.weight"]));
    CHECK(all_zero(d["grad.blocks.1.ffn.deep.3.fc4.bias"]));
    CHECK(!all_zero(d["grad.blocks.0.ffn.router.shallow.weight"]));
    CHECK(all_zero(d["layers.0.tier"]));  // every token shallow
  }

  TEST_CASE("forward dump: deep_active comes from the weights' metadata, a missing key meaning true") {
    const Config c = dump_config("dasg", true);
    Model a(c, 8);
    const std::string path = temp_path("weights.safetensors");
    write_safetensors(path, a.parameters().state_dict(), {{"config", c.to_json().dump()}});  // no deep_active
    Model b(c, 9);
    b.load(path);
    CHECK(b.deep_active());
    Generator gen(25);
    std::map<std::string, Tensor> d = as_map(parity_dump(b, make_input(c, gen)));
    CHECK(!d.count("grad.blocks.0.ffn.deep.0.fc1.weight"));
    CHECK(!d.count("grad.blocks.1.ffn.deep.3.fc1.bias"));
    CHECK(d.count("grad.blocks.0.ffn.deep.0.fc2.weight"));
    a.save(path);  // deep_active "false"
    Model e(c, 9);
    e.load(path);
    CHECK(!e.deep_active());
    CHECK(as_map(parity_dump(e, make_input(c, gen))).count("grad.blocks.0.ffn.deep.0.fc1.weight"));
    std::filesystem::remove(path);
  }

  TEST_CASE("forward dump: round trip through safetensors keeps names, shapes and values") {
    const Config c = dump_config("dsmoe", false);
    Model m(c, 10);
    Generator gen(26);
    std::vector<std::pair<std::string, Tensor>> d = parity_dump(m, make_input(c, gen));
    const std::string path = temp_path("dump.safetensors");
    write_safetensors(path, d, {{"config", c.to_json().dump()}});
    SafetensorsFile f = read_safetensors(path);
    REQUIRE(f.tensors.size() == d.size());
    for (size_t i = 0; i < d.size(); ++i) {
      CHECK(f.tensors[i].first == d[i].first);
      CHECK(f.tensors[i].second.shape() == d[i].second.shape());
      CHECK(f.tensors[i].second.to_vector<float>() == d[i].second.to_vector<float>());
    }
    std::filesystem::remove(path);
  }

  TEST_CASE("forward dump: errors name the input and what was expected") {
    const Config lm = dump_config("dense", true), enc = dump_config("dense", false);
    Model m(lm, 11), e(enc, 12);
    Generator gen(27);
    DumpInput in = make_input(lm, gen);
    in.tokens_name = "--tokens x.bin";

    DumpInput bad = in;
    bad.tokens.pop_back();  // 15 tokens, B = 2
    CHECK_ERROR_CONTAINS(parity_dump(m, bad), "--tokens x.bin", "15 tokens", "B = 2", "does not divide");
    bad = in;
    bad.batch = 1;
    bad.tokens = random_ids(17, 32, gen);  // T = 17 > 16
    bad.targets.reset();
    CHECK_ERROR_CONTAINS(parity_dump(m, bad), "T 17", "max_seq_len = 16");
    bad = in;
    bad.tokens[5] = 32;
    CHECK_ERROR_CONTAINS(parity_dump(m, bad), "--tokens x.bin", "token 32 at index 5", "vocab_size 32");
    bad = in;
    bad.targets = std::vector<int32_t>{1, 0};  // labels for a causal model
    CHECK_ERROR_CONTAINS(parity_dump(m, bad), "targets", "hold 2 values", "B·T = 16", "class labels are for encoders");
    bad = in;
    bad.lengths = std::vector<int32_t>{8, 5};  // lengths for a causal model
    CHECK_ERROR_CONTAINS(parity_dump(m, bad), "lengths", "causal model", "encoders only");

    DumpInput ein = make_input(enc, gen);
    bad = ein;
    bad.targets = random_ids(16, 3, gen);  // next tokens for an encoder
    CHECK_ERROR_CONTAINS(parity_dump(e, bad), "hold 16 values", "an encoder takes B = 2 class labels");
    bad = ein;
    bad.targets = std::vector<int32_t>{3, 0};
    CHECK_ERROR_CONTAINS(parity_dump(e, bad), "label 3", "n_classes 3");
    bad = ein;
    bad.lengths = std::vector<int32_t>{8, 9};
    CHECK_ERROR_CONTAINS(parity_dump(e, bad), "length 9 at index 1", "1..8");
    bad = ein;
    bad.lengths = std::vector<int32_t>{8};
    CHECK_ERROR_CONTAINS(parity_dump(e, bad), "hold 1 values", "B = 2 sequence lengths");

    // The shard reader `dasg forward` uses: a token >= vocab_size is rejected naming the file.
    const std::string path = temp_path("tokens.bin");
    data::write_shard(path, std::vector<int32_t>{1, 2, 32, 4});
    CHECK_ERROR_CONTAINS(data::read_shard(path, data::ShardKind::tokens, lm.vocab_size), path.c_str(), "token 32",
                         "vocab size 32");
    data::write_shard(path, std::vector<int32_t>{1, 3});
    CHECK_ERROR_CONTAINS(data::read_shard(path, data::ShardKind::labels, enc.n_classes), "label 3", "classes 3");
    std::filesystem::remove(path);
  }
}
