#!/usr/bin/env bash
# tests/racecheck.sh: the CUDA sources compiled against the emulator under ThreadSanitizer
# (DESIGN.md §10) — the racecheck half of the emulated tests; tests/run.sh is the memcheck half
# (ASan+UBSan). The threads of an emulated block are real threads, so a missing
# __syncthreads() between a shared-memory store and another thread's load, or a non-atomic
# update of one address from two threads, is a TSan data-race report and the test fails.
# Builds build-emu-tsan/ (RelWithDebInfo, OpenMP off as DASG_SANITIZE=thread implies, engine
# core only), then runs every `emulator:` and `parity:` test there. With
# DASG_COMPONENTS_TSAN="data;model;train" it also builds and runs the whole-model cases of
# tests/test_device_train.cpp (slow: minutes per case).
# Usage: tests/racecheck.sh         (JOBS=N for the build parallelism; default: all cores)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
# Stop at the first race with both stacks; a race makes the process exit non-zero (66).
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}

bash third_party/install.sh

echo "== build-emu-tsan/: emulated CUDA kernels under ThreadSanitizer"
cmake -S . -B build-emu-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASG_CUDA_EMULATE=ON \
      -DDASG_SANITIZE=thread -DDASG_COMPONENTS="${DASG_COMPONENTS_TSAN:-}" >/dev/null
cmake --build build-emu-tsan -j "$JOBS" --target test_cuda_emulator test_diag_overrun test_parity \
      $([ -n "${DASG_COMPONENTS_TSAN:-}" ] && echo test_device_train)
ctest --test-dir build-emu-tsan -j "$JOBS" --output-on-failure -R '^(emulator|parity):'
