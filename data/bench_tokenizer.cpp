// data/bench_tokenizer.cpp — GPT-2 encoder throughput on one core.
// Usage: bench_tokenizer [text file] [repeats]   (default: Tiny Shakespeare, 5)
// Prints MB/s of the first (cold cache) pass and of the best later pass; the per-word
// cache is what makes the later passes fast, and real corpora repeat words the same way.
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

int main(int argc, char** argv) {
  try {
    std::string path = argc > 1 ? argv[1] : DASG_SHARED_DATA_DIR "/tinyshakespeare/input.txt";
    int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
    std::string text = dasg::data::read_text_file(path);
    dasg::data::Gpt2Tokenizer tok(dasg::data::default_gpt2_dir());
    std::vector<int32_t> ids;
    double mb = double(text.size()) / 1e6, first = 0, best = 0;
    for (int r = 0; r < repeats; r++) {
      ids.clear();
      auto t0 = std::chrono::steady_clock::now();
      tok.encode(text, ids);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (r == 0) first = mb / s;
      else if (mb / s > best) best = mb / s;
    }
    std::printf("gpt2 encode %s: %.2f MB -> %zu tokens; first pass %.1f MB/s, best warm pass %.1f MB/s\n",
                path.c_str(), mb, ids.size(), first, best);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_tokenizer: %s\n", e.what());
    return 1;
  }
}
