// CPU thread count: DASG_NUM_THREADS if set (a positive integer), else every core.
// Applied once, before the first parallel loop, to OpenMP and to Eigen's GEMM threading.
#pragma once

namespace dasg {

int num_threads();

}  // namespace dasg
