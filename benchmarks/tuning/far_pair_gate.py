"""Study (session 23, issue 16): does the all-pairs screen's far-pair gate hold its level?

v9's screen ([screen] all_pairs) lets a pair of SNPs beyond ``ld_reach`` in the LD order take
a window only if its score is significant at 5% after Bonferroni over every far pair
(snpcnn.training.FAR_PAIR_ALPHA; the statistic is rows x squared correlation, read as
chi-square with 1 df).  Under the null (the start's residuals permuted across rows) a far
pair should pass in at most 5% of the draws.  On wheat (no map: the default seriates the
markers by LD) with GBLUP's exact leave-one-out residuals (REML, as the default's start):

* ``raw``: the gate as shipped in session 22: Pearson's statistic on the raw residuals;
* ``normal_scores``: the gate as shipped since session 23: the same statistic on the
  residuals' rank-based normal scores (snpcnn.training.normal_scores).

For each GY trait, ``--perm`` permutations: the share of draws where any far pair passes
(the family-wise error rate) and the mean number that pass; ``observed``: far pairs that
pass on the unpermuted residuals.  All rows, no test fold (a study of the gate, not a CV).

    .venv/bin/python benchmarks/tuning/far_pair_gate.py --perm 100    # ~ 2 min

Rows go to benchmarks/results/far_pair_gate.csv.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from local_signal_null import _Gblup
    from scipy import stats

    from snpcnn.io import read_genotypes
    from snpcnn.ldorder import screen_order
    from snpcnn.training import FAR_PAIR_ALPHA, far_pair_scores, normal_scores

    ap = argparse.ArgumentParser()
    ap.add_argument("--perm", type=int, default=100)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/far_pair_gate.csv"))
    args = ap.parse_args()

    g = read_genotypes(ROOT / "example_data/wheat.bed")
    ph = pd.read_csv(ROOT / "example_data/wheat_phenotypes.csv").set_index("sample_id")
    x = g.dosages.astype(np.float32)
    x[g.dosages < 0] = np.nan
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x).astype(np.float32)
    xc = x - x.mean(axis=0)
    order, rec = screen_order(xc, "auto")
    xs = xc[:, order] if order is not None else xc
    gram = (xc @ xc.T).astype(np.float64)
    model = _Gblup(gram / np.mean(np.diag(gram)))
    ids = [int(s) for s in g.samples]
    reach, n = 16, len(xs)

    def passes(r: np.ndarray, transform: bool) -> int:
        t = normal_scores(r, n) if transform else r
        _, _, sc, n_far = far_pair_scores(xs, t, reach, keep=32)
        key = stats.chi2.logsf(n * sc, 1) + np.log(max(n_far, 1))
        return int(np.sum(key < np.log(FAR_PAIR_ALPHA)))

    rows = []
    for trait in ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]:
        y = ph.loc[ids, trait].to_numpy(float)
        r = model.fit(y - y.mean()).loo_resid
        rng = np.random.default_rng(0)
        perms = [rng.permutation(r) for _ in range(args.perm)]
        for label, transform in (("raw", False), ("normal_scores", True)):
            got = np.array([passes(p, transform) for p in perms])
            rows.append(
                dict(
                    trait=trait,
                    gate=label,
                    observed=passes(r, transform),
                    fwer=float((got > 0).mean()),
                    mean_passing=float(got.mean()),
                    n_perm=args.perm,
                    resid_excess_kurtosis=float(stats.kurtosis(r)),
                    order=rec.get("used"),
                )
            )
            print(rows[-1], flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out, index=False)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
