#!/usr/bin/env bash
# tests/racecheck.sh: the CUDA sources compiled against the emulator under ThreadSanitizer
# (DESIGN.md §10) — the racecheck half of the emulated tests; tests/run.sh is the memcheck half
# (ASan+UBSan). Each thread of an emulated block runs as a TSan fiber (thread t as identity t mod
# 111 of its slot) whose switches order nothing:
# only __syncthreads() and completed warp collectives order memory, as on the GPU (see
# engine/cuda/emulator/scheduler.cpp), and two blocks run at once on two host threads. So a
# missing __syncthreads() between a shared-memory store and another thread's load, or a
# non-atomic update of one address from two threads or blocks, is a TSan data-race report and
# the test fails.
# Builds build-emu-tsan/ (RelWithDebInfo, OpenMP off as DASG_SANITIZE=thread implies), then runs
# every `emulator:` and `parity:` kernel test there and, of the whole-model cases of
# tests/test_device_train.cpp, the CPU-vs-CUDA(0) training of every FFN kind, causal and encoder.
# The allocator, copy-count, dump, resume and decode cases (counts and values, not races; they run
# under ASan+UBSan in tests/run.sh) are added by RACECHECK_ALL_MODEL_CASES=1: together they ran
# for over 40 min under TSan here without finishing.
# DASG_COMPONENTS_TSAN="" builds the engine core only (kernels without the model: faster).
# Usage: tests/racecheck.sh         (JOBS=N for the build parallelism; default: all cores)
# Time on the 2-core machine at load average 9-11 (three other builds): one whole-model training
# case takes 3-6 min under TSan at that load (2026-12-02); on the idle machine the 8 training cases
# took 165 s together at -j 2 (2026-12-03). It took over 30 CPU-minutes without finishing before
# the emulator capped its TSan identities and stopped acquiring every lane at a shuffle
# (engine/cuda/emulator/scheduler.cpp, kTsanIdentities and warp_collective).
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
EXCLUDE='^$'
if [ -n "$COMPONENTS" ] && [ "${RACECHECK_ALL_MODEL_CASES:-0}" != 1 ]; then
  EXCLUDE='caching allocator makes no cudaMalloc or cudaFree \(whole model\)|device→host copies per training step|forward --device cuda writes|checkpoint written on CUDA\(0\) resumes|cached generation on CUDA|decode state'"'"'s device memory|bf16 mixed precision|a bf16 forward|precision bf16 on the CPU'
fi
ctest --test-dir build-emu-tsan -j "$JOBS" --output-on-failure -R '^(emulator|parity):' -E "$EXCLUDE"
