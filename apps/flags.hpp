// apps/flags.hpp — the flag parser every dasg subcommand uses. Flags are "--name value",
// "--name=value", switches "--name", and lists "--name a b c" (values up to the next
// "--" flag). Unknown flags, missing values and bad numbers throw UsageError, which
// main() reports with a pointer to the subcommand's --help.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/error.hpp"

namespace dasg::app {

struct UsageError : Error {
  using Error::Error;
};

enum class FlagKind { value, list, toggle };

struct FlagSpec {
  const char* name;  // without the leading "--"
  FlagKind kind;
};

class Flags {
 public:
  // argv[0] is the subcommand's name; "--help" / "-h" anywhere sets help().
  Flags(const std::vector<FlagSpec>& specs, int argc, char** argv);
  bool help() const { return help_; }
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  std::string str(const std::string& name, const std::string& fallback) const;
  std::vector<std::string> list(const std::string& name) const;
  int64_t integer(const std::string& name, int64_t fallback) const;
  double number(const std::string& name, double fallback) const;

 private:
  std::string command_;
  bool help_ = false;
  std::map<std::string, std::vector<std::string>> values_;
};

}  // namespace dasg::app
