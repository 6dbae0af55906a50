"""Study (issue 16): would a start chosen by REML between GBLUP and CNN-GP help the default?

The default CNN starts at GBLUP (its REML ridge) and adds screened convolutions only where they
pass a fold-internal gate. On wheat the convolutions are never kept, so the default equals
GBLUP, while CNN-GP (the infinite-width CNN, snpcnn.baselines.CNNGP) is 0.05 ahead on average.
This script asks, per fold and on the training part only: which of the two kernels has the
higher REML log-likelihood (both have two variance parameters and the same fixed effects; the
optimum does not depend on a kernel's scale), and how accurate is the chosen one on the test
fold? It fits nothing on a test fold.

    .venv/bin/python benchmarks/tuning/start_choice.py wheat   # the 10 shipped folds, E1-E4
    .venv/bin/python benchmarks/tuning/start_choice.py sim     # simulated.toml's traits, 5-fold
    .venv/bin/python benchmarks/tuning/start_choice.py mice    # BMI, body length, 5-fold, GENDER + Litter

Rows go to benchmarks/results/start_choice_<part>.csv (one per trait and fold).  Session 12
added ``blend``: one kernel (1 - w) G + w K_CNN-GP with w by REML on the training part.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"


def _impute(x: np.ndarray, tr: np.ndarray) -> np.ndarray:
    """Dosages as float, missing (-1) set to the training rows' column mean."""
    x = x.astype(np.float64)
    miss = x < 0
    if miss.any():
        xt = np.where(miss[tr], np.nan, x[tr])
        mean = np.nan_to_num(np.nanmean(xt, axis=0))
        x[miss] = np.broadcast_to(mean, x.shape)[miss]
    return x


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0  # a constant prediction counts as r = 0
    return float(np.corrcoef(a, b)[0, 1])


def _run(
    dosages, samples, pheno: pd.DataFrame, traits, folds: pd.DataFrame, name: str, cov=None
) -> None:
    """``cov``: a sample_id-indexed numeric design of fixed effects (or None)."""
    from snpcnn.baselines import make_baseline

    index = {s: i for i, s in enumerate(samples)}
    rows = []
    for trait in traits:
        t0 = time.perf_counter()
        ph = pheno[["sample_id", trait]].dropna()
        for f in sorted(folds["fold"].unique()):
            test_ids = set(folds.loc[folds["fold"] == f, "sample_id"])
            tr_ids = [s for s in ph["sample_id"] if s not in test_ids and s in index]
            te_ids = [s for s in ph["sample_id"] if s in test_ids and s in index]
            y = ph.set_index("sample_id")[trait]
            tr = np.array([index[s] for s in tr_ids])
            te = np.array([index[s] for s in te_ids])
            x = _impute(dosages[np.concatenate([tr, te])], np.arange(len(tr)))
            xtr, xte = x[: len(tr)], x[len(tr) :]
            ytr, yte = y[tr_ids].to_numpy(float), y[te_ids].to_numpy(float)
            ctr = cte = None
            if cov is not None:
                ctr, cte = cov.loc[tr_ids].to_numpy(float), cov.loc[te_ids].to_numpy(float)
            fits = {m: make_baseline(m).fit(xtr, ytr, ctr) for m in ("gblup", "cnn_gp")}
            r = {m: _r(fits[m].predict(xte, cte), yte) for m in fits}
            ll = {m: float(fits[m].loglik_) for m in fits}
            chosen = "cnn_gp" if ll["cnn_gp"] > ll["gblup"] else "gblup"
            w, r_blend, ll_blend = _blend(fits["cnn_gp"], xtr, xte, ytr, yte, ctr, cte)
            rows.append(
                {
                    "data": name,
                    "trait": trait,
                    "fold": int(f),
                    "loglik_gblup": ll["gblup"],
                    "loglik_cnn_gp": ll["cnn_gp"],
                    "cnn_gp_depth": int(fits["cnn_gp"].depth_),
                    "r_gblup": r["gblup"],
                    "r_cnn_gp": r["cnn_gp"],
                    "chosen": chosen,
                    "r_chosen": r[chosen],
                    "blend_w": w,
                    "loglik_blend": ll_blend,
                    "r_blend": r_blend,
                }
            )
        d = pd.DataFrame([x for x in rows if x["trait"] == trait])
        print(
            f"{name} {trait}: GBLUP {d.r_gblup.mean():.4f}, CNN-GP {d.r_cnn_gp.mean():.4f}, "
            f"chosen {d.r_chosen.mean():.4f} (CNN-GP in {(d.chosen == 'cnn_gp').sum()} of "
            f"{len(d)} folds), blend {d.r_blend.mean():.4f} (w {d.blend_w.round(1).tolist()}), "
            f"{time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(OUT / f"start_choice_{name}.csv", index=False)


def _blend(gp, xtr, xte, ytr, yte, ctr, cte) -> tuple[float, float, float]:
    """Session 12 study: one kernel model with K = (1 - w) G + w K_CNN-GP (both scaled to
    mean diagonal 1 on the training rows; the CNN-GP at the depth its own REML chose), w on a
    grid of 11 by the REML likelihood of the training rows (w = 0 is GBLUP, w = 1 the
    CNN-GP): a soft version of the v5 default's hard choice.  Returns w, the test-fold r and
    the REML log-likelihood."""
    from snpcnn.baselines.cnn_gp import dense_kernel, window_kernel
    from snpcnn.baselines.reml import _best_kernel, _reml_bounds

    m = xtr.shape[1]
    z = gp.Z_train_.astype(np.float64)
    k0, d0, _ = window_kernel(z, z, gp._width(m), gp.activation, float(gp.bias))
    ktr = dense_kernel(k0, d0, d0, gp.depth_, float(gp.bias))[0]
    kte = gp.kernel(xte)
    sk = float(np.mean(np.diag(ktr)))
    ktr, kte = ktr / sk, kte / sk
    mu = xtr.mean(axis=0)
    a = xtr - mu
    gtr = a @ a.T
    sg = float(np.mean(np.diag(gtr)))
    gtr, gte = gtr / sg, (xte - mu) @ a.T / sg
    ftr = np.ones((len(xtr), 1)) if ctr is None else np.column_stack([np.ones(len(xtr)), ctr])
    fte = np.ones((len(xte), 1)) if cte is None else np.column_stack([np.ones(len(xte)), cte])
    lo, hi = _reml_bounds(gp.log_delta_bounds, gp.n_grid)
    ws = [round(float(v), 1) for v in np.linspace(0.0, 1.0, 11)]
    w, fit, _ = _best_kernel(ws, lambda v: (1 - v) * gtr + v * ktr, ytr, ftr, lo, hi, gp.n_grid)
    pred = ((1 - w) * gte + w * kte) @ fit.hinv_resid + fte @ fit.beta
    return float(w), _r(pred, yte), float(fit.loglik)


def _pheno(path, id_col=None) -> pd.DataFrame:
    ph = pd.read_csv(path)
    id_col = id_col or ph.columns[0]
    ph = ph.rename(columns={id_col: "sample_id"})
    ph["sample_id"] = ph["sample_id"].astype(str)
    return ph


def wheat() -> None:
    from snpcnn.io import read_genotypes

    d = ROOT / "example_data"
    g = read_genotypes(d / "wheat.bed")
    folds = pd.read_csv(d / "wheat_cv_folds.csv").rename(columns={"cv_fold": "fold"})
    folds["sample_id"] = folds["sample_id"].astype(str)
    traits = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]
    _run(
        g.dosages,
        list(map(str, g.samples)),
        _pheno(d / "wheat_phenotypes.csv"),
        traits,
        folds,
        "wheat",
    )


def _random_folds(ids, k: int, seed: int) -> pd.DataFrame:
    from snpcnn.folds import make_folds

    t = make_folds(np.asarray(ids), k, 1, seed)
    t["sample_id"] = t["sample_id"].astype(str)
    return t


def sim() -> None:
    from snpcnn.bench import _simulate_dataset, load_config
    from snpcnn.io import read_genotypes

    cfg = load_config(ROOT / "benchmarks" / "configs" / "simulated.toml")
    spec = cfg.datasets[0]
    g, csv, _ = _simulate_dataset(spec)
    g = read_genotypes(g) if not hasattr(g, "dosages") else g
    ph = _pheno(csv)
    traits = list(spec.traits)
    samples = list(map(str, g.samples))
    _run(g.dosages, samples, ph, traits, _random_folds(samples, 5, 0), "sim")


def mice() -> None:
    from snpcnn.io import read_genotypes

    d = ROOT.parent / "shared" / "data" / "mice"
    g = read_genotypes(d / "mice.bed")
    ph = _pheno(d / "mice_phenotypes.csv")
    traits = ["Obesity.BMI", "Obesity.BodyLength"]
    samples = list(map(str, g.samples))
    c = _pheno(d / "mice_covariates.csv").set_index("sample_id")
    c = pd.get_dummies(c[["GENDER", "Litter"]].astype(str), drop_first=True, dtype=float)
    have = [s for s in samples if s in c.index]
    ph = ph[ph["sample_id"].isin(have)]
    _run(g.dosages, samples, ph, traits, _random_folds(samples, 5, 0), "mice", cov=c)


if __name__ == "__main__":
    {"wheat": wheat, "sim": sim, "mice": mice}[sys.argv[1]]()
