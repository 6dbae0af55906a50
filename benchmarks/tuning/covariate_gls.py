"""How much does it matter that the v5 default takes the covariates' fixed effects from GBLUP's
GLS when its CNN-GP start is kept?  Per mice fold: the CNN-GP with the covariates fitted jointly
(its own GLS) vs the CNN-GP on y minus GBLUP's GLS fixed effects (what the default does).

    .venv/bin/python benchmarks/tuning/covariate_gls.py [TRAIT ...]   # default Obesity.BMI

Mice, 5-fold (seed 0), GENDER + Litter as in start_choice.py mice; ~8 min on 2 cores.
"""

import sys

import numpy as np
import pandas as pd

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
import start_choice as sc

from snpcnn.baselines import make_baseline
from snpcnn.cv import _gls
from snpcnn.io import read_genotypes

d = sc.ROOT.parent / "shared" / "data" / "mice"
g = read_genotypes(d / "mice.bed")
ph = sc._pheno(d / "mice_phenotypes.csv")
samples = list(map(str, g.samples))
c = sc._pheno(d / "mice_covariates.csv").set_index("sample_id")
c = pd.get_dummies(c[["GENDER", "Litter"]].astype(str), drop_first=True, dtype=float)
have = [s for s in samples if s in c.index]
ph = ph[ph["sample_id"].isin(have)]
folds = sc._random_folds(samples, 5, 0)
index = {s: i for i, s in enumerate(samples)}
rows = []
for trait in sys.argv[1:] or ["Obesity.BMI"]:
    p = ph[["sample_id", trait]].dropna()
    y = p.set_index("sample_id")[trait]
    for f in sorted(folds["fold"].unique()):
        test_ids = set(folds.loc[folds["fold"] == f, "sample_id"])
        tr_ids = [s for s in p["sample_id"] if s not in test_ids and s in index]
        te_ids = [s for s in p["sample_id"] if s in test_ids and s in index]
        tr = np.array([index[s] for s in tr_ids])
        te = np.array([index[s] for s in te_ids])
        x = sc._impute(g.dosages[np.concatenate([tr, te])], np.arange(len(tr)))
        xtr, xte = x[: len(tr)], x[len(tr) :]
        ytr, yte = y[tr_ids].to_numpy(float), y[te_ids].to_numpy(float)
        ctr, cte = c.loc[tr_ids].to_numpy(float), c.loc[te_ids].to_numpy(float)
        joint = make_baseline("cnn_gp").fit(xtr, ytr, ctr)
        r_joint = sc._r(joint.predict(xte, cte), yte)
        xs = xtr - xtr.mean(0)
        coef, _ = _gls(xs, ytr, ctr)
        ftr = np.column_stack([np.ones(len(tr)), ctr]) @ coef
        fte = np.column_stack([np.ones(len(te)), cte]) @ coef
        two = make_baseline("cnn_gp").fit(xtr, ytr - ftr)
        r_two = sc._r(fte + two.predict(xte), yte)
        rows.append(dict(trait=trait, fold=f, r_joint=r_joint, r_gblup_gls=r_two))
        print(rows[-1], flush=True)
df = pd.DataFrame(rows)
print(df.groupby("trait")[["r_joint", "r_gblup_gls"]].mean())
