#!/usr/bin/env bash
# tests/racecheck.sh: the CUDA sources compiled against the emulator under ThreadSanitizer
# (DESIGN.md §10) — the racecheck half of the emulated tests; tests/run.sh is the memcheck half
# (ASan+UBSan). Each thread of an emulated block is a TSan fiber whose switches order nothing:
# only __syncthreads() and completed warp collectives order memory, as on the GPU (see
# engine/cuda/emulator/scheduler.cpp), and two blocks run at once on two host threads. So a
# missing __syncthreads() between a shared-memory store and another thread's load, or a
# non-atomic update of one address from two threads or blocks, is a TSan data-race report and
# the test fails.
# Builds build-emu-tsan/ (RelWithDebInfo, OpenMP off as DASG_SANITIZE=thread implies), then runs
# every `emulator:` and `parity:` kernel test there and, of the whole-model cases of
# tests/test_device_train.cpp, the CPU-vs-CUDA(0) training of dasg-tiny, causal and encoder (the
# FFN kind that runs every model kernel: GMHA, the tier router, both expert tiers, dispatch).
# Under TSan one such case takes about 15 CPU-minutes on the 2-core machine, so the other FFN
# kinds' training and the allocator, copy-count, dump and resume cases (counts, not races; they
# run under ASan+UBSan in tests/run.sh) are left out unless RACECHECK_ALL_MODEL_CASES=1.
# DASG_COMPONENTS_TSAN="" builds the engine core only (kernels without the model: faster).
# Usage: tests/racecheck.sh         (JOBS=N for the build parallelism; default: all cores)
# Time on the 2-core machine, load from other work: build 8 min, tests about 1.5 h (the largest
# parity cases, topk and sum_rows, take 25-35 min each under TSan).
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
# Stop at the first race with both stacks; a race makes the process exit non-zero (66).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}
COMPONENTS=${DASG_COMPONENTS_TSAN-data;model;train}

bash third_party/install.sh

echo "== build-emu-tsan/: emulated CUDA kernels under ThreadSanitizer"
cmake -S . -B build-emu-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASG_CUDA_EMULATE=ON \
      -DDASG_SANITIZE=thread -DDASG_COMPONENTS="$COMPONENTS" >/dev/null
cmake --build build-emu-tsan -j "$JOBS" --target test_cuda_emulator test_diag_overrun \
      $(cmake --build build-emu-tsan --target help | grep -o 'test_parity[a-z_]*' | sort -u) \
      $([ -n "$COMPONENTS" ] && echo test_device_train)
# Without the model, or with every model case: all of `emulator:` and `parity:`. Otherwise all but
# the test_device_train cases other than the dasg training ones.
EXCLUDE='^$'
if [ -n "$COMPONENTS" ] && [ "${RACECHECK_ALL_MODEL_CASES:-0}" != 1 ]; then
  EXCLUDE='training on CUDA\(0\) equals the CPU: (dense|switch|dsmoe)|caching allocator makes no cudaMalloc or cudaFree \(whole model\)|device→host copies per training step|forward --device cuda writes|checkpoint written on CUDA\(0\) resumes'
fi
ctest --test-dir build-emu-tsan -j "$JOBS" --output-on-failure -R '^(emulator|parity):' -E "$EXCLUDE"
