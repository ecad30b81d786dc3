// Suite "model": `dasg convert --to dsmoe` (DESIGN §7.6, model/convert.hpp) — a dense model
// converted to DSMoE computes the dense model's logits, still learns (gates and weights get
// gradients, a few SGD steps lower the loss), survives the safetensors round trip the CLI takes,
// and rejects weights or configs that do not fit.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "autograd/node.hpp"
#include "model/convert.hpp"
#include "model/model.hpp"
#include "model/safetensors.hpp"
#include "ops/elementwise.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

namespace {

Config convert_config(const std::string& ffn, bool causal) {
  nlohmann::json j = {{"vocab_size", 32}, {"max_seq_len", 16}, {"d_model", 16}, {"n_layer", 2}, {"n_head", 2},
                      {"d_ff", 32},       {"causal", causal}, {"n_classes", 3}, {"ffn", ffn},
                      {"gmha", {{"groups", 4}, {"window", 3}, {"group_mlp_hidden", 4}}},
                      {"dsmoe", {{"blocks", 4}}}};
  return Config::from_json(j);
}

// Every parameter random (biases and LayerNorms too), so the copy of each one matters.
void randomize(Model& m, Generator& gen) {
  NoGradGuard ng;
  for (const NamedTensor& e : m.parameters().all()) {
    const bool ln_weight = e.name.find("ln") != std::string::npos && e.name.find(".weight") != std::string::npos;
    e.tensor.detach().copy_from(Tensor::randn(e.tensor.shape(), gen, ln_weight ? 1.0 : 0.0, 0.1));
  }
}

Tensor random_tokens(int64_t B, int64_t T, int64_t V, Generator& gen) {
  std::vector<int32_t> v((size_t)(B * T));
  for (auto& x : v) x = (int32_t)(gen.next_uniform() * (double)V);
  return Tensor::from_vector(v, {B, T});
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  REQUIRE(a.shape() == b.shape());
  std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) worst = std::max(worst, (double)std::abs(x[i] - y[i]));
  return worst;
}

double grad_norm(const Tensor& p) {
  if (!p.grad().defined()) return 0;
  double s = 0;
  for (float v : p.grad().to_vector<float>()) s += (double)v * v;
  return std::sqrt(s);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("dasg_test_convert_" + std::to_string(::getpid()) + "_" + name)).string();
}

}  // namespace

TEST_SUITE("model") {
  TEST_CASE("convert: a dense model converted to dsmoe computes the same logits (LM and padded encoder)") {
    for (bool causal : {true, false}) {
      INFO((causal ? "LM" : "encoder"));
      Model dense(convert_config("dense", causal), 1);
      Generator gen(31);
      randomize(dense, gen);
      Model dsmoe(convert_config("dsmoe", causal), 2);
      convert_dense_to_dsmoe(dense, dsmoe);
      // The gates: weight 0, bias ln 9; fc2 scaled by 1/0.9; the rest copied.
      for (float v : dsmoe.parameters().get("blocks.0.ffn.gate.weight").to_vector<float>()) CHECK(v == 0);
      for (float v : dsmoe.parameters().get("blocks.1.ffn.gate.bias").to_vector<float>())
        CHECK(1 / (1 + std::exp(-(double)v)) == doctest::Approx(0.9).epsilon(1e-7));
      CHECK(dsmoe.parameters().get("blocks.1.ffn.fc1.weight").to_vector<float>() ==
            dense.parameters().get("blocks.1.ffn.fc1.weight").to_vector<float>());
      CHECK(dsmoe.parameters().get("blocks.1.ffn.fc2.bias").to_vector<float>() ==
            dense.parameters().get("blocks.1.ffn.fc2.bias").to_vector<float>());

      dense.train(false);
      dsmoe.train(false);
      const int64_t B = 3, T = 16;
      Tensor tokens = random_tokens(B, T, 32, gen);
      Tensor lengths = causal ? Tensor() : Tensor::from_vector<int32_t>({16, 11, 4}, {B});
      Tensor targets = causal ? random_tokens(B, T, 32, gen) : Tensor::from_vector<int32_t>({0, 2, 1}, {B});
      ForwardResult a = dense.forward(tokens, targets, lengths), b = dsmoe.forward(tokens, targets, lengths);
      const double diff = max_abs_diff(a.logits, b.logits);
      INFO("largest logit difference " << diff);
      CHECK(diff <= 1e-5);
      CHECK(b.ce.item() == doctest::Approx(a.ce.item()).epsilon(1e-5));
      for (const LayerRouting& l : b.layers) CHECK(l.summary().active_blocks == 1);  // every block open
      CHECK(b.sparsity.item() == doctest::Approx(0.9).epsilon(1e-6));      // coef 1 · mean σ
    }
  }

  TEST_CASE("convert: the converted model still learns — gates and weights get gradients, SGD lowers the loss") {
    Model dense(convert_config("dense", true), 3);
    Generator gen(32);
    randomize(dense, gen);
    Model dsmoe(convert_config("dsmoe", true), 4);
    convert_dense_to_dsmoe(dense, dsmoe);
    dsmoe.train(true);
    Tensor tokens = random_tokens(2, 16, 32, gen), targets = random_tokens(2, 16, 32, gen);
    ForwardResult r = dsmoe.forward(tokens, targets);
    r.loss.backward();
    const Parameters& p = dsmoe.parameters();
    for (int l = 0; l < 2; ++l)
      for (const char* name : {"gate.weight", "gate.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}) {
        const std::string full = "blocks." + std::to_string(l) + ".ffn." + name;
        INFO(full);
        CHECK(grad_norm(p.get(full)) > 0);
      }
    const double before = r.loss.item();
    for (int step = 0; step < 3; ++step) {
      {
        NoGradGuard ng;
        for (Tensor t : p.trainable())
          if (t.grad().defined()) t.detach().copy_from(t.detach() - t.grad() * 0.05);
      }
      for (Tensor t : p.trainable()) t.zero_grad();
      r = dsmoe.forward(tokens, targets);
      if (step < 2) r.loss.backward();
    }
    INFO("loss " << before << " -> " << r.loss.item());
    CHECK(r.loss.item() < before);
  }

  TEST_CASE("convert: through files, as the CLI does — the saved dsmoe checkpoint loads and matches") {
    Model dense(convert_config("dense", true), 5);
    Generator gen(33);
    randomize(dense, gen);
    const std::string in = temp_path("dense.safetensors"), out = temp_path("dsmoe.safetensors");
    dense.save(in);
    Model dsmoe(convert_config("dsmoe", true), 6);
    convert_dense_to_dsmoe(read_safetensors(in), in, dsmoe);
    dsmoe.save(out);
    Model loaded(convert_config("dsmoe", true), 7);
    loaded.load(out);
    dense.train(false);
    loaded.train(false);
    Tensor tokens = random_tokens(2, 16, 32, gen);
    CHECK(max_abs_diff(dense.forward(tokens).logits, loaded.forward(tokens).logits) <= 1e-5);
    std::filesystem::remove(in);
    std::filesystem::remove(out);
  }

  TEST_CASE("convert: errors name the file, the tensor or the key") {
    Model dense(convert_config("dense", true), 8);
    Model dsmoe(convert_config("dsmoe", true), 9);
    // Not a dense model: a switch model's weights (its metadata says so).
    Config sw = convert_config("switch", true);
    sw.moe.top_k = 1;
    Model switch_model(sw, 10);
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(switch_model, dsmoe), "'switch' model", "expected a dense one");
    // Without metadata the names decide: a switch model lacks blocks.0.ffn.fc1.weight.
    SafetensorsFile bare;
    bare.tensors = switch_model.parameters().state_dict();
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(bare, "sw.safetensors", dsmoe), "sw.safetensors",
                         "has no tensor blocks.0.ffn.fc1.weight");
    // Different dimensions.
    Config wide = convert_config("dense", true);
    wide.d_ff = 64;
    Model wide_model(wide, 11);
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(wide_model, dsmoe), "d_ff differs", "64", "32");
    bare.tensors = wide_model.parameters().state_dict();
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(bare, "wide.safetensors", dsmoe), "wide.safetensors",
                         "blocks.0.ffn.fc1.weight", "[64, 16]", "[32, 16]");
    // An extra tensor.
    bare.tensors = dense.parameters().state_dict();
    bare.tensors.emplace_back("extra.weight", Tensor::zeros({2}));
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(bare, "x.safetensors", dsmoe), "x.safetensors holds extra.weight");
    // Target configs that cannot preserve the function.
    Model not_dsmoe(convert_config("dense", true), 12);
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(dense, not_dsmoe), "ffn = \"dense\"", "expected \"dsmoe\"");
    Config high = convert_config("dsmoe", true);
    high.dsmoe.threshold = 0.95;
    Model high_model(high, 13);
    CHECK_ERROR_CONTAINS(convert_dense_to_dsmoe(dense, high_model), "dsmoe.threshold = 0.95", "below 0.9");
  }
}
