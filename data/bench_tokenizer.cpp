// data/bench_tokenizer.cpp — GPT-2 encoder throughput on one core.
// Usage: bench_tokenizer [text file] [repeats]   (default: Tiny Shakespeare, 5)
//        bench_tokenizer --random-letters MB [ALPHABET]  (one word of MB·10^6 random letters of
//                                                           ALPHABET, default a-z; one pass)
// Prints MB/s of the first (cold cache) pass and of the best later pass; the per-word
// cache is what makes the later passes fast, and real corpora repeat words the same way.
// The random-letters mode is the worst case of BPE: one pre-tokenised word of that length.
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "data/corpus.hpp"
#include "data/tokenizer.hpp"

#ifndef DASG_SHARED_DATA_DIR
#define DASG_SHARED_DATA_DIR "../shared/data"
#endif

// The process's CPU time (user + system): on a shared machine the wall time says little.
static double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

int main(int argc, char** argv) {
  try {
    std::string path = argc > 1 ? argv[1] : DASG_SHARED_DATA_DIR "/tinyshakespeare/input.txt";
    int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
    std::string text;
    if (path == "--random-letters") {
      const double mb = argc > 2 ? std::atof(argv[2]) : 50;
      const std::string alphabet = argc > 3 ? argv[3] : "abcdefghijklmnopqrstuvwxyz";
      text.resize(size_t(mb * 1e6));
      uint64_t x = 1;
      for (char& c : text) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        c = alphabet[(x >> 33) % alphabet.size()];
      }
      path = "random letters of \"" + alphabet + "\"";
      repeats = 1;
    } else {
      text = dasg::data::read_text_file(path);
    }
    dasg::data::Gpt2Tokenizer tok(dasg::data::default_gpt2_dir());
    std::vector<int32_t> ids;
    double mb = double(text.size()) / 1e6, first = 0, best = 0, first_cpu = 0;
    for (int r = 0; r < repeats; r++) {
      ids.clear();
      auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_seconds();
      tok.encode(text, ids);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r == 0) first_cpu = cpu_seconds() - c0;
      if (r == 0) first = mb / s;
      else if (mb / s > best) best = mb / s;
    }
    std::printf("gpt2 encode %s: %.2f MB -> %zu tokens; first pass %.1f MB/s (%.2f s wall, %.2f s CPU)", path.c_str(),
                mb, ids.size(), first, mb / first, first_cpu);
    if (repeats > 1) std::printf(", best warm pass %.1f MB/s", best);
    std::printf("\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
}
