"""PyTorch's f32 `matmul` on bench_gemm's model shapes (engine/bench/gemm.cpp), for comparison.

Not part of the build, the product or CI. It needs a CPU PyTorch (see torch_train.py). Prints one
line per shape, GFLOP/s as the median of --reps timed products after a warm-up, the operands
stored as the engine stores them (op(A) = Aᵀ / op(B) = Bᵀ as transposed views, which
PyTorch hands to its BLAS without copies):

  python3 engine/bench/torch_gemm.py [--threads 2] [--reps 11]
"""
import argparse
import statistics
import time

import torch


def shapes():
    out = []
    for n in (768, 1024, 512, 256):  # layers out of D = 256, 2048 rows
        out += [("fwd", 2048, n, 256, 0, 1), ("dx", 2048, 256, n, 0, 0), ("dW", n, 256, 2048, 1, 0)]
    for n in (1024, 512):  # layers into D = 256
        out += [("fwd", 2048, 256, n, 0, 1), ("dx", 2048, n, 256, 0, 0), ("dW", 256, n, 2048, 1, 0)]
    for rows in (128, 512, 1024):  # one expert's fc1, fc2 and fc1's weight gradient
        out += [("exp fc1", rows, 512, 256, 0, 1), ("exp fc2", rows, 256, 512, 0, 1), ("exp dW1", 512, 256, rows, 1, 0)]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=11)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, GFLOP/s")
    for what, M, N, K, ta, tb in shapes():
        a = torch.rand(K, M) if ta else torch.rand(M, K)
        b = torch.rand(N, K) if tb else torch.rand(K, N)
        A, B = (a.t() if ta else a), (b.t() if tb else b)
        c = torch.empty(M, N)
        torch.matmul(A, B, out=c)  # warm-up
        ts = []
        for _ in range(o.reps):
            t0 = time.perf_counter()
            torch.matmul(A, B, out=c)
            ts.append(time.perf_counter() - t0)
        print(f"{what:8s} {M:5d} {N:5d} {K:5d} {ta:2d} {tb:2d}  torch {2 * M * N * K / statistics.median(ts) * 1e-9:8.1f}")


if __name__ == "__main__":
    main()
