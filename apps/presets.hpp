// Model configs by name or path: "dasg-tiny" is train/configs/dasg-tiny.json, looked up in the
// current directory's train/configs/ and then in the source tree's (compiled in as
// DASG_SOURCE_DIR), so the bundled presets work from any directory; anything else is a path.
#pragma once
#include <string>

#include "model/config.hpp"

namespace dasg::app {

std::string config_path(const std::string& name_or_path);
Config load_config(const std::string& name_or_path);

}  // namespace dasg::app
