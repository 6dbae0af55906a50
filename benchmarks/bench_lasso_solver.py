"""The LASSO's solver: snpcnn's coordinate descent (snpcnn.baselines._lasso_cd, numba, cached on
disk) against skglm's (the solver of session 18), side by side in one process, on the inner-CV
penalty search that the default's LASSO start and the LASSO baseline run per training part.

    .venv/bin/pip install skglm            # only for this comparison; snpcnn does not need it
    .venv/bin/python benchmarks/bench_lasso_solver.py [--rounds 3]

Data: a wheat training part (GY_E1 without the shipped fold 1: 542 x 1,279, dosages centred on
those rows, as the start sees them) and a mice one (Obesity.BMI, 1,450 random mice x 10,346
SNPs, mean-imputed, centred).  Both solvers run the very same search
(``snpcnn.baselines.lasso.cross_validated_lasso``: 20 penalties, 5 inner folds, early-stopped
paths, tolerance 1e-4 relative to alpha_max); only ``lasso_path``'s solver differs.  Each
round times both, alternated (the order flips every round), after one untimed warm-up call
each (numba compilation: reported apart, from fresh processes).  Reported: median seconds,
the ratio, the chosen penalty, the inner-CV error there, and the LASSO objective of each
final fit at that penalty (the lower is closer to the optimum).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def skglm_path(X, y, alphas, l1_ratio, tol, max_iter, held=None, patience=0, init=None):
    """Session 18's ``lasso_path``: skglm's Lasso (working sets + Anderson), warm-started."""
    import warnings

    from skglm import Lasso as SkLasso

    Xf = np.asfortranarray(X, dtype=np.float64)
    scale = float(np.max(np.abs(Xf.T @ y))) / len(y)
    model = SkLasso(
        alpha=1.0,
        fit_intercept=False,
        tol=tol * max(scale, 1e-300),
        max_iter=max_iter,
        warm_start=True,
    )
    if init is not None:
        model.coef_ = np.array(init, dtype=np.float64)
    coefs = np.zeros((X.shape[1], len(alphas)))
    best, since = np.inf, 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, a in enumerate(alphas):
            model.alpha = float(a)
            model.fit(Xf, y)
            coefs[:, i] = model.coef_
            if held is None or patience <= 0:
                continue
            err = float(np.mean((held[0] @ model.coef_ - held[1]) ** 2))
            best, since = (err, 0) if err < best else (best, since + 1)
            if since >= patience:
                return coefs[:, : i + 1]
    return coefs


def wheat() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    from snpcnn.io import read_genotypes

    d = ROOT / "example_data"
    g = read_genotypes(d / "wheat.bed")
    ph = pd.read_csv(d / "wheat_phenotypes.csv").set_index("sample_id")
    folds = pd.read_csv(d / "wheat_cv_folds.csv").set_index("sample_id")
    ids = np.asarray(list(map(str, g.samples)))
    ph.index, folds.index = ph.index.astype(str), folds.index.astype(str)
    keep = np.flatnonzero(folds.loc[ids].iloc[:, 0].to_numpy() != 1)
    x = g.dosages[keep].astype(np.float64)
    y = ph.loc[ids[keep], "GY_E1"].to_numpy(float)
    return x - x.mean(axis=0), y - y.mean()


def mice() -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd
    from bed_reader import open_bed

    b = open_bed(str(SHARED / "mice" / "mice.bed"))
    x = b.read(dtype="float64")
    ids = b.iid
    ph = pd.read_csv(SHARED / "mice" / "mice_phenotypes.csv").set_index("sample_id")
    ph = ph["Obesity.BMI"].dropna()
    keep = [i for i, s in enumerate(ids) if s in ph.index]
    x, y = x[keep], ph.loc[ids[keep]].to_numpy(float)
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    rows = np.random.default_rng(0).permutation(len(y))[:1450]
    x, y = x[rows], y[rows]
    return x - x.mean(axis=0), y - y.mean()


def objective(x, y, coef, alpha) -> float:
    r = y - x @ coef
    return float(r @ r / (2 * len(y)) + alpha * np.abs(coef).sum())


def compile_seconds() -> float:
    """A fresh process's first call of the numba solver minus its second (0.4 s or so where
    the compiled functions are already cached on disk)."""
    code = (
        "import time, numpy as np\n"
        "from snpcnn.baselines._lasso_cd import solve\n"
        "x = np.asfortranarray(np.random.default_rng(0).normal(size=(50, 40)))\n"
        "y = x[:, 0] + 0.1\n"
        "t = time.perf_counter(); solve(x, y, 0.1, 1.0, 1e-6); a = time.perf_counter() - t\n"
        "t = time.perf_counter(); solve(x, y, 0.1, 1.0, 1e-6); b = time.perf_counter() - t\n"
        "print(a - b)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    import snpcnn.baselines.lasso as L

    ours_path = L.lasso_path
    print(
        f"numba solver, first call in a fresh process minus the second: {compile_seconds():.2f} s"
    )
    print(
        "| data | rows x SNPs | ours (s) | skglm (s) | ratio skglm / ours | penalty (ours, skglm) "
        "| inner-CV MSE (ours, skglm) | objective at it (ours, skglm) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, load in (("wheat GY_E1, fold 1's training part", wheat), ("mice BMI", mice)):
        x, y = load()
        times: dict[str, list[float]] = {"ours": [], "skglm": []}
        fits = {}
        for label, path in (("ours", ours_path), ("skglm", skglm_path)):
            L.lasso_path = path
            fits[label] = L.cross_validated_lasso(x, y)  # warm-up (compilation)
        for r in range(args.rounds):
            order = ("ours", "skglm") if r % 2 == 0 else ("skglm", "ours")
            for label in order:
                L.lasso_path = ours_path if label == "ours" else skglm_path
                t = time.perf_counter()
                L.cross_validated_lasso(x, y)
                times[label].append(time.perf_counter() - t)
        L.lasso_path = ours_path
        o, s = fits["ours"], fits["skglm"]
        mo, ms = median(times["ours"]), median(times["skglm"])
        print(
            f"| {name} | {x.shape[0]:,} x {x.shape[1]:,} | {mo:.2f} | {ms:.2f} | {ms / mo:.2f} "
            f"| {o.best}, {s.best} | {o.cv_mse[o.best]:.6f}, {s.cv_mse[s.best]:.6f} "
            f"| {objective(x, y, o.coef, o.alpha):.8f}, {objective(x, y, s.coef, s.alpha):.8f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
