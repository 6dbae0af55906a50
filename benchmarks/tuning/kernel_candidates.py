"""Study (issue 16, session 15): which kernels should the default's start choose among?

The v5 default's start is GBLUP (its REML ridge) or the CNN-GP with ReLU windows, by REML.  On
`simulated_sweep.toml`'s `small` data (1,000 x 3,000; 20 dominance loci, h2 0.3) its
convolutions were dropped in every fold and it equalled GBLUP (0.084) while GBLUP-AD reached
0.160: many small dominance effects are not found by a screen of 32 windows.  This study asks,
per fold and on the training rows only, how REML ranks four kernels and how each predicts the
test fold:

- ``gblup``: the ridge start's Gram matrix (centred, mean diagonal 1);
- ``cnn_gp_relu``: :class:`snpcnn.baselines.CNNGP` (ReLU windows, the v5 candidate);
- ``cnn_gp_square``: the same with the ``square`` activation of the default's convolutions
  (the infinite-width limit of the default's own convolution: a quadratic kernel per window,
  which holds dominance and within-window pairwise epistasis);
- ``gblup_ad``: :class:`snpcnn.baselines.GBLUPAD` (additive + dominance, share by REML).

``rule_v5``: the CNN-GP (ReLU) where its log-likelihood beats GBLUP's by > 1.92.
``rule_all``: of the three alternatives, the one with the highest log-likelihood, where it beats
GBLUP's by > 1.92 (each has one more discrete or continuous parameter than GBLUP).
Pearson r on each test fold, mean over folds; nothing is fitted on a test fold.

    .venv/bin/python benchmarks/tuning/kernel_candidates.py simulated_sweep small
    .venv/bin/python benchmarks/tuning/kernel_candidates.py simulated sim
    .venv/bin/python benchmarks/tuning/kernel_candidates.py wheat wheat

Rows: benchmarks/results/kernel_candidates_<config>_<dataset>.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
THRESHOLD = 1.92
ALTERNATIVES = ("cnn_gp_relu", "cnn_gp_square", "gblup_ad")


def _r(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def _fold(xtr, xte, ytr, yte):
    from snpcnn.baselines import CNNGP, GBLUPAD
    from snpcnn.baselines.reml import _best_kernel, _reml_bounds

    mu = xtr.mean(axis=0)
    a = xtr - mu
    gram = a @ a.T
    s = max(float(np.mean(np.diag(gram))), 1e-300)
    gram /= s
    lo, hi = _reml_bounds(CNNGP().log_delta_bounds, CNNGP().n_grid)
    ones = np.ones((len(xtr), 1))
    _, g, _ = _best_kernel([0], lambda _: gram, ytr, ones, lo, hi, CNNGP().n_grid)
    pred = {"gblup": ((xte - mu) @ a.T / s) @ g.hinv_resid + g.beta[0]}
    ll = {"gblup": float(g.loglik)}
    for name, model in (
        ("cnn_gp_relu", CNNGP()),
        ("cnn_gp_square", CNNGP(activation="square")),
        ("gblup_ad", GBLUPAD()),
    ):
        model.fit(xtr, ytr)
        pred[name] = model.predict(xte)
        ll[name] = float(model.loglik_)
    out = {f"r_{k}": _r(v, yte) for k, v in pred.items()}
    out.update({f"ll_{k}": v for k, v in ll.items()})
    v5 = "cnn_gp_relu" if ll["cnn_gp_relu"] - ll["gblup"] > THRESHOLD else "gblup"
    best = max(ALTERNATIVES, key=lambda k: ll[k])
    rule_all = best if ll[best] - ll["gblup"] > THRESHOLD else "gblup"
    out.update(
        {
            "v5": v5,
            "rule_all": rule_all,
            "r_rule_v5": out[f"r_{v5}"],
            "r_rule_all": out[f"r_{rule_all}"],
        }
    )
    return out


def main(config: str, dataset: str) -> None:
    from stacking import folds_of

    rows: list[dict] = []
    for _, trait, rep, f, xtr, xte, ytr, yte, _, _ in folds_of(config, dataset, sys.argv[3:]):
        rows.append({"trait": trait, "repeat": rep, "fold": f, **_fold(xtr, xte, ytr, yte)})
    for trait, d in pd.DataFrame(rows).groupby("trait", sort=False):
        gains = {k: (d[f"ll_{k}"] - d["ll_gblup"]).median() for k in ALTERNATIVES}
        print(
            f"{dataset} {trait}: "
            + "  ".join(f"{k} {d[f'r_{k}'].mean():.3f}" for k in ("gblup", *ALTERNATIVES))
            + f"  | v5 {d.r_rule_v5.mean():.3f}  all {d.r_rule_all.mean():.3f} "
            f"({d.rule_all.value_counts().to_dict()})  | median ll gain "
            + ", ".join(f"{k} {v:+.1f}" for k, v in gains.items()),
            flush=True,
        )
    OUT.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(OUT / f"kernel_candidates_{config}_{dataset}.csv", index=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
