// The training suites' shared fixture: byte-level shards of a fixed pseudo-text, and the step
// records of a metrics.jsonl.
#pragma once
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/shard.hpp"

namespace dasg::test {

// Byte-level shards of a fixed pseudo-text (train 40k tokens, val 8k) in a fresh directory
// `name` under the temporary directory.
inline std::string make_lm_data(const std::string& name) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::vector<int32_t> train, val;
  const char* words[] = {"the ", "cat ", "sat ", "on ", "a ", "mat ", "and ", "dog ", "ran ", "far\n"};
  uint64_t s = 12345;
  auto text = [&](std::vector<int32_t>& out, size_t n) {
    while (out.size() < n) {
      s = s * 6364136223846793005ull + 1442695040888963407ull;
      for (const char* c = words[(s >> 33) % 10]; *c; ++c) out.push_back((unsigned char)*c);
    }
  };
  text(train, 40000);
  text(val, 8000);
  data::write_shard((dir / "toy_train_000.bin").string(), train);
  data::write_shard((dir / "toy_val_000.bin").string(), val);
  return dir.string();
}

// The records of a metrics file: the per-step ones (not the evaluations, not the "resumed"
// markers), or with evals the evaluations alone.
inline std::vector<nlohmann::json> step_records(const std::string& metrics, bool evals = false) {
  std::vector<nlohmann::json> out;
  std::ifstream f(metrics);
  std::string line;
  while (std::getline(f, line)) {
    auto j = nlohmann::json::parse(line);
    if (evals ? j.contains("eval") : !j.contains("eval") && !j.contains("resumed")) out.push_back(j);
  }
  return out;
}

}  // namespace dasg::test
