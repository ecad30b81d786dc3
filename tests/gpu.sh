#!/usr/bin/env bash
# tests/gpu.sh OUTDIR — the native GPU run of DESIGN.md §10, for a machine with an NVIDIA GPU,
# the driver and the CUDA toolkit (nvcc, cuBLAS, cuDNN). In one go:
#   1. checks that a GPU is there (nvidia-smi, and at least one device listed);
#   2. installs the missing Debian build dependencies (third_party/install.sh);
#   3. builds natively in build-gpu/ (Release, DASG_CUDA=ON, engine core only): test_parity and
#      bench_gpu;
#   4. runs every `parity:` test natively through ctest (TF32 off: the parity tolerance is set
#      for f32 round-off, and TF32 GEMMs are 10-bit-mantissa products; the benchmark reports
#      the TF32 path against direct cuBLAS instead);
#   5. runs bench_gpu (engine GEMM vs direct cuBLAS, memory-bound kernels vs a D2D copy).
# Everything is logged under OUTDIR: nvidia-smi.txt, install.log, build.log, parity.log,
# bench.log, and summary.txt (what ran, what passed, the benchmark tables).
# Exit status: 0 all passed; 1 a parity test failed or was skipped; 2 no GPU, or the build
# failed; 3 only the benchmark failed.
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
say "nvcc: $(nvcc --version | grep -o 'release [0-9.]*, V[0-9.]*')"

# ---- 3. native build -------------------------------------------------------------------------
t0=$(date +%s)
{
  cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DDASG_CUDA=ON -DDASG_CUDA_EMULATE=OFF \
    -DDASG_SANITIZE= -DDASG_BUILD_TESTS=ON -DDASG_COMPONENTS="" &&
    cmake --build "$BUILD" -j "$JOBS" --target test_parity bench_gpu
} >"$OUT/build.log" 2>&1
build_rc=$?
if [ $build_rc -ne 0 ]; then
  say "FAIL: native build failed after $(elapsed "$t0"); the last lines of build.log:"
  tail -n 25 "$OUT/build.log" | tee -a "$OUT/summary.txt"
  exit 2
fi
say "build: native Release in build-gpu/ ok ($(elapsed "$t0"))"

# ---- 4. parity tests, natively ---------------------------------------------------------------
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
  say "FAIL: parity tests were skipped although a GPU is listed: the test binary saw no CUDA device"
  parity_rc=1
fi
if [ $parity_rc -ne 0 ]; then
  say "failed parity tests:"
  sed -n '/The following tests FAILED/,$p' "$OUT/parity.log" | tee -a "$OUT/summary.txt"
fi

# ---- 5. benchmark ----------------------------------------------------------------------------
t0=$(date +%s)
"$BUILD/engine/bench_gpu" >"$OUT/bench.log" 2>&1
bench_rc=$?
if [ $bench_rc -ne 0 ]; then
  say "FAIL: bench_gpu exited with $bench_rc; see bench.log"
else
  say "bench_gpu ($(elapsed "$t0")):"
fi
sed 's/^/  /' "$OUT/bench.log" >>"$OUT/summary.txt"

if [ $parity_rc -ne 0 ]; then
  say "RESULT: FAIL (parity)"
  exit 1
fi
if [ $bench_rc -ne 0 ]; then
  say "RESULT: FAIL (benchmark only)"
  exit 3
fi
say "RESULT: PASS"
exit 0
