// dasg report — one self-contained HTML page of training runs and experiments (train/report.hpp).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "train/report.hpp"
#include "train/text_file.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg report DIR... --out report.html [--title TEXT] [--svg DIR]
Writes one HTML file (inline SVG plots, no script, nothing fetched from anywhere) of the runs and
experiments in the DIRs, each DIR either
  a run directory of dasg train or dasg finetune (metrics.jsonl): its training loss, validation
    loss and accuracy, and for dasg the deep rate and policy entropy of every layer against the
    step and the expert load of each tier; or
  an experiment directory of dasg experiment (results.json): the task metric and tokens/s against
    every swept value (mean and 95% Student-t interval over the seeds, as error bars), the metric
    against the deep rate, the results table, then every cell's plots as above, the curves the
    mean over its seeds with a band from their minimum to their maximum.

  --out FILE            the HTML file to write (required)
  --title TEXT          the page's title (default "dasg report")
  --svg DIR             also write the experiments' summary plots there, one standalone .svg each
)";

int report_main(int argc, char** argv) {
  std::vector<std::string> dirs;
  int i = 1;
  for (; i < argc && std::strncmp(argv[i], "-", 1) != 0; ++i) dirs.push_back(argv[i]);
  std::vector<char*> rest = {argv[0]};
  for (; i < argc; ++i) rest.push_back(argv[i]);
  dasg::app::Flags flags({{"out", FlagKind::value}, {"title", FlagKind::value}, {"svg", FlagKind::value}},
                         (int)rest.size(), rest.data());
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (dirs.empty()) throw UsageError("dasg report: give the run or experiment directories first: dasg report DIR... --out FILE");
  if (!flags.has("out")) throw UsageError("dasg report: --out FILE is required");
  const dasg::Report r = dasg::make_report(dirs, flags.str("title", "dasg report"));
  const std::string out = flags.str("out", "");
  dasg::write_text_file(out, r.html);
  std::printf("report: %s (%lld plots, %zu bytes)\n", out.c_str(), (long long)r.plots, r.html.size());
  if (flags.has("svg")) {
    const std::string dir = flags.str("svg", "");
    std::filesystem::create_directories(dir);
    for (const auto& [name, svg] : r.svgs) dasg::write_text_file((std::filesystem::path(dir) / name).string(), svg);
    std::printf("svg: %zu plots in %s\n", r.svgs.size(), dir.c_str());
  }
  return 0;
}
