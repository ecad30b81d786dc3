#!/usr/bin/env bash
# The multi-process tests (tests/run.sh runs this after ctest): data-parallel training under
# `mpirun --oversubscribe -np 2`, one thread a rank.
#   1. build/tests/test_dist: the collectives; the all-reduce overlapped with the backward; 2 ranks
#      x B against 1 process (grad-accum 2 x B for
#      dasg, switch, dsmoe; batch 2B for dsmoe; grad-accum 4 against 2 ranks x grad-accum 2;
#      ListOps fine-tuning); checkpoints 2 ranks -> 1 process and back; --expert-parallel (dasg
#      with a resume, switch; evaluations included) against 1 process, and the experts' memory
#      divided (a rank holds its own; gathered to rank 0 for a checkpoint);
#   2. a rank killed mid-run (SIGKILL): every rank gone, with mpirun's error naming it, in < 60 s;
#   3. a rank that hangs: the others' collective times out after 3 s and aborts the run with our
#      message, in < 60 s;
#   4. `mpirun -np 2 dasg train --expert-parallel` and `dasg finetune`: the global batch, the experts
#      per rank and rank 0's share of the parameters printed, rank 0 reports.
# Skips, saying so, where mpirun is missing or the build has no MPI (no test_dist).
# Usage: tests/dist.sh [BUILD_DIR]   (default build)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
if ! command -v mpirun >/dev/null; then  # the launcher is a test tool: installed here, not by install.sh
  bash third_party/install.sh --tools mpi || true
fi
if ! command -v mpirun >/dev/null; then
  echo "dist.sh: SKIPPED: no mpirun on PATH and openmpi-bin could not be installed"
  exit 0
fi
if [ ! -x "$BUILD/tests/test_dist" ]; then
  echo "dist.sh: SKIPPED: $BUILD/tests/test_dist was not built (CMake found no MPI: 'dasg: MPI not found')"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then  # CI runs as root; Open MPI refuses that unless told
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMP_WAIT_POLICY=passive DASG_NUM_THREADS=1
MPI=(mpirun --oversubscribe -np 2)
LOGS=$(mktemp -d)
fail() { echo "dist.sh: FAILED: $*"; exit 1; }

echo "== dist 1/4: test_dist under ${MPI[*]}"
timeout 600 "${MPI[@]}" "$BUILD/tests/test_dist" > "$LOGS/test_dist.log" 2>&1 || { cat "$LOGS/test_dist.log"; fail "test_dist"; }
grep -h "test cases:" "$LOGS/test_dist.log"

# Runs a fault case; checks it fails within 60 s and that its output holds the pattern $2.
fault() {
  local start end rc=0
  start=$(date +%s)
  timeout 120 "${MPI[@]}" "$BUILD/tests/test_dist" --no-skip -tc="$1" > "$LOGS/fault.log" 2>&1 || rc=$?
  end=$(date +%s)
  [ "$rc" -ne 0 ] || { cat "$LOGS/fault.log"; fail "'$1' exited 0"; }
  [ "$rc" -ne 124 ] && [ $((end - start)) -lt 60 ] || { cat "$LOGS/fault.log"; fail "'$1' took $((end - start)) s"; }
  grep -q -E "$2" "$LOGS/fault.log" || { cat "$LOGS/fault.log"; fail "'$1': no line matching '$2'"; }
  echo "   '$1': every rank exited (status $rc) in $((end - start)) s: $(grep -m1 -o -E "$2" "$LOGS/fault.log")"
}
echo "== dist 2/4: a rank killed mid-run"
fault "dist-fault: rank 1 is killed*" "process rank 1 .* exited on signal 9"
echo "== dist 3/4: a rank that hangs"
fault "dist-fault: rank 1 hangs*" "rank 0 of 2: .* did not complete within 3 s"

echo "== dist 4/4: mpirun -np 2 dasg train / finetune"
OUT="$LOGS/runs"
timeout 300 "${MPI[@]}" "$BUILD/apps/dasg" train --config dasg-tiny --steps 3 --batch 2 --seq-len 32 --no-val \
  --eval-every 0 --ckpt-every 0 --expert-parallel --out "$OUT/train" --quiet > "$LOGS/train.log" 2>&1 || { cat "$LOGS/train.log"; fail "dasg train"; }
grep -q "global batch 4 sequences = 2 ranks x --batch 2 x --grad-accum 1" "$LOGS/train.log" || { cat "$LOGS/train.log"; fail "no global batch line"; }
grep -q "expert parallel: each rank runs 2 of the 4 shallow experts and 2 of the 4 deep" "$LOGS/train.log" || { cat "$LOGS/train.log"; fail "no expert-parallel line"; }
grep -q "expert parallel: rank 0 holds 95080 of the model's 161896 parameters" "$LOGS/train.log" || { cat "$LOGS/train.log"; fail "no line of rank 0's share of the parameters"; }
[ "$(grep -c '^trained 3 steps' "$LOGS/train.log")" -eq 1 ] || { cat "$LOGS/train.log"; fail "not one report (rank 0's)"; }
[ "$(wc -l < "$OUT/train/metrics.jsonl")" -eq 3 ] || fail "metrics.jsonl does not hold 3 records"
timeout 300 "${MPI[@]}" "$BUILD/apps/dasg" finetune --task recall --config dasg-tiny --steps 3 --batch 4 \
  --train-size 64 --dev-size 16 --test-size 16 --out "$OUT/finetune" --quiet > "$LOGS/finetune.log" 2>&1 || { cat "$LOGS/finetune.log"; fail "dasg finetune"; }
grep -q "global batch 8 sequences" "$LOGS/finetune.log" || { cat "$LOGS/finetune.log"; fail "finetune: no global batch line"; }
[ "$(grep -c '^dev accuracy' "$LOGS/finetune.log")" -eq 1 ] || { cat "$LOGS/finetune.log"; fail "finetune: not one report"; }
echo "   train and finetune on 2 ranks: $(grep -m1 -o 'global batch [0-9]* sequences' "$LOGS/train.log"), one report each"
rm -rf "$LOGS"
echo "dist.sh: all passed"
