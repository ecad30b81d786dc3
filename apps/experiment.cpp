// dasg experiment — runs a grid of config overrides × seeds (train/experiment.hpp), each run a
// child process `dasg train` (task lm) or `dasg finetune --task T`, up to --jobs at once with the
// threads split between them; resumable; writes results.json and results.md.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "apps/flags.hpp"
#include "apps/presets.hpp"
#include "engine/json.hpp"
#include "engine/parallel.hpp"
#include "train/experiment.hpp"

extern char** environ;

using dasg::app::FlagKind;
using dasg::app::UsageError;

namespace fs = std::filesystem;

static const char* kUsage = R"(usage: dasg experiment SPEC.json [--out DIR] [--jobs N] [--threads N] [--dry-run]
Runs every cell of an experiment's grid with every seed, each run a `dasg train` (task lm) or
`dasg finetune --task T` of its own, and writes DIR/results.json and DIR/results.md: per cell,
mean ± 95% confidence half-width (Student t over the seeds) of the task metric (lm: val_ppl;
sst2, mrpc: dev_accuracy; listops, recall: test_accuracy), the validation loss, tokens/s, the
deep rate per layer and the active parameters per token. Failed runs are listed, not dropped.
Run it again to resume: finished runs are kept, failed and unfinished ones run again.

  SPEC.json             the experiment (keys below)
  --out DIR             where the runs and results go (default runs/experiment-<name>)
  --jobs N              runs at once (default 1)
  --threads N           CPU threads in all, split evenly between the jobs (default: every core,
                        or DASG_NUM_THREADS)
  --dry-run             print every run's command line (as for an empty DIR); run nothing

The spec, a JSON object:
  "task"      lm | sst2 | mrpc | listops | recall                                 (required)
  "config"    the base config: a preset (dasg-tiny, ...) or a JSON file, relative
              to the spec's folder when it is a file there                       (required)
  "steps"     optimizer steps per run                                            (required)
  "seeds"     a list, or a count n meaning 1..n                                  (default 3)
  "seq_len"   tokens per sequence, also the config's max_seq_len (so a gmha.groups axis sets
              L = seq_len / groups); listops: the maximum length; recall: the length
  "grid"      {"dotted.key": [values]}: the product of the axes; an object value merges
              (θ pairs: "adr": [{"theta_s": 0.2, "theta_d": 0.6}, ...]); "config" swaps the base
  "args"      more flags for every run, e.g. ["--batch", "32", "--lr", "2e-3"]
  "data"      lm: the token shards' folder
  "budget_s"  wall-clock limit per run in seconds; a run past it is stopped and fails
  "name"      (default: the spec file's name)
Each run: DIR/cells/<cell>/seed-<s>/ with config.json, run/ (checkpoint, metrics.jsonl, the
TensorBoard events), log.txt and done.json.
)";

namespace {

// The command line of one run (argv[0] = "dasg").
std::vector<std::string> run_argv(const dasg::ExperimentSpec& spec, const dasg::CellRun& r) {
  std::vector<std::string> a = {"dasg"};
  if (spec.task == "lm") a.insert(a.end(), {"train", "--data", spec.data});
  else a.insert(a.end(), {"finetune", "--task", spec.task});
  a.insert(a.end(), {"--config", r.config_path, "--seed", std::to_string(r.seed), "--steps", std::to_string(spec.steps),
                     "--out", r.run_dir, "--quiet"});
  if (spec.seq_len > 0) a.insert(a.end(), {"--seq-len", std::to_string(spec.seq_len)});
  a.insert(a.end(), spec.args.begin(), spec.args.end());
  return a;
}

// Spawns this binary with `argv`, its output into the run's log and DASG_NUM_THREADS set; waits,
// stopping it (SIGTERM, then SIGKILL after 5 s) past budget_s. Returns its exit status (124 past
// the budget, 128 + N killed by signal N).
int spawn_run(const std::vector<std::string>& argv, const dasg::CellRun& r, double budget_s) {
  std::vector<char*> args;
  for (const std::string& s : argv) args.push_back(const_cast<char*>(s.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_s;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "DASG_NUM_THREADS=", 17) != 0) env_s.push_back(*e);
  env_s.push_back("DASG_NUM_THREADS=" + std::to_string(r.threads));
  std::vector<char*> env;
  for (std::string& s : env_s) env.push_back(s.data());
  env.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, r.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/proc/self/exe", &fa, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&fa);
  DASG_CHECK(err == 0, "experiment: cannot start '", argv[1], "' for ", r.dir, ": ", std::strerror(err));
  const auto t0 = std::chrono::steady_clock::now();
  bool timed_out = false;
  int status = 0;
  for (;;) {
    const pid_t w = waitpid(pid, &status, budget_s > 0 ? WNOHANG : 0);
    if (w == pid) break;
    DASG_CHECK(w == 0 || errno == EINTR, "experiment: waitpid failed: ", std::strerror(errno));
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (w == 0 && t > budget_s && !timed_out) {
      timed_out = true;
      kill(pid, SIGTERM);
    }
    if (w == 0 && timed_out && t > budget_s + 5) kill(pid, SIGKILL);
    if (w == 0) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (timed_out) {
    std::ofstream(r.log_path, std::ios::app) << "\ndasg experiment: stopped past budget_s = " << budget_s << " s\n";
    return 124;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

int experiment_main(int argc, char** argv) {
  if (argc >= 2 && std::strncmp(argv[1], "--", 2) != 0 && std::strcmp(argv[1], "-h") != 0) {
    const std::string spec_path = argv[1];
    std::vector<char*> rest = {argv[0]};
    for (int i = 2; i < argc; ++i) rest.push_back(argv[i]);
    dasg::app::Flags flags({{"out", FlagKind::value}, {"jobs", FlagKind::value}, {"threads", FlagKind::value},
                            {"dry-run", FlagKind::toggle}},
                           (int)rest.size(), rest.data());
    if (flags.help()) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    dasg::ExperimentSpec spec = dasg::ExperimentSpec::load(spec_path);
    dasg::ExperimentOptions o;
    o.out_dir = flags.str("out", "runs/experiment-" + spec.name);
    o.jobs = (int)flags.integer("jobs", 1);
    o.threads = (int)flags.integer("threads", dasg::num_threads());
    if (o.jobs < 1 || o.threads < 1) throw UsageError("dasg experiment: --jobs and --threads must be positive");
    if (!spec.data.empty() && fs::path(spec.data).is_relative() && !fs::exists(spec.data) &&
        fs::exists(fs::path(spec_path).parent_path() / spec.data))
      spec.data = (fs::path(spec_path).parent_path() / spec.data).string();
    // A base config: a file beside the spec, else a preset or a path (apps/presets.hpp).
    const fs::path spec_dir = fs::path(spec_path).parent_path();
    auto load = [&](const std::string& name) {
      const fs::path beside = spec_dir / name;
      const std::string path = fs::is_regular_file(beside) ? beside.string() : dasg::app::config_path(name);
      return dasg::read_json_file(path);
    };
    const bool dry = flags.has("dry-run");
    dasg::Runner runner = [&](const dasg::CellRun& r) {
      const std::vector<std::string> a = run_argv(spec, r);
      if (dry) {
        std::string line = "DASG_NUM_THREADS=" + std::to_string(r.threads);
        for (const std::string& s : a) line += " " + s;
        std::printf("%s\n", line.c_str());
        return 1;  // not run: nothing is recorded as finished
      }
      return spawn_run(a, r, spec.budget_s);
    };
    if (dry) o.quiet = true;
    if (dry) o.out_dir = (fs::temp_directory_path() / ("dasg-dry-run-" + std::to_string(getpid()))).string();
    dasg::ExperimentResult r = dasg::run_experiment(spec, o, load, runner);
    if (dry) {
      std::error_code ec;
      fs::remove_all(o.out_dir, ec);
      return 0;
    }
    std::ifstream table(r.table_path);
    std::printf("%s\n", std::string(std::istreambuf_iterator<char>(table), std::istreambuf_iterator<char>()).c_str());
    std::printf("%lld runs trained now, %lld reused, %lld failed\nresults: %s\ntable:   %s\n", (long long)r.ran,
                (long long)r.reused, (long long)r.failed, r.results_path.c_str(), r.table_path.c_str());
    return r.failed > 0 ? 1 : 0;
  }
  dasg::app::Flags flags({}, argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  throw UsageError("dasg experiment: give the spec file first: dasg experiment SPEC.json [flags]");
}
