"""Study (session 21, issue 16): does the CNN-GP gain from reading the wheat panel's
markers in an LD order?  The wheat panel has no map (adjacent markers' mean r^2 0.04 vs
0.025 for random pairs), so the CNN-GP's windows of 5 adjacent columns group unlinked
markers.  Per shipped fold and environment: the CNN-GP (REML, as the baseline) on the file's
column order and on the training part's LD order (snpcnn.ldorder.ld_order), GBLUP beside
them; Pearson r on the test fold.

    .venv/bin/python benchmarks/tuning/cnn_gp_order.py     # ~ 2 min

Rows go to benchmarks/results/cnn_gp_order.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    from snpcnn.baselines import CNNGP, GBLUP
    from snpcnn.io import read_genotypes
    from snpcnn.ldorder import ld_order

    g = read_genotypes(ROOT / "example_data" / "wheat.bed")
    ph = pd.read_csv(ROOT / "example_data" / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph.set_index("sample_id")
    folds = pd.read_csv(ROOT / "example_data" / "wheat_cv_folds.csv", dtype={"sample_id": str})
    folds = folds.set_index("sample_id")
    ids = np.asarray(g.samples).astype(str)
    x = np.asarray(g.dosages, dtype=np.float64)
    fold = folds.loc[ids, "cv_fold"].to_numpy()
    rows = []
    for k in np.unique(fold):
        tr, te = fold != k, fold == k
        order = ld_order(x[tr])
        for trait in ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]:
            y = ph.loc[ids, trait].to_numpy(dtype=np.float64)
            row = {"fold": int(k), "trait": trait}
            for name, model, cols in (
                ("GBLUP", GBLUP(), slice(None)),
                ("CNN-GP file order", CNNGP(), slice(None)),
                ("CNN-GP LD order", CNNGP(), order),
            ):
                m = model.fit(x[tr][:, cols], y[tr])
                p = m.predict(x[te][:, cols])
                row[name] = float(np.corrcoef(p, y[te])[0, 1])
                if name.startswith("CNN-GP"):
                    row[f"{name} loglik"] = float(m.loglik_) if hasattr(m, "loglik_") else np.nan
                    row[f"{name} depth"] = m.depth_
            rows.append(row)
            print(row, flush=True)
    out = pd.DataFrame(rows)
    out.to_csv(ROOT / "benchmarks" / "results" / "cnn_gp_order.csv", index=False)
    cols = ["GBLUP", "CNN-GP file order", "CNN-GP LD order"]
    print(out.groupby("trait")[cols].mean().round(3).to_string())
    print("mean", out[cols].mean().round(3).to_dict())


if __name__ == "__main__":
    sys.exit(main())
