// gradcheck: compares the analytic gradient of f with central finite differences, in f64.
// f maps the inputs to one tensor y; the check is on L = Σ w·y for fixed random weights w,
// so every output element takes part. For each input that requires grad and each element x_i:
//   numeric_i = (L(x_i + eps) − L(x_i − eps)) / (2·eps),   analytic_i from L.backward(),
//   error_i   = |analytic_i − numeric_i| / max(1, |analytic_i|, |numeric_i|).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "engine/tensor.hpp"

namespace dasg {

struct GradcheckResult {
  bool ok = true;
  double max_error = 0;
  std::string report;  // the worst element: input, index, analytic, numeric
};

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps = 1e-6, double tol = 1e-6,
                          uint64_t seed = 1234);

}  // namespace dasg
