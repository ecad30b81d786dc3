// CPU thread count: DASG_NUM_THREADS if set (a positive integer), else every core.
// Applied once, before the first parallel loop, to OpenMP and to Eigen's GEMM threading.
#pragma once

namespace dasg {

int num_threads();
// Changes the count for every later parallel loop and GEMM (benchmarks: --threads).
void set_num_threads(int n);

}  // namespace dasg
