"""RKHS above 6,000 training rows: the Nystrom approximation (snpcnn.baselines.rkhs) against
the exact RKHS where both run, and its time and peak memory where only it can.

    python benchmarks/bench_rkhs_nystrom.py accuracy --n-train 4000 --n-test 1000 --snps 2000 --folds 5
    python benchmarks/bench_rkhs_nystrom.py scale --n-train 20000 --snps 2000

``accuracy``: simulated LD genotypes (snpcnn.simulate), three traits (dominance, local
epistasis, polygenic additive; each with its own seed), K random folds over the
``n_train + n_test`` samples; mean Pearson r of the test predictions of GBLUP, the exact RKHS (five n x n eigendecompositions) and the Nystrom
RKHS with 3,000 (the default), 2,000 and 1,000 landmarks, side by side, with each fit's seconds.
``scale``: a child process per model (GBLUP's large-n path; the Nystrom RKHS), one fit on
``n_train`` rows and predictions for 1,000 more; seconds and the child's peak RSS
(``getrusage``).  Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snpcnn.baselines import GBLUP, RKHS  # noqa: E402
from snpcnn.simulate import simulate_genotypes, simulate_trait  # noqa: E402

TRAITS = (
    ("dominance", {"architecture": "dominance", "n_loci": 10, "h2": 0.5, "seed": 11}),
    ("local epistasis (10 pairs)", {"architecture": "local_epistasis", "n_loci": 10, "seed": 12}),
    ("polygenic additive", {"architecture": "polygenic", "n_loci": 500, "h2": 0.5, "seed": 13}),
)


def _data(n: int, snps: int, seed: int):
    g = simulate_genotypes(n, snps, n_chrom=5, seed=seed)
    return g, np.asarray(g.dosages, dtype=np.int8)


def _r(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


def accuracy(args) -> None:
    n = args.n_train + args.n_test
    g, X = _data(n, args.snps, args.seed)
    Xf = X.astype(np.float64)
    k = int(args.folds)
    fold = np.random.default_rng(args.seed).permutation(np.arange(n) % k)
    models = {
        "GBLUP": lambda: GBLUP(),
        "RKHS exact": lambda: RKHS(solver="exact"),
        "RKHS Nystrom 3,000 (default)": lambda: RKHS(solver="nystrom", landmarks=3000),
        "RKHS Nystrom 2,000": lambda: RKHS(solver="nystrom", landmarks=2000),
        "RKHS Nystrom 1,000": lambda: RKHS(solver="nystrom", landmarks=1000),
    }
    rows = []
    for trait, kw in TRAITS:
        y, _ = simulate_trait(g, **kw)
        ceiling = float(y.attrs["ceiling"])
        y = y.to_numpy(dtype=np.float64)
        out = {"trait": f"{trait} (ceiling {ceiling:.2f})"}
        for name, make in models.items():
            rs, secs = [], []
            for f in range(k):
                tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
                t0 = time.perf_counter()
                m = make().fit(Xf[tr], y[tr])
                rs.append(_r(m.predict(Xf[te]), y[te]))
                secs.append(time.perf_counter() - t0)
            out[name] = (float(np.mean(rs)), float(np.median(secs)), np.asarray(rs))
            per = " ".join(f"{v:.4f}" for v in rs)
            print(
                f"{trait}: {name} r={out[name][0]:.4f} ({out[name][1]:.1f} s) [{per}]", flush=True
            )
        rows.append(out)
    names = list(models)
    print(
        f"\n{n:,} samples x {args.snps:,} SNPs (seed {args.seed}), {k}-fold: mean Pearson r over "
        "the test folds (median seconds per fit + prediction; for the Nystrom fits also the "
        "largest per-fold |r difference| from the exact RKHS)\n"
    )
    print("| trait | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for o in rows:
        cells = []
        for name in names:
            r, sec, per = o[name]
            diff = np.abs(per - o["RKHS exact"][2]).max()
            extra = f", max diff {diff:.3f}" if "Nystrom" in name else ""
            cells.append(f"{r:.3f} ({sec:.0f} s{extra})")
        print(f"| {o['trait']} | " + " | ".join(cells) + " |")


def _child(args) -> None:
    g, X = _data(args.n_train + 1000, args.snps, args.seed)
    y, _ = simulate_trait(g, **TRAITS[0][1])
    y = y.to_numpy(dtype=np.float64)
    tr, te = slice(0, args.n_train), slice(args.n_train, None)
    model = GBLUP() if args.model == "GBLUP" else RKHS()
    t0 = time.perf_counter()
    m = model.fit(X[tr], y[tr])
    pred = m.predict(X[te])
    out = {
        "seconds": time.perf_counter() - t0,
        "r": _r(pred, y[te]),
        "solver": getattr(m, "solver_", ""),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
    }
    print(json.dumps(out))


def scale(args) -> None:
    print(
        f"\n{args.n_train:,} training rows x {args.snps:,} SNPs (int8), 1,000 test rows; "
        "dominance trait; one child process per model\n"
    )
    print("| model | path | seconds (fit + predict) | peak RSS (GB) | test Pearson r |")
    print("|---|---|---:|---:|---:|")
    for model in ("GBLUP", "RKHS"):
        cmd = [sys.executable, __file__, "child", "--model", model]
        cmd += ["--n-train", str(args.n_train), "--snps", str(args.snps), "--seed", str(args.seed)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        o = json.loads(res.stdout.strip().splitlines()[-1])
        print(
            f"| {model} | {o['solver']} | {o['seconds']:.0f} | {o['peak_rss_gb']:.2f} | "
            f"{o['r']:.3f} |",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("accuracy", "scale", "child"))
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--snps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=29)
    ap.add_argument("--model", default="RKHS")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args()
    {"accuracy": accuracy, "scale": scale, "child": _child}[args.mode](args)


if __name__ == "__main__":
    main()
