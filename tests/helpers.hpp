// Small helpers shared by the test suites: random inputs, gradcheck assertions, error text checks.
#pragma once
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "autograd/gradcheck.hpp"
#include "engine/rng.hpp"
#include "engine/tensor.hpp"

namespace dasg::test {

// A random f64 leaf requiring grad, uniform in [lo, hi).
inline Tensor rand64(const Shape& shape, Generator& gen, double lo = -1, double hi = 1) {
  Tensor t = Tensor::rand(shape, gen, lo, hi, DType::f64);
  t.requires_grad_(true);
  return t;
}

// CHECK that gradcheck passes, printing the worst element when it does not.
#define CHECK_GRADCHECK(f, inputs)                                   \
  do {                                                               \
    auto _r = ::dasg::gradcheck((f), (inputs));                      \
    INFO("gradcheck: " << _r.report << " (max error " << _r.max_error << ")"); \
    CHECK(_r.ok);                                                    \
  } while (0)

// CHECK that `expr` throws dasg::Error whose message contains every given fragment.
#define CHECK_ERROR_CONTAINS(expr, ...)                                          \
  do {                                                                           \
    std::string _msg;                                                            \
    try {                                                                        \
      (void)(expr);                                                              \
    } catch (const ::dasg::Error& e) {                                           \
      _msg = e.what();                                                           \
    }                                                                            \
    INFO("error message: " << _msg);                                             \
    REQUIRE_MESSAGE(!_msg.empty(), "expected a dasg::Error from " #expr);        \
    for (const char* _frag : {__VA_ARGS__}) CHECK(_msg.find(_frag) != std::string::npos); \
  } while (0)

inline void check_close(const std::vector<double>& got, const std::vector<double>& want, double tol = 1e-12) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == doctest::Approx(want[i]).epsilon(tol));
}

}  // namespace dasg::test
