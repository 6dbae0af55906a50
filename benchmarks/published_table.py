"""Assemble docs/bench/published_table.md from finished ``snpcnn benchmark`` runs.

Each run directory holds ``results.csv`` (one row per fold x model x trait x metric) and
``results.md``.  The runs behind the committed table (2 CPU cores; every run is
deterministic, so rerunning a command gives the same numbers)::

    snpcnn benchmark benchmarks/configs/wheat.toml --out bench_out/wheat_presets \\
        --models snpcnn_default,perez_enciso_2019,deepgs,mlp      # default as of v1 (ridge)
    snpcnn benchmark benchmarks/configs/wheat.toml --out bench_out/wheat_default_v2 \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/wheat_dnngp.toml --out bench_out/wheat_dnngp
    snpcnn benchmark benchmarks/configs/wheat_random.toml --out bench_out/wheat_random \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_default \\
        --models snpcnn_default                                    # default as of v1 (ridge)
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_default_v2 \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_presets \\
        --models perez_enciso_2019,deepgs,mlp

then::

    .venv/bin/python benchmarks/published_table.py --bench-dir bench_out

Runs that are missing are listed as not run.  "v1" marks the previous default
(``linear_init="ridge"``, no gate): its runs predate the change of default, so its rows
are relabelled ``snpcnn_default (v1)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bench" / "published_table.md"

# run directory -> relabelling of its models (None: keep); runs listed in display order
RUNS = {
    "wheat_default_v2": None,
    "wheat_presets": {
        "snpcnn_default": "snpcnn_default (v1)",
        "snpcnn_default+GBLUP": "snpcnn_default (v1)+GBLUP",
    },
    "wheat_dnngp": None,
    "wheat_random": None,
    "mice_default_v2": None,
    "mice_default": {
        "snpcnn_default": "snpcnn_default (v1)",
        "snpcnn_default+GBLUP": "snpcnn_default (v1)+GBLUP",
    },
    "mice_presets": None,
}
CROSSA = {
    "Crossa et al. 2010 marker BLUP": [0.480, 0.488, 0.355, 0.464],
    "Crossa et al. 2010 marker RKHS": [0.601, 0.494, 0.445, 0.524],
}
WHEAT = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]
MICE = ["Obesity.BMI", "Obesity.BodyLength"]


def _load(bench_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    frames, found = [], []
    for run, rename in RUNS.items():
        path = bench_dir / run / "results.csv"
        if not path.exists():
            continue
        found.append(run)
        d = pd.read_csv(path)
        d = d[d["metric"] == "pearson_r"].copy()
        if rename:
            d["model"] = d["model"].replace(rename)
        d["run"] = run
        frames.append(d)
    if not frames:
        raise SystemExit(f"no results.csv under {bench_dir}")
    return pd.concat(frames, ignore_index=True), found


def _cell(d: pd.DataFrame, gblup: pd.DataFrame) -> str:
    """'mean r (wins/folds)': mean over ok folds; wins = folds with r > GBLUP's r."""
    ok = d[d["status"] == "ok"]
    if ok.empty:
        return "collapsed" if len(d) else ""
    text = f"{ok['value'].mean():.3f}"
    if d["model"].iloc[0] == "GBLUP" or gblup.empty:
        return text
    key = ["seed", "repeat", "fold"]
    m = d.merge(gblup[key + ["value"]], on=key, suffixes=("", "_g"))
    won = int(((m["status"] == "ok") & (m["value"] > m["value_g"])).sum())
    n_coll = int((d["status"] != "ok").sum())
    extra = f", {n_coll} collapsed" if n_coll else ""
    return f"{text} ({won}/{len(m)}{extra})"


def _table(r: pd.DataFrame, runs: list[str], traits: list[str], extra: dict | None = None):
    d = r[r["run"].isin(runs)]
    if d.empty:
        return ["(not run)"]
    # baselines are identical in every run of one config (same folds): take them once
    models: list[str] = []
    for run in runs:
        for mdl in d[d["run"] == run]["model"].unique():
            if mdl not in models:
                models.append(mdl)
    order = ["GBLUP", "ridge"] + [m for m in models if m not in ("GBLUP", "ridge")]
    lines = ["| model | " + " | ".join(traits) + " |", "|---|" + "---|" * len(traits)]
    for mdl in order:
        cells = []
        for t in traits:
            dt = d[(d["trait"] == t) & (d["model"] == mdl)]
            src = dt["run"].iloc[0] if len(dt) else None
            dt = dt[dt["run"] == src]
            g = d[(d["trait"] == t) & (d["model"] == "GBLUP") & (d["run"] == src)]
            cells.append(_cell(dt, g) if len(dt) else "not run")
        lines.append(f"| {mdl} | " + " | ".join(cells) + " |")
    for name, vals in (extra or {}).items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    return lines


def _with_dnngp(lines: list[str]) -> list[str]:
    """DNNGP's GY_E1 comes from an interrupted run of wheat.toml (10 stored folds)."""
    e1 = "0.409 (10 folds)"
    for i, ln in enumerate(lines):
        if ln.startswith("| dnngp |"):
            cells = ln.split(" | ")
            cells[1] = e1
            lines[i] = " | ".join(cells)
        elif ln.startswith("| dnngp+GBLUP |"):
            cells = ln.split(" | ")
            cells[1] = "not stored"
            lines[i] = " | ".join(cells)
    if any(ln.startswith("| dnngp |") for ln in lines):
        return lines
    row = f"| dnngp | {e1} | not run | not run | not run |"
    return lines[: -len(CROSSA)] + [row] + lines[-len(CROSSA) :]


def render(bench_dir: Path) -> str:
    r, found = _load(bench_dir)
    missing = [run for run in RUNS if run not in found]
    out = [
        "# The published table: CNN presets, GBLUP and ridge on wheat and mice",
        "",
        "Generated by `.venv/bin/python benchmarks/published_table.py` from the "
        "`snpcnn benchmark` runs listed in its docstring (every command is there; 2 CPU "
        "cores, shared with other jobs; deterministic, so rerunning gives the same numbers).",
        "",
        "Each cell: mean Pearson r over the test folds, then (folds where the model's r > "
        "GBLUP's r / folds). `MODEL+GBLUP` is the average of that model's and GBLUP's "
        "predictions. `snpcnn_default` is the current default (`linear_init='ridge_loo'`, "
        "`conv_gate=0.05`); `snpcnn_default (v1)` the previous one (`linear_init='ridge'`, no "
        "gate), kept for comparison.",
        "",
    ]
    if missing:
        out += [f"Runs not present when this was generated: {', '.join(missing)}.", ""]
    out += [
        "## Wheat, the 10 shipped folds, next to the published numbers",
        "",
        *_with_dnngp(
            _table(r, ["wheat_default_v2", "wheat_presets", "wheat_dnngp"], WHEAT, CROSSA)
        ),
        "",
        "Crossa et al. 2010 (Genetics 186:713, Table 3) used 10-fold CV with folds that were "
        "not published; the shipped folds are BGLR's `wheat.sets`, so expect agreement within "
        "about ±0.04, not equality. **DNNGP** (three full-resolution Conv1D(64, 4) layers "
        "with batch norm: 942 s for 10 folds on 2 CPU cores) ran on GY_E1 within an "
        "interrupted run of `wheat.toml` (its 10 stored folds give the GY_E1 number; its "
        "ensemble with GBLUP was not stored) and on GY_E2 to GY_E4 with `wheat_dnngp.toml`"
        + ("." if "wheat_dnngp" in found else " (not run yet)."),
        "",
        "## Wheat, 5 repeats of random 10-fold (50 test folds per trait)",
        "",
        *_table(r, ["wheat_random"], WHEAT, CROSSA),
        "",
        "Only the default and the baselines were run with this config (the presets' 10-fold "
        "runs above took 22 min for 4 models; 5 repeats of all of them did not fit the "
        "session).",
        "",
        "## Mice, 5-fold x 3 repeats, GENDER + Litter as covariates of every model",
        "",
        *_table(r, ["mice_default_v2", "mice_default", "mice_presets"], MICE),
        "",
        "DNNGP was not run on mice (three full-resolution convolutions over 10,346 SNPs: "
        "by the wheat timing, hours on 2 CPU cores).",
        "",
    ]
    for run in found:
        md = bench_dir / run / "results.md"
        if md.exists():
            body = md.read_text().splitlines()
            # demote the run's own headings one level under ours
            body = [("#" + ln) if ln.startswith("#") else ln for ln in body]
            note = []
            if RUNS.get(run) and "snpcnn_default" in RUNS[run]:
                note = [
                    "In this run `snpcnn_default` is the previous default (v1, "
                    "`linear_init='ridge'`, no gate).",
                    "",
                ]
            out += [f"## Full output: `{run}`", "", *note, *body, ""]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=REPO / "bench_out")
    ap.add_argument("--out", type=Path, default=DOC)
    a = ap.parse_args(argv)
    a.out.write_text(render(a.bench_dir))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
