// Whole text files, written crash-safely (see text_file.hpp).
#include "train/text_file.hpp"

#include <filesystem>
#include <fstream>

#include "engine/error.hpp"

namespace dasg {

void write_text_file(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc | std::ios::binary);
    f << text;
    f.flush();
    DASG_CHECK(f.good(), "cannot write '", tmp, "' (does its folder exist? is the disk full?)");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  DASG_CHECK(!ec, "cannot rename '", tmp, "' to '", path, "': ", ec.message());
}

}  // namespace dasg
