// Preset lookup (see presets.hpp).
#include "apps/presets.hpp"

#include <filesystem>

#include "engine/error.hpp"

namespace fs = std::filesystem;

namespace dasg::app {

std::string config_path(const std::string& name) {
  if (fs::is_regular_file(name)) return name;
  for (const fs::path root : {fs::path("."), fs::path(DASG_SOURCE_DIR)}) {
    fs::path p = root / "train" / "configs" / (name + ".json");
    if (fs::is_regular_file(p)) return p.string();
  }
  std::string presets;
  for (const auto& e : fs::directory_iterator(fs::path(DASG_SOURCE_DIR) / "train" / "configs"))
    presets += " " + e.path().stem().string();
  DASG_FAIL("config '", name, "' is neither a file nor a preset; presets:", presets);
}

Config load_config(const std::string& name) { return Config::load(config_path(name)); }

}  // namespace dasg::app
