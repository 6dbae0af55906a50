"""Scan (session 18, issue 16): in which training parts would the v7 candidate propose its
LASSO start?  v7 (preset snpcnn_default_v7) is v6 plus the LASSO, proposed where its inner
5-fold CV squared error is below the leave-one-out squared error of GBLUP (and of REML's
proposal).  Where the LASSO is not proposed, v7 runs exactly v6's code path, so on a data set
where this scan finds no proposal v7's numbers are v6's.  Per training part this computes
what the start choice itself computes (``snpcnn.training._choose_start`` with ``[linear]
kernel = "lasso"``: GBLUP's REML fit and the LASSO's inner CV on the centred training
dosages); it fits nothing on a test fold.  Both errors are invariant to the trait's scale
and location, so the trait is used as read (no covariates on wheat).

    .venv/bin/python benchmarks/tuning/lasso_proposals.py wheat_random   # 5 x random 10-fold

Rows go to benchmarks/results/lasso_proposals_<name>.csv (one per trait, repeat and fold).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"


def wheat_random() -> None:
    from snpcnn.folds import make_folds
    from snpcnn.io import read_genotypes
    from snpcnn.models import load_architecture
    from snpcnn.training import TrainConfig, _choose_start

    d = ROOT / "example_data"
    g = read_genotypes(d / "wheat.bed")
    samples = np.asarray(list(map(str, g.samples)))
    ph = pd.read_csv(d / "wheat_phenotypes.csv")
    ph = ph.set_index(ph.columns[0].__str__())
    ph.index = ph.index.astype(str)
    x_all = g.dosages.astype(np.float64)
    assert (x_all >= 0).all(), "wheat has no missing genotypes"
    # the folds of benchmarks/configs/wheat_random.toml (seed 0, 10 folds, 5 repeats)
    folds = make_folds(samples, 10, 5, 0)
    spec = load_architecture("snpcnn_default_v7")
    spec["linear"]["kernel"] = "lasso"
    cfg = TrainConfig(model=spec)
    rows = []
    for trait in ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]:
        t0 = time.perf_counter()
        y_all = ph.loc[samples, trait].to_numpy(float)
        for (rep, fold), part in folds.groupby(["repeat", "fold"]):
            test = set(part["sample_id"].astype(str))
            tr = np.array([i for i, s in enumerate(samples) if s not in test])
            x = x_all[tr] - x_all[tr].mean(axis=0)
            y = y_all[tr].astype(np.float32)[:, None]
            _, info = _choose_start(x.astype(np.float32)[..., None], y, cfg, "regression")
            rows.append(
                {
                    "trait": trait,
                    "repeat": int(rep),
                    "fold": int(fold),
                    "lasso_cv_mse": info["lasso_cv_mse"],
                    "gblup_loo_mse": info["loo_mse"]["ridge"],
                    "lasso_proposed": info["chosen"] == "lasso",
                    "lasso_n_selected": info["lasso_n_selected"],
                }
            )
        t = pd.DataFrame([r for r in rows if r["trait"] == trait])
        print(
            f"{trait}: LASSO proposed in {int(t.lasso_proposed.sum())} of {len(t)} training "
            f"parts; inner-CV MSE / GBLUP LOO MSE median {np.median(t.lasso_cv_mse / t.gblup_loo_mse):.3f}"
            f" (min {np.min(t.lasso_cv_mse / t.gblup_loo_mse):.3f}); {time.perf_counter() - t0:.0f} s",
            flush=True,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(OUT / "lasso_proposals_wheat_random.csv", index=False)


if __name__ == "__main__":
    {"wheat_random": wheat_random}[sys.argv[1]]()
