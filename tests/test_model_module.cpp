// Suite "model": the parameter registry — initialisation from a seeded Generator, buffers apart
// from trainable parameters, state_dict ↔ safetensors with checked names and shapes.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "model/module.hpp"
#include "model/safetensors.hpp"
#include "tests/helpers.hpp"

using namespace dasg;

TEST_SUITE("model") {
  TEST_CASE("module: registration, initialisation and buffers") {
    Generator gen(7);
    Parameters p;
    Linear l = Linear::make(p, "fc", 64, 32, 0.02, gen);
    LayerNorm ln = LayerNorm::make(p, "ln", 32);
    Tensor buf = p.buffer("evaluator.mean", {1}, 0.5);
    CHECK(p.all().size() == 5);
    CHECK(p.get("fc.weight").same(l.weight));
    CHECK(l.weight.requires_grad());
    CHECK(!buf.requires_grad());
    CHECK(p.trainable().size() == 4);
    CHECK(p.count() == 64 * 32 + 64 + 32 + 32);
    CHECK(p.count(true) == p.count() + 1);
    auto w = l.weight.to_vector<float>();
    double s = 0, s2 = 0;
    for (float x : w) s += x, s2 += (double)x * x;
    const double mean = s / w.size(), std = std::sqrt(s2 / w.size() - mean * mean);
    CHECK(std::abs(mean) < 0.003);
    CHECK(std == doctest::Approx(0.02).epsilon(0.1));
    for (float x : l.bias.to_vector<float>()) CHECK(x == 0);
    for (float x : ln.weight.to_vector<float>()) CHECK(x == 1);
    CHECK_ERROR_CONTAINS(p.buffer("fc.weight", {1}, 0), "fc.weight", "twice");
    CHECK_ERROR_CONTAINS(p.get("nope"), "nope");
    // Same seed, same numbers.
    Generator gen2(7);
    Parameters q;
    Linear l2 = Linear::make(q, "fc", 64, 32, 0.02, gen2);
    CHECK(l2.weight.to_vector<float>() == w);
  }

  TEST_CASE("module: save and load through safetensors, with checked names and shapes") {
    Generator gen(3);
    Parameters p;
    Linear::make(p, "a", 4, 3, 0.02, gen);
    p.buffer("m", {1}, 0.25);
    std::string path = (std::filesystem::temp_directory_path() / ("dasg_test_module_" + std::to_string(::getpid()))).string();
    p.save(path, {{"k", "v"}});
    Generator gen2(99);
    Parameters q;
    Linear b = Linear::make(q, "a", 4, 3, 0.02, gen2);
    Tensor m = q.buffer("m", {1}, 0.5);
    auto meta = q.load(path);
    CHECK(meta.at("k") == "v");
    CHECK(b.weight.to_vector<float>() == p.get("a.weight").to_vector<float>());
    CHECK(m.item() == 0.25);
    CHECK(b.weight.requires_grad());

    Parameters wrong_shape;
    Linear::make(wrong_shape, "a", 4, 2, 0.02, gen2);
    wrong_shape.buffer("m", {1}, 0.5);
    CHECK_ERROR_CONTAINS(wrong_shape.load(path), path.c_str(), "a.weight", "[4, 3]");
    Parameters missing;
    Linear::make(missing, "a", 4, 3, 0.02, gen2);
    missing.buffer("m", {1}, 0.5);
    missing.buffer("extra", {1}, 0.5);
    CHECK_ERROR_CONTAINS(missing.load(path), "missing", "extra");
    Parameters unexpected;
    Linear::make(unexpected, "a", 4, 3, 0.02, gen2);
    CHECK_ERROR_CONTAINS(unexpected.load(path), "unexpected", "'m'");
    std::remove(path.c_str());
  }
}
