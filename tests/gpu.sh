#!/usr/bin/env bash
# tests/gpu.sh OUTDIR — the native GPU run of DESIGN.md §10, for a machine with an NVIDIA GPU,
# the driver and the CUDA toolkit (nvcc, cuBLAS, cuDNN). In one go:
#   1. checks that a GPU is there (nvidia-smi, and at least one device listed);
#   2. installs the missing Debian build dependencies (third_party/install.sh);
#   3. builds natively in build-gpu/ (Release, DASG_CUDA=ON, with data, model, train and apps): test_parity, test_device_train, dasg and
#      bench_gpu;
#   4. opens the device once through the test binary; if the CUDA runtime cannot (no device, or
#      a driver too old for this CUDA: cudaErrorInsufficientDriver), prints the runtime's own
#      error and stops (exit 2);
#   5. runs every `parity:` test natively through ctest with TF32 off (the parity tolerance is
#      set for f32 round-off, and TF32 GEMMs are 10-bit-mantissa products), then the TF32 case
#      alone with TF32 on, which reports the TF32 GEMM error against f32 (tf32.log): the TF32
#      default is measured, not assumed;
#   6. on a parity failure, reruns each failing case alone (tests/gpu_rerun.sh) with
#      DASG_CUDA_SYNC=1 and the allocator's exact mode, so a kernel fault is named at the kernel,
#      and under compute-sanitizer (memcheck; racecheck and synccheck for the cases of kernels
#      with shared memory), logging each under OUTDIR/rerun/;
#   7. runs bench_gpu (engine GEMM vs direct cuBLAS — f32 cublasSgemm, bf16 cublasGemmEx —, memory-bound
#      kernels vs a D2D copy);
#   8. trains dasg-small for 50 steps on Tiny Shakespeare with --device cuda, then the same 50 steps
#      with --device cuda --precision bf16 (mixed precision), then with --device cpu, reporting the
#      median tokens/s and the losses of each (train.log);
#   9. data parallel on the GPUs: with N >= 2 GPUs, test_dist's "dist-gpu:" case under
#      mpirun -np N (one GPU a rank, NCCL where the build finds it) against 1 process x
#      grad-accum N (dist.log); with one GPU it says it skips, and why.
# Everything is logged under OUTDIR: nvidia-smi.txt, install.log, build.log, parity.log, tf32.log,
# rerun/, bench.log, train.log, train-{cuda,cuda-bf16,cpu}/, and summary.txt (versions — driver, nvcc, cuBLAS, cuDNN, CMake —, what ran,
# what passed, the benchmark tables).
# Exit status: 0 all passed; 1 a parity test or the GPU data-parallel test failed; 2 no usable GPU (no nvidia-smi, no GPU
# listed, or the CUDA runtime cannot open one: the message says which, with the runtime's error)
# or the build failed; 3 only the benchmark or the end-to-end training failed. On a machine without a GPU it therefore
# stops at step 1 with "FAIL: nvidia-smi not found: no NVIDIA driver on this machine" and exit 2.
# Usage: tests/gpu.sh OUTDIR        (JOBS=N for the build parallelism; default: all cores)
set -uo pipefail
if [ $# -ne 1 ]; then
  echo "usage: tests/gpu.sh OUTDIR" >&2
  exit 2
fi
mkdir -p "$1" || exit 2
OUT=$(cd "$1" && pwd)
cd "$(dirname "$0")/.." || exit 2
ROOT=$(pwd)
JOBS=${JOBS:-$(nproc)}
BUILD="$ROOT/build-gpu"
: >"$OUT/summary.txt"
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
elapsed() { echo "$(($(date +%s) - $1)) s"; }

say "tests/gpu.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), source $ROOT"

# ---- 1. a GPU --------------------------------------------------------------------------------
if ! command -v nvidia-smi >/dev/null 2>&1; then
  say "FAIL: nvidia-smi not found: no NVIDIA driver on this machine"
  exit 2
fi
if ! nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1; then
  say "FAIL: nvidia-smi failed (see nvidia-smi.txt)"
  exit 2
fi
nvidia-smi -q >>"$OUT/nvidia-smi.txt" 2>&1
GPUS=$(nvidia-smi --query-gpu=index,name,driver_version,memory.total --format=csv,noheader 2>/dev/null)
if [ -z "$GPUS" ]; then
  say "FAIL: nvidia-smi lists no GPU"
  exit 2
fi
say "GPUs:"
while IFS= read -r line; do say "  $line"; done <<<"$GPUS"
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then say "CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES"; fi

# ---- 2. dependencies -------------------------------------------------------------------------
if ! bash third_party/install.sh >"$OUT/install.log" 2>&1; then
  say "FAIL: third_party/install.sh failed (see install.log)"
  exit 2
fi
if ! command -v nvcc >/dev/null 2>&1 && [ -x /usr/local/cuda/bin/nvcc ]; then
  export CUDACXX=/usr/local/cuda/bin/nvcc
  export PATH="/usr/local/cuda/bin:$PATH"
fi
if ! command -v nvcc >/dev/null 2>&1; then
  say "FAIL: nvcc not found (install the CUDA toolkit, or put its bin/ on PATH)"
  exit 2
fi
say "versions:"
say "  driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n 1)," \
    "$(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -n 1) (the newest CUDA runtime it supports)"
say "  nvcc: $(nvcc --version | grep -o 'release [0-9.]*, V[0-9.]*')"
CUDA_HOME_GUESS=$(dirname "$(dirname "$(command -v nvcc)")")
header_version() {  # header_version FILE MAJOR MINOR PATCH: the three #define values, dotted
  local f=$1
  [ -f "$f" ] || { echo "not found"; return; }
  local v=""
  for m in "$2" "$3" "$4"; do
    v="$v.$(sed -n "s/^#define $m[[:space:]]*\([0-9]*\).*/\1/p" "$f" | head -n 1)"
  done
  echo "${v#.} ($f)"
}
CUBLAS_H=$(ls "$CUDA_HOME_GUESS"/include/cublas_api.h "$CUDA_HOME_GUESS"/targets/*/include/cublas_api.h 2>/dev/null | head -n 1)
CUDNN_H=$(ls "$CUDA_HOME_GUESS"/include/cudnn_version.h /usr/include/cudnn_version.h /usr/include/*/cudnn_version.h 2>/dev/null | head -n 1)
say "  cuBLAS: $(header_version "${CUBLAS_H:-/nonexistent}" CUBLAS_VER_MAJOR CUBLAS_VER_MINOR CUBLAS_VER_PATCH)"
say "  cuDNN: $(header_version "${CUDNN_H:-/nonexistent}" CUDNN_MAJOR CUDNN_MINOR CUDNN_PATCHLEVEL)"
say "  CMake: $(cmake --version | head -n 1)"

# ---- 3. native build -------------------------------------------------------------------------
t0=$(date +%s)
{
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDASG_CUDA=ON -DDASG_CUDA_EMULATE=OFF \
    -DDASG_SANITIZE= -DDASG_BUILD_TESTS=ON -DDASG_COMPONENTS="data;model;train;apps" &&
    cmake --build "$BUILD" -j "$JOBS" --target test_parity test_device_train bench_gpu dasg &&
    if cmake --build "$BUILD" --target help | grep -q test_dist; then  # MPI found
      cmake --build "$BUILD" -j "$JOBS" --target test_dist
    fi
} >"$OUT/build.log" 2>&1
build_rc=$?
if [ $build_rc -ne 0 ]; then
  say "FAIL: native build failed after $(elapsed "$t0"); the last lines of build.log:"
  tail -n 25 "$OUT/build.log" | tee -a "$OUT/summary.txt"
  exit 2
fi
say "build: native Release in build-gpu/ ok ($(elapsed "$t0")); $(grep -o 'dasg: cuDNN [^(]*' "$OUT/build.log" | head -n 1)" \
    "$(grep -o "architectures='[^']*'" "$OUT/build.log" | head -n 1)"
PARITY="$BUILD/tests/test_parity"

# ---- 4. can the CUDA runtime open a device? ------------------------------------------------------
probe=$("$PARITY" -tc='parity:fill_convert_copy' 2>&1)
if [ $? -eq 77 ]; then
  say "FAIL: nvidia-smi lists a GPU, but the CUDA runtime cannot open it:"
  say "  $(printf '%s\n' "$probe" | grep -m1 SKIPPED)"
  say "  (cudaErrorInsufficientDriver: the driver is older than this CUDA toolkit needs; cudaErrorNoDevice: check"
  say "  CUDA_VISIBLE_DEVICES and the container's device access)"
  exit 2
fi

# ---- 5. parity tests, natively ---------------------------------------------------------------
t0=$(date +%s)
DASG_TF32=0 ctest --test-dir "$BUILD" -R '^parity' -j 4 --output-on-failure --timeout 600 >"$OUT/parity.log" 2>&1
parity_rc=$?
parity_line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$OUT/parity.log" | tail -n 1)
skipped=$(grep -c '(Skipped)' "$OUT/parity.log")
if [ -z "$parity_line" ]; then
  say "FAIL: parity: ctest did not report (no tests found?); see parity.log"
  parity_rc=1
else
  say "parity (native, DASG_TF32=0): $parity_line; $skipped skipped ($(elapsed "$t0"))"
fi
if [ "$skipped" -ne 0 ]; then
  say "FAIL: $skipped parity tests were skipped although the device opened; see parity.log"
  parity_rc=1
fi
# TF32 measured on its own: the engine's default (DASG_TF32 unset = on) against f32.
DASG_TF32=1 "$PARITY" -tc='parity: TF32 GEMM error against f32' -s >"$OUT/tf32.log" 2>&1
tf32_rc=$?
say "TF32 (the default for f32 GEMMs), exit $tf32_rc: $(grep -m1 'TF32 GEMM' "$OUT/tf32.log" || echo 'no report line; see tf32.log')"

# ---- 6. diagnostic rerun of the failing cases ----------------------------------------------------
if [ $parity_rc -ne 0 ]; then
  say "failed parity tests:"
  sed -n '/The following tests FAILED/,$p' "$OUT/parity.log" | tee -a "$OUT/summary.txt"
  mapfile -t failed < <(sed -n '/The following tests FAILED/,$p' "$OUT/parity.log" |
    sed -n 's/^[[:space:]]*[0-9]* - \(.*\) ([^()]*)$/\1/p')
  if [ ${#failed[@]} -gt 0 ]; then
    say "rerunning ${#failed[@]} failing case(s) in sync mode and under compute-sanitizer (rerun/):"
    bash "$ROOT/tests/gpu_rerun.sh" "$PARITY" "$OUT" "${failed[@]}" 2>&1 | sed 's/^/  /' | tee -a "$OUT/summary.txt"
  fi
fi

# ---- 7. benchmark ----------------------------------------------------------------------------
t0=$(date +%s)
"$BUILD/engine/bench_gpu" >"$OUT/bench.log" 2>&1
bench_rc=$?
if [ $bench_rc -ne 0 ]; then
  say "FAIL: bench_gpu exited with $bench_rc; see bench.log"
else
  say "bench_gpu ($(elapsed "$t0")):"
fi
sed 's/^/  /' "$OUT/bench.log" >>"$OUT/summary.txt"

# ---- 8. end-to-end training: dasg-small, 50 steps on the GPU beside the same 50 on the CPU ------
DASG="$BUILD/apps/dasg"
DATA="$OUT/shakespeare"
train_rc=0
if "$DASG" tokenize --tokenizer byte --input "$ROOT/../shared/data/tinyshakespeare/input.txt" --split paragraph \
     --out "$DATA" >"$OUT/train.log" 2>&1; then
  # f32 on the GPU, bf16 mixed precision on the GPU (issue 18: its losses beside the f32 ones),
  # f32 on the CPU.
  for run in cuda cuda-bf16 cpu; do
    dev=${run%-bf16}
    prec=f32
    [ "$run" = cuda-bf16 ] && prec=bf16
    t0=$(date +%s)
    "$DASG" train --config dasg-small --data "$DATA" --out "$OUT/train-$run" --device $dev --precision $prec \
      --steps 50 --batch 8 --seq-len 256 --warmup 5 --eval-every 0 --eval-batches 4 --ckpt-every 0 --quiet \
      >>"$OUT/train.log" 2>&1
    rc=$?
    m="$OUT/train-$run/metrics.jsonl"
    if [ $rc -ne 0 ] || [ ! -s "$m" ]; then
      say "FAIL: dasg train --device $dev --precision $prec exited with $rc; see train.log"
      train_rc=1
      continue
    fi
    # median tokens/s over steps 2..49, the last step's loss, the final validation loss
    tps=$(grep -v '"eval"' "$m" | tail -n +3 | grep -o '"tokens_per_s":[0-9.e+-]*' | cut -d: -f2 | sort -g |
          awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : "n/a")}')
    loss=$(grep -v '"eval"' "$m" | tail -n 1 | grep -o '"loss":[0-9.e+-]*' | cut -d: -f2)
    val=$(grep '"eval"' "$m" | tail -n 1 | grep -o '"val_loss":[0-9.e+-]*' | cut -d: -f2)
    say "train dasg-small on $dev ($prec): 50 steps of 8x256 bytes in $(elapsed "$t0"), median $tps tokens/s," \
        "last step loss $loss, validation loss $val"
  done
else
  say "FAIL: tokenizing Tiny Shakespeare failed; see train.log"
  train_rc=1
fi

# ---- 9. data parallel on every GPU -----------------------------------------------------------
dist_rc=0
NGPU=$(printf '%s\n' "$GPUS" | grep -c .)
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then NGPU=$(printf '%s\n' "$CUDA_VISIBLE_DEVICES" | tr ',' '\n' | grep -c .); fi
if [ "$NGPU" -lt 2 ]; then
  say "data parallel on GPUs: SKIPPED: $NGPU GPU on this machine; the NCCL test needs 2 or more (one a rank)"
elif [ ! -x "$BUILD/tests/test_dist" ] || ! command -v mpirun >/dev/null 2>&1; then
  say "data parallel on GPUs: SKIPPED: no test_dist (CMake found no MPI) or no mpirun (apt-get install openmpi-bin)"
else
  [ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  t0=$(date +%s)
  OMP_WAIT_POLICY=passive DASG_NUM_THREADS=1 timeout 900 mpirun --oversubscribe -np "$NGPU" "$BUILD/tests/test_dist" \
    --no-skip -tc='dist-gpu:*' >"$OUT/dist.log" 2>&1
  dist_rc=$?
  say "data parallel on $NGPU GPUs ($(grep -o 'dasg: NCCL [a-z]*' "$OUT/build.log" | head -n 1 || echo 'NCCL: see build.log')):" \
      "exit $dist_rc, $(grep -m1 -o 'test cases:.*' "$OUT/dist.log" || echo 'no doctest summary; see dist.log') ($(elapsed "$t0"))"
fi

if [ $parity_rc -ne 0 ] || [ $dist_rc -ne 0 ]; then
  say "RESULT: FAIL ($([ $parity_rc -ne 0 ] && echo parity)$([ $dist_rc -ne 0 ] && echo ' data parallel'))"
  exit 1
fi
if [ $bench_rc -ne 0 ] || [ $train_rc -ne 0 ]; then
  say "RESULT: FAIL (benchmark or end-to-end training only)"
  exit 3
fi
say "RESULT: PASS"
exit 0
