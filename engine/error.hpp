// dasg::Error — the one exception type every user-reachable failure throws.
// Messages name the operation, the offending values (shapes, dtypes, files, keys)
// and what was expected, e.g.
//   "matmul: inner dimensions differ: a is [3, 4], b is [5, 2]; expected a.size(1) == b.size(0)"
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace dasg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
}  // namespace detail

}  // namespace dasg

// DASG_CHECK(cond, "op: what was wrong; expected ...", values...) throws dasg::Error
// with the streamed message when cond is false. Never compiled out.
#define DASG_CHECK(cond, ...)                                              \
  do {                                                                     \
    if (!(cond)) throw ::dasg::Error(::dasg::detail::concat(__VA_ARGS__)); \
  } while (0)

#define DASG_FAIL(...) throw ::dasg::Error(::dasg::detail::concat(__VA_ARGS__))
