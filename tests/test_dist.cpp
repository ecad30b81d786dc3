// Suite "dist": the communicator's collectives and data-parallel training (LM and fine-tuning), run by tests/dist.sh
// under `mpirun -np 2` (in one process every case says so and skips). Each rank runs the
// one-process references itself, in a folder of its own, then both train together; rank 0
// compares the files rank 0 wrote. Also the fault cases tests/dist.sh runs on their own
// ("dist-fault:", skipped unless selected): a rank that dies or hangs mid-run.
#include "tests/dist_helpers.hpp"

using namespace dasg;
using namespace dasg::dist_test;

TEST_SUITE("dist") {
  TEST_CASE("dist: all-reduce in buckets, broadcast, barrier and all-to-all-v on 2 ranks") {
    dist::CommOptions small;
    small.bucket_bytes = 64;  // 16 floats: several buckets, and tensors larger than one
    auto comm = two_ranks(small);
    if (!comm) return;
    const int r = comm->rank();
    std::vector<Tensor> ts = {Tensor::full({3}, 1.0 + r), Tensor::full({40}, 10.0 * (r + 1)),
                              Tensor::full({2, 2}, 0.5 * r, DType::f64), Tensor::full({5}, -1.0 * r)};
    comm->all_reduce_sum(ts);
    CHECK(ts[0].to_vector<float>() == std::vector<float>(3, 3.0f));
    CHECK(ts[1].to_vector<float>() == std::vector<float>(40, 30.0f));
    CHECK(ts[2].to_vector<double>() == std::vector<double>(4, 0.5));
    CHECK(ts[3].to_vector<float>() == std::vector<float>(5, -1.0f));
    std::vector<double> v = {1.0 * r, 2.0};
    comm->all_reduce_sum(v);
    CHECK(v == std::vector<double>{1.0, 4.0});
    std::vector<Tensor> b = {Tensor::full({4}, r == 0 ? 7.0 : -1.0), Tensor::full({2}, r == 0 ? 3.0 : 0.0, DType::i32)};
    comm->broadcast(b, 0);
    CHECK(b[0].to_vector<float>() == std::vector<float>(4, 7.0f));
    CHECK(b[1].to_vector<int32_t>() == std::vector<int32_t>(2, 3));
    std::string s = r == 1 ? "from rank one" : "";
    comm->broadcast(s, 1);
    CHECK(s == "from rank one");
    comm->barrier();
    // Rank r sends r+1 rows to rank 0 and none to rank 1; rows hold [sender, row].
    std::vector<float> rows;
    for (int k = 0; k <= r; ++k) rows.insert(rows.end(), {(float)r, (float)k});
    std::vector<int64_t> recv;
    Tensor got = comm->all_to_all_rows(Tensor::from_vector(rows, {r + 1, 2}), {r + 1, 0}, recv);
    if (r == 0) {
      CHECK(recv == std::vector<int64_t>{1, 2});
      CHECK(got.to_vector<float>() == std::vector<float>{0, 0, 1, 0, 1, 1});
    } else {
      CHECK(recv == std::vector<int64_t>{0, 0});
      CHECK(got.size(0) == 0);
    }
  }

  TEST_CASE("dist: the gradients' all-reduce starts bucket by bucket during the backward") {
    // Parameters p0..p3 of 4 floats, one bucket each (16 bytes), taken in reverse order (p3's
    // bucket first); p4 frozen. L = (r+1)·Σ_i (i+1)·p_i·x over what rank r reaches: p0..p2 on
    // both ranks, p3 on rank 1 only.
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    std::vector<NamedParam> ps;
    for (int i = 0; i < 5; ++i)
      ps.push_back({"p" + std::to_string(i), Tensor::full({4}, 1.0).requires_grad_(), false});
    ps[4].tensor.requires_grad_(false);  // frozen: not reduced, keeps no gradient
    const Tensor x = Tensor::from_vector<float>({1, 2, 3, 4}, {4});
    Tensor L = sum(ps[0].tensor * x);
    for (int i = 1; i < (r == 1 ? 4 : 3); ++i) L = L + sum(ps[(size_t)i].tensor * x * (double)(i + 1));
    L = L * (double)(r + 1);
    OverlappedGradients og(*comm, ps, 16);
    CHECK(og.buckets() == 4);
    int64_t started_in_backward = 0;
    backward_with_hook(L, Tensor(), false, [&](const Tensor& leaf) {
      og.hook()(leaf);
      started_in_backward = og.started();
    });
    // p3 is not in rank 0's graph, so there its bucket, the first, waits for finish() and the
    // others wait behind it (the same order on every rank); on rank 1 all four start within the
    // backward.
    CHECK(started_in_backward == (r == 1 ? 4 : 0));
    og.finish();
    for (int i = 0; i < 4; ++i) {
      INFO("p" << i);
      const double k = (double)(i + 1) * (i == 3 ? 2.0 : 3.0);  // Σ_r (r+1) over the ranks reaching it
      REQUIRE(ps[(size_t)i].tensor.grad().defined());
      CHECK(ps[(size_t)i].tensor.grad().to_vector<float>() ==
            std::vector<float>{(float)k, (float)(2 * k), (float)(3 * k), (float)(4 * k)});
    }
    CHECK(!ps[4].tensor.grad().defined());
  }

  TEST_CASE("dist: 2 ranks x batch B train as 1 process x grad-accum 2 x B (dasg, switch, dsmoe; 10 steps)") {
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(r));
    for (const char* preset : {"dasg-tiny", "switch-tiny", "dsmoe-tiny"}) {
      INFO(preset);
      const std::string ref = tmp(std::string("dasg_dist_ref_") + preset + "_" + std::to_string(r));
      TrainOptions one = options(preset, data, ref);
      one.grad_accum = 2;
      train_language_model(one);  // this rank alone
      const std::string dp = shared_tmp(*comm, std::string("dasg_dist_dp_") + preset);
      TrainOptions two = options(preset, data, dp);
      two.comm = comm;
      std::vector<Tensor> last;  // the parameters before the last update, on this rank
      TrainResult res = train_language_model(two, [&](int64_t step, const std::vector<NamedParam>& ps) {
        if (step == two.steps - 1) last = host_copy(ps);
      });
      CHECK(res.checkpoint_written);
      // The ranks hold the same parameters, to the bit.
      std::vector<Tensor> from0;
      for (const Tensor& t : last) from0.push_back(t.clone());
      comm->broadcast(from0, 0);
      for (size_t i = 0; i < last.size(); ++i) CHECK(last[i].to_vector<float>() == from0[i].to_vector<float>());
      if (r == 0) check_same_run(ref, dp, 10);
      comm->barrier();
    }
  }

  TEST_CASE("dist: 2 ranks x grad-accum 2 x B train as 1 process x grad-accum 4 x B (dasg)") {
    // Global micro-batch j = k·2 + r: rank 0 runs j = 0, 2 and rank 1 j = 1, 3, each with its
    // batch and random stream.
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(r));
    const std::string ref = tmp("dasg_dist_ref4_" + std::to_string(r));
    TrainOptions one = options("dasg-tiny", data, ref);
    one.grad_accum = 4;
    train_language_model(one);
    const std::string dp = shared_tmp(*comm, "dasg_dist_dp4");
    TrainOptions two = options("dasg-tiny", data, dp);
    two.comm = comm;
    two.grad_accum = 2;
    train_language_model(two);
    // 1e-4, not 1e-5: four micro-batches' gradients are summed ((g0+g1)+g2)+g3 here and
    // (g0+g2)+(g1+g3) there, and the tier policy's gradients are round-off-sized (advantages
    // centred on the batch mean), which AdamW scales up to whole steps: the policy weights then
    // differ by up to 2.2e-5 of their scale after 10 steps (every other tensor by under 1e-6).
    if (r == 0) check_same_run(ref, dp, 10, true, 1e-4);
    comm->barrier();
  }

  TEST_CASE("dist: finetune on 2 ranks x B as 1 process x grad-accum 2 x B (dasg encoder, ListOps)") {
    // ListOps batches are cut to their longest sequence, so the micro-batches differ in length
    // and in the random numbers they draw: the stream of the step's last one continues.
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    data::SyntheticTask task;
    task.listops.min_length = 4;
    task.listops.max_length = 32;
    task.n_train = 128, task.n_dev = 32, task.n_test = 16;
    const data::SyntheticSplits s = data::generate_splits(task);
    auto options = [&](const std::string& out) {
      ClassifierOptions o;
      o.model = encoder_config(Config::load("train/configs/dasg-tiny.json"), task.T(), task.n_classes());
      o.model.vocab_size = task.vocab_size();
      o.model.dsse.transfer_step = 2;
      o.model.validate();
      o.out_dir = out;
      o.steps = 8;
      o.batch = 4;
      o.warmup = 2;
      o.adam_eps = 1e-5;
      o.eval_every = 0;
      o.ckpt_every = 0;
      o.tensorboard = false;
      o.quiet = true;
      return o;
    };
    const std::string ref = tmp("dasg_dist_ft_ref_" + std::to_string(r));
    ClassifierOptions one = options(ref);
    one.grad_accum = 2;
    const ClassifierResult a = train_classifier(one, s.train, s.dev, &s.test);
    const std::string dp = shared_tmp(*comm, "dasg_dist_ft_dp");
    ClassifierOptions two = options(dp);
    two.comm = comm;
    const ClassifierResult b = train_classifier(two, s.train, s.dev, &s.test);
    CHECK(close(a.dev.loss, b.dev.loss));  // every rank evaluates the same model
    CHECK(a.dev.accuracy == b.dev.accuracy);
    CHECK(close(a.test.loss, b.test.loss));
    if (r == 0) check_same_run(ref, dp, 8);
    comm->barrier();
  }

  TEST_CASE("dist: 2 ranks x batch B train as 1 process x batch 2B where the loss is a token mean (dsmoe)") {
    // dsmoe's loss (CE + sparsity) is a mean over the batch's tokens, so the split does not
    // change it; the Switch balance loss, its capacity and REINFORCE's normalisation are per
    // micro-batch, so for switch and dasg 2B is not the same objective (the grad-accum case is).
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(r));
    const std::string ref = tmp("dasg_dist_ref2b_" + std::to_string(r));
    TrainOptions one = options("dsmoe-tiny", data, ref);
    one.batch = 4;
    train_language_model(one);
    const std::string dp = shared_tmp(*comm, "dasg_dist_dp2b");
    TrainOptions two = options("dsmoe-tiny", data, dp);
    two.comm = comm;
    train_language_model(two);
    if (r == 0) check_same_run(ref, dp, 10, false);  // B 4 x 1 vs 2 x 2: the same samples, other splits
    comm->barrier();
  }

  TEST_CASE("dist: a 2-rank checkpoint resumes in 1 process, and a 1-process one on 2 ranks") {
    auto comm = two_ranks();
    if (!comm) return;
    const int r = comm->rank();
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(r));
    auto crash_at_6 = [](int64_t step, const std::vector<NamedParam>&) {
      if (step == 6) throw Crash{};
    };
    // The uninterrupted run (1 process, grad-accum 2; equal to 2 ranks by the case above).
    const std::string whole = tmp("dasg_dist_whole_" + std::to_string(r));
    TrainOptions w = options("dasg-tiny", data, whole);
    w.grad_accum = 2;
    train_language_model(w);
    const auto rw = test::step_records(whole + "/metrics.jsonl");
    REQUIRE(rw.size() == 10);

    // 2 ranks write a checkpoint at step 5 and crash at step 6; 1 process resumes from it.
    const std::string cut2 = shared_tmp(*comm, "dasg_dist_cut2");
    TrainOptions c2 = options("dasg-tiny", data, cut2);
    c2.comm = comm;
    c2.ckpt_every = 5;
    CHECK_THROWS_AS(train_language_model(c2, crash_at_6), Crash);
    comm->barrier();
    const std::string res1 = tmp("dasg_dist_res1_" + std::to_string(r));
    TrainOptions r1 = options("dasg-tiny", data, res1);
    r1.grad_accum = 2;
    r1.resume = cut2 + "/checkpoint";
    train_language_model(r1);
    const auto rr1 = test::step_records(res1 + "/metrics.jsonl");
    REQUIRE(rr1.size() == 5);
    for (size_t i = 0; i < 5; ++i) check_same_step(rw[5 + i], rr1[i]);
    check_same_checkpoint(whole + "/checkpoint", res1 + "/checkpoint");

    // 1 process (rank 0's) writes one at step 5 and crashes; 2 ranks resume from it.
    const std::string cut1 = shared_tmp(*comm, "dasg_dist_cut1");
    if (r == 0) {
      TrainOptions c1 = options("dasg-tiny", data, cut1);
      c1.grad_accum = 2;
      c1.ckpt_every = 5;
      CHECK_THROWS_AS(train_language_model(c1, crash_at_6), Crash);
    }
    comm->barrier();
    const std::string res2 = shared_tmp(*comm, "dasg_dist_res2");
    TrainOptions r2 = options("dasg-tiny", data, res2);
    r2.comm = comm;
    r2.resume = cut1 + "/checkpoint";
    train_language_model(r2);
    if (r == 0) {
      const auto rr2 = test::step_records(res2 + "/metrics.jsonl");
      REQUIRE(rr2.size() == 5);
      for (size_t i = 0; i < 5; ++i) check_same_step(rw[5 + i], rr2[i]);
      check_same_checkpoint(whole + "/checkpoint", res2 + "/checkpoint");
    }
    comm->barrier();
  }

  // tests/gpu.sh runs this on a machine with N >= 2 GPUs (mpirun -np N, one GPU a rank, NCCL
  // where built): N ranks x B on their GPUs against 1 process x grad-accum N x B on this rank's.
  TEST_CASE("dist-gpu: N ranks on N GPUs train as 1 process x grad-accum N (dasg, switch)" * doctest::skip()) {
    auto comm = dist::from_launcher("test_dist", test_comm());
    if (comm->size() < 2) {
      MESSAGE("skipped: needs mpirun -np N with N >= 2 GPUs (tests/gpu.sh)");
      return;
    }
    const int r = comm->rank(), N = comm->size();
    const std::string data = test::make_lm_data("dasg_dist_gpu_data_" + std::to_string(r));
    for (const char* preset : {"dasg-tiny", "switch-tiny"}) {
      INFO(preset);
      const std::string ref = tmp(std::string("dasg_dist_gpu_ref_") + preset + "_" + std::to_string(r));
      TrainOptions one = options(preset, data, ref);
      one.device = "cuda:" + std::to_string(comm->local_rank());
      one.grad_accum = N;
      train_language_model(one);
      const std::string dp = shared_tmp(*comm, std::string("dasg_dist_gpu_dp_") + preset);
      TrainOptions many = options(preset, data, dp);
      many.device = "cuda";  // cuda:<local rank>
      many.comm = comm;
      train_language_model(many);
      if (r == 0) check_same_run(ref, dp, 10);
      comm->barrier();
    }
  }

  // The fault cases: tests/dist.sh runs each on its own (they end the run) and checks that every
  // rank exits with an error within a bounded time.
  TEST_CASE("dist-fault: rank 1 is killed at step 3" * doctest::skip()) {
    auto comm = two_ranks();
    if (!comm) return;
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(comm->rank()));
    TrainOptions o = options("dasg-tiny", data, tmp("dasg_dist_kill_" + std::to_string(comm->rank())));
    o.comm = comm;
    o.steps = 1000;
    train_language_model(o, [&](int64_t step, const std::vector<NamedParam>&) {
      if (step == 3 && comm->rank() == 1) std::raise(SIGKILL);
    });
    FAIL("the run went on after rank 1 was killed");
  }

  TEST_CASE("dist-fault: rank 1 hangs at step 3, rank 0 times out after 3 s" * doctest::skip()) {
    dist::CommOptions o3;
    o3.timeout_s = 3;
    auto comm = two_ranks(o3);
    if (!comm) return;
    const std::string data = test::make_lm_data("dasg_dist_data_" + std::to_string(comm->rank()));
    TrainOptions o = options("dasg-tiny", data, tmp("dasg_dist_hang_" + std::to_string(comm->rank())));
    o.comm = comm;
    o.steps = 1000;
    train_language_model(o, [&](int64_t step, const std::vector<NamedParam>&) {
      if (step == 3 && comm->rank() == 1) std::this_thread::sleep_for(std::chrono::seconds(600));
    });
    FAIL("the run went on while rank 1 hung");
  }
}
