// Small helpers shared by the test suites: random inputs, gradcheck assertions, error text checks.
#pragma once
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
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

// n routing keys in -1..E-1 (−1: a slot dispatched nowhere), uniformly (tests of group_by_key).
inline std::vector<int32_t> random_keys(int64_t n, int64_t E, Generator& g) {
  std::vector<double> u = Tensor::rand({n}, g, -1, (double)E, DType::f64).to_vector<double>();
  std::vector<int32_t> v((size_t)n);
  for (int64_t i = 0; i < n; ++i) v[(size_t)i] = std::min<int32_t>((int32_t)std::floor(u[(size_t)i]), (int32_t)E - 1);
  return v;
}

// A uniformly random permutation of 0..n-1.
inline std::vector<int32_t> random_permutation(int64_t n, Generator& g) {
  std::vector<double> u = Tensor::rand({n}, g, 0, 1, DType::f64).to_vector<double>();
  std::vector<int32_t> p((size_t)n);
  std::iota(p.begin(), p.end(), 0);
  std::stable_sort(p.begin(), p.end(), [&](int32_t a, int32_t b) { return u[(size_t)a] < u[(size_t)b]; });
  return p;
}

}  // namespace dasg::test
