"""Study (session 20, issue 16): is there local non-additive signal in the real data sets for
the default's convolutions to find?  A permutation test of the default's own screen.

The default's convolutions only see the windows its screen picks: the pairs of SNPs at most
4 apart (and single SNPs' dominance deviations) whose products correlate most with the
start's leave-one-out residuals (snpcnn.training.screen_scores).  If real data held local
epistasis or dominance of a size the convolutions could learn from, the best pairs would
score above what the same screen finds on residuals that carry no signal.  Per data set
and trait, on all phenotyped rows: the genotypes centred as the default's input, the trait
with the covariates removed by least squares (mice: GENDER + Litter), GBLUP's exact
leave-one-out residuals (REML, as the default's ridge start), then

* ``top1``: n x the largest pair score (n r^2, about chi-square(1) per pair without signal);
* ``top32``: n x the mean of the 32 largest (the default screens 32 windows);

against the same statistics after permuting the residuals across rows (``--perm`` times).
A positive control: simulated.toml's local-epistasis and dominance traits (the convolutions
are kept there in 5 of 5 folds).  No test fold is involved (a study of the data, not a CV).

    .venv/bin/python benchmarks/tuning/local_signal_null.py --perm 100

Rows go to benchmarks/results/local_signal_null.csv.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
SETS = {
    "wheat": ("wheat.toml", None),
    "mice": ("mice.toml", None),
    "simulated": ("simulated.toml", ["local_epistasis", "dominance", "polygenic"]),
}


def _loo_residuals(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """GBLUP's exact leave-one-out residuals (REML), as the default's ridge start has them."""
    from snpcnn.baselines import CNNGP
    from snpcnn.baselines.reml import _best_kernel, _reml_bounds

    gram = x @ x.T
    gram /= float(np.mean(np.diag(gram)))
    gp = CNNGP()
    lo, hi = _reml_bounds(gp.log_delta_bounds, gp.n_grid)
    ones = np.ones((len(y), 1))
    _, fit, _ = _best_kernel([0], lambda _: gram, y, ones, lo, hi, gp.n_grid)
    return np.asarray(fit.loo_resid, dtype=np.float64)


def _stats(score: np.ndarray, n: int) -> tuple[float, float]:
    flat = np.sort(score.ravel())[::-1]
    return float(n * flat[0]), float(n * flat[:32].mean())


def main() -> None:
    from snpcnn.bench import _load_dataset, load_config
    from snpcnn.io.phenotypes import align
    from snpcnn.training import screen_scores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--perm", type=int, default=100)
    ap.add_argument("--sets", default="simulated,wheat,mice")
    args = ap.parse_args()
    rows = []
    for name in args.sets.split(","):
        config, only = SETS[name]
        cfg = load_config(ROOT / "benchmarks" / "configs" / config)
        ds = _load_dataset(cfg.datasets[0])
        al = align(ds.genotypes, ds.phenotypes, traits=list(ds.spec.traits))
        x_all = np.asarray(ds.genotypes.dosages, dtype=np.float64)[al.geno_index]
        y_all = al.y.to_numpy(dtype=np.float64)
        for j, trait in enumerate(ds.spec.traits):
            if only and trait not in only:
                continue
            t0 = time.perf_counter()
            ok = ~np.isnan(y_all[:, j])
            x = x_all[ok]
            miss = x < 0  # missing dosages: the column mean, as the default imputes them
            if miss.any():
                x[miss] = np.nan
                x = np.where(miss, np.nanmean(x, axis=0), x)
            x = x - x.mean(axis=0)
            x = x[:, x.std(axis=0) > 0]
            y = y_all[ok, j]
            design = [np.ones((len(y), 1))]
            if len(ds.spec.covariates):
                design.append(al.covariate_matrix(np.flatnonzero(ok))[0])
            F = np.hstack(design)
            y = y - F @ np.linalg.lstsq(F, y, rcond=None)[0]
            r = _loo_residuals(x, y)
            xs = x.astype(np.float32)[..., None]
            n = len(r)
            top1, top32 = _stats(screen_scores(xs, r, 5), n)
            rng = np.random.default_rng(0)
            null = np.array(
                [_stats(screen_scores(xs, rng.permutation(r), 5), n) for _ in range(args.perm)]
            )
            row = {
                "data": name,
                "trait": trait,
                "n": n,
                "snps": x.shape[1],
                "top1": top1,
                "top1_null_median": float(np.median(null[:, 0])),
                "top1_null_95": float(np.quantile(null[:, 0], 0.95)),
                "top1_p": float((1 + np.sum(null[:, 0] >= top1)) / (1 + len(null))),
                "top32": top32,
                "top32_null_median": float(np.median(null[:, 1])),
                "top32_null_95": float(np.quantile(null[:, 1], 0.95)),
                "top32_p": float((1 + np.sum(null[:, 1] >= top32)) / (1 + len(null))),
                "seconds": time.perf_counter() - t0,
            }
            rows.append(row)
            print(
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()},
                flush=True,
            )
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(OUT / "local_signal_null.csv", index=False)


if __name__ == "__main__":
    sys.exit(main())
