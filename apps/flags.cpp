// apps/flags.cpp — parsing and typed access for subcommand flags.
#include "apps/flags.hpp"

#include <charconv>

namespace dasg::app {

Flags::Flags(const std::vector<FlagSpec>& specs, int argc, char** argv) : command_(argv[0]) {
  for (int i = 1; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      throw UsageError(detail::concat("dasg ", command_, ": unexpected argument '", arg, "'"));
    std::string name = arg.substr(2), inline_value;
    bool has_inline = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_inline = true;
    }
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs)
      if (name == s.name) spec = &s;
    if (!spec) throw UsageError(detail::concat("dasg ", command_, ": unknown flag --", name));
    if (values_.count(name)) throw UsageError(detail::concat("dasg ", command_, ": --", name, " given twice"));
    std::vector<std::string>& v = values_[name];
    if (spec->kind == FlagKind::toggle) {
      if (has_inline) throw UsageError(detail::concat("dasg ", command_, ": --", name, " takes no value"));
      continue;
    }
    if (has_inline) {
      v.push_back(inline_value);
    } else if (spec->kind == FlagKind::value) {
      if (i + 1 >= argc || std::string(argv[i + 1]).rfind("--", 0) == 0)
        throw UsageError(detail::concat("dasg ", command_, ": --", name, " needs a value"));
      v.push_back(argv[++i]);
    } else {
      while (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) v.push_back(argv[++i]);
    }
    if (v.empty() || (spec->kind == FlagKind::value && v[0].empty()))
      throw UsageError(detail::concat("dasg ", command_, ": --", name, " needs a value"));
  }
}

std::string Flags::str(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second[0];
}

std::vector<std::string> Flags::list(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>() : it->second;
}

int64_t Flags::integer(const std::string& name, int64_t fallback) const {
  if (!has(name)) return fallback;
  std::string s = str(name, "");
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    throw UsageError(detail::concat("dasg ", command_, ": --", name, " expects an integer, got '", s, "'"));
  return v;
}

double Flags::number(const std::string& name, double fallback) const {
  if (!has(name)) return fallback;
  std::string s = str(name, "");
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size())
    throw UsageError(detail::concat("dasg ", command_, ": --", name, " expects a number, got '", s, "'"));
  return v;
}

}  // namespace dasg::app
