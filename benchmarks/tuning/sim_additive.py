"""Sanity check: does the default CNN learn additive marker effects? (simulated data)

n = 2000 samples, 5000 SNPs (HWE dosages, MAF ~ U(0.05, 0.5)), 200 causal SNPs with normal
effects, heritability 0.5. Train 1800 / test 200; the CNN (training defaults: standardised
dosages, early stopping on a 10 % inner split via ``train_cnn``) vs ridge with a
leave-one-out penalty.  Compares the current ``snpcnn_default`` with the original one.

Run: ``.venv/bin/python benchmarks/tuning/sim_additive.py``
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
from sklearn.linear_model import RidgeCV
from tune_default import ORIGINAL

from snpcnn.cv import TRAIN_DEFAULTS
from snpcnn.training import TrainConfig, train_cnn


def main() -> None:
    rng = np.random.default_rng(1)
    n, p, q = 2000, 5000, 200
    maf = rng.uniform(0.05, 0.5, p)
    x = rng.binomial(2, maf, size=(n, p)).astype("float32")
    beta = np.zeros(p)
    beta[rng.choice(p, q, replace=False)] = rng.normal(size=q)
    g = (x - x.mean(0)) @ beta
    y = g + rng.normal(scale=g.std(), size=n)
    y = ((y - y.mean()) / y.std()).astype("float32")
    xs = ((x - x.mean(0)) / x.std(0)).astype("float32")
    tr, te = np.arange(1800), np.arange(1800, n)
    ridge = RidgeCV(alphas=np.logspace(1, 5, 20)).fit(xs[tr], y[tr])
    print(f"ridge r = {np.corrcoef(ridge.predict(xs[te]), y[te])[0, 1]:.3f}")
    train = {k: v for k, v in TRAIN_DEFAULTS.items() if k != "scaling"}
    for name, model in (("snpcnn_default", "snpcnn_default"), ("original", ORIGINAL)):
        res = train_cnn(xs[tr, :, None], y[tr], TrainConfig(model=model, **train), seed=0)
        pred = res.model.predict(xs[te, :, None], verbose=0)[:, 0]
        print(f"{name}: r = {np.corrcoef(pred, y[te])[0, 1]:.3f}, best epoch {res.best_epochs}")


if __name__ == "__main__":
    main()
