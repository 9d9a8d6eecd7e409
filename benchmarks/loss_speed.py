"""Speed and peak memory of wrcr_loss against the naive O(B^3) algorithm and plain InfoNCE.

    .venv/bin/python benchmarks/loss_speed.py [--batch-sizes 128 512 ...] [--threads N]

One forward + backward on float32 CPU inputs: features (B, 64) (the contrastive head dim),
labels uniform over 0..20 rounded to 0.01 (so ties occur), weighting "exp", alpha 0.4,
cosine similarity, tau 0.05. Every (method, B) runs in a fresh subprocess:

- time: the median of up to 5 repetitions (1 when a step takes over 10 s) after a warm-up
  step, in milliseconds;
- peak: the largest resident set size (VmHWM) during that warm-up step, minus the resident size
  just before it, in MiB. The high-water mark is reset through /proc/self/clear_refs after
  imports, the inputs and a tiny (B=16) warm-up that makes torch initialise what it does
  lazily. It counts everything the process touches, torch's allocations included, which
  tracemalloc would not see. It is taken on the first full-size step because later steps
  reuse memory that malloc kept from earlier ones, which no longer shows in the RSS.

Timings on a shared machine vary with its load; the header prints the load average.

naive: one mask per positive j over all (i, k), the structure of the official RnC code, with
its masked sum of max-shifted exponentials (a logsumexp). It costs O(B^3) time and, under
autograd, keeps each j's (B, B-1) mask for the backward, promoted to float by the product:
about 4 B^3 bytes, 4 GiB at B = 1024. It is skipped ("-") where that estimate exceeds
--naive-max-gib, and beyond B = 1024 (minutes per step).
infonce: one matmul and a cross entropy (a logsumexp per row), each sample's positive the next.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from wrcr.losses import log_label_weights, wrcr_loss

D = 64
TAU, ALPHA, WEIGHTING = 0.05, 0.4, "exp"


def naive_wrcr(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """WRCR by a loop over positives j, each with its own mask d_ik >= d_ij: O(B^3)."""
    B, _ = features.shape
    x = F.normalize(features, dim=1)
    logits = (x / TAU) @ x.T  # (B, B)
    label_dist = (labels[:, None] - labels[None, :]).abs()  # (B, B)

    # drop the diagonal (k = i)
    off_diag_mask = ~torch.eye(B, dtype=torch.bool)
    logits = logits[off_diag_mask].view(B, B - 1)  # (B, B-1)
    label_dist = label_dist[off_diag_mask].view(B, B - 1)  # (B, B-1)

    # shift by the row max so the exponentials stay finite; the shift cancels in each ratio
    weighted = logits + log_label_weights(label_dist, WEIGHTING, ALPHA)  # (B, B-1)
    shift = weighted.max(dim=1, keepdim=True).values.detach()  # (B, 1)
    exp_weighted = (weighted - shift).exp()  # (B, B-1)
    pos = logits - shift  # (B, B-1)

    loss = features.new_zeros(())
    for j in range(B - 1):
        neg_mask = label_dist >= label_dist[:, j : j + 1]  # (B, B-1)
        log_den = (exp_weighted * neg_mask).sum(dim=1).log()  # (B,)
        loss = loss - (pos[:, j] - log_den).sum()
    return loss / (B * (B - 1))


def infonce(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Plain InfoNCE on the same inputs: each sample's positive is the next one."""
    B, _ = features.shape
    x = F.normalize(features, dim=1)
    logits = (x / TAU) @ x.T  # (B, B)
    logits.fill_diagonal_(float("-inf"))
    target = torch.arange(1, B + 1) % B
    return F.cross_entropy(logits, target)


def wrcr(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return wrcr_loss(features, labels, TAU, "cosine", WEIGHTING, ALPHA)


METHODS = {"wrcr": wrcr, "naive": naive_wrcr, "infonce": infonce}


def inputs(B: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(B)
    features = torch.randn(B, D, generator=gen, dtype=dtype).requires_grad_()
    labels = (torch.rand(B, generator=gen, dtype=dtype) * 20).round(decimals=2)
    return features, labels


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def measure(method: str, B: int) -> dict[str, float]:
    """Median time (ms) and peak extra memory (MiB) of one forward + backward."""
    fn = METHODS[method]

    def step(features: torch.Tensor, labels: torch.Tensor) -> float:
        start = time.perf_counter()
        fn(features, labels).backward()
        features.grad = None
        return time.perf_counter() - start

    # a tiny warm-up loads what torch initialises lazily without growing the heap; the first
    # full-size step then measures memory (later steps would reuse memory malloc kept)
    step(*inputs(16))
    features, labels = inputs(B)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base_kib = _status_kib("VmRSS")
    warm = step(features, labels)
    peak_mib = (_status_kib("VmHWM") - base_kib) / 1024

    # that step was the warm-up of the timing; then 5 more, fewer when slow
    reps = 1 if warm > 10 else 3 if warm > 2 else 5
    times = [step(features, labels) for _ in range(reps)]
    return {"ms": 1000 * statistics.median(times), "peak_mib": peak_mib}


def check_naive_matches() -> float:
    """Relative difference of the naive and the fast loss (float64, B = 128)."""
    features, labels = inputs(128, torch.float64)
    fast, naive = wrcr(features, labels).item(), naive_wrcr(features, labels).item()
    return abs(fast - naive) / abs(naive)


def run_child(method: str, B: int, threads: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", method, str(B), "--threads", str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fmt(x: float | None, spec: str, suffix: str = "") -> str:
    """x formatted, or a right-aligned "-" of the same width where it was not measured."""
    width = int(spec.split(".")[0])
    return f"{'-':>{width}}{' ' * len(suffix)}" if x is None else f"{x:{spec}}{suffix}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 512, 1024, 4096, 8192])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--naive-max-gib", type=float, default=8.0)
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return

    err = check_naive_matches()
    assert err < 1e-9, f"naive and fast loss differ: rel {err:.2e}"
    print(
        f"wrcr_loss forward+backward, float32 CPU, D={D}, {args.threads} threads, "
        f"torch {torch.__version__}; naive == wrcr to {err:.1e} (float64, B=128); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    print(
        f"{'B':>5} | {'wrcr ms':>9} {'naive ms':>9} {'infonce ms':>10} | "
        f"{'naive/wrcr':>10} {'wrcr/infonce':>12} | {'wrcr MiB':>8} {'naive MiB':>9} "
        f"{'infonce MiB':>11}"
    )
    for B in args.batch_sizes:
        naive_gib = 4 * B**3 / 2**30  # one float mask per j, kept for the backward
        naive_fits = B <= 1024 and naive_gib <= args.naive_max_gib
        res = {
            m: run_child(m, B, args.threads) if m != "naive" or naive_fits else None
            for m in METHODS
        }
        ms = {m: None if r is None else r["ms"] for m, r in res.items()}
        mib = {m: None if r is None else r["peak_mib"] for m, r in res.items()}
        speedup = None if ms["naive"] is None else ms["naive"] / ms["wrcr"]
        print(
            f"{B:>5} | {fmt(ms['wrcr'], '9.1f')} {fmt(ms['naive'], '9.1f')} "
            f"{fmt(ms['infonce'], '10.1f')} | {fmt(speedup, '9.0f', 'x')} "
            f"{fmt(ms['wrcr'] / ms['infonce'], '11.1f', 'x')} | {fmt(mib['wrcr'], '8.0f')} "
            f"{fmt(mib['naive'], '9.0f')} {fmt(mib['infonce'], '11.0f')}",
            flush=True,
        )


if __name__ == "__main__":
    main()
