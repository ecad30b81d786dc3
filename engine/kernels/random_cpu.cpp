// uniform: t[i] = lo + (hi − lo)·u_i.   normal: t[i] = mean + std·√(−2 ln(1 − u_2i))·cos(2π u_2i+1).
// u_k is Philox number k of the draw (engine/philox.hpp); any thread may compute any i.
#include <cmath>

#include "engine/kernels/random.hpp"
#include "engine/philox.hpp"

namespace dasg {

double Generator::next_uniform() { return philox_uniform(seed_, reserve(1), 0); }

namespace kernels {

void uniform_cpu(Tensor& t, uint64_t seed, uint64_t offset, double lo, double hi) {
  dispatch_float(t.dtype(), "uniform", [&]<class T>() {
    T* p = t.data<T>();
    const int64_t n = t.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) p[i] = (T)(lo + (hi - lo) * philox_uniform(seed, offset, (uint64_t)i));
  });
}

void normal_cpu(Tensor& t, uint64_t seed, uint64_t offset, double mean, double std) {
  dispatch_float(t.dtype(), "normal", [&]<class T>() {
    T* p = t.data<T>();
    const int64_t n = t.numel();
#pragma omp parallel for if (n > kParallelGrain)
    for (int64_t i = 0; i < n; ++i) {
      double u1 = philox_uniform(seed, offset, 2 * (uint64_t)i);
      double u2 = philox_uniform(seed, offset, 2 * (uint64_t)i + 1);
      p[i] = (T)(mean + std * std::sqrt(-2.0 * std::log(1.0 - u1)) * std::cos(2.0 * M_PI * u2));
    }
  });
}

}  // namespace kernels
}  // namespace dasg
