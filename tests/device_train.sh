#!/usr/bin/env bash
# tests/device_train.sh: the whole model on CUDA(0) under the emulator (tests/test_device_train.cpp)
# — five steps of the one training loop for every FFN kind, causal and encoder, against the CPU;
# the caching allocator's steady state; the device→host copies per step; `dasg forward`'s dump;
# a checkpoint written on the device resumed on the CPU. Built in build-emu-asan-model/ under
# AddressSanitizer + UndefinedBehaviorSanitizer (SANITIZE=thread for ThreadSanitizer, SANITIZE=
# for none). The emulator runs every block's threads as real threads, so each case takes
# minutes; this is why tests/run.sh leaves these cases out. Natively (tests/gpu.sh) they are fast.
# Usage: tests/device_train.sh [ctest -R regex]     (JOBS=N for the build parallelism)
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
SANITIZE=${SANITIZE-address,undefined}
BUILD=build-emu-model${SANITIZE:+-${SANITIZE%%,*}}
bash third_party/install.sh
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDASG_CUDA_EMULATE=ON -DDASG_SANITIZE="$SANITIZE" \
      -DDASG_COMPONENTS="data;model;train" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target test_device_train
OMP_WAIT_POLICY=passive ctest --test-dir "$BUILD" -j "$JOBS" --output-on-failure --timeout 3600 \
      -R "${1:-^parity:}"
