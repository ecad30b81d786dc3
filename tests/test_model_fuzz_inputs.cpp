// Suite "fuzz": every committed fuzz input — the seed corpora (tests/fuzz/corpus/<target>/) and
// every crasher or slow input a fuzzer ever found (tests/fuzz/regressions/<target>/) — replayed
// through the fuzz targets themselves (tests/fuzz/targets.hpp) in the normal test build, so a fixed
// bug stays fixed without clang or libFuzzer.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/targets.hpp"

namespace fs = std::filesystem;

TEST_SUITE("fuzz") {
  TEST_CASE("fuzz: committed seeds and crashers replay cleanly through every target") {
    int inputs = 0;
    for (const dasg_fuzz::NamedTarget& t : dasg_fuzz::kTargets) {
      for (const char* kind : {"corpus", "regressions"}) {
        const fs::path dir = fs::path("tests/fuzz") / kind / t.name;
        if (!fs::is_directory(dir)) continue;
        std::vector<fs::path> files;
        for (const auto& e : fs::directory_iterator(dir))
          if (e.is_regular_file()) files.push_back(e.path());
        std::sort(files.begin(), files.end());
        for (const fs::path& f : files) {
          std::ifstream in(f, std::ios::binary);
          const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
          CAPTURE(f.string());
          CHECK_NOTHROW(t.fn(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
          inputs++;
        }
      }
    }
    CHECK(inputs >= 20);
  }
}
