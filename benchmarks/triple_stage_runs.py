"""The v10 and v11 candidates' second stage over SNP triples (issue 16, sessions 25-26): archive benchmark
runs with a per-fold record of the stage, and print their summary tables.

    snpcnn benchmark benchmarks/configs/simulated_triples.toml \
        --models snpcnn_default,snpcnn_default_v10 --workers 2 --out bench_out/triples_v10
    .venv/bin/python benchmarks/triple_stage_runs.py --archive bench_out/triples_v10 \
        simulated_triples_v10                  # into benchmarks/results/simulated_triples_v10
    .venv/bin/python benchmarks/triple_stage_runs.py simulated_triples_v10   # the tables

The tables: per trait and model, the mean Pearson r between observed and predicted values over
the test folds (a collapsed fold, constant predictions, counts as r = 0 and is counted in
brackets), and for the candidate in how many folds the first stage's convolutions were kept,
a triple was significant in their out-of-fold residuals (the second stage ran) and the second
stage's correction was kept (``stages.csv``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from default_runs import copy_run  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "benchmarks" / "results"


def stages(src: Path) -> pd.DataFrame:
    """Per fold of every model with a second stage (v10, v11): its start, whether the first
    stage's convolutions were kept, and the ``triple_stage`` record (from the run's unit
    records)."""
    rows = []
    for f in sorted((src / "units").glob("*/*/*/seed*/r*_f*.json")):
        h = (json.loads(f.read_text()).get("result") or {}).get("history") or {}
        conv = h.get("conv") or {}
        t = conv.get("triple_stage")
        if not t:
            continue
        rows.append(
            {
                "dataset": f.parts[-5],
                "trait": f.parts[-4],
                "model": f.parts[-3],
                "repeat": h.get("repeat"),
                "fold": h.get("fold"),
                "start": conv.get("start"),
                "first_kept": bool((conv.get("kept") or [False])[0]),
                "triple_significant": t.get("triple_significant"),
                "ran": bool(t.get("ran")),
                "kept": bool(t.get("kept")),
                "weight": t.get("weight"),
                "p_value": t.get("p_value"),
                "best_epoch": t.get("best_epoch"),
                "epochs_run": t.get("epochs_run"),
                "oof_r_start": t.get("oof_r_start"),
                "oof_r": t.get("oof_r"),
            }
        )
    return pd.DataFrame(rows)


def archive(src: Path, name: str) -> None:
    dst = ARCHIVE / name
    copy_run(src, dst)
    st = stages(src)
    if len(st):
        st.to_csv(dst / "stages.csv", index=False, float_format="%.6g")
    print(f"archived {src} -> {dst}")


def table(name: str) -> str:
    run = ARCHIVE / name
    d = pd.read_csv(run / "results.csv.gz")
    d = d[d["metric"] == "pearson_r"].copy()
    d["r"] = np.where(d["status"] == "collapsed", 0.0, d["value"])
    st = pd.read_csv(run / "stages.csv") if (run / "stages.csv").exists() else None
    models = list(dict.fromkeys(d["model"]))
    lines = [
        f"`benchmarks/results/{name}`",
        "",
        "| dataset | trait | "
        + " | ".join(m.replace(" (RR-BLUP, CNN-GP, GBLUP-AD or LASSO)", "") for m in models)
        + " | first stage kept | triple stage ran "
        "| triple stage kept |",
        "|---|---|" + "---:|" * len(models) + "---|---|---|",
    ]
    for (ds, trait), t in d.groupby(["dataset", "trait"], sort=False):
        cells = []
        for m in models:
            tm = t[t["model"] == m]
            if not len(tm):
                cells.append("–")
                continue
            n_coll = int((tm["status"] == "collapsed").sum())
            cells.append(f"{tm['r'].mean():.3f}" + (f" ({n_coll})" if n_coll else ""))
        extra = ["", "", ""]
        if st is not None:
            s = st[(st["dataset"] == ds) & (st["trait"] == trait)]
            if "model" not in s:  # archives before session 26 hold one staged model
                s = s.assign(model="snpcnn_default_v10")
            groups = list(s.groupby("model", sort=True))
            if groups:
                extra = [
                    "; ".join(
                        (f"{m.replace('snpcnn_default_', '')}: " if len(groups) > 1 else "")
                        + f"{int(g[c].sum())} of {len(g)}"
                        for m, g in groups
                    )
                    for c in ("first_kept", "ran", "kept")
                ]
        lines.append(f"| {ds} | {trait} | " + " | ".join(cells + extra) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="archived runs to tabulate")
    ap.add_argument("--archive", nargs=2, metavar=("SRC", "NAME"), help="archive a run")
    args = ap.parse_args()
    if args.archive:
        archive(Path(args.archive[0]), args.archive[1])
    for name in args.names:
        print(table(name))
        print()


if __name__ == "__main__":
    main()
