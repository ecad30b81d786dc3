#!/usr/bin/env bash
# tests/tensorboard_check.sh — reads runs' TensorBoard event files with TensorBoard's own code and
# checks them against metrics.jsonl: every record's length and data CRC through TensorBoard's
# record reader (DataLossError on a mismatch), then every scalar at every step through its
# EventAccumulator (the loader `tensorboard --logdir` uses, all scalars kept, SessionLog START
# purging honoured), equal to the record's value in metrics.jsonl as f32 (the last one written at
# that step; a {"resumed": true} record supersedes the earlier ones at its step and later, as the
# SessionLog START does in the event files), and no scalar that metrics.jsonl lacks.
#
# Not part of tests/run.sh, CI or the product: it needs PyPI's `tensorboard`, which it installs
# into a throw-away virtual environment (network access to PyPI; TB_VENV=DIR reuses one).
#
# Usage: tests/tensorboard_check.sh [RUN_DIR...]
#   With no RUN_DIR it makes its own runs with $DASG (default build/apps/dasg, else
#   build-cpu/apps/dasg): a ListOps fine-tuning run resumed twice, the second time from an older
#   checkpoint (so TensorBoard must purge the orphaned steps), and a language-model run on Tiny
#   Shakespeare (../shared/data/tinyshakespeare) resumed once.
set -euo pipefail
cd "$(dirname "$0")/.."
DASG=${DASG:-build/apps/dasg}
[ -x "$DASG" ] || DASG=build-cpu/apps/dasg
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
VENV=${TB_VENV:-$WORK/venv}
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c "import tensorboard" 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q tensorboard
fi
echo "tensorboard $("$VENV/bin/python" -c 'import tensorboard; print(tensorboard.__version__)')"

if [ $# -eq 0 ]; then
  export DASG_NUM_THREADS=${DASG_NUM_THREADS:-1}
  L="$WORK/listops"
  F=(finetune --task listops --seq-len 64 --min-len 8 --train-size 400 --dev-size 50 --test-size 50 --batch 8
     --warmup 2 --eval-every 3 --ckpt-every 4 --quiet)
  "$DASG" "${F[@]}" --steps 4 --out "$L" >/dev/null
  cp -r "$L/checkpoint" "$WORK/ckpt4"
  "$DASG" "${F[@]}" --steps 8 --out "$L" --resume "$L/checkpoint" >/dev/null    # steps 4..7
  "$DASG" "${F[@]}" --steps 10 --out "$L" --resume "$WORK/ckpt4" >/dev/null     # 4..9 again: 4..7 orphaned
  "$DASG" tokenize --tokenizer byte --input ../shared/data/tinyshakespeare/input.txt --split paragraph \
          --out "$WORK/ts" >/dev/null
  M="$WORK/lm"
  T=(train --config dasg-tiny --data "$WORK/ts" --batch 4 --seq-len 64 --eval-every 4 --eval-batches 2 --quiet)
  "$DASG" "${T[@]}" --steps 6 --out "$M" >/dev/null
  "$DASG" "${T[@]}" --steps 10 --out "$M" --resume "$M/checkpoint" >/dev/null
  set -- "$L" "$M"
fi

"$VENV/bin/python" - "$@" <<'PY'
import glob, json, os, struct, sys
from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import errors, pywrap_tensorflow

def flatten(tag, v, out):  # train/event_file.hpp's metric_scalars
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return
    if isinstance(v, (int, float)):
        out.append((tag, float(v)))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            flatten(f"{tag}/{i}", x, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            flatten(f"{tag}/{k}", x, out)

f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]
failed = False
for run in sys.argv[1:]:
    files = sorted(glob.glob(os.path.join(run, "*tfevents*")))
    records = starts = 0
    for path in files:  # TensorBoard's record reader: raises DataLossError on a bad CRC
        reader = pywrap_tensorflow.PyRecordReader_New(path.encode())
        first = True
        while True:
            try:
                reader.GetNext()
            except errors.OutOfRangeError:
                break
            e = event_pb2.Event.FromString(reader.record())
            if first and e.file_version != "brain.Event:2":
                sys.exit(f"{path}: the first record's file_version is {e.file_version!r}")
            first = False
            starts += e.HasField("session_log") and e.session_log.status == event_pb2.SessionLog.START
            records += 1

    want = {}
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            if rec.get("resumed"):  # a resumed run: what came before at this step and later is superseded
                want = {k: v for k, v in want.items() if k[1] < rec["step"]}
            out = []
            for k, v in rec.items():
                if k != "step":
                    flatten(k, v, out)
            for tag, v in out:
                want[(tag, rec["step"])] = v
    acc = ea.EventAccumulator(run, size_guidance={ea.SCALARS: 0})
    acc.Reload()
    got = {}
    for tag in acc.Tags()["scalars"]:
        for s in acc.Scalars(tag):
            if (tag, s.step) in got:
                print(f"  {tag} at step {s.step}: twice in TensorBoard")
                failed = True
            got[(tag, s.step)] = s.value
    missing = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [k for k in want if k in got and got[k] != f32(want[k])]
    steps = sorted({s for _, s in want})
    print(f"{run}: {len(files)} event files, {records} records (CRCs checked), {starts} SessionLog START; "
          f"{len(acc.Tags()['scalars'])} tags, {len(got)} scalars over steps {steps[0]}..{steps[-1]}; "
          f"metrics.jsonl {len(want)} scalars; missing {len(missing)}, extra {len(extra)}, different {len(wrong)}")
    for k in (missing + extra + wrong)[:10]:
        print("   ", k, want.get(k), got.get(k))
    failed = failed or bool(missing or extra or wrong) or not files
print("FAIL" if failed else "OK: every scalar at every step equals metrics.jsonl")
sys.exit(1 if failed else 0)
PY
