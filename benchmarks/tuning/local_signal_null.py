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

against two nulls, ``--perm`` draws each: the residuals permuted across rows
(conservative for related samples), and traits drawn from the fitted additive model
(g ~ N(0, sigma_g2 G) plus Gaussian noise at GBLUP's REML estimates, GBLUP refitted, its
residuals screened; liberal where the residuals have heavier tails than Gaussian).
A positive control: simulated.toml's local-epistasis and dominance traits (the convolutions
are kept there in 5 of 5 folds).  No test fold is involved (a study of the data, not a CV).

    .venv/bin/python benchmarks/tuning/local_signal_null.py --perm 100   # ~ 10 min

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


class _Gblup:
    """GBLUP by REML on one Gram matrix (scaled to mean diagonal 1, as the default's start
    scales it), eigendecomposed once: exact leave-one-out residuals of any trait vector, and
    traits drawn from the fitted additive model (the parametric null)."""

    def __init__(self, gram: np.ndarray) -> None:
        from snpcnn.baselines import CNNGP
        from snpcnn.baselines.reml import _reml_bounds

        lam, self.U = np.linalg.eigh(gram)
        self.lam = np.clip(lam, 0.0, None)
        gp = CNNGP()
        self.bounds = (*_reml_bounds(gp.log_delta_bounds, gp.n_grid), gp.n_grid)

    def fit(self, y: np.ndarray):
        from snpcnn.baselines.reml import _reml

        return _reml(self.U, self.lam, y, np.ones((len(y), 1)), *self.bounds)

    def draw(self, fit, rng: np.random.Generator) -> np.ndarray:
        """y* = g + e with g ~ N(0, sigma_g2 K), e ~ N(0, sigma_g2 delta I)."""
        n = len(self.lam)
        g = self.U @ (np.sqrt(fit.sigma_g2 * self.lam) * rng.standard_normal(n))
        return g + np.sqrt(fit.sigma_g2 * fit.delta) * rng.standard_normal(n)


def _stats(score: np.ndarray, n: int) -> tuple[float, float]:
    flat = np.sort(score.ravel())[::-1]
    return float(n * flat[0]), float(n * flat[:32].mean())


def main() -> None:
    from snpcnn.bench import _load_dataset, load_config
    from snpcnn.io.phenotypes import align
    from snpcnn.ldorder import ld_order
    from snpcnn.training import screen_scores

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--perm", type=int, default=100)
    ap.add_argument("--sets", default="simulated,wheat,mice")
    ap.add_argument(
        "--order",
        choices=("file", "ld", "shuffled", "shuffled_ld"),
        default="file",
        help="SNP order the screen sees: as in the file, seriated by LD, shuffled (a panel "
        "without a map), or shuffled and then seriated by LD (session 21)",
    )
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
            if args.order.startswith("shuffled"):
                x = x[:, np.random.default_rng(1).permutation(x.shape[1])]
            if args.order.endswith("ld"):
                x = x[:, ld_order(x)]  # the v8 candidate's seriation (snpcnn.ldorder)
            y = y_all[ok, j]
            design = [np.ones((len(y), 1))]
            if len(ds.spec.covariates):
                design.append(al.covariate_matrix(np.flatnonzero(ok))[0])
            F = np.hstack(design)
            y = y - F @ np.linalg.lstsq(F, y, rcond=None)[0]
            gram = x @ x.T
            gram /= float(np.mean(np.diag(gram)))
            model = _Gblup(gram)
            fit = model.fit(y)
            r = np.asarray(fit.loo_resid, dtype=np.float64)
            xs = x.astype(np.float32)[..., None]
            n = len(r)
            top1, top32 = _stats(screen_scores(xs, r, 5), n)
            # two nulls, each --perm draws.  "perm": the residuals permuted across rows (keeps
            # their distribution, but takes them out of the relationship structure that GBLUP
            # removed from the observed ones: conservative where samples are related, e.g. the
            # mice).  "gauss": traits drawn from the fitted additive model (GBLUP's REML
            # variance components on these genotypes, Gaussian), refitted, their residuals
            # screened (keeps the structure, but not the trait's tails: liberal where the
            # residuals are heavier-tailed than Gaussian).
            rng = np.random.default_rng(0)
            nulls = {"perm": [], "gauss": []}
            for _ in range(args.perm):
                # both kept orthogonal to the covariates, as the observed trait is
                rp = rng.permutation(r)
                rp -= F @ np.linalg.lstsq(F, rp, rcond=None)[0]
                nulls["perm"].append(_stats(screen_scores(xs, rp, 5), n))
                ys = model.draw(fit, rng)
                ys -= F @ np.linalg.lstsq(F, ys, rcond=None)[0]
                rs = np.asarray(model.fit(ys).loo_resid, dtype=np.float64)
                nulls["gauss"].append(_stats(screen_scores(xs, rs, 5), n))
            row = {"data": name, "order": args.order, "trait": trait, "n": n, "snps": x.shape[1]}
            for k, obs in (("top1", top1), ("top32", top32)):
                row[k] = obs
                for kind, draws in nulls.items():
                    v = np.array(draws)[:, 0 if k == "top1" else 1]
                    row[f"{k}_{kind}_median"] = float(np.median(v))
                    row[f"{k}_{kind}_95"] = float(np.quantile(v, 0.95))
                    row[f"{k}_{kind}_p"] = float((1 + np.sum(v >= obs)) / (1 + len(v)))
            row["seconds"] = time.perf_counter() - t0
            rows.append(row)
            print(
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()},
                flush=True,
            )
    OUT.mkdir(parents=True, exist_ok=True)
    name = (
        "local_signal_null.csv" if args.order == "file" else f"local_signal_null_{args.order}.csv"
    )
    pd.DataFrame(rows).to_csv(OUT / name, index=False)


if __name__ == "__main__":
    sys.exit(main())
