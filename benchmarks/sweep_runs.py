"""The default at simulated settings it was never tuned on (issue 16, item 1): archive the run of
``benchmarks/configs/simulated_sweep.toml`` and write docs/bench/simulated_sweep.md.

    snpcnn benchmark benchmarks/configs/simulated_sweep.toml --workers 2 --out bench_out/sweep
    .venv/bin/python benchmarks/sweep_runs.py --archive bench_out/sweep   # into benchmarks/results
    .venv/bin/python benchmarks/sweep_runs.py                              # render from the archive
    .venv/bin/python benchmarks/assemble_docs.py

Pearson r between observed and predicted values in each test fold, mean over the 5 folds; a
collapsed fold (constant predictions) counts as r = 0 and is counted in brackets.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from default_runs import BASELINES, _kept, _signed, _starts, copy_run, sim_cells

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "results" / "simulated_sweep_v5"
OUT = ROOT / "docs" / "bench" / "simulated_sweep.md"


def archive(src: Path) -> None:
    copy_run(src, RUN)
    starts = _starts(src)
    if starts is not None:
        starts.to_csv(RUN / "starts.csv", index=False)
    print(f"archived {src} -> {RUN}")


def render() -> None:
    d = pd.read_csv(RUN / "results.csv.gz")
    meta = json.loads((RUN / "run.json").read_text())
    starts = pd.read_csv(RUN / "starts.csv")
    d = d[d["metric"] == "pearson_r"].copy()
    d["r"] = np.where(d["status"] == "collapsed", 0.0, d["value"])
    lines = [
        "# The default at simulated settings it was never tuned on (issue 16)",
        "",
        "`benchmarks/configs/simulated_sweep.toml`: two genotype sets and eight traits whose "
        "sizes, LD, numbers of loci, heritabilities, group order (pairs or triples) and seeds "
        "differ from `simulated.toml`, on which the default was developed. The v5 default "
        "(the default of sessions 11-16; preset `snpcnn_default_v5` today) against GBLUP, ridge, "
        "RKHS, GBLUP-AD and EG-BLUP on the same 5 folds; v6, the default since session 17, on "
        "the same folds: docs/bench/default_v6.md. Pearson r "
        "between observed and predicted values in each test fold, mean over the folds; a "
        "collapsed fold (constant predictions) enters as r = 0 and is counted in brackets. "
        "Ceiling = corr(true genetic value, y) in the sample; `start` = the default without "
        "its convolutions (the start each fold kept); kept = folds in which the convolutions' "
        "correction passed its gate; CNN-GP starts = folds whose start was the CNN-GP. "
        f"Run on {meta['created'][:10]}, snpcnn {meta['snpcnn_version']}, 2 CPU cores, "
        f"`--workers 2`, {meta['wall_seconds'] / 60:.0f} min. Regenerate: "
        "`benchmarks/sweep_runs.py`.",
        "",
    ]
    for ds, sub in d.groupby("dataset", sort=False):
        info = meta["data"][ds]
        truth = info["inputs"]["truth"]
        sim = meta["config"]["datasets"]
        sim = next((s for s in sim if s["name"] == ds), {}).get("simulate", {})
        lines += [
            f"## `{ds}`: {info['n_samples_genotyped']:,} samples x {info['n_snps']:,} SNPs"
            + (f" (LD {sim['ld']}, blocks of ~{sim['block_length']:g} SNPs)" if sim else ""),
            "",
            "| trait | ceiling | default CNN | start | GBLUP | ridge | RKHS | GBLUP-AD | "
            "EG-BLUP | CNN - GBLUP | CNN - best baseline | kept | CNN-GP starts |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        for trait in sub["trait"].unique():
            means, cells = sim_cells(sub[sub["trait"] == trait], truth[trait]["ceiling"])
            best = max(means[b] for b in BASELINES if b in means)
            st = starts[starts["trait"] == trait]
            lines.append(
                f"| {trait} | {cells}" + f" | {_signed(means['snpcnn_default'] - means['GBLUP'])}"
                f" | {_signed(means['snpcnn_default'] - best)} | {_kept(meta, trait)} | "
                f"{int((st['start'] == 'cnn_gp').sum())} of {len(st)} |"
            )
        lines.append("")
    OUT.write_text("\n".join(lines))
    print(f"wrote {OUT}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archive", type=Path, help="bench_out folder to archive from first")
    a = ap.parse_args()
    if a.archive:
        archive(a.archive)
    render()


if __name__ == "__main__":
    main()
