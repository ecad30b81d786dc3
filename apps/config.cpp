// dasg config — prints a model configuration with every field resolved.
#include <cstdio>

#include "apps/flags.hpp"
#include "apps/presets.hpp"

using dasg::app::FlagKind;

static const char* kUsage = R"(usage: dasg config --print-defaults
       dasg config --check NAME|FILE
Prints the model configuration with every field (DESIGN.md §6), derived defaults resolved.

  --print-defaults      the defaults of every field
  --check NAME|FILE     reads a preset (train/configs) or a JSON file, checks it and prints it
                        resolved; an invalid config is an error naming the key
)";

int config_main(int argc, char** argv) {
  dasg::app::Flags flags({{"print-defaults", FlagKind::toggle}, {"check", FlagKind::value}}, argc, argv);
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (flags.has("print-defaults") == flags.has("check"))
    throw dasg::app::UsageError("dasg config: give exactly one of --print-defaults and --check");
  dasg::Config cfg = flags.has("check") ? dasg::app::load_config(flags.str("check", "")) : dasg::Config::parse("{}");
  std::printf("%s\n", cfg.to_json().dump(2).c_str());
  return 0;
}
