"""The default's starts above ``kernel_max_samples`` training rows (session 31): REML
compares the ridge, GBLUP-AD and the CNN-GP on a 3,000-row subsample; GBLUP-AD's marker
effects by CG on every row, the CNN-GP by its Nystrom fit through the subsample as
landmarks.  Before, the start was the ridge (GBLUP) there.  One split of simulated LD
genotypes: the start alone against GBLUP and the GBLUP-AD / CNN-GP baselines, test Pearson r,
seconds and peak RSS, each in a child process.

    python benchmarks/bench_large_dominance_start.py [--n 8000] [--snps 3000] [--trait dominance]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def _child(what: str, n: int, snps: int, trait: str, seed: int) -> dict:
    import resource

    from snpcnn.preprocess import GenotypePreprocessor
    from snpcnn.simulate import simulate_genotypes, simulate_trait

    g = simulate_genotypes(n, snps, seed=seed)
    y, _ = simulate_trait(g, architecture=trait, n_loci=10, h2=0.5, seed=seed + 1)
    y = np.asarray(y, dtype=np.float64)
    n_train = int(0.8 * n)
    tr, te = np.arange(n_train), np.arange(n_train, n)
    pre = GenotypePreprocessor(scaling="center").fit(g, tr)
    x_tr, x_te = pre.transform(g, tr), pre.transform(g, te)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    t0 = time.perf_counter()
    out: dict = {"model": what, "n_train": n_train, "snps": snps, "trait": trait}
    if what == "start":
        from snpcnn.training import TrainConfig, _choose_start

        mu, sd = y[tr].mean(), y[tr].std()
        z = ((y[tr] - mu) / sd).astype(np.float32)[:, None]
        start, choice = _choose_start(x_tr, z, TrainConfig(model="snpcnn_default"), "regression")
        pred = (
            start.predict(x_te)[:, 0] if start is not None else np.full(len(te), np.nan)
        ) * sd + mu
        out["chosen"] = choice.get("chosen")
        out["gblup_ad_share"] = choice.get("gblup_ad_share")
        out["lasso_n_selected"] = choice.get("lasso_n_selected")
        out["lasso_subsample"] = choice.get("lasso_subsample")
        out["loglik_gain"] = choice.get("loglik_gain")
        out["loglik"] = choice.get("loglik")
    else:
        from snpcnn.baselines import CNNGP, GBLUP, GBLUPAD, Lasso

        model = {"GBLUP": GBLUP, "GBLUP-AD": GBLUPAD, "CNN-GP": CNNGP, "LASSO": Lasso}[what]()
        d_tr = x_tr.reshape(n_train, -1) + pre.fill_
        d_te = x_te.reshape(len(te), -1) + pre.fill_
        pred = model.fit(d_tr, y[tr]).predict(d_te)
        out["solver"] = getattr(model, "solver_", None)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    out["peak_rss_gb_before"] = round(before, 2)
    out["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    out["r_test"] = (
        round(float(np.corrcoef(pred, y[te])[0, 1]), 4) if np.isfinite(pred).all() else None
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--snps", type=int, default=3000)
    ap.add_argument("--trait", default="dominance")
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--models", default="start,GBLUP,GBLUP-AD")
    ap.add_argument("--out", default="bench_out/large_dominance_start.json")
    args = ap.parse_args()
    rows = []
    for what in args.models.split(","):
        code = (
            "import json, sys; sys.path.insert(0, 'benchmarks'); "
            "import bench_large_dominance_start as b; "
            f"print(json.dumps(b._child({what!r}, {args.n}, {args.snps}, {args.trait!r}, "
            f"{args.seed})))"
        )
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if res.returncode:
            print(res.stderr[-3000:], file=sys.stderr)
            raise SystemExit(res.returncode)
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
