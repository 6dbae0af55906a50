"""The sparse linear baseline (LASSO) beside GBLUP and the default CNN (v7) on the same folds
(sessions 17-19, issue 16): archive the run of ``benchmarks/configs/lasso.toml`` and write
docs/bench/lasso.md.

    snpcnn benchmark benchmarks/configs/lasso.toml --models none --workers 2 --out bench_out/lasso
    .venv/bin/python benchmarks/lasso_runs.py --archive bench_out/lasso   # into benchmarks/results
    .venv/bin/python benchmarks/lasso_runs.py                             # render from the archive
    .venv/bin/python benchmarks/assemble_docs.py

The default's numbers come from its archived v7 runs (benchmarks/default_runs.py; the sweep's
sets and simulated.toml re-run in session 19 with the new LASSO solver, as the default): the data
sets of lasso.toml are copied from those configs, so the folds are the same, which the table
checks fold by fold through GBLUP (its r in this run against its r in the default's run).
Pearson r between observed and predicted values in each test fold, mean over the folds; a
collapsed fold (constant predictions) counts as r = 0 and is counted in brackets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from default_runs import copy_run

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "results" / "lasso"
OUT = ROOT / "docs" / "bench" / "lasso.md"
#: data set -> (archive of the default's run, the default's row name there, its version):
#: v7 (sessions 18-19)
DEFAULT_RUNS = {
    "small": ("simulated_sweep_small_v7", "snpcnn_default", "v7"),
    "wide": ("simulated_sweep_wide_v7", "snpcnn_default", "v7"),
    "wheat": ("wheat_default_v7", "snpcnn_default_v7", "v7"),
    "mice": ("mice_default_v7", "snpcnn_default_v7", "v7"),
}
KEYS = ["trait", "repeat", "fold"]


def archive(src: Path) -> None:
    copy_run(src, RUN)
    secs = []
    for f in sorted((src / "units").glob("*/*/baselines/seed*/r*_f*.json")):
        res = json.loads(f.read_text()).get("result") or {}
        secs.append({"dataset": f.parts[-5], "seconds": res.get("seconds_baselines")})
    pd.DataFrame(secs).to_csv(RUN / "seconds.csv", index=False)
    print(f"archived {src} -> {RUN}")


def _r(d: pd.DataFrame) -> pd.DataFrame:
    d = d[d["metric"] == "pearson_r"].copy()
    d["r"] = np.where(d["status"] == "collapsed", 0.0, d["value"])
    return d


def _cell(t: pd.DataFrame) -> str:
    c = int((t["status"] == "collapsed").sum())
    return f"{t['r'].mean():.3f}" + (f" ({c})" if c else "")


def render() -> None:
    d = _r(pd.read_csv(RUN / "results.csv.gz"))
    meta = json.loads((RUN / "run.json").read_text())
    secs = pd.read_csv(RUN / "seconds.csv")
    lines = [
        "# LASSO, the sparse linear baseline, beside GBLUP and the default CNN (issue 16)",
        "",
        "`snpcnn.baselines.Lasso` (`--baselines lasso`; penalty by 5 inner folds of the training "
        "rows, docs/baselines.md; snpcnn's own coordinate-descent solver since session 19, "
        "skglm's in session 18) and GBLUP on the folds of the default's runs "
        "(docs/bench/default_v7.md); `default CNN` is that run's, its version in "
        "brackets. `same folds` = test folds in "
        "which GBLUP's r here equals its r in the default's run to 1e-6. Pearson r, mean over "
        "the test folds; a collapsed fold (constant predictions) counts as r = 0 and is counted "
        f"in brackets. Run on {meta['created'][:10]}, snpcnn {meta['snpcnn_version']}, 2 CPU "
        f"cores, `--workers 2`, {meta['wall_seconds'] / 60:.0f} min in all. Regenerate: "
        "`benchmarks/lasso_runs.py`.",
        "",
        "| data set | trait | GBLUP | LASSO | LASSO - GBLUP | default CNN | same folds |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for ds, (run, model, version) in DEFAULT_RUNS.items():
        here = d[d["dataset"] == ds]
        if not len(here):
            continue
        path = ROOT / "benchmarks" / "results" / run / "results.csv.gz"
        ref = _r(pd.read_csv(path)) if path.exists() else None
        for trait in here["trait"].unique():
            t = here[here["trait"] == trait]
            g, la = t[t["model"] == "GBLUP"], t[t["model"] == "LASSO"]
            diff = la["r"].mean() - g["r"].mean()
            cnn, same = "–", "–"
            if ref is not None:
                rt = ref[ref["trait"] == trait]
                rt = rt.merge(g[KEYS].drop_duplicates(), on=KEYS)  # the folds run here
                cnn = _cell(rt[rt["model"] == model]) if (rt["model"] == model).any() else "–"
                cnn = f"{cnn} ({version})" if cnn != "–" else cnn
                j = (
                    g.set_index(KEYS)["r"]
                    .to_frame("a")
                    .join(rt[rt["model"] == "GBLUP"].set_index(KEYS)["r"].rename("b"), how="inner")
                )
                same = f"{int(((j['a'] - j['b']).abs() < 1e-6).sum())} of {len(g)}"
            lines.append(
                f"| {ds} | {trait} | {_cell(g)} | {_cell(la)} | {diff:+.3f} | {cnn} | {same} |"
            )
    med = secs.groupby("dataset")["seconds"].median()
    lines += [
        "",
        "Seconds per fold for both baselines together (GBLUP + LASSO, median over the data "
        "set's folds and traits; each fold on one of 2 workers): "
        + ", ".join(f"{k} {v:.0f} s" for k, v in med.items())
        + ".",
        "",
    ]
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, help="bench_out/lasso to copy into the archive first")
    args = ap.parse_args()
    if args.archive:
        archive(args.archive)
    render()
