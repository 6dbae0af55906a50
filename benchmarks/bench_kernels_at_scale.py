"""The kernel baselines above 6,000 training rows: the Nystrom approximation
(snpcnn.baselines.kernels_at_scale) against the exact fit where both run, and its time and
peak memory where only it can.

    python benchmarks/bench_kernels_at_scale.py accuracy --kinds RKHS --n-train 4000 --n-test 1000 --snps 2000 --folds 5
    python benchmarks/bench_kernels_at_scale.py accuracy --kinds GBLUP-AD,EG-BLUP,CNN-GP --landmarks 3000 --traits dominance,epistasis --n-train 4000 --n-test 2000 --snps 2000 --folds 3
    python benchmarks/bench_kernels_at_scale.py scale --kinds RKHS --n-train 20000 --snps 2000
    python benchmarks/bench_kernels_at_scale.py scale --kinds GBLUP-AD,EG-BLUP,CNN-GP --n-train 20000 --snps 2000
    python benchmarks/bench_kernels_at_scale.py scale --kinds RKHS,GBLUP-AD,EG-BLUP --n-train 4000 --snps 3000 --solver exact

``accuracy``: simulated LD genotypes (snpcnn.simulate), the traits named by ``--traits``
(dominance, local epistasis, polygenic additive; each with its own seed), K random folds over
the ``n_train + n_test`` samples; mean Pearson r of the test predictions of GBLUP and, for
each kernel model in ``--kinds``, its exact fit (n x n eigendecompositions) and its Nystrom
fit with each number of ``--landmarks``, side by side on the same folds, with each fit's
seconds.  ``scale``: a child process per model (GBLUP's large-n path; each kind's Nystrom
path), one fit on ``n_train`` rows and predictions for 1,000 more; seconds and the child's
peak RSS (``getrusage``).  ``stream``: a child process per model and input, the same
training part given as lazy rows (snpcnn.datapath.DosageRows, what a streamed fold hands the
baselines: column blocks, no float copy) and as the float32 matrix of an in-memory fold;
seconds, peak RSS, r and the largest prediction difference.  Prints Markdown tables.

    python benchmarks/bench_kernels_at_scale.py stream --kinds RKHS,GBLUP-AD,EG-BLUP --n-train 2000 --n-test 500 --snps 100000  (Session 29's RKHS-only script,
bench_rkhs_nystrom.py, is this one with ``--kinds RKHS``.)
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

from snpcnn.baselines import CNNGP, EGBLUP, GBLUP, GBLUPAD, MLPGP, RKHS  # noqa: E402
from snpcnn.simulate import simulate_genotypes, simulate_trait  # noqa: E402

TRAITS = {
    "dominance": (
        "dominance, 10 loci, h2 0.5",
        {"architecture": "dominance", "n_loci": 10, "h2": 0.5, "seed": 11},
    ),
    "epistasis": (
        "local epistasis, 10 pairs",
        {"architecture": "local_epistasis", "n_loci": 10, "seed": 12},
    ),
    "polygenic": (
        "polygenic additive, 500 loci, h2 0.5",
        {"architecture": "polygenic", "n_loci": 500, "h2": 0.5, "seed": 13},
    ),
}
KINDS = {"RKHS": RKHS, "GBLUP-AD": GBLUPAD, "EG-BLUP": EGBLUP, "CNN-GP": CNNGP, "MLP-GP": MLPGP}


def _make(kind: str, **kw):
    return GBLUP() if kind == "GBLUP" else KINDS[kind](**kw)


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
    kinds = [x for x in args.kinds.split(",") if x]
    landmarks = [int(x) for x in args.landmarks.split(",") if x]
    models = {"GBLUP": lambda: GBLUP()}
    for kind in kinds:
        models[f"{kind} exact"] = lambda kind=kind: _make(kind, solver="exact")
        for m in landmarks:
            models[f"{kind} Nystrom {m:,}"] = lambda kind=kind, m=m: _make(
                kind, solver="nystrom", landmarks=m
            )
    rows = []
    for key in args.traits.split(","):
        trait, kw = TRAITS[key]
        y, _ = simulate_trait(g, **kw)
        ceiling = float(y.attrs["ceiling"])
        y = y.to_numpy(dtype=np.float64)
        out = {"trait": f"{trait} ({ceiling:.2f})"}
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
        "largest per-fold |r difference| from the same model's exact fit)\n"
    )
    print("| trait (ceiling) | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    for o in rows:
        cells = []
        for name in names:
            r, sec, per = o[name]
            extra = ""
            if " Nystrom " in name:
                exact = o[name.split(" Nystrom ")[0] + " exact"][2]
                extra = f", max diff {np.abs(per - exact).max():.3f}"
            cells.append(f"{r:.3f} ({sec:.0f} s{extra})")
        print(f"| {o['trait']} | " + " | ".join(cells) + " |")


def _child(args) -> None:
    g, X = _data(args.n_train + 1000, args.snps, args.seed)
    y, _ = simulate_trait(g, **TRAITS[args.traits.split(",")[0]][1])
    y = y.to_numpy(dtype=np.float64)
    tr, te = slice(0, args.n_train), slice(args.n_train, None)
    kw = {} if args.model == "GBLUP" or args.solver == "auto" else {"solver": args.solver}
    model = _make(args.model, **kw)
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
        f"{args.traits.split(',')[0]} trait; one child process per model\n"
    )
    print("| model | path | seconds (fit + predict) | peak RSS (GB) | test Pearson r |")
    print("|---|---|---:|---:|---:|")
    for model in ["GBLUP"] + [x for x in args.kinds.split(",") if x]:
        cmd = [sys.executable, __file__, "child", "--model", model, "--traits", args.traits]
        cmd += ["--n-train", str(args.n_train), "--snps", str(args.snps), "--seed", str(args.seed)]
        cmd += ["--solver", args.solver]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        o = json.loads(res.stdout.strip().splitlines()[-1])
        print(
            f"| {model} | {o['solver']} | {o['seconds']:.0f} | {o['peak_rss_gb']:.2f} | "
            f"{o['r']:.3f} |",
            flush=True,
        )


def _stream_child(args) -> None:
    from snpcnn.datapath import DosageRows
    from snpcnn.preprocess import GenotypePreprocessor

    g = simulate_genotypes(args.n_train + args.n_test, args.snps, n_chrom=5, seed=args.seed)
    y, _ = simulate_trait(g, **TRAITS[args.traits.split(",")[0]][1])
    y = y.to_numpy(dtype=np.float64)
    train = np.arange(args.n_train)
    test = np.arange(args.n_train, args.n_train + args.n_test)
    pre = GenotypePreprocessor().fit(g, train)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    t0 = time.perf_counter()
    if args.lazy:
        X_tr, X_te = DosageRows(g, pre, train), DosageRows(g, pre, test)
    else:  # what an in-memory fold hands the baselines: float32, training-mean imputed
        from snpcnn.baselines import kernels_at_scale

        # the in-memory path of every size, as before session 30 (float64 copies)
        kernels_at_scale.INMEMORY_BYTES = float("inf")
        X_tr, X_te = pre.dosage_matrix(g, train), pre.dosage_matrix(g, test)
    m = _make(args.model).fit(X_tr, y[train])
    pred = m.predict(X_te)
    np.save(args.out, pred)
    print(
        json.dumps(
            {
                "seconds": time.perf_counter() - t0,
                "r": _r(pred, y[test]),
                "before_gb": base_rss,
                "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
            }
        )
    )


def stream(args) -> None:
    """Each kind on the same training part, given as lazy rows (a streamed fold) and as the
    float32 matrix an in-memory fold gets: seconds, peak RSS, r, prediction difference."""
    work = REPO / "bench_out" / "kernels_stream"
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"\n{args.n_train:,} training rows x {args.snps:,} SNPs, {args.n_test:,} test rows; "
        f"{args.traits.split(',')[0]} trait; one child process per model and input (the "
        "simulated int8 genotypes and the simulation itself are in every child's RSS: "
        "'before' is the peak before the fit)\n"
    )
    print(
        "| model | input | seconds (fit + predict) | peak RSS before the fit (GB) | "
        "peak RSS (GB) | test Pearson r | max abs difference of the predictions |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for model in [x for x in args.kinds.split(",") if x]:
        preds = {}
        for lazy in (False, True):
            out = work / f"{model}_{int(lazy)}.npy"
            cmd = [sys.executable, __file__, "stream-child", "--model", model]
            cmd += ["--traits", args.traits, "--out", str(out)]
            cmd += ["--n-train", str(args.n_train), "--n-test", str(args.n_test)]
            cmd += ["--snps", str(args.snps), "--seed", str(args.seed)]
            cmd += ["--lazy"] if lazy else []
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            o = json.loads(res.stdout.strip().splitlines()[-1])
            preds[lazy] = np.load(out)
            diff = f"{np.abs(preds[True] - preds[False]).max():.1e}" if lazy else "(reference)"
            what = (
                "lazy rows, column blocks (streamed fold)"
                if lazy
                else "float32 matrix, in-memory path (float64 copies)"
            )
            print(
                f"| {model} | {what} | {o['seconds']:.0f} | {o['before_gb']:.2f} | "
                f"{o['peak_rss_gb']:.2f} | {o['r']:.3f} | {diff} |",
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=("accuracy", "scale", "stream", "child", "stream-child"))
    ap.add_argument("--lazy", action="store_true")
    ap.add_argument("--out", default="")
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-test", type=int, default=1000)
    ap.add_argument("--snps", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=29)
    ap.add_argument("--model", default="RKHS")
    ap.add_argument("--kinds", default="RKHS", help="comma-separated: " + ",".join(KINDS))
    ap.add_argument("--landmarks", default="3000,2000,1000")
    ap.add_argument("--traits", default="dominance,epistasis,polygenic")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument(
        "--solver",
        default="auto",
        choices=("auto", "exact", "nystrom"),
        help="scale: the kernel models' solver (auto: exact up to 6,000 training rows)",
    )
    args = ap.parse_args()
    modes = {"accuracy": accuracy, "scale": scale, "stream": stream, "child": _child}
    modes["stream-child"] = _stream_child
    modes[args.mode](args)


if __name__ == "__main__":
    main()
