#!/usr/bin/env bash
# tests/gpu_rerun.sh [--expect TEXT] EXE OUTDIR CASE... — the diagnostic rerun of tests/gpu.sh:
# each failing doctest CASE of the test executable EXE is run again, alone,
#   1. in sync mode (DASG_CUDA_SYNC=1: every launch and library call is followed by a synchronize,
#      so a fault is reported by the kernel that caused it, naming it, its launch shape, its
#      arguments and its source line) with the allocator's exact mode (DASG_CUDA_ALLOC=exact: no
#      rounding, so an overrun leaves its buffer) -> OUTDIR/rerun/<case>.sync.log;
#   2. where compute-sanitizer exists and EXE is a native build: under its memcheck tool (exact
#      mode too) -> <case>.memcheck.log, and for the cases of kernels with shared memory
#      (SHARED_MEMORY_CASES) under racecheck and synccheck -> <case>.racecheck.log,
#      <case>.synccheck.log.
# Prints one line per run (exit status, the first error line, the sanitizer's error summary).
# --expect TEXT: exit 1 unless every sync-mode log contains TEXT (its self-test in the emulated
# build checks that an overrunning test kernel is named). Otherwise exit 0 once everything ran:
# the reruns diagnose failures already counted, they do not decide the result.
set -uo pipefail
expect=""
if [ "${1:-}" = "--expect" ]; then
  expect=$2
  shift 2
fi
if [ $# -lt 3 ]; then
  echo "usage: tests/gpu_rerun.sh [--expect TEXT] EXE OUTDIR CASE..." >&2
  exit 2
fi
EXE=$1
OUT=$2/rerun
shift 2
mkdir -p "$OUT" || exit 2
# Parity cases whose kernels use shared memory or warp shuffles (engine/kernels/*_cuda.cu).
SHARED_MEMORY_CASES=${SHARED_MEMORY_CASES:-'softmax|layer_norm|cross_entropy|sum_mean_max|embedding|attention|topk|optimizers|norm'}

SANITIZER=""
for c in compute-sanitizer /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
  if command -v "$c" >/dev/null 2>&1; then SANITIZER=$(command -v "$c"); break; fi
done
emulated=0
if "$EXE" --list-test-cases 2>/dev/null | grep -q '^emulator:' || strings "$EXE" 2>/dev/null | grep -q 'dasg CUDA emulator'; then
  emulated=1
fi

status=0
for name in "$@"; do
  slug=$(printf '%s' "$name" | tr -c 'A-Za-z0-9_.-' '_' | cut -c1-80)
  filter=$(printf '%s' "$name" | sed 's/,/\\,/g')  # doctest's -tc separates patterns by commas
  log="$OUT/$slug.sync.log"
  DASG_CUDA_SYNC=1 DASG_CUDA_ALLOC=exact timeout 900 "$EXE" -tc="$filter" >"$log" 2>&1
  rc=$?
  first=$(grep -m1 -E 'failed:|ERROR|error:|Error' "$log" | cut -c1-400)
  echo "rerun '$name' with DASG_CUDA_SYNC=1 DASG_CUDA_ALLOC=exact: exit $rc; ${first:-no error line} (rerun/$slug.sync.log)"
  if [ -n "$expect" ] && ! grep -qF -- "$expect" "$log"; then
    echo "  expected '$expect' in rerun/$slug.sync.log; it is not there"
    status=1
  fi
  if [ -z "$SANITIZER" ] || [ $emulated -eq 1 ]; then
    [ $emulated -eq 1 ] || echo "  compute-sanitizer not found: no memcheck/racecheck/synccheck rerun"
    continue
  fi
  tools=(memcheck)
  if printf '%s' "$name" | grep -qE "$SHARED_MEMORY_CASES"; then tools+=(racecheck synccheck); fi
  for tool in "${tools[@]}"; do
    tlog="$OUT/$slug.$tool.log"
    DASG_CUDA_ALLOC=exact timeout 1800 "$SANITIZER" --tool "$tool" --error-exitcode 99 "$EXE" -tc="$filter" >"$tlog" 2>&1
    trc=$?
    summary=$(grep -m1 'ERROR SUMMARY' "$tlog" || echo "no ERROR SUMMARY line")
    echo "  compute-sanitizer --tool $tool: exit $trc; $summary (rerun/$slug.$tool.log)"
  done
done
exit $status
