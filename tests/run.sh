#!/usr/bin/env bash
# The test command (README, CI): from a fresh clone, install what is missing, then
#   1. build/          the shipped configuration (native CUDA compiled wherever nvcc exists) and
#                      every CPU test suite through ctest, then the multi-process ones
#                      (tests/dist.sh: mpirun --oversubscribe -np 2, about 15 s) and the HTML pages
#                      in headless Chromium (tests/browser_check.sh, under 10 s);
#   2. build-emu-asan/ the CUDA sources compiled against the emulator, under AddressSanitizer and
#                      UndefinedBehaviorSanitizer, running the emulator's own tests, every kernel
#                      `parity:` test (DESIGN.md §10) and the whole-model ones of
#                      tests/test_device_train.cpp (training on the emulated CUDA(0) against the CPU);
#   3. build-fuzz/     the libFuzzer targets of every parser of untrusted input (tests/fuzz.sh),
#                      each fuzzed for FUZZ_SECONDS (default 10) from its committed corpus.
# Usage: tests/run.sh            (JOBS=N to change the build parallelism; default: all cores;
#                                 FUZZ_SECONDS=0 skips the fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}

bash third_party/install.sh
# The test tools (mpirun, headless Chromium, clang's libFuzzer) install while build/ compiles; the
# scripts that need them wait for it (and install what is still missing themselves).
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
mkdir -p build
bash third_party/install.sh --tools mpi browser $([ "$FUZZ_SECONDS" -gt 0 ] && echo fuzz) > build/test-tools.log 2>&1 &
TOOLS=$!

echo "== build/: release build and CPU tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"
ctest --test-dir build -j "$JOBS" --output-on-failure
wait "$TOOLS" || { echo "tests/run.sh: installing the test tools failed:"; cat build/test-tools.log; }
echo "== build/: data-parallel tests under mpirun -np 2 (tests/dist.sh; skipped without MPI)"
tests/dist.sh build
echo "== build/: report.html and the routing view in headless Chromium (tests/browser_check.sh)"
tests/browser_check.sh build

if [ -f engine/cuda/emulator/CMakeLists.txt ]; then
  echo "== build-emu-asan/: emulated CUDA kernels and model training under ASan+UBSan"
  cmake -S . -B build-emu-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASG_CUDA_EMULATE=ON \
        -DDASG_SANITIZE=address,undefined -DDASG_COMPONENTS="data;model;train" >/dev/null
  cmake --build build-emu-asan -j "$JOBS" --target test_cuda_emulator test_diag_overrun test_device_train \
        $(cmake --build build-emu-asan --target help | grep -o 'test_parity[a-z_]*' | sort -u)
  # The emulator's two slots are busy threads; OpenMP threads of the CPU side must not spin beside them.
  OMP_WAIT_POLICY=passive ctest --test-dir build-emu-asan -j "$JOBS" --output-on-failure -R '^(emulator|parity):'
fi

if [ "$FUZZ_SECONDS" -gt 0 ]; then
  echo "== build-fuzz/: every parser fuzzed for ${FUZZ_SECONDS}s (libFuzzer, ASan+UBSan)"
  JOBS="$JOBS" tests/fuzz.sh "$FUZZ_SECONDS"
fi
