#!/usr/bin/env bash
# Fuzzes every parser of untrusted input with libFuzzer (Debian's clang, ASan + UBSan):
#   tests/fuzz.sh SECONDS [TARGET...]     (default targets: all six of tests/fuzz/targets.hpp)
# Builds build-fuzz/ from tests/fuzz/CMakeLists.txt, then runs each target for SECONDS of wall
# time, starting from its committed seeds (tests/fuzz/corpus/<t>/) and crashers
# (tests/fuzz/regressions/<t>/), growing a working corpus in build-fuzz/corpus/<t>/ (not
# committed). An input that crashes, trips a sanitizer, breaks a property, leaks, or runs over 10 s
# stops the run; it is left in build-fuzz/artifacts/<t>/ — copy it to tests/fuzz/regressions/<t>/
# once fixed, so the normal test suite replays it (tests/test_model_fuzz_inputs.cpp).
# Prints the executions per target; exit status 1 if any target found something.
# JOBS=N for the build and for the targets fuzzed at once (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET=${1:?usage: tests/fuzz.sh SECONDS [TARGET...]}
shift
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(shard safetensors config glue gpt2_vocab bpe)
JOBS=${JOBS:-2}

bash third_party/install.sh --tools fuzz  # clang and libFuzzer, when missing
cmake -S tests/fuzz -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz -j "$JOBS" >/dev/null

# One target: fuzz it, then write its summary line to build-fuzz/<t>.result (exit 0 or 1).
fuzz_one() {
  local t=$1 work=build-fuzz/corpus/$1 art=build-fuzz/artifacts/$1 log=build-fuzz/$1.log rc execs cov
  mkdir -p "$work" "$art"
  local seeds=(tests/fuzz/corpus/$t)
  [ -d tests/fuzz/regressions/$t ] && seeds+=(tests/fuzz/regressions/$t)
  set +e
  build-fuzz/fuzz_$t "$work" "${seeds[@]}" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -detect_leaks=1 -print_final_stats=1 -artifact_prefix="$art/" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ $rc -eq 0 ]; then
    echo "$t: ok, $execs executions in ${SECONDS_PER_TARGET}s ($cov)" >"build-fuzz/$t.result"
  else
    echo "$t: FAILED (exit $rc) after $execs executions; see $log and $art/" >"build-fuzz/$t.result"
    grep -E "ERROR|SUMMARY|PropertyFailure|Timeout|deadly" "$log" | head -5 >&2 || true
    return 1
  fi
}

# JOBS targets at a time (each fuzzer is one process on one core).
status=0
running=0
for t in "${TARGETS[@]}"; do
  fuzz_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || status=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || status=1
  running=$((running - 1))
done
for t in "${TARGETS[@]}"; do cat "build-fuzz/$t.result"; done
exit $status
