// Thread-count set-up (see parallel.hpp). The static initializer applies DASG_NUM_THREADS at
// program start, so every OpenMP loop and Eigen GEMM uses the same count.
#include "engine/parallel.hpp"

#include <Eigen/Core>
#include <cstdlib>
#include <string>
#include <thread>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "engine/error.hpp"

namespace dasg {

namespace {
int configured_threads() {
  int n = (int)std::thread::hardware_concurrency();
  if (const char* env = std::getenv("DASG_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    DASG_CHECK(end != env && *end == '\0' && v > 0 && v <= 4096, "DASG_NUM_THREADS='", env,
               "'; expected a positive integer");
    n = (int)v;
  }
  if (n < 1) n = 1;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
  return n;
}
int g_threads = configured_threads();
}  // namespace

int num_threads() { return g_threads; }

void set_num_threads(int n) {
  DASG_CHECK(n >= 1 && n <= 4096, "set_num_threads: ", n, "; expected 1..4096");
  g_threads = n;
#ifdef _OPENMP
  omp_set_num_threads(n);
#endif
  Eigen::setNbThreads(n);
}

}  // namespace dasg
