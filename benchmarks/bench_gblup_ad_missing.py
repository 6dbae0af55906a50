"""GBLUP-AD with missing genotype calls: the dominance code of a mean-imputed call.

Missing calls are set at random (MCAR) in the wheat and mice panels (which have none), imputed
with the training part's mean dosage as snpcnn's pipelines do, and GBLUP-AD is fitted on 5
folds with two codings of the imputed calls:

* ``polynomial`` (snpcnn up to session 41): the Vitezica polynomial at the mean dosage,
  ``w(2p) = 2pq``, i.e. a heterozygote's code;
* ``mean code`` (now): the SNP's mean code over the training part's whole-number calls.

Printed per panel, trait and missing rate: mean Pearson r over the test folds, the chosen
dominance shares and the REML h2.  Run: ``.venv/bin/python benchmarks/bench_gblup_ad_missing.py``
(about 25 minutes on 2 cores shared with other jobs).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import snpcnn  # noqa: E402
from snpcnn.baselines import GBLUPAD, gblup, kernels_at_scale  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
PANELS = {
    "wheat": (
        ROOT / "example_data" / "wheat.vcf.gz",
        ROOT / "example_data" / "wheat_phenotypes.csv",
        ["GY_E1", "GY_E3"],
    ),
    "mice": (
        SHARED / "mice" / "mice.bed",
        SHARED / "mice" / "mice_phenotypes.csv",
        ["Obesity.BMI", "Obesity.BodyLength"],
    ),
}


def _polynomial(X, p, fill=None):
    """The coding before: the polynomial everywhere (no unknown-call code)."""
    return X * ((1.0 + 2.0 * p) - X) - 2.0 * p * p, np.zeros(X.shape[1])


def run(panel: str, trait: str, rate: float, coding: str, folds: int = 5) -> dict:
    geno_path, pheno_path, _ = PANELS[panel]
    g = snpcnn.read_genotypes(str(geno_path))
    X0 = np.asarray(g.dosages[:]).astype(float)
    ph = pd.read_csv(pheno_path, dtype=str)
    ph = ph.set_index(ph.columns[0]).reindex([str(s) for s in g.samples])
    y_all = pd.to_numeric(ph[trait], errors="coerce").to_numpy()
    ok = np.isfinite(y_all)
    X0, y = X0[ok], y_all[ok]
    rng = np.random.default_rng(20261206)
    miss = rng.random(X0.shape) < rate
    fold = rng.permutation(np.arange(len(y)) % folds)
    if coding == "polynomial":
        saved = kernels_at_scale.dominance_codes_of, gblup.dominance_codes_of
        kernels_at_scale.dominance_codes_of = gblup.dominance_codes_of = _polynomial
    rs, shares, h2 = [], [], []
    try:
        for k in range(folds):
            tr, te = fold != k, fold == k
            X = np.where(miss, np.nan, X0)
            mu = np.nanmean(X[tr], axis=0)
            X = np.where(miss, mu, X)
            m = GBLUPAD().fit(X[tr], y[tr])
            rs.append(float(np.corrcoef(m.predict(X[te]), y[te])[0, 1]))
            shares.append(float(m.dominance_share_))
            h2.append(float(m.h2_))
    finally:
        if coding == "polynomial":
            kernels_at_scale.dominance_codes_of, gblup.dominance_codes_of = saved
    return {
        "panel": panel,
        "trait": trait,
        "missing": rate,
        "coding": coding,
        "r": float(np.mean(rs)),
        "shares": shares,
        "h2": float(np.mean(h2)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.1, 0.3])
    ap.add_argument("--panels", nargs="+", default=list(PANELS))
    args = ap.parse_args()
    for panel in args.panels:
        for trait in PANELS[panel][2]:
            for rate in args.rates:
                for coding in ("polynomial", "mean code"):
                    if rate == 0.0 and coding == "polynomial":
                        continue  # no unknown call: the same fit
                    print(json.dumps(run(panel, trait, rate, coding)), flush=True)


if __name__ == "__main__":
    main()
