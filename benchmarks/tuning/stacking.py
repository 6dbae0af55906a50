"""Study (issue 16, session 15): stack the two starts instead of choosing one?

The v5 default proposes the CNN-GP as its start where REML prefers it to the ridge (= GBLUP)
by more than 1.92 log-likelihood units, then keeps the CNN-GP pipeline only if its
out-of-fold squared errors on the training rows are significantly lower (one-sided paired
t-test, p < 0.05).  Where the two kernels predict equally well (mice BMI), that hard switch
adds variance: one fold of 15 switched and lost 0.011 there.  Stacking (Breiman 1996) replaces
the switch by a convex combination ``(1 - w) GBLUP + w CNN-GP`` with ``w`` in [0, 1] fitted by
least squares to the two models' exact leave-one-out predictions on the training rows.

On real data the default's convolutions were dropped in every fold, so its pipelines are
its starts, and their out-of-fold predictions are these exact leave-one-out predictions.  For
each fold of a benchmark config's own folds (the same fold table as ``snpcnn benchmark``), on
the training rows only:

- ``gblup``: REML on the centred Gram matrix scaled to mean diagonal 1 (the ridge start);
- ``cnn_gp``: :class:`snpcnn.baselines.CNNGP` (depth by REML);
- ``hard``: the v5 rule above;
- ``stack``: w by leave-one-out least squares where REML proposes the CNN-GP, GBLUP elsewhere;
- ``stack_all``: w by leave-one-out least squares in every fold.

Covariates enter both models as fixed effects (GLS), as in ``snpcnn benchmark``'s baselines.
Pearson r on each test fold, mean over folds.  Nothing is fitted on a test fold.

    .venv/bin/python benchmarks/tuning/stacking.py wheat          # 10 shipped folds, E1-E4
    .venv/bin/python benchmarks/tuning/stacking.py wheat_random   # 5 x 10-fold
    .venv/bin/python benchmarks/tuning/stacking.py mice           # 3 x 5-fold, GENDER + Litter
    .venv/bin/python benchmarks/tuning/stacking.py simulated      # simulated.toml, 5-fold

Rows: benchmarks/results/stacking_<config>.csv.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
THRESHOLD = 1.92  # the default's kernel_threshold
GATE = 0.05  # the default's conv_gate


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0  # a constant prediction counts as r = 0
    return float(np.corrcoef(a, b)[0, 1])


def stack_weight(e_a: np.ndarray, e_b: np.ndarray) -> float:
    """w in [0, 1] minimising sum(((1 - w) e_a + w e_b)^2) over rows (e: residuals)."""
    d = e_a - e_b
    dd = float(d @ d)
    return float(np.clip((e_a @ d) / dd, 0.0, 1.0)) if dd > 0 else 0.0


def _fold(xtr, xte, ytr, yte, ctr, cte):
    from snpcnn.baselines import CNNGP
    from snpcnn.baselines.reml import _best_kernel, _reml_bounds
    from snpcnn.training import _improvement_p

    mu = xtr.mean(axis=0)
    a = xtr - mu
    gram = a @ a.T
    s = max(float(np.mean(np.diag(gram))), 1e-300)
    gram /= s
    gp = CNNGP()
    lo, hi = _reml_bounds(gp.log_delta_bounds, gp.n_grid)
    ftr = np.ones((len(xtr), 1)) if ctr is None else np.column_stack([np.ones(len(xtr)), ctr])
    fte = np.ones((len(xte), 1)) if cte is None else np.column_stack([np.ones(len(xte)), cte])
    _, g, _ = _best_kernel([0], lambda _: gram, ytr, ftr, lo, hi, gp.n_grid)
    p_g = ((xte - mu) @ a.T / s) @ g.hinv_resid + fte @ g.beta
    e_g = g.loo_resid
    gp.fit(xtr, ytr, ctr)
    p_k = gp.predict(xte, cte)
    e_k = gp.loo_residuals_
    gain = float(gp.loglik_ - g.loglik)
    proposed = gain > THRESHOLD
    p = _improvement_p(ytr, ytr - e_g, ytr - e_k)
    hard = proposed and float(e_k @ e_k) < float(e_g @ e_g) and p < GATE
    w = stack_weight(e_g, e_k)
    return {
        "loglik_gain": gain,
        "proposed": proposed,
        "oof_p": p,
        "hard_cnn_gp": hard,
        "w": w,
        "r_gblup": _r(p_g, yte),
        "r_cnn_gp": _r(p_k, yte),
        "r_hard": _r(p_k if hard else p_g, yte),
        "r_stack": _r((1 - w) * p_g + w * p_k, yte) if proposed else _r(p_g, yte),
        "r_stack_all": _r((1 - w) * p_g + w * p_k, yte),
        "loo_mse_gblup": float(np.mean(e_g**2)),
        "loo_mse_cnn_gp": float(np.mean(e_k**2)),
        "loo_mse_stack": float(np.mean(((1 - w) * e_g + w * e_k) ** 2)),
    }


def folds_of(name: str, dataset: str | None = None, traits=None):
    """Every (trait, fold) of a benchmark config's own fold table (what ``snpcnn benchmark``
    uses, seed 0), training part first: yields ``(dataset, trait, repeat, fold, x_train,
    x_test, y_train, y_test, c_train, c_test)`` with missing dosages set to the training rows'
    column mean and covariates encoded on the training rows (None without covariates)."""
    from snpcnn.bench import _fold_table, _load_dataset, load_config
    from snpcnn.io.phenotypes import align

    cfg = load_config(ROOT / "benchmarks" / "configs" / f"{name}.toml")
    for spec in cfg.datasets:
        if dataset is not None and spec.name != dataset:
            continue
        ds = _load_dataset(spec)
        al = align(ds.genotypes, ds.phenotypes, traits=list(spec.traits))
        pos = {s: i for i, s in enumerate(np.asarray(al.sample_ids).astype(str))}
        dos = np.asarray(ds.genotypes.dosages)[np.asarray(al.geno_index)]
        folds = _fold_table(ds, 0)
        if "repeat" not in folds:
            folds["repeat"] = 0
        for trait in traits or spec.traits:
            yall = al.trait(trait)
            for (rep, f), part in folds.groupby(["repeat", "fold"]):
                test = set(part["sample_id"].astype(str))
                ids = folds.loc[folds["repeat"] == rep, "sample_id"].astype(str)
                te = np.array([pos[i] for i in ids if i in test and not np.isnan(yall[pos[i]])])
                tr = np.array([pos[i] for i in ids if i not in test and not np.isnan(yall[pos[i]])])
                x = dos.astype(np.float64)
                miss = x < 0
                if miss.any():
                    xt = np.where(miss[tr], np.nan, x[tr])
                    mean = np.nan_to_num(np.nanmean(xt, axis=0))
                    x[miss] = np.broadcast_to(mean, x.shape)[miss]
                ctr = cte = None
                if spec.covariates:
                    ctr = np.asarray(al.covariate_matrix(tr, fit_rows=tr)[0], dtype=np.float64)
                    cte = np.asarray(al.covariate_matrix(te, fit_rows=tr)[0], dtype=np.float64)
                yield spec.name, trait, int(rep), int(f), x[tr], x[te], yall[tr], yall[te], ctr, cte


def main(name: str) -> None:
    rows: list[dict] = []
    t0 = time.perf_counter()
    for data, trait, rep, f, xtr, xte, ytr, yte, ctr, cte in folds_of(name):
        rows.append(
            {
                "data": data,
                "trait": trait,
                "repeat": rep,
                "fold": f,
                **_fold(xtr, xte, ytr, yte, ctr, cte),
            }
        )
    for (data, trait), d in pd.DataFrame(rows).groupby(["data", "trait"], sort=False):
        print(
            f"{data} {trait}: GBLUP {d.r_gblup.mean():.4f}  CNN-GP {d.r_cnn_gp.mean():.4f}"
            f"  hard {d.r_hard.mean():.4f} ({int(d.hard_cnn_gp.sum())} of {len(d)})"
            f"  stack {d.r_stack.mean():.4f} (proposed {int(d.proposed.sum())})"
            f"  stack_all {d.r_stack_all.mean():.4f}  w median {d.w.median():.2f}"
            f" [{d.w.min():.2f}, {d.w.max():.2f}]",
            flush=True,
        )
    print(f"{time.perf_counter() - t0:.0f} s")
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(OUT / f"stacking_{name}.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1])
