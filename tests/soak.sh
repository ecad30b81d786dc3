#!/usr/bin/env bash
# Crash-safety soak: kill -9 a checkpointing `dasg train` at N random moments, resume each time,
# and check that every resumed run ends with parameters and optimizer state bit-identical to an
# uninterrupted run (DESIGN §8: a crash never leaves a half-written checkpoint; resuming continues
# bit-identically on the CPU).
#   tests/soak.sh N [WORKDIR]        (DASG=path/to/dasg, default build/apps/dasg)
# The run: a tiny DASG-MoE (the DSSE transfer happens mid-run) on byte shards of Tiny Shakespeare,
# a checkpoint every step. Each trial starts the run afresh, kills it after a random delay
# within the uninterrupted run's wall time, then resumes from whatever checkpoint is on disk (none:
# starts over) — killing the resume too, up to twice more, at random — and finally lets it finish.
# Prints one line per trial and a summary; exit status 1 if any trial's final state differs.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:?usage: tests/soak.sh N [WORKDIR]}
WORK=${2:-$(mktemp -d /tmp/dasg-soak.XXXXXX)}
DASG=${DASG:-build/apps/dasg}
[ -x "$DASG" ] || { echo "soak: $DASG not built (cmake --build build)" >&2; exit 2; }
mkdir -p "$WORK"
export DASG_NUM_THREADS=1

cat >"$WORK/tiny.json" <<'JSON'
{"vocab_size": 256, "max_seq_len": 32, "d_model": 32, "n_layer": 2, "n_head": 2, "gmha": {"groups": 4},
 "moe": {"n_shallow": 4, "n_deep": 4, "top_k": 2}}
JSON
if [ ! -d "$WORK/data" ]; then
  head -c 200000 ../shared/data/tinyshakespeare/input.txt >"$WORK/input.txt"
  "$DASG" tokenize --tokenizer byte --input "$WORK/input.txt" --split paragraph --out "$WORK/data" >/dev/null
fi
FLAGS=(--config "$WORK/tiny.json" --data "$WORK/data" --steps 40 --batch 4 --seq-len 32 --warmup 5 --eval-every 0
       --eval-batches 2 --ckpt-every 1 --seed 7 --quiet)
train() {  # train OUT [--resume DIR]
  local out=$1; shift
  "$DASG" train "${FLAGS[@]}" --out "$out" "$@" >>"$out.log" 2>&1
}

rm -rf "$WORK/ref" && mkdir -p "$WORK/ref"
t0=$(date +%s%N)
train "$WORK/ref/run"
t1=$(date +%s%N)
full_ms=$(( (t1 - t0) / 1000000 ))
echo "soak: uninterrupted run $full_ms ms; $N trials in $WORK"

same=0 differ=0 kills=0
for i in $(seq 1 "$N"); do
  out="$WORK/trial"
  rm -rf "$out" "$out".* && mkdir -p "$out"
  run="$out/run"
  resumes=0
  for attempt in 0 1 2 3; do
    args=()
    if [ -d "$run/checkpoint" ] || [ -d "$run/checkpoint.old" ]; then args=(--resume "$run/checkpoint"); resumes=$((resumes + 1)); fi
    if [ $attempt -lt 3 ] && { [ $attempt -eq 0 ] || [ $((RANDOM % 2)) -eq 0 ]; }; then
      "$DASG" train "${FLAGS[@]}" --out "$run" "${args[@]}" >>"$run.log" 2>&1 &
      pid=$!  # dasg itself, so kill -9 hits the trainer
      delay_ms=$(( (RANDOM * 32768 + RANDOM) % (full_ms + 1) ))
      sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
      if kill -9 "$pid" 2>/dev/null; then kills=$((kills + 1)); fi
      wait "$pid" 2>/dev/null || true
    else
      train "$run" "${args[@]}" || { echo "trial $i: the resumed run failed: $(tail -3 "$run.log")"; break; }
      break
    fi
  done
  if cmp -s "$WORK/ref/run/checkpoint/model.safetensors" "$run/checkpoint/model.safetensors" &&
     cmp -s "$WORK/ref/run/checkpoint/optim.safetensors" "$run/checkpoint/optim.safetensors"; then
    same=$((same + 1)); verdict=identical
  else
    differ=$((differ + 1)); verdict=DIFFERENT
  fi
  echo "trial $i: $verdict after $resumes resume(s)"
done
echo "soak: $same of $N resumed runs bit-identical to the uninterrupted one ($differ differ; $kills kill -9s landed)"
[ $differ -eq 0 ]
