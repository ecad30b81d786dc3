// apps/main.cpp — the dasg binary: `dasg <subcommand> [flags]`.
// Each subcommand lives in its own file, apps/<name>.cpp, as `int <name>_main(int argc,
// char** argv)` (argv[0] is the subcommand's name) and prints its usage on --help.
// To add one: write the file, declare it below, add a row to kCommands and the file to
// apps/CMakeLists.txt. dasg::Error exits with status 1, a usage error with status 2.
#include <cstdio>
#include <cstring>
#include <exception>

#include "apps/flags.hpp"

int tokenize_main(int argc, char** argv);
int train_main(int argc, char** argv);
int config_main(int argc, char** argv);
int forward_main(int argc, char** argv);
int convert_main(int argc, char** argv);
int bench_main(int argc, char** argv);
int eval_main(int argc, char** argv);
int generate_main(int argc, char** argv);
int inspect_main(int argc, char** argv);
int finetune_main(int argc, char** argv);
int experiment_main(int argc, char** argv);
int report_main(int argc, char** argv);

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int argc, char** argv);
};

const Command kCommands[] = {
    {"tokenize", "encode text files (or the default corpus) into train/val token shards", tokenize_main},
    {"config", "print the model configuration's fields and defaults, or check a config", config_main},
    {"train", "train a language model on token shards (no flag: dasg-tiny on the default corpus; mpirun -np N: N ranks)", train_main},
    {"forward", "the parity dump: logits, losses, routing and gradients of one batch (DESIGN.md §8)", forward_main},
    {"convert", "convert a dense checkpoint into a function-preserving dsmoe one", convert_main},
    {"bench", "benchmarks: attention (GMHA vs full attention by length), train (tokens/s, GFLOP/s, per-op profile), generate (decode speed and state size)", bench_main},
    {"eval", "validation loss of a language model, or GLUE dev accuracy/F1 of an encoder", eval_main},
    {"generate", "sample a continuation of a prompt from a language-model checkpoint", generate_main},
    {"inspect", "routing report on a text: deep rates, expert loads, C and I, tokens sent deep", inspect_main},
    {"finetune", "fine-tune an encoder on GLUE SST-2 or MRPC, or on ListOps or associative recall", finetune_main},
    {"experiment", "run a grid of config overrides x seeds; results with 95% confidence intervals (resumable)", experiment_main},
    {"report", "one self-contained HTML page of runs and experiments: curves, routing, swept values with 95% intervals", report_main},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: dasg <command> [flags]   (dasg <command> --help for its flags)\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const dasg::app::UsageError& e) {
      std::fprintf(stderr, "%s\nrun 'dasg %s --help' for its flags\n", e.what(), c.name);
      return 2;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "dasg: error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "dasg: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
