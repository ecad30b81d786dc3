// Suite "trainer" (TensorBoard event files): CRC-32C against its published check values; a
// fine-tuning run on ListOps splits (interrupted and resumed, so it writes two event files) read
// back with the project's reader: every record's CRC checked, and every scalar of metrics.jsonl
// found at its step with its value (as f32, the type TensorBoard stores), and nothing else; the
// last evaluation holds the held-out test split's accuracy; a damaged byte is refused by name.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "data/synthetic.hpp"
#include "tests/helpers.hpp"
#include "train/classifier.hpp"
#include "train/event_file.hpp"
#include "train/optimizer.hpp"

using namespace dasg;
namespace fs = std::filesystem;

namespace {

using Scalars = std::map<std::pair<std::string, int64_t>, double>;  // (tag, step) → the last value written

Scalars jsonl_scalars(const std::string& path) {
  Scalars out;
  std::ifstream f(path);
  std::string line;
  while (std::getline(f, line)) {
    const nlohmann::json rec = nlohmann::json::parse(line);
    const int64_t step = rec.at("step").get<int64_t>();
    if (rec.value("resumed", false))  // supersedes what came before at this step and later
      for (auto it = out.begin(); it != out.end();) it = it->first.second >= step ? out.erase(it) : ++it;
    for (const auto& [tag, v] : metric_scalars(rec)) out[{tag, step}] = v;
  }
  return out;
}

}  // namespace

TEST_SUITE("trainer") {
  TEST_CASE("tensorboard: CRC-32C check values and the TFRecord mask") {
    const std::string digits = "123456789";
    CHECK(crc32c(digits.data(), digits.size()) == 0xE3069283u);
    const std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF);
    CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720, B.4
    CHECK(crc32c(ones.data(), ones.size()) == 0x62A8AB43u);
    const uint32_t c = crc32c(digits.data(), digits.size());
    CHECK(masked_crc32c(digits.data(), digits.size()) == ((c >> 15 | c << 17) + 0xA282EAD8u));
  }

  TEST_CASE("tensorboard: a resumed ListOps run's event files hold every metric of metrics.jsonl") {
    struct Crash {};
    data::SyntheticTask task;
    task.listops.min_length = 4;
    task.listops.max_length = 32;
    task.n_train = 128, task.n_dev = 32, task.n_test = 24;
    const data::SyntheticSplits s = data::generate_splits(task);
    ClassifierOptions o;
    o.model = encoder_config(Config::parse(R"({"max_seq_len": 32, "d_model": 16, "n_layer": 2, "n_head": 2,
      "gmha": {"groups": 4}, "moe": {"n_shallow": 2, "n_deep": 2, "d_ff": 16, "top_k": 1}})"), task.T(), task.n_classes());
    o.model.vocab_size = task.vocab_size();
    o.model.validate();
    o.out_dir = (fs::temp_directory_path() / "dasg_tensorboard_listops").string();
    fs::remove_all(o.out_dir);
    o.steps = 8;
    o.batch = 8;
    o.warmup = 2;
    o.eval_every = 3;
    o.ckpt_every = 3;
    o.quiet = true;
    CHECK_THROWS_AS(train_classifier(o, s.train, s.dev, &s.test,
                                     [](int64_t step, const std::vector<NamedParam>&) { if (step == 5) throw Crash{}; }),
                    Crash);
    ClassifierOptions resume = o;
    resume.resume = (fs::path(o.out_dir) / "checkpoint").string();
    const ClassifierResult r = train_classifier(resume, s.train, s.dev, &s.test);
    CHECK(r.test.n == 24);
    CHECK(r.dev.n == 32);

    const Scalars want = jsonl_scalars(r.metrics_path);
    CHECK(want.count({"test_accuracy", 7}) == 1);
    CHECK(want.at({"test_accuracy", 7}) == doctest::Approx(r.test.accuracy));
    CHECK(want.count({"dev_accuracy", 5}) == 1);
    CHECK(want.count({"deep_rate/1", 7}) == 1);
    CHECK(want.count({"confusion/99", 7}) == 1);  // 10 × 10, flattened

    const std::vector<std::string> files = event_files(o.out_dir);
    REQUIRE(files.size() == 2);  // the first run's and the resumed run's
    Scalars got;
    int64_t restarts = 0;
    for (const std::string& f : files) {
      const std::vector<Event> events = read_event_file(f);  // throws on any bad CRC
      REQUIRE(events.size() >= 2);
      CHECK(events[0].file_version == "brain.Event:2");
      for (size_t i = 1; i < events.size(); ++i) {
        CHECK(events[i].wall_time >= events[0].wall_time);
        if (events[i].session_status == 1) {  // START: TensorBoard drops what came before at this step and later
          ++restarts;
          CHECK(events[i].step == 3);  // the checkpoint the run resumed from
          for (auto it = got.begin(); it != got.end();) it = it->first.second >= events[i].step ? got.erase(it) : ++it;
        }
        for (const auto& [tag, v] : events[i].scalars) got[{tag, events[i].step}] = v;
      }
    }
    CHECK(restarts == 1);
    CHECK(got.size() == want.size());
    int64_t mismatches = 0;
    for (const auto& [key, v] : want) {
      auto it = got.find(key);
      if (it == got.end() || it->second != (double)(float)v) {
        ++mismatches;
        INFO(key.first << " at step " << key.second);
        CHECK(it != got.end());
      }
    }
    CHECK(mismatches == 0);

    // One flipped byte in a record's data: refused, naming the file, the record and the CRC.
    std::string bytes;
    {
      std::ifstream in(files[1], std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    bytes[bytes.size() - 10] ^= 0x20;
    const std::string bad = (fs::path(o.out_dir) / "damaged.tfevents").string();
    std::ofstream(bad, std::ios::binary) << bytes;
    CHECK_ERROR_CONTAINS(read_event_file(bad), "damaged.tfevents: record at byte", "CRC does not match");
    bytes.resize(bytes.size() - 3);
    std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
    CHECK_ERROR_CONTAINS(read_event_file(bad), "overruns the file");

    // Hostile bytes: random edits of a valid file (CRCs recomputed on half of them, so the
    // protobuf decoder sees garbage too) are read or refused with dasg::Error, never a crash.
    std::string good;
    {
      std::ifstream in(files[0], std::ios::binary);
      good.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    uint64_t rng = 12345;
    auto next = [&] { return rng = rng * 6364136223846793005ull + 1442695040888963407ull, rng >> 33; };
    int64_t refused = 0;
    for (int trial = 0; trial < 300; ++trial) {
      std::string b = good;
      for (int e = 0; e < 1 + (int)(next() % 4); ++e) b[next() % b.size()] = (char)next();
      if (trial % 2) {  // re-frame the first record with valid CRCs around its damaged data
        uint64_t n;
        std::memcpy(&n, b.data(), 8);
        if (n + 16 <= b.size()) {
          const uint32_t lc = masked_crc32c(b.data(), 8), dc = masked_crc32c(b.data() + 12, n);
          std::memcpy(&b[8], &lc, 4);
          std::memcpy(&b[12 + n], &dc, 4);
        }
      }
      std::ofstream(bad, std::ios::binary | std::ios::trunc) << b;
      try {
        read_event_file(bad);
      } catch (const Error&) {
        ++refused;
      }
    }
    CHECK(refused > 0);
  }
}
