// Confidence intervals over seeds: a cell of an experiment is run with n seeds and its metric
// reported as mean ± half-width of the two-sided 95% interval of Student's t,
//   mean = Σx / n,   s = sqrt(Σ(x − mean)² / (n − 1)),   half = t(0.975, n − 1) · s / √n,
// where t(p, ν) is the p-quantile of Student's t with ν degrees of freedom (t(0.975, 2) =
// 4.3027, t(0.975, 4) = 2.7764). One value has no interval (half is NaN).
#pragma once
#include <cstdint>
#include <vector>

namespace dasg {

// P(T ≤ t) for Student's t with ν > 0 degrees of freedom, from the regularised incomplete beta
// function: for t ≥ 0, 1 − I_{ν/(ν+t²)}(ν/2, 1/2) / 2.
double student_t_cdf(double t, double nu);
// The p-quantile (0 < p < 1) of Student's t with ν degrees of freedom (bisection on the CDF).
double student_t_quantile(double p, double nu);

struct MeanCI {
  int64_t n = 0;
  double mean = 0, sd = 0;  // sd: the sample standard deviation (n − 1); 0 for one value
  double half = 0;          // the 95% half-width; NaN when n < 2
};

// Throws when `x` is empty.
MeanCI mean_ci95(const std::vector<double>& x);

}  // namespace dasg
