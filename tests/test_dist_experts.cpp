// Suite "dist", expert parallelism (--expert-parallel) on 2 ranks under tests/dist.sh's mpirun: the
// training against 1 process (with evaluations, a gathered checkpoint and a resume), and the
// experts' memory divided over the ranks. In one process every case says so and skips.
#include "tests/dist_helpers.hpp"
#include "model/model.hpp"
#include "train/expert_parallel.hpp"

using namespace dasg;
using namespace dasg::dist_test;

TEST_SUITE("dist") {
  TEST_CASE("dist: --expert-parallel on 2 ranks trains as 1 process x grad-accum 2 (dasg with a resume, switch)") {
    // Each rank holds and runs 2 of the 4 experts of every tier; tokens reach them by all-to-all.
    // Both runs evaluate at steps 5 and 10 (the ranks' exchange on, every rank on the same val
    // batches). dasg: the run writes a checkpoint at step 5 (gathered: one process's layout) and
    // crashes at step 6; the 2 ranks resume from it (each loading its own experts' moments) and
    // finish as the uninterrupted 1-process run.
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(r));
    // After every step's backward: the optimizer's list holds this rank's own experts (0, 1 on
    // rank 0; 2, 3 on rank 1), each with its data and a gradient, and none of the other rank's.
    int64_t own = 0, other = 0, released = 0;
    auto check_grads = [&](const std::vector<NamedParam>& ps) {
      for (const NamedParam& p : ps) {
        released += p.tensor.released();
        for (const char* tier : {".ffn.experts.", ".ffn.shallow.", ".ffn.deep."}) {
          const size_t at = p.name.find(tier);
          if (at == std::string::npos) continue;
          const int e = std::stoi(p.name.substr(at + std::string(tier).size()));
          if (e / 2 != r) ++other;
          else if (p.tensor.grad().defined()) ++own;
        }
      }
    };
    auto crash_at_6 = [&](int64_t step, const std::vector<NamedParam>& ps) {
      check_grads(ps);
      if (step == 6) throw Crash{};
    };
    auto with_eval = [](TrainOptions o) {
      o.no_val = false;
      o.eval_every = 5;
      o.eval_batches = 2;
      return o;
    };
    auto eval_losses = [](const std::string& out) {
      std::vector<double> v;
      for (const nlohmann::json& j : test::step_records(out + "/metrics.jsonl", true)) v.push_back(j["val_loss"].get<double>());
      return v;
    };
    for (const char* preset : {"dasg-tiny", "switch-tiny"}) {
      INFO(preset);
      const bool dasg = std::string(preset) == "dasg-tiny";
      const std::string ref = tmp(std::string("dasg_dist_epref_") + preset + "_" + std::to_string(r));
      TrainOptions one = with_eval(options(preset, data, ref));
      one.grad_accum = 2;
      train_language_model(one);
      const std::string ep = shared_tmp(*comm, std::string("dasg_dist_ep_") + preset);
      TrainOptions two = with_eval(options(preset, data, ep));
      two.comm = comm;
      two.expert_parallel = true;
      if (dasg) {
        two.ckpt_every = 5;
        CHECK_THROWS_AS(train_language_model(two, crash_at_6), Crash);
        comm->barrier();
        const std::string res = shared_tmp(*comm, "dasg_dist_ep_resumed");
        TrainOptions again = with_eval(options(preset, data, res));
        again.comm = comm;
        again.expert_parallel = true;
        again.resume = ep + "/checkpoint";
        train_language_model(again);
        if (r == 0) {
          const auto ra = test::step_records(ref + "/metrics.jsonl"), rb = test::step_records(ep + "/metrics.jsonl"),
                     rc = test::step_records(res + "/metrics.jsonl");
          REQUIRE(ra.size() == 10);
          REQUIRE(rb.size() == 6);
          REQUIRE(rc.size() == 5);
          for (size_t i = 0; i < 6; ++i) check_same_step(ra[i], rb[i]);
          for (size_t i = 0; i < 5; ++i) check_same_step(ra[5 + i], rc[i]);
          check_same_checkpoint(ref + "/checkpoint", res + "/checkpoint");
          const std::vector<double> va = eval_losses(ref), vb = eval_losses(ep), vc = eval_losses(res);
          REQUIRE(va.size() == 2);
          REQUIRE(vb.size() == 1);
          REQUIRE(vc.size() == 1);
          CHECK(close(va[0], vb[0]));
          CHECK(close(va[1], vc[0]));
        }
      } else {
        train_language_model(two, [&](int64_t, const std::vector<NamedParam>& ps) { check_grads(ps); });
        if (r == 0) {
          check_same_run(ref, ep, 10);
          const std::vector<double> va = eval_losses(ref), vb = eval_losses(ep);
          REQUIRE(va.size() == 2);
          REQUIRE(vb.size() == 2);
          for (size_t i = 0; i < 2; ++i) CHECK(close(va[i], vb[i]));
        }
      }
      CHECK(own > 0);
      CHECK(other == 0);
      CHECK(released == 0);
      own = other = released = 0;
      // Some step left an expert without a token (its rank received none for it, from either
      // rank): dasg's deep tier after the transfer at step 3, switch's experts.
      if (r == 0) {
        bool idle = false;
        for (const nlohmann::json& rec : test::step_records(ref + "/metrics.jsonl"))
          for (const char* key : {"load_shallow", "load_deep"})
            if (rec.contains(key) && rec["step"].get<int64_t>() >= (dasg ? 3 : 0))
              for (const auto& layer : rec[key])
                for (const auto& load : layer) idle = idle || load.get<double>() == 0.0;
        CHECK(idle);
      }
      comm->barrier();
    }
  }

  TEST_CASE("dist: --expert-parallel divides the experts' memory; gathering and sharing restore them") {
    // A rank keeps the replicated parameters and its 1/2 of every tier's experts: its forward
    // (tokens exchanged) equals the whole model's; rank 0 gathers one process's state dict; the
    // DSSE transfer's sharing holds a tier again with its owners' values.
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    for (const char* preset : {"dasg-tiny", "switch-tiny"}) {
      INFO(preset);
      Config cfg = Config::load(std::string("train/configs/") + preset + ".json");
      if (cfg.ffn == "dasg") cfg.dsse.transfer_step = 0;  // the deep tier active: every expert is read
      const Model whole(cfg, 7);
      Model split(cfg, 7);
      split.set_expert_exchange(comm_exchange(comm));
      keep_own_experts(*comm, split);
      int64_t replicated = 0, experts = 0;
      for (const NamedTensor& t : whole.parameters().all()) {
        if (t.buffer) continue;
        const int owner = whole.expert_rank_of(t.name, 2);
        (owner < 0 ? replicated : experts) += t.tensor.numel();
        CHECK(split.parameters().get(t.name).released() == (owner >= 0 && owner != r));
      }
      CHECK(experts > 0);
      CHECK(split.parameters().count(false, true) == replicated + experts / 2);
      CHECK(split.parameters().count() == replicated + experts);
      CHECK_THROWS_WITH(split.parameters().state_dict(), doctest::Contains("is released here"));
      const Tensor released = split.parameters().get(cfg.ffn == "dasg" ? "blocks.0.ffn.shallow.3.fc1.weight"
                                                                        : "blocks.0.ffn.experts.3.fc1.weight");
      if (r == 0) CHECK_THROWS_WITH(released.to_vector<float>(), doctest::Contains("is released"));

      // The forward over this rank's tokens (different on each rank), in evaluation mode.
      std::vector<int32_t> ids(64);
      for (size_t i = 0; i < ids.size(); ++i) ids[i] = (int32_t)((i * 37 + 11 * (size_t)r + 5) % (size_t)cfg.vocab_size);
      const Tensor tokens = Tensor::from_vector(std::vector<int32_t>(ids.begin(), ids.begin() + 32), {2, 16});
      const Tensor targets = Tensor::from_vector(std::vector<int32_t>(ids.begin() + 32, ids.end()), {2, 16});
      Model& w = const_cast<Model&>(whole);
      w.train(false);
      split.train(false);
      const double a = w.forward(tokens, targets).loss.item(), b = split.forward(tokens, targets).loss.item();
      CHECK(close(a, b, 1e-6));

      SGD opt(optimizer_params(split.parameters()));
      for (const NamedParam& p : opt.params()) CHECK(!p.tensor.released());
      const GatheredState g = gather_experts(*comm, split, opt);
      if (r == 0) {
        const auto want = whole.parameters().state_dict();
        REQUIRE(g.model.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) {
          INFO(want[i].first);
          CHECK(g.model[i].first == want[i].first);
          CHECK(g.model[i].second.to_vector<float>() == want[i].second.to_vector<float>());
        }
      } else {
        CHECK(g.model.empty());
      }
      share_experts(*comm, split, "");
      CHECK(split.parameters().count(false, true) == replicated + experts);
      CHECK(released.to_vector<float>() == whole.parameters().get(cfg.ffn == "dasg" ? "blocks.0.ffn.shallow.3.fc1.weight"
                                                                                      : "blocks.0.ffn.experts.3.fc1.weight")
                                               .to_vector<float>());
      comm->barrier();
    }
  }
}
