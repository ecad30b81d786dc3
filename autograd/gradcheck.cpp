// gradcheck: analytic vs central-difference gradients in f64 (see gradcheck.hpp).
#include "autograd/gradcheck.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "autograd/node.hpp"
#include "engine/rng.hpp"

namespace dasg {

namespace {
double weighted_sum(const Tensor& y, const std::vector<double>& w) {
  std::vector<double> v = y.to(kCPU).to(DType::f64).to_vector<double>();
  double s = 0;
  for (size_t i = 0; i < v.size(); ++i) s += w[i] * v[i];
  return s;
}
}  // namespace

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                          const std::vector<Tensor>& inputs, double eps, double tol, uint64_t seed) {
  for (const Tensor& x : inputs)
    DASG_CHECK(!x.requires_grad() || x.dtype() == DType::f64, "gradcheck: input ", x.str(),
               " requires grad but is not f64; finite differences need f64");
  for (const Tensor& x : inputs)
    if (x.requires_grad()) x.impl().grad.reset();

  Tensor y = f(inputs);
  Generator gen(seed);
  Tensor w = Tensor::rand(y.shape(), gen, -1, 1, DType::f64);
  std::vector<double> wv = w.to_vector<double>();
  y.backward(w.to(y.dtype()).to(y.device()));

  GradcheckResult result;
  NoGradGuard no_grad;
  for (size_t k = 0; k < inputs.size(); ++k) {
    Tensor x = inputs[k];
    if (!x.requires_grad()) continue;
    DASG_CHECK(x.device().is_cpu(), "gradcheck: input ", x.str(), " must be on the cpu");
    Tensor g = x.grad();
    std::vector<double> analytic = g.defined() ? g.to_vector<double>() : std::vector<double>(x.numel(), 0.0);
    double* p = x.data<double>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double orig = p[i];
      p[i] = orig + eps;
      double plus = weighted_sum(f(inputs), wv);
      p[i] = orig - eps;
      double minus = weighted_sum(f(inputs), wv);
      p[i] = orig;
      double numeric = (plus - minus) / (2 * eps);
      double a = analytic[(size_t)i];
      double err = std::abs(a - numeric) / std::max({1.0, std::abs(a), std::abs(numeric)});
      if (!(err <= result.max_error) || std::isnan(err)) {
        result.max_error = std::isnan(err) ? INFINITY : err;
        std::ostringstream os;
        os << "input " << k << " " << x.str() << " element " << i << ": analytic " << a << ", numeric " << numeric
           << ", error " << err;
        result.report = os.str();
      }
    }
  }
  result.ok = result.max_error <= tol;
  return result;
}

}  // namespace dasg
