"""PyTorch eager reference for `dasg bench train` (issue 13's three rows), same machine, same run.

Not part of the build, the product or CI: a comparison script. It needs a CPU PyTorch
(for example `python3 -m venv /tmp/t && /tmp/t/bin/pip install torch`), and prints the same
figures as `dasg bench train` (median step of the timed ones, tokens/s) for

  dasg-deep     engine/bench/configs/dasg-small-deep.json: GMHA (L = w = 16, group MLPs of width
                D/8, aggregation over group summaries, C and I statistics), every token to the deep
                tier (D -> F -> Fd -> F -> D experts, W1 frozen as after the DSSE transfer), top-2
  dasg-shallow  dasg-small-shallow.json: the same, every token to the shallow tier (D -> F -> D)
  dense-full    dense-small-full.json: full causal attention through SDPA, dense GELU FFN 1024

with the model of DESIGN.md §7 written in plain tensor ops (the routing uses the fixed tier of the
row, as the forced thresholds do in the engine; the tier policy's sampling is not exercised there).
Each step: forward, cross-entropy + balance + z losses, backward, clip 1.0, AdamW(β 0.9, 0.95).

  python3 engine/bench/torch_train.py [--rows dasg-deep,dasg-shallow,dense-full] [--batch 8]
      [--seq-len 256] [--steps 10] [--warmup 2] [--threads 2] [--data ../shared/data/tinyshakespeare/input.txt]
  python3 engine/bench/torch_train.py --attention [--lengths 1024,...,16384] [--reps 3]
"""
import argparse
import math
import statistics
import time

import torch
import torch.nn.functional as F

D, N_LAYER, H, VOCAB, MAX_T = 256, 4, 8, 256, 256
GROUPS, E, F_SH, F_DEEP, TOP_K = 16, 8, 512, 512, 2


def lin(i, o):
    w = torch.nn.Parameter(torch.randn(o, i) * 0.02)
    b = torch.nn.Parameter(torch.zeros(o))
    return w, b


class Experts(torch.nn.Module):
    """E experts of one tier as stacked weights; deep: D->F->Fd->F->D with a skip, W1 frozen."""

    def __init__(self, deep):
        super().__init__()
        dims = [D, F_SH, F_DEEP, F_SH, D] if deep else [D, F_SH, D]
        self.deep = deep
        self.w = torch.nn.ParameterList()
        self.b = torch.nn.ParameterList()
        for i in range(len(dims) - 1):
            self.w.append(torch.nn.Parameter(torch.randn(E, dims[i + 1], dims[i]) * 0.02))
            self.b.append(torch.nn.Parameter(torch.zeros(E, dims[i + 1])))
        if deep:
            self.w[0].requires_grad_(False)
            self.b[0].requires_grad_(False)

    def expert(self, e, x):
        g = lambda t: F.gelu(t, approximate="tanh")
        if not self.deep:
            return F.linear(g(F.linear(x, self.w[0][e], self.b[0][e])), self.w[1][e], self.b[1][e])
        h1 = g(F.linear(x, self.w[0][e], self.b[0][e]))
        h2 = g(F.linear(h1, self.w[1][e], self.b[1][e]))
        h3 = g(F.linear(h2, self.w[2][e], self.b[2][e])) + h1
        return F.linear(h3, self.w[3][e], self.b[3][e])


class MoE(torch.nn.Module):
    """One tier's local router, top-k, dropless dispatch (index_select, one GEMM chain per expert,
    index_add), balance and z losses (DESIGN.md §7.5)."""

    def __init__(self, deep):
        super().__init__()
        self.router = torch.nn.Parameter(torch.randn(E, D) * 0.02)
        self.experts = Experts(deep)

    def forward(self, x):
        z = x @ self.router.t()
        p = z.softmax(-1)
        topv, topi = p.topk(TOP_K, dim=-1)
        wts = topv / topv.sum(-1, keepdim=True)
        y = torch.zeros_like(x)
        flat_e = topi.reshape(-1)
        flat_w = wts.reshape(-1)
        tok = torch.arange(x.shape[0]).repeat_interleave(TOP_K)
        for e in range(E):
            sel = (flat_e == e).nonzero().squeeze(1)
            if sel.numel() == 0:
                continue
            idx = tok[sel]
            ye = self.experts.expert(e, x.index_select(0, idx)) * flat_w[sel].unsqueeze(1)
            y = y.index_add(0, idx, ye)
        f = torch.bincount(flat_e, minlength=E).float() / flat_e.numel()
        balance = 0.01 * E * (f * p.mean(0)).sum()
        zl = 0.001 * (torch.logsumexp(z, -1) ** 2).mean()
        return y, balance + zl


class GMHA(torch.nn.Module):
    """DESIGN.md §7.2, causal: local attention in groups of L (window L), per-group MLPs,
    aggregation over the summaries of earlier groups, C and I statistics (no gradient)."""

    def __init__(self, groups=GROUPS, group_len=MAX_T // GROUPS):
        super().__init__()
        self.L = group_len
        self.qkv = lin(D, 3 * D)
        hid = D // 8
        self.g1w = torch.nn.Parameter(torch.randn(groups, D, hid) * 0.02)
        self.g1b = torch.nn.Parameter(torch.zeros(groups, 1, hid))
        self.g2w = torch.nn.Parameter(torch.randn(groups, hid, D) * 0.02)
        self.g2b = torch.nn.Parameter(torch.zeros(groups, 1, D))
        self.aq, self.ak, self.av, self.o = lin(D, D), lin(D, D), lin(D, D), lin(D, D)
        for i, t in enumerate(self.qkv + self.aq + self.ak + self.av + self.o):
            self.register_parameter(f"p{i}", t)

    def forward(self, x):
        B, T, _ = x.shape
        L = self.L
        G = T // L
        d = D // H
        q, k, v = F.linear(x, *self.qkv).view(B, G, L, 3, H, d).permute(3, 0, 4, 1, 2, 5)  # [B,H,G,L,d]
        s = q @ k.transpose(-1, -2) / math.sqrt(d)
        mask = torch.ones(L, L, dtype=torch.bool).tril()
        s = s.masked_fill(~mask, float("-inf"))
        p = s.softmax(-1)
        u = (p @ v).permute(0, 2, 3, 1, 4).reshape(B, G, L, D)
        with torch.no_grad():  # evaluator statistics: C (normalised entropy), I (own-row weight)
            n = torch.arange(1, L + 1, dtype=x.dtype)
            ent = -(p * torch.log(p.clamp_min(1e-30))).sum(-1).mean(1)  # [B,G,L]
            C = torch.where(n > 1, ent / torch.log(n.clamp_min(2)), torch.zeros(()))
            I = p.diagonal(dim1=-2, dim2=-1).mean(1) * n
            I = I / (1 + I)
        hmid = F.gelu(torch.einsum("bgld,gdh->bglh", u, self.g1w) + self.g1b, approximate="tanh")
        u = u + torch.einsum("bglh,ghd->bgld", hmid, self.g2w) + self.g2b
        m = u.mean(2)  # [B,G,D]
        a = F.linear(u.reshape(B, T, D), *self.aq).view(B, T, H, d).transpose(1, 2)
        km = F.linear(m, *self.ak).view(B, G, H, d).transpose(1, 2)
        vm = F.linear(m, *self.av).view(B, G, H, d).transpose(1, 2)
        sa = a @ km.transpose(-1, -2) / math.sqrt(d)  # [B,H,T,G]
        gi = torch.arange(T) // L
        vis = torch.arange(G).unsqueeze(0) < gi.unsqueeze(1)
        sa = sa.masked_fill(~vis, float("-inf"))
        pa = torch.nan_to_num(sa.softmax(-1), nan=0.0)
        c = (pa @ vm).transpose(1, 2).reshape(B, T, D)
        out = F.linear(u.reshape(B, T, D) + c, *self.o)
        return out, C.reshape(B, T), I.reshape(B, T)


class FullAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv, self.o = lin(D, 3 * D), lin(D, D)
        for i, t in enumerate(self.qkv + self.o):
            self.register_parameter(f"p{i}", t)

    def forward(self, x):
        B, T, _ = x.shape
        q, k, v = F.linear(x, *self.qkv).view(B, T, 3, H, D // H).permute(2, 0, 3, 1, 4)
        u = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return F.linear(u.transpose(1, 2).reshape(B, T, D), *self.o), None, None


class Block(torch.nn.Module):
    def __init__(self, row):
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(D), torch.nn.LayerNorm(D)
        self.row = row
        if row == "dense-full":
            self.attn = FullAttention()
            self.f1, self.f2 = lin(D, 1024), lin(1024, D)
            for i, t in enumerate(self.f1 + self.f2):
                self.register_parameter(f"ffn{i}", t)
        else:
            self.attn = GMHA()
            self.moe = MoE(deep=row == "dasg-deep")
            self.mean, self.std = 0.5, 0.25

    def forward(self, x):
        a, C, I = self.attn(self.ln1(x))
        h = x + a
        y = self.ln2(h)
        if self.row == "dense-full":
            return h + F.linear(F.gelu(F.linear(y, *self.f1), approximate="tanh"), *self.f2), 0.0
        with torch.no_grad():  # evaluator score; the forced thresholds put every token in one tier
            r = 0.5 * C + 0.5 * I
            s = torch.sigmoid((r - self.mean) / max(self.std, 0.01))
        B, T, _ = y.shape
        out, aux = self.moe(y.reshape(B * T, D))
        return h + out.view(B, T, D), aux + 0.0 * s.sum()


class Model(torch.nn.Module):
    def __init__(self, row):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.randn(VOCAB, D) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(MAX_T, D) * 0.02)
        self.blocks = torch.nn.ModuleList(Block(row) for _ in range(N_LAYER))
        self.lnf = torch.nn.LayerNorm(D)

    def forward(self, idx, tgt):
        x = self.wte[idx] + self.wpe[: idx.shape[1]]
        aux = 0.0
        for b in self.blocks:
            x, a = b(x)
            aux = aux + a
        logits = self.lnf(x) @ self.wte.t()
        return F.cross_entropy(logits.view(-1, VOCAB), tgt.reshape(-1)) + aux


def bench_attention(o):
    """One attention layer forward + backward, batch 1, as `dasg bench attention --group-len 128
    --window 128 --d-model 256 --heads 8` (GMHA, L = w = 128) and `--layers full` (SDPA)."""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads: attention forward+backward, batch 1, D {D}, {H} heads")
    print(f"{'T':>8} {'gmha ms':>10} {'full ms':>10}")
    for T in [int(t) for t in o.lengths.split(",")]:
        row = []
        for layer in (GMHA(groups=T // 128, group_len=128), FullAttention()):
            if isinstance(layer, FullAttention) and T > 8192:
                row.append(float("nan"))
                continue
            x = torch.randn(1, T, D, requires_grad=True)
            best = float("inf")
            for _ in range(o.reps + 1):
                t0 = time.perf_counter()
                layer(x)[0].sum().backward()
                best = min(best, time.perf_counter() - t0)
            row.append(best * 1e3)
        print(f"{T:8d} {row[0]:10.1f} {row[1]:10.1f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="dasg-deep,dasg-shallow,dense-full")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="../shared/data/tinyshakespeare/input.txt")
    ap.add_argument("--attention", action="store_true", help="time one attention layer instead")
    ap.add_argument("--lengths", default="1024,2048,4096,8192,16384")
    ap.add_argument("--reps", type=int, default=3)
    o = ap.parse_args()
    torch.set_num_threads(o.threads)
    if o.attention:
        return bench_attention(o)
    torch.manual_seed(1337)
    data = torch.frombuffer(bytearray(open(o.data, "rb").read()), dtype=torch.uint8).long()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {o.batch} x {o.seq_len}")
    for row in o.rows.split(","):
        model = Model(row)
        params = [p for p in model.parameters() if p.requires_grad]
        opt = torch.optim.AdamW(params, lr=3e-4, betas=(0.9, 0.95), weight_decay=0.1)
        times = []
        for step in range(o.steps):
            start = torch.randint(0, data.numel() - o.seq_len - 1, (o.batch,))
            x = torch.stack([data[s : s + o.seq_len] for s in start])
            y = torch.stack([data[s + 1 : s + o.seq_len + 1] for s in start])
            t0 = time.perf_counter()
            loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times[o.warmup :])
        tokens = o.batch * o.seq_len
        print(f"{row:13s} step {med * 1e3:8.1f} ms  {tokens / med:8.0f} tok/s  last loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
