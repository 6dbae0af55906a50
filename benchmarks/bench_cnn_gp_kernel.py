"""The CNN-GP window kernel: snpcnn's blocked, in-place version vs the plain formula.

The CNN-GP (``snpcnn.baselines.CNNGP``, and the v5 default's kernel start) spends almost all
its time in :func:`snpcnn.baselines.cnn_gp.window_kernel`: one n x n map per window of 5
SNPs.  snpcnn computes it on cache-sized row blocks with in-place float32 operations; the
plain formula (one full map per window, a new array per operation, windows shared over
threads; what snpcnn did up to session 11) is written out below.  Both run side by side in
one process on the same standardised random genotypes, alternating, and must agree bit for
bit (checked).  Median seconds over ``--rounds``, and the ratio plain / snpcnn.

Run alone on the machine::

    .venv/bin/python benchmarks/bench_cnn_gp_kernel.py [--rounds 3] [--threads 2]

writes ``docs/bench/cnn_gp_kernel.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snpcnn import __version__  # noqa: E402
from snpcnn.baselines.cnn_gp import _arccos, window_kernel  # noqa: E402
from snpcnn.threads import apply_threads  # noqa: E402

DOC = REPO / "docs" / "bench" / "cnn_gp_kernel.md"
#: (samples, SNPs, what it stands for)
SIZES = [
    (599, 1279, "wheat (all lines)"),
    (1450, 10346, "mice (a 5-fold training part)"),
    (2000, 4000, "simulated.toml (all samples)"),
]


def plain(A: np.ndarray, width: int, activation: str, bias: float, threads: int):
    """The plain formula: one full float32 map per window, windows over ``threads``."""
    A32, b32 = A.astype(np.float32), np.float32(bias)
    n = len(A)
    K, d = np.zeros((n, n)), np.zeros(n)

    def one(s: int):
        a = A32[:, s : s + width]
        w = np.float32(a.shape[1])
        k = a @ a.T / w + b32
        kaa = np.einsum("ij,ij->i", a, a) / w + b32
        if activation == "square":
            return 2.0 * k * k + np.outer(kaa, kaa), 3.0 * kaa * kaa
        return _arccos(k, kaa, kaa), kaa

    def add(parts) -> None:
        K.__iadd__(parts[0])
        d.__iadd__(parts[1])

    starts = list(range(0, A.shape[1], width))
    with ThreadPoolExecutor(threads) as pool:
        # as snpcnn did: the next batch of maps is computed while this one is summed
        batches = [starts[i : i + threads] for i in range(0, len(starts), threads)]
        pending = [pool.submit(one, s) for s in batches[0]]
        for i in range(len(batches)):
            ahead = [pool.submit(one, s) for s in batches[i + 1]] if i + 1 < len(batches) else []
            for f in pending:
                add(f.result())
            pending = ahead
    return K / len(starts), d / len(starts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=DOC)
    a = ap.parse_args(argv)
    apply_threads(a.threads)
    rng = np.random.default_rng(0)
    rows = []
    for n, m, what in SIZES:
        Z = rng.normal(size=(n, m))
        for act in ("relu", "square"):
            t_plain, t_ours = [], []
            for _ in range(a.rounds):
                t0 = time.perf_counter()
                ref = plain(Z, 5, act, 0.1, a.threads)
                t_plain.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                got = window_kernel(Z, Z, 5, act, 0.1)
                t_ours.append(time.perf_counter() - t0)
                same = np.array_equal(ref[0], got[0]) and np.array_equal(ref[1], got[1])
                if not same:
                    raise SystemExit(f"{n} x {m} {act}: the kernels differ")
            row = {
                "n": n,
                "m": m,
                "what": what,
                "act": act,
                "plain": statistics.median(t_plain),
                "ours": statistics.median(t_ours),
            }
            rows.append(row)
            print(row, flush=True)
    lines = [
        "# The CNN-GP window kernel: blocked and in place vs the plain formula",
        "",
        f"snpcnn {__version__}, {dt.date.today().isoformat()}, {a.threads} threads on the "
        f"2-core machine, alone. Command: `.venv/bin/python benchmarks/bench_cnn_gp_kernel.py "
        f"--rounds {a.rounds} --threads {a.threads}`",
        "",
        "One n x n CNN-GP window kernel (windows of 5 SNPs, bias 0.1) on standard normal "
        "inputs, the time of `snpcnn.baselines.cnn_gp.window_kernel` and of the plain formula "
        "(one full float32 map per window, a new array for every operation; snpcnn's code up "
        "to session 11) side by side in one process, alternating; median seconds over "
        f"{a.rounds} rounds. The two results are equal bit for bit in every round (checked). "
        "`relu` is the CNN-GP's default activation (the v5 default's kernel start); `square` "
        "the default CNN's.",
        "",
        "| samples x SNPs | stands for | activation | plain (s) | snpcnn (s) | plain / snpcnn |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} x {r['m']:,} | {r['what']} | {r['act']} | {r['plain']:.2f} | "
            f"{r['ours']:.2f} | {r['plain'] / r['ours']:.2f} |"
        )
    lines.append("")
    a.out.write_text("\n".join(lines))
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
