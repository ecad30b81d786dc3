// Suite "train" (fine-tuning and generation): the classification loop learns a tiny synthetic
// task (label = the sequence holds a marker byte) with a dasg encoder and with a Switch one; a
// pretrained checkpoint's parameters are copied by name and shape (cls fresh, wpe cropped, the
// DSSE state carried over); encoder configs keep the group length; sampling is greedy at
// temperature 0 and deterministic for a seed; generation slides its context (train/generate.hpp).
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "model/model.hpp"
#include "tests/helpers.hpp"
#include "train/checkpoint.hpp"
#include "train/classifier.hpp"
#include "train/optimizer.hpp"
#include "train/router_state.hpp"
#include "train/generate.hpp"

using namespace dasg;
namespace fs = std::filesystem;

namespace {

// n sequences of T=32 byte tokens from 'a'..'h', lengths 6..24; in about half of them one
// position holds the marker 'z', and the label says whether it does.
data::ClassificationSet marker_set(int64_t n, uint64_t seed) {
  const int64_t T = 32;
  data::ClassificationSet s;
  s.T = T;
  s.tokens.assign((size_t)(n * T), 0);
  Generator g(seed);
  auto draw = [&](int64_t k) { return std::min<int64_t>((int64_t)(g.next_uniform() * (double)k), k - 1); };
  for (int64_t i = 0; i < n; ++i) {
    const int64_t len = 6 + draw(19);
    for (int64_t t = 0; t < len; ++t) s.tokens[(size_t)(i * T + t)] = 'a' + (int32_t)draw(8);
    const int32_t label = g.next_uniform() < 0.5 ? 1 : 0;
    if (label) s.tokens[(size_t)(i * T + draw(len))] = 'z';
    s.labels.push_back(label);
    s.lengths.push_back((int32_t)len);
  }
  return s;
}

const char* kTinyDasg = R"({"max_seq_len": 32, "d_model": 32, "n_layer": 2, "n_head": 2, "causal": false,
  "gmha": {"groups": 4}, "moe": {"n_shallow": 4, "n_deep": 4, "d_ff": 32, "top_k": 2}})";
const char* kTinySwitch = R"({"max_seq_len": 32, "d_model": 32, "n_layer": 2, "n_head": 2, "causal": false,
  "attention": "full", "gmha": {"groups": 4}, "ffn": "switch",
  "moe": {"n_shallow": 4, "n_deep": 1, "d_ff": 64, "top_k": 1}})";

ClassifierResult train_marker(const char* config, const std::string& out) {
  ClassifierOptions o;
  o.model = Config::parse(config);
  o.out_dir = (fs::temp_directory_path() / out).string();
  fs::remove_all(o.out_dir);
  o.steps = 60;
  o.batch = 32;
  o.lr = 3e-3;
  o.min_lr = 3e-4;
  o.warmup = 10;
  o.eval_every = 30;
  o.quiet = true;
  return train_classifier(o, marker_set(1024, 1), marker_set(256, 2));
}

// Writes a checkpoint of `model` in the trainer's format.
void save_model(Model& model, const std::string& dir) {
  Checkpoint c;
  c.model = model.parameters().state_dict();
  c.model_metadata = {{"config", model.config().to_json().dump()},
                      {"deep_active", model.deep_active() ? "true" : "false"}};
  c.state = {{"step", 0},  // what load_checkpoint checks state.json for (train/checkpoint.hpp)
             {"skipped_steps", 0},
             {"loader", nlohmann::json::object()},
             {"rng", {{"seed", 0}, {"offset", 0}}},
             {"adr", RouterState(model.config()).to_json()}};
  save_checkpoint(dir, c);
}

std::vector<float> values(const Model& m, const std::string& name) {
  return m.parameters().get(name).to(kCPU).to_vector<float>();
}

const char* kTinyCausal = R"({"max_seq_len": 32, "d_model": 16, "n_layer": 2, "n_head": 2,
  "gmha": {"groups": 4}, "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 16, "top_k": 1}})";

}  // namespace

TEST_SUITE("train") {
  TEST_CASE("finetune: a tiny dasg encoder learns the marker task") {
    ClassifierResult r = train_marker(kTinyDasg, "dasg_finetune_dasg");
    INFO("dev accuracy " << r.dev.accuracy << ", majority " << r.dev.majority);
    CHECK(r.dev.n == 256);
    CHECK(r.dev.majority < 0.6);
    CHECK(r.dev.accuracy >= 0.9);
    CHECK(r.dev.f1 >= 0.9);
    CHECK(r.skipped_steps == 0);
    CHECK(checkpoint_exists(r.checkpoint_dir));
    // The checkpoint evaluates to the same dev numbers.
    std::unique_ptr<Model> m = load_model(r.checkpoint_dir);
    CHECK(m->deep_active());
    ClassifierEval e = evaluate_classifier(*m, marker_set(256, 2), 50);
    CHECK(e.accuracy == doctest::Approx(r.dev.accuracy));
    CHECK(e.loss == doctest::Approx(r.dev.loss).epsilon(1e-4));
    int64_t total = 0;
    for (int64_t v : e.confusion) total += v;
    CHECK(total == 256);
    CHECK(fs::exists(r.metrics_path));
  }

  TEST_CASE("finetune: a tiny switch encoder learns the marker task") {
    ClassifierResult r = train_marker(kTinySwitch, "dasg_finetune_switch");
    INFO("dev accuracy " << r.dev.accuracy << ", majority " << r.dev.majority);
    CHECK(r.dev.accuracy >= 0.9);
    CHECK(r.dev.f1 >= 0.9);
  }

  TEST_CASE("finetune: resume is bit-exact on the CPU (the trainer's loop: accumulation, checkpoints)") {
    struct Crash {};
    auto options = [](const std::string& out) {
      ClassifierOptions o;
      o.model = Config::parse(kTinyDasg);
      o.model.dsse.transfer_step = 2;
      o.out_dir = (fs::temp_directory_path() / out).string();
      fs::remove_all(o.out_dir);
      o.steps = 6;
      o.batch = 8;
      o.grad_accum = 2;
      o.warmup = 2;
      o.eval_every = 0;
      o.ckpt_every = 3;
      o.quiet = true;
      return o;
    };
    const data::ClassificationSet train = marker_set(128, 1), dev = marker_set(32, 2);
    ClassifierResult a = train_classifier(options("dasg_finetune_whole"), train, dev);
    ClassifierOptions cut = options("dasg_finetune_cut");
    CHECK_THROWS_AS(train_classifier(cut, train, dev, nullptr,
                                     [](int64_t step, const std::vector<NamedParam>&) { if (step == 4) throw Crash{}; }),
                    Crash);
    ClassifierOptions resume = cut;
    resume.resume = (fs::path(cut.out_dir) / "checkpoint").string();
    ClassifierResult b = train_classifier(resume, train, dev);
    CHECK(b.steps_done == 3);
    CHECK(b.final_train_loss == a.final_train_loss);
    CHECK(b.dev.loss == a.dev.loss);
    const Checkpoint ca = load_checkpoint(a.checkpoint_dir), cb = load_checkpoint(b.checkpoint_dir);
    REQUIRE(ca.model.size() == cb.model.size());
    for (size_t i = 0; i < ca.model.size(); ++i) {
      INFO(ca.model[i].first);
      CHECK(ca.model[i].second.to_vector<float>() == cb.model[i].second.to_vector<float>());
    }
    CHECK(ca.state["adr"] == cb.state["adr"]);
  }

  TEST_CASE("finetune: a causal model is refused") {
    ClassifierOptions o;
    o.model = Config::parse(kTinyCausal);
    o.out_dir = (fs::temp_directory_path() / "dasg_finetune_causal").string();
    CHECK_ERROR_CONTAINS(train_classifier(o, marker_set(8, 1), marker_set(8, 2)), "causal");
  }

  TEST_CASE("finetune: encoder_config keeps the group length") {
    Config base = Config::parse(kTinyCausal);  // max_seq_len 32, groups 4: L = 8
    Config a = encoder_config(base, 16, 2);
    CHECK(!a.causal);
    CHECK(a.max_seq_len == 16);
    CHECK(a.gmha.groups == 2);
    CHECK(a.group_len() == 8);
    CHECK(a.gmha.window == 8);
    Config b = encoder_config(base, 12, 3);  // 12 is no multiple of 8, but of 4 groups: L = 3
    CHECK(b.gmha.groups == 4);
    CHECK(b.gmha.window == 3);
    CHECK(b.n_classes == 3);
    CHECK_ERROR_CONTAINS(encoder_config(base, 10, 2), "seq_len 10");
  }

  TEST_CASE("finetune: a pretrained checkpoint's parameters are copied by name and shape") {
    Model src(Config::parse(kTinyCausal), 11);
    for (const NamedTensor& p : src.parameters().all()) {  // distinguishable values everywhere
      std::vector<float> v = p.tensor.to_vector<float>();
      for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f + 0.001f * (float)(i % 97);
      Tensor t = p.tensor;
      t.copy_from(Tensor::from_vector(v, t.shape()));
    }
    src.transfer_dsse();  // the deep tier is active in the checkpoint
    const std::string dir = (fs::temp_directory_path() / "dasg_finetune_pretrained").string();
    fs::remove_all(dir);
    save_model(src, dir);

    for (int64_t T : {16, 64}) {
      CAPTURE(T);
      Config enc = encoder_config(src.config(), T, 2);
      Model fresh(enc, 5), model(enc, 5);
      InitReport rep = init_from_checkpoint(model, dir, dir + "/../dasg_finetune_scratch.safetensors");
      CHECK(rep.deep_active);
      CHECK(model.deep_active());
      CHECK(!model.parameters().get("blocks.0.ffn.deep.0.fc1.weight").requires_grad());
      CHECK(model.parameters().get("blocks.0.ffn.deep.0.fc2.weight").requires_grad());
      CHECK(rep.cropped == std::vector<std::string>{"wpe.weight"});
      // Fresh: the head, and group MLPs the source lacks (T = 64 has 8 groups, the source 4).
      std::vector<std::string> want_fresh = {"cls.weight", "cls.bias"};
      for (const std::string& f : rep.fresh) {
        CAPTURE(f);
        const bool head = f.rfind("cls.", 0) == 0;
        const bool extra_group = T == 64 && f.find(".group_mlp.") != std::string::npos;
        CHECK((head || extra_group));
        CHECK(values(model, f) == values(fresh, f));
      }
      CHECK(rep.copied.size() + rep.cropped.size() + rep.fresh.size() == model.parameters().all().size());
      for (const std::string& c : rep.copied) {
        CAPTURE(c);
        CHECK(values(model, c) == values(src, c));
      }
      const int64_t D = src.config().d_model, rows = std::min<int64_t>(T, 32);
      std::vector<float> wpe = values(model, "wpe.weight"), wpe_src = values(src, "wpe.weight"),
                         wpe_fresh = values(fresh, "wpe.weight");
      CHECK(std::vector<float>(wpe.begin(), wpe.begin() + rows * D) ==
            std::vector<float>(wpe_src.begin(), wpe_src.begin() + rows * D));
      CHECK(std::vector<float>(wpe.begin() + rows * D, wpe.end()) ==
            std::vector<float>(wpe_fresh.begin() + rows * D, wpe_fresh.end()));
      // The copy runs: an encoder forward on it.
      model.train(false);
      ForwardResult r = model.forward(Tensor::from_vector(std::vector<int32_t>(2 * 10, 7), {2, 10}));
      CHECK(r.logits.shape() == Shape{2, 2});
    }
  }

  TEST_CASE("generate: sample_next is greedy at temperature 0 and deterministic for a seed") {
    std::vector<float> logits = {1.f, 3.f, 3.f, 2.f, -INFINITY};
    Generator g(1);
    CHECK(sample_next(logits, 0.0, 0, g) == 1);  // ties to the lower id
    CHECK(g.offset() == 0);                       // greedy draws nothing
    CHECK(sample_next(logits, 1.0, 1, g) == 1);   // top-1 is greedy too
    Generator a(42), b(42), c(43);
    std::vector<int32_t> da, db, dc;
    for (int i = 0; i < 200; ++i) {
      da.push_back(sample_next(logits, 1.0, 0, a));
      db.push_back(sample_next(logits, 1.0, 0, b));
      dc.push_back(sample_next(logits, 1.0, 0, c));
    }
    CHECK(da == db);
    CHECK(da != dc);
    for (int32_t t : da) CHECK(t != 4);  // -inf is never drawn
    // Frequencies follow softmax(logits / temperature) over the top k.
    std::vector<float> two = {0.f, std::log(3.f), -5.f};
    Generator h(7);
    int ones = 0, n = 8000;
    for (int i = 0; i < n; ++i) {
      int32_t t = sample_next(two, 1.0, 2, h);
      CHECK(t != 2);
      ones += t == 1;
    }
    CHECK((double)ones / n == doctest::Approx(0.75).epsilon(0.03));
    CHECK_ERROR_CONTAINS(sample_next(logits, -1.0, 0, g), "temperature");
    CHECK_ERROR_CONTAINS(sample_next(logits, 1.0, -2, g), "top_k");
  }

  TEST_CASE("generate: seeded, greedy at temperature 0, context slid past max_seq_len") {
    Model m(Config::parse(R"({"max_seq_len": 16, "d_model": 16, "n_layer": 1, "n_head": 2, "gmha": {"groups": 2},
                              "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 16, "top_k": 1},
                              "dsse": {"transfer_step": 0}})"), 3);
    const std::vector<int32_t> prompt = {72, 101, 108, 108};
    GenerateOptions o;
    o.tokens = 24;  // past max_seq_len: the context slides
    o.temperature = 1.0;
    o.seed = 9;
    std::vector<int32_t> a = generate(m, prompt, o), b = generate(m, prompt, o);
    CHECK(a.size() == prompt.size() + 24);
    CHECK(std::vector<int32_t>(a.begin(), a.begin() + 4) == prompt);
    CHECK(a == b);
    o.seed = 10;
    CHECK(generate(m, prompt, o) != a);

    o.temperature = 0;
    o.vocab_limit = 128;
    std::vector<int32_t> g1 = generate(m, prompt, o);
    o.seed = 99;
    CHECK(generate(m, prompt, o) == g1);  // greedy ignores the seed
    // Every greedy token is the argmax (below the limit) of the model on the slid context.
    m.train(false);
    m.set_capacity(false);
    for (size_t i = prompt.size(); i < g1.size(); ++i) {
      const int64_t T = (int64_t)i - context_start((int64_t)i, m.config());
      std::vector<int32_t> ctx(g1.begin() + (int64_t)i - T, g1.begin() + (int64_t)i);
      std::vector<float> logits = m.forward(Tensor::from_vector(ctx, {1, T})).logits.to_vector<float>();
      const float* last = logits.data() + (T - 1) * 256;
      int32_t best = 0;
      for (int32_t v = 1; v < 128; ++v)
        if (last[v] > last[best]) best = v;
      CHECK(g1[i] == best);
    }
    CHECK_ERROR_CONTAINS(generate(m, {}, o), "prompt is empty");
    Model enc(Config::parse(kTinyDasg), 1);
    CHECK_ERROR_CONTAINS(generate(enc, prompt, o), "encoder");
  }
}
