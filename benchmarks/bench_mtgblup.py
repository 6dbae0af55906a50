"""The multi-trait GBLUP (docs/bench/multienv.md).

``wheat`` (default): the wheat environments, CV1 and CV2, 5-fold, seed 0, GBLUP beside it;
in memory and streamed (SNPCNN_STREAM=1, int8 rows in column blocks).  ``--missing F``: a
seeded fraction F of the phenotype cells set missing first (unbalanced trials), and
``--no-stream`` skips the streamed runs.  Run it with PYTHONPATH=OLD_TREE to measure an older
snpcnn on the same data.

``scale``: simulated LD genotypes, two traits with genetic correlation 0.7 (h2 0.5), 20 % of
the cells missing, 20 % of the lines held out; the exact solver (dense system of the
observed cells) and the iterative one (subsample + CG), each in a child process for its
peak RSS; accuracy = Pearson r between predicted and true genetic values of held-out lines.

    python benchmarks/bench_mtgblup.py [wheat|scale] [--lines 4000,16000] [--snps 5000]
        [--missing 0.3] [--no-stream] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAITS = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]


def phenotypes(missing: float) -> Path:
    """The wheat phenotypes, with a seeded fraction ``missing`` of the cells set missing."""
    import pandas as pd

    path = ROOT / "example_data" / "wheat_phenotypes.csv"
    if not missing:
        return path
    ph = pd.read_csv(path)
    rng = np.random.default_rng(33)
    for t in TRAITS:
        ph.loc[rng.random(len(ph)) < missing, t] = np.nan
    out = ROOT / "bench_out" / f"wheat_phenotypes_missing{missing:g}.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    ph.to_csv(out, index=False)
    return out


def run(scheme: str, stream: str, missing: float = 0.0) -> dict:
    from snpcnn.cv import MT_LABEL, cross_validate

    os.environ["SNPCNN_STREAM"] = stream
    t0 = time.perf_counter()
    res = cross_validate(
        ROOT / "example_data" / "wheat.bed",
        phenotypes(missing),
        TRAITS,
        folds=5,
        cnn=False,
        baselines=["gblup", "mtgblup"],
        refit=False,
        cv_scheme=scheme,
        seed=0,
    )
    seconds = time.perf_counter() - t0
    m = res.metrics[res.metrics.metric == "pearson_r"]
    table = {
        model: {
            t: [round(float(m[(m.model == model) & (m.trait == t)].value.mean()), 4),
                round(float(m[(m.model == model) & (m.trait == t)].value.std()), 4)]
            for t in TRAITS
        }
        for model in ("GBLUP", MT_LABEL)
    }  # fmt: skip
    pred = res.predictions[res.predictions.model == MT_LABEL].sort_values(
        ["sample_id", "trait", "fold"]
    )
    return {"r": table, "seconds": seconds, "pred": pred["predicted"].to_numpy()}


def _child(lines: int, snps: int, solver: str, seed: int) -> dict:
    import resource

    from snpcnn.multitrait import MultiTraitGBLUP
    from snpcnn.simulate import simulate_genotypes

    g = simulate_genotypes(lines, snps, seed=seed)
    X = np.asarray(g.dosages, dtype=np.float32)
    X[X < 0] = 1.0
    rng = np.random.default_rng(seed)
    Z = X - X.mean(axis=0)
    u1 = rng.normal(size=snps)
    u2 = 0.7 * u1 + np.sqrt(1 - 0.49) * rng.normal(size=snps)
    gv = np.column_stack([Z @ u1, Z @ u2])
    gv /= gv.std(axis=0)
    Y = gv + rng.normal(size=gv.shape)
    Y[rng.random(Y.shape) < 0.2] = np.nan
    test = rng.random(lines) < 0.2
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    t0 = time.perf_counter()
    m = MultiTraitGBLUP(solver=solver).fit(X[~test], Y[~test])
    pred = m.predict(X[test])
    seconds = time.perf_counter() - t0
    return {
        "lines": lines,
        "snps": snps,
        "solver": m.solver_,
        "cells": int((~np.isnan(Y[~test])).sum()),
        "seconds": round(seconds, 1),
        "peak_rss_gb_before_fit": round(before, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2),
        "r_true_gv": [round(float(np.corrcoef(pred[:, j], gv[test, j])[0, 1]), 4) for j in (0, 1)],
        "cg": getattr(m, "cg_", None),
        "genetic_correlation": round(float(m.genetic_correlations[0, 1]), 3),
    }


def scale(args) -> dict:
    import subprocess
    import sys

    from snpcnn.multitrait import MAX_CELLS

    rows = []
    for lines in [int(v) for v in args.lines.split(",")]:
        for solver in ("exact", "iterative"):
            if solver == "exact" and 2 * 0.8 * 0.8 * lines > MAX_CELLS:
                rows.append({"lines": lines, "solver": "exact", "skipped": "cells > MAX_CELLS"})
                continue
            code = (
                "import json, sys; sys.path.insert(0, 'benchmarks'); import bench_mtgblup as b; "
                f"print(json.dumps(b._child({lines}, {args.snps}, {solver!r}, {args.seed})))"
            )
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    return {"scale": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", nargs="?", default="wheat", choices=("wheat", "scale"))
    ap.add_argument("--lines", default="4000,16000")
    ap.add_argument("--snps", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=31)
    ap.add_argument("--out", default="")
    ap.add_argument("--missing", type=float, default=0.0)
    ap.add_argument("--no-stream", action="store_true")
    args = ap.parse_args()
    if args.mode == "scale":
        out = scale(args)
        path = Path(args.out or "bench_out/mtgblup_scale.json")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(out, indent=1))
        return
    args.out = args.out or "bench_out/mtgblup.json"
    out = {}
    for scheme in ("cv1", "cv2"):
        mem = run(scheme, "0", args.missing)
        out[scheme] = {"r": mem["r"], "seconds_in_memory": round(mem["seconds"], 2)}
        if not args.no_stream:
            streamed = run(scheme, "1", args.missing)
            out[scheme]["seconds_streamed"] = round(streamed["seconds"], 2)
            diff = float(np.max(np.abs(mem["pred"] - streamed["pred"])))
            out[scheme]["max_abs_diff_streamed"] = diff
        print(scheme, json.dumps(out[scheme], indent=1), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
