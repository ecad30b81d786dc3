// Student-t confidence intervals (see confidence.hpp).
#include "train/confidence.hpp"

#include <cmath>
#include <limits>

#include "engine/error.hpp"

namespace dasg {

namespace {

// The continued fraction of the incomplete beta function (modified Lentz; Numerical Recipes
// §6.4), converging for x < (a + 1) / (a + b + 2).
double beta_fraction(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 300; ++m) {
    const double m2 = 2.0 * m;
    double aa = m * (b - m) * x / ((a + m2 - 1) * (a + m2));  // the even step
    d = 1 + aa * d;
    c = 1 + aa / c;
    d = 1 / (std::fabs(d) < tiny ? tiny : d);
    c = std::fabs(c) < tiny ? tiny : c;
    h *= d * c;
    aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));  // the odd step
    d = 1 + aa * d;
    c = 1 + aa / c;
    d = 1 / (std::fabs(d) < tiny ? tiny : d);
    c = std::fabs(c) < tiny ? tiny : c;
    const double delta = d * c;
    h *= delta;
    if (std::fabs(delta - 1) < 1e-15) break;
  }
  return h;
}

// The regularised incomplete beta function I_x(a, b).
double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const double front =
      std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_fraction(a, b, x) / a;
  return 1 - front * beta_fraction(b, a, 1 - x) / b;  // the symmetry I_x(a, b) = 1 − I_{1−x}(b, a)
}

}  // namespace

double student_t_cdf(double t, double nu) {
  DASG_CHECK(nu > 0, "student_t_cdf: degrees of freedom ", nu, "; expected > 0");
  const double tail = 0.5 * incomplete_beta(nu / 2, 0.5, nu / (nu + t * t));  // P(T > |t|)
  return t >= 0 ? 1 - tail : tail;
}

double student_t_quantile(double p, double nu) {
  DASG_CHECK(p > 0 && p < 1 && nu > 0, "student_t_quantile: p = ", p, ", nu = ", nu, "; expected 0 < p < 1, nu > 0");
  if (p < 0.5) return -student_t_quantile(1 - p, nu);
  double lo = 0, hi = 1;
  while (student_t_cdf(hi, nu) < p) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-13 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (student_t_cdf(mid, nu) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

MeanCI mean_ci95(const std::vector<double>& x) {
  DASG_CHECK(!x.empty(), "mean_ci95: no values");
  MeanCI r;
  r.n = (int64_t)x.size();
  for (double v : x) r.mean += v;
  r.mean /= (double)r.n;
  if (r.n < 2) {
    r.half = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  double ss = 0;
  for (double v : x) ss += (v - r.mean) * (v - r.mean);
  r.sd = std::sqrt(ss / (double)(r.n - 1));
  r.half = student_t_quantile(0.975, (double)(r.n - 1)) * r.sd / std::sqrt((double)r.n);
  return r;
}

}  // namespace dasg
