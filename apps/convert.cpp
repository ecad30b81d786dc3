// dasg convert — checkpoint conversion between FFN kinds; today dense → dsmoe (DESIGN §7.6,
// model/convert.hpp): the converted DSMoE model computes the dense model's outputs and can learn.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "apps/flags.hpp"
#include "apps/presets.hpp"
#include "model/convert.hpp"
#include "model/safetensors.hpp"

using dasg::app::FlagKind;
using dasg::app::UsageError;

static const char* kUsage = R"(usage: dasg convert --to dsmoe IN.safetensors OUT.safetensors --config C
Converts a dense model's weights into a DSMoE model that computes the same function
(DESIGN.md §7.6): gate weights 0 and biases ln 9 (sigma = 0.9 for every block), fc2's weight
scaled by 1/0.9, fc1/fc2 otherwise copied, everything else copied.

  --to dsmoe            the target FFN kind (dsmoe is the only conversion)
  --config NAME|FILE    the dsmoe model's config: ffn "dsmoe", the dense model's dimensions
  IN                    the dense model.safetensors (its metadata config, when present, is checked)
  OUT                   the dsmoe model.safetensors (written to OUT.tmp, then renamed)
)";

int convert_main(int argc, char** argv) {
  // IN and OUT are positional: take them out before the flag parser sees them.
  std::vector<char*> rest = {argv[0]};
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const bool is_flag = std::strncmp(argv[i], "--", 2) == 0 || !std::strcmp(argv[i], "-h");
    if (!is_flag) {
      positional.push_back(argv[i]);
      continue;
    }
    rest.push_back(argv[i]);
    const std::string name = argv[i];
    if ((name == "--to" || name == "--config") && i + 1 < argc) rest.push_back(argv[++i]);
  }
  dasg::app::Flags flags({{"to", FlagKind::value}, {"config", FlagKind::value}}, (int)rest.size(), rest.data());
  if (flags.help()) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!flags.has("to")) throw UsageError("dasg convert: --to is required (--to dsmoe)");
  if (flags.str("to", "") != "dsmoe")
    throw UsageError("dasg convert: --to " + flags.str("to", "") + " is not a conversion; expected --to dsmoe");
  if (!flags.has("config")) throw UsageError("dasg convert: --config is required (the dsmoe model's config)");
  if (positional.size() != 2)
    throw UsageError(dasg::detail::concat("dasg convert: expected two files, IN and OUT; got ", positional.size()));
  const std::string& in = positional[0];
  const std::string& out = positional[1];

  dasg::Model model(dasg::app::load_config(flags.str("config", "")));
  dasg::convert_dense_to_dsmoe(dasg::read_safetensors(in), in, model);
  model.save(out);
  std::printf("converted %s (dense) to %s (dsmoe, %lld blocks per layer, gates sigma = 0.9)\n", in.c_str(), out.c_str(),
              (long long)model.config().dsmoe.blocks);
  return 0;
}
