// Writing a text file whole: to PATH.tmp, then renamed over PATH, so a reader (or a run that
// resumes) never sees half a file. Throws dasg::Error naming the path when it cannot be written.
#pragma once
#include <string>

namespace dasg {

void write_text_file(const std::string& path, const std::string& text);

}  // namespace dasg
