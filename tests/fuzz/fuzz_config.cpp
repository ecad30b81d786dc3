// Fuzz target: the config parser; an accepted config round-trips through to_json, and its
// parameter count and memory estimate are computed (overflow is an Error, never wraps).
#include <string>

#include "engine/error.hpp"
#include "model/config.hpp"
#include "model/config_size.hpp"
#include "tests/fuzz/targets.hpp"

namespace dasg_fuzz {

int config(const uint8_t* data, size_t size) {
  dasg::Config c;
  try {
    c = dasg::Config::parse(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const dasg::Error&) {
    return 0;
  }
  if (dasg::Config::from_json(c.to_json()).to_json() != c.to_json()) throw PropertyFailure("config: to_json does not round-trip");
  try {
    if (dasg::parameter_count(c) <= 0) throw PropertyFailure("config: non-positive parameter count");
    if (dasg::estimate_memory(c, 8, c.max_seq_len).total_bytes <= 0) throw PropertyFailure("config: non-positive estimate");
  } catch (const dasg::Error&) {
  }
  return 0;
}

}  // namespace dasg_fuzz
