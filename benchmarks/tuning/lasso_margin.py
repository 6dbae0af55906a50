"""Scan (session 20, issue 16): how strong is the evidence behind each of v7's LASSO proposals?

v7 proposes its LASSO start (a second cross-fit of the convolutions, then the out-of-fold
pipeline test) wherever the LASSO's inner 5-fold CV squared error is below the incumbent's
leave-one-out squared error, by any margin.  On traits without additive signal both errors
are about the trait's variance, so a proposal there is a coin toss that costs a second
cross-fit (and in one of the sweep's `wide` triples folds the LASSO start was even taken).
The start choice now also records ``lasso_proposal_p``: a one-sided paired t-test, row by row
over the training part, that the LASSO's squared errors are lower than the incumbent's.

This script runs a benchmark config's datasets with the default at 1 epoch (the start choice
does not depend on the epochs; the networks are only there because the start choice runs
inside ``train_cnn``) and no baselines, then joins each fold's proposal statistics with the
archived v7 run of the same config (same folds): which start v7 took there, whether its
convolutions were kept, and the fold's test r.  Nothing is fitted on a test fold.

    .venv/bin/python benchmarks/tuning/lasso_margin.py simulated       # simulated.toml
    .venv/bin/python benchmarks/tuning/lasso_margin.py sweep_small     # simulated_sweep, small
    .venv/bin/python benchmarks/tuning/lasso_margin.py sweep_wide      # simulated_sweep, wide

Trait names after the set's name run only those traits (rows go to ..._some.csv).

Rows go to benchmarks/results/lasso_margin_<name>.csv.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results"
SCANS = {
    # name: (config, --datasets or None, archived v7 run and its model's name, v6's)
    "simulated": (
        "simulated.toml",
        None,
        ("simulated_default_v7", "snpcnn_default_v7"),
        ("simulated_default_v6", "snpcnn_default_v6"),
    ),
    "sweep_small": (
        "simulated_sweep.toml",
        "small",
        ("simulated_sweep_small_v7", "snpcnn_default"),
        ("simulated_sweep_small_v6", "snpcnn_default_v6"),
    ),
    "sweep_wide": (
        "simulated_sweep.toml",
        "wide",
        ("simulated_sweep_wide_v7", "snpcnn_default"),
        ("simulated_sweep_wide_v6", "snpcnn_default"),
    ),
}
MODEL = """
[[models]]
name = "scan"
preset = "snpcnn_default"
scaling = "center"
epochs = 1
patience = 1
"""


def _only_traits(text: str, traits: list[str]) -> str:
    """The config text without the simulated traits not named in ``traits``."""
    head = "[[datasets.simulate.traits]]"
    parts = text.split(head)
    out = parts[0]
    for part in parts[1:]:
        # the trait's own lines end where the next table starts (e.g. the next dataset)
        m = re.search(r"(?m)^\[", part)
        body, rest = (part[: m.start()], part[m.start() :]) if m else (part, "")
        name = re.search(r'(?m)^name = "([^"]+)"', body)
        if name and name.group(1) in traits:
            out += head + body
        out += rest
    return out


def _scan_config(config: str, work: Path, traits: list[str] | None) -> Path:
    """The config with its baselines removed and the default at 1 epoch as its one model
    (and only the simulated ``traits``, if given)."""
    text = (ROOT / "benchmarks" / "configs" / config).read_text()
    text = text[: text.index("[[models]]")]
    text = re.sub(r"(?m)^baselines = \[.*\]$", "baselines = []", text)
    if traits:
        text = _only_traits(text, traits)
    path = work / config
    path.write_text(text + MODEL)
    return path


def _proposals(run: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((run / "units").glob("*/*/scan/seed*/r*_f*.json")):
        h = (json.loads(f.read_text()).get("result") or {}).get("history") or {}
        choice = (h.get("conv") or {}).get("start_choice") or {}
        if "lasso_cv_mse" not in choice:
            continue
        loo = choice["loo_mse"]
        rows.append(
            {
                "trait": f.parts[-4],
                "repeat": h.get("repeat"),
                "fold": h.get("fold"),
                "lasso_cv_mse": choice["lasso_cv_mse"],
                "incumbent": min(loo, key=loo.get),
                "incumbent_loo_mse": min(loo.values()),
                "lasso_n_selected": choice.get("lasso_n_selected"),
                "lasso_proposal_p": choice["lasso_proposal_p"],
                "v7_rule_proposes": choice["lasso_cv_mse"] < min(loo.values()),
            }
        )
    return pd.DataFrame(rows)


def _fold_r(archive: str, model: str, column: str) -> pd.DataFrame:
    """Per-fold test Pearson r of ``model`` in an archived run."""
    with gzip.open(OUT / archive / "results.csv.gz", "rt") as fh:
        res = pd.read_csv(fh)
    res = res[(res["model"] == model) & (res["metric"] == "pearson_r")]
    return res[["trait", "repeat", "fold", "value"]].rename(columns={"value": column})


def main(name: str, traits: list[str]) -> None:
    config, datasets, (archive, v7_model), v6 = SCANS[name]
    work = ROOT / "bench_out" / "lasso_margin"
    work.mkdir(parents=True, exist_ok=True)
    out = work / name
    cmd = [sys.executable, "-m", "snpcnn", "benchmark", str(_scan_config(config, work, traits))]
    cmd += ["--workers", "2", "--out", str(out), "--force"]
    if datasets:
        cmd += ["--datasets", datasets]
    subprocess.run(cmd, check=True, cwd=ROOT)
    scan = _proposals(out)
    arch = OUT / archive
    starts = pd.read_csv(arch / "starts.csv")[
        ["trait", "repeat", "fold", "start", "proposed", "kept"]
    ]
    keys = ["trait", "repeat", "fold"]
    table = scan.merge(
        starts.rename(columns={"start": "v7_start", "proposed": "v7_proposed", "kept": "v7_kept"}),
        on=keys,
        how="left",
    )
    table = table.merge(_fold_r(archive, v7_model, "v7_r"), on=keys, how="left")
    # where a margin withdraws v7's proposal, the default runs v6's code path in that fold
    table = table.merge(_fold_r(*v6, "v6_r"), on=keys, how="left")
    bad = table["v7_rule_proposes"] != (table["v7_proposed"] == "lasso")
    if bad.any():
        print(
            f"warning: {int(bad.sum())} folds where the scan's proposal differs from the archive's"
        )
    OUT.mkdir(parents=True, exist_ok=True)
    table.to_csv(OUT / f"lasso_margin_{name}{'_some' if traits else ''}.csv", index=False)
    pd.set_option("display.width", 200)
    print(table.drop(columns=["repeat"]).to_string(index=False, float_format=lambda v: f"{v:.4g}"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
