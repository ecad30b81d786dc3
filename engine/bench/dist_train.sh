#!/usr/bin/env bash
# Data parallel against threads, in one run: `dasg bench train` as 1 process at 2 threads with
# batch 2B, then under `mpirun -np 2` at 1 thread a rank with batch B each (the same global
# batch), and the ratio of their tokens/s. The load average is printed with each timing.
# Usage: engine/bench/dist_train.sh BUILD CONFIG B T [STEPS]   e.g. build engine/bench/configs/dasg-small-shallow.json 4 128
set -euo pipefail
BUILD=$1 CONFIG=$2 B=$3 T=$4 STEPS=${5:-8}
DASG="$BUILD/apps/dasg"
if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMP_WAIT_POLICY=passive
common=(bench train --config "$CONFIG" --seq-len "$T" --steps "$STEPS" --warmup-steps 2 --profile-steps 0)
one=$("$DASG" "${common[@]}" --batch $((2 * B)) --threads 2)
two=$(mpirun --oversubscribe -np 2 "$DASG" "${common[@]}" --batch "$B" --threads 1)
printf '== 1 process, 2 threads, batch %d\n%s\n== mpirun -np 2, 1 thread a rank, batch %d each\n%s\n' $((2 * B)) "$one" "$B" "$two"
tps() { grep -o '[0-9.]* tok/s' <<<"$1" | head -n 1 | cut -d' ' -f1; }
echo "ratio (2 ranks / 1 process at 2 threads, tokens/s): $(awk -v a="$(tps "$two")" -v b="$(tps "$one")" 'BEGIN {printf "%.2f", a / b}')"
