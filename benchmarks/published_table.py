"""Assemble docs/bench/published_table.md from finished ``snpcnn benchmark`` runs.

Each run directory holds ``results.csv`` (one row per fold x model x trait x metric) and
``results.md``.  The runs behind the committed table (2 CPU cores; every run is
deterministic, so rerunning a command gives the same numbers)::

    snpcnn benchmark benchmarks/configs/wheat.toml --out bench_out/wheat_default_v2 \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/wheat.toml --out bench_out/wheat_presets \\
        --models snpcnn_default_v1,perez_enciso_2019,deepgs,mlp
    snpcnn benchmark benchmarks/configs/wheat_dnngp.toml --out bench_out/wheat_dnngp
    snpcnn benchmark benchmarks/configs/wheat_random.toml --out bench_out/wheat_random \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/wheat_random.toml --out bench_out/wheat_random_presets \\
        --models perez_enciso_2019,deepgs,mlp
    snpcnn benchmark benchmarks/configs/wheat_random_dnngp.toml \\
        --out bench_out/wheat_random_dnngp                           # repeat 0 of 5 only
    snpcnn benchmark benchmarks/configs/wheat_random.toml --models dnngp \\
        --repeats 1,2,3,4 --out bench_out/wheat_random_dnngp_r1-4     # repeats 1-4 of 5
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_default_v2 \\
        --models snpcnn_default
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_default \\
        --models snpcnn_default_v1
    snpcnn benchmark benchmarks/configs/mice.toml --out bench_out/mice_presets \\
        --models perez_enciso_2019,deepgs,mlp

then::

    .venv/bin/python benchmarks/published_table.py --bench-dir bench_out --archive

``--archive`` copies each finished run's ``results.csv`` (gzipped), ``results.md`` and
``run.json`` into ``benchmarks/results/RUN/``, which is committed: the table can then be
regenerated without rerunning anything (``published_table.py`` alone reads the archive for
runs that are not in ``--bench-dir``).

Four runs predate the archive and their per-fold ``results.csv`` files were lost with a
session's scratch space: ``wheat_presets``, ``wheat_dnngp``, ``mice_default`` and
``mice_presets``.  Their cells are kept, as generated from those files on 2026-11-25, in
``benchmarks/results/legacy_cells.csv`` and their full reports in
``benchmarks/results/RUN/results.md``; rerunning their commands (and ``--archive``) replaces
them with freshly computed ones.

"v1" marks the previous default (``linear_init="ridge"``, no gate).  The legacy runs ran it
as ``snpcnn_default`` (before the change of default); the configs now hold it as
``snpcnn_default_v1``; both are shown as ``snpcnn_default (v1)``.  The RKHS baseline
was added after the legacy runs, so their reports have no RKHS row.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bench" / "published_table.md"
ARCHIVE = REPO / "benchmarks" / "results"
LEGACY = ARCHIVE / "legacy_cells.csv"

_V1 = {
    "snpcnn_default_v1": "snpcnn_default (v1)",
    "snpcnn_default_v1+GBLUP": "snpcnn_default (v1)+GBLUP",
}
# run directory -> relabelling of its models (None: keep); runs listed in display order
RUNS = {
    "wheat_default_v2": None,
    "wheat_presets": _V1,
    "wheat_dnngp": None,
    "wheat_random": None,
    "wheat_random_presets": None,
    "wheat_random_dnngp": None,
    "wheat_random_dnngp_r1-4": None,
    "mice_default_v2": None,
    "mice_default": _V1,
    "mice_presets": None,
}
CROSSA = {
    "Crossa et al. 2010 marker BLUP": [0.480, 0.488, 0.355, 0.464],
    "Crossa et al. 2010 marker RKHS": [0.601, 0.494, 0.445, 0.524],
}
WHEAT = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]
MICE = ["Obesity.BMI", "Obesity.BodyLength"]
BASELINE_ROWS = ["GBLUP", "ridge", "RKHS"]


def _run_file(run: str, bench_dir: Path, name: str, archived: str | None = None) -> Path | None:
    """``name`` of a run: from ``bench_dir`` if the run is there, else from the archive
    (where it is stored as ``archived``, by default the same name)."""
    for path in (bench_dir / run / name, ARCHIVE / run / (archived or name)):
        if path.exists():
            return path
    return None


def _load(bench_dir: Path) -> tuple[pd.DataFrame, list[str]]:
    frames, found = [], []
    for run, rename in RUNS.items():
        path = _run_file(run, bench_dir, "results.csv", "results.csv.gz")
        if path is None:
            continue
        found.append(run)
        d = pd.read_csv(path)
        d = d[d["metric"] == "pearson_r"].copy()
        if rename:
            d["model"] = d["model"].replace(rename)
        d["run"] = run
        frames.append(d)
    cols = ["dataset", "trait", "seed", "repeat", "fold", "model", "value", "status", "run"]
    r = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)
    return r, found


def _legacy(found: list[str]) -> pd.DataFrame:
    """Cells of runs whose per-fold results are gone (only for runs not found)."""
    if not LEGACY.exists():
        return pd.DataFrame(columns=["run", "model", "trait", "cell"])
    leg = pd.read_csv(LEGACY, dtype=str)
    return leg[~leg["run"].isin(found)]


def archive(bench_dir: Path) -> list[str]:
    """Copy the finished runs of ``bench_dir`` into the committed archive."""
    done = []
    for run in RUNS:
        src = bench_dir / run
        if not (src / "results.csv").exists():
            continue
        dst = ARCHIVE / run
        dst.mkdir(parents=True, exist_ok=True)
        data = (src / "results.csv").read_bytes()
        gz = dst / "results.csv.gz"
        if not (gz.exists() and gzip.decompress(gz.read_bytes()) == data):
            # mtime 0: the same results give the same archive bytes (no churn in git)
            with open(gz, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fo:
                fo.write(data)
        for name in ("results.md", "run.json"):
            if (src / name).exists():
                shutil.copyfile(src / name, dst / name)
        done.append(run)
    return done


def _folds_once(d: pd.DataFrame, runs: list[str]) -> pd.DataFrame:
    """One row per (seed, repeat, fold): a model split over runs by ``--repeats`` is joined,
    and a fold that several runs of one config hold (the baselines) is taken from the first
    run in ``runs``."""
    rank = {run: i for i, run in enumerate(runs)}
    d = d.assign(_rank=d["run"].map(rank)).sort_values(["_rank", "seed", "repeat", "fold"])
    return d.drop_duplicates(["seed", "repeat", "fold"]).drop(columns="_rank")


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


def _table(
    r: pd.DataFrame,
    legacy: pd.DataFrame,
    runs: list[str],
    traits: list[str],
    extra: dict | None = None,
):
    d = r[r["run"].isin(runs)]
    leg = legacy[legacy["run"].isin(runs)]
    if d.empty and leg.empty:
        return ["(not run)"]
    # baselines are identical in every run of one config (same folds): take them once
    models: list[str] = []
    for run in runs:
        names = list(d[d["run"] == run]["model"].unique()) + list(
            leg[leg["run"] == run]["model"].unique()
        )
        for mdl in names:
            if mdl not in models:
                models.append(mdl)
    order = [m for m in BASELINE_ROWS if m in models] + [
        m for m in models if m not in BASELINE_ROWS
    ]
    lines = ["| model | " + " | ".join(traits) + " |", "|---|" + "---|" * len(traits)]
    for mdl in order:
        cells = []
        for t in traits:
            dt = _folds_once(d[(d["trait"] == t) & (d["model"] == mdl)], runs)
            if len(dt):
                g = _folds_once(d[(d["trait"] == t) & (d["model"] == "GBLUP")], runs)
                cells.append(_cell(dt, g))
                continue
            lt = leg[(leg["trait"] == t) & (leg["model"] == mdl)]
            cells.append(lt["cell"].iloc[0] if len(lt) else "not run")
        lines.append(f"| {mdl} | " + " | ".join(cells) + " |")
    for name, vals in (extra or {}).items():
        lines.append(f"| {name} | " + " | ".join(f"{v:.3f}" for v in vals) + " |")
    return lines


def _random_dnngp_note(r: pd.DataFrame) -> list[str]:
    runs = ["wheat_random_dnngp", "wheat_random_dnngp_r1-4"]
    d = r[r["run"].isin(runs)]
    dn = d[(d["model"] == "dnngp") & (d["trait"] == WHEAT[0])]
    if dn.empty:
        return [
            "DNNGP was not run with this config (by its shipped-folds timing, 5 x 4 x 94 s x "
            "10 folds is about 5 h on 2 CPU cores)."
        ]
    reps = sorted(int(x) for x in dn["repeat"].unique())
    what = {
        "wheat_random_dnngp": "repeat 0 with `wheat_random_dnngp.toml`",
        "wheat_random_dnngp_r1-4": "repeats 1-4 with "
        "`wheat_random.toml --models dnngp --repeats 1,2,3,4`",
    }
    how = (
        " and ".join(what[run] for run in runs if run in set(dn["run"]))
        + ", on the folds and network seeds of `wheat_random.toml`"
    )
    if len(reps) == 5:
        return [
            f"**DNNGP** ran on all five repeats (50 folds per trait): {how}. It takes about "
            "35 min per repeat on 2 CPU cores."
        ]
    same = ", ".join(
        m
        + " "
        + "/".join(
            f"{_folds_once(d[(d['trait'] == t) & (d['model'] == m)], runs)['value'].mean():.3f}"
            for t in WHEAT
        )
        for m in ("GBLUP", "RKHS")
    )
    return [
        f"**DNNGP** ran on repeat(s) {', '.join(map(str, reps))} of the five only "
        f"({10 * len(reps)} folds per trait: {how}), so its cells are over those folds, while "
        f"the baseline rows above are over all 50. On those same folds: {same} "
        "(GY_E1..GY_E4); its wins are counted against GBLUP on those folds."
    ]


def render(bench_dir: Path) -> str:
    r, found = _load(bench_dir)
    legacy = _legacy(found)
    kept = sorted(set(legacy["run"]))
    missing = [run for run in RUNS if run not in found and run not in kept]
    out = [
        "# The published table: CNN presets, GBLUP, ridge and RKHS on wheat and mice",
        "",
        "Generated by `.venv/bin/python benchmarks/published_table.py` from the "
        "`snpcnn benchmark` runs listed in its docstring (every command is there; 2 CPU "
        "cores, shared with other jobs; deterministic, so rerunning gives the same numbers). "
        "Per-fold results of every run are archived in `benchmarks/results/`.",
        "",
        "Each cell: mean Pearson r over the test folds, then (folds where the model's r > "
        "GBLUP's r / folds). `MODEL+GBLUP` is the average of that model's and GBLUP's "
        "predictions. `RKHS` is the Gaussian-kernel baseline (`snpcnn.baselines.RKHS`). "
        "`snpcnn_default` is the default of these runs (2026-12-01), **v2**, not today's: the "
        "network of preset `snpcnn_default_v2` with `linear_init='ridge_loo'`, "
        "`conv_gate=0.05`, standardised dosages and one inner validation split (each run's "
        "`run.json` in `benchmarks/results/` holds its settings); `snpcnn_default (v1)` the one "
        "before it (`linear_init='ridge'`, no gate), kept for comparison. The current default "
        "(v14 since session 35) is not in this table: its numbers on the same data (wheat, "
        "shipped folds: 0.592 / 0.481 / 0.454 / 0.519) are in the targets table of "
        "docs/benchmarks.md (docs/bench/SUMMARY.md). Until session 44 this paragraph called "
        'the v2 rows "the current default".',
        "",
    ]
    if kept:
        out += [
            f"Runs shown from the cells transcribed before their per-fold results were lost "
            f"(`benchmarks/results/legacy_cells.csv`): {', '.join(kept)}. They predate the "
            "RKHS baseline.",
            "",
        ]
    if missing:
        out += [f"Runs not present when this was generated: {', '.join(missing)}.", ""]
    out += [
        "## Wheat, the 10 shipped folds, next to the published numbers",
        "",
        *_table(r, legacy, ["wheat_default_v2", "wheat_presets", "wheat_dnngp"], WHEAT, CROSSA),
        "",
        "Crossa et al. 2010 (Genetics 186:713, Table 3) used 10-fold CV with folds that were "
        "not published; the shipped folds are BGLR's `wheat.sets`, so expect agreement within "
        "about ±0.04, not equality. **DNNGP** (three full-resolution Conv1D(64, 4) layers "
        "with batch norm: 942 s for 10 folds on 2 CPU cores) ran on GY_E1 within an "
        "interrupted run of `wheat.toml` (its 10 stored folds give the GY_E1 number; its "
        "ensemble with GBLUP was not stored) and on GY_E2 to GY_E4 with `wheat_dnngp.toml`.",
        "",
        "## Wheat, 5 repeats of random 10-fold (50 test folds per trait)",
        "",
        *_table(
            r,
            legacy,
            [
                "wheat_random",
                "wheat_random_presets",
                "wheat_random_dnngp",
                "wheat_random_dnngp_r1-4",
            ],
            WHEAT,
            CROSSA,
        ),
        "",
        *_random_dnngp_note(r),
        "",
        "## Mice, 5-fold x 3 repeats, GENDER + Litter as covariates of every model",
        "",
        *_table(r, legacy, ["mice_default_v2", "mice_default", "mice_presets"], MICE),
        "",
        "DNNGP was not run on mice (three full-resolution convolutions over 10,346 SNPs: "
        "by the wheat timing, hours on 2 CPU cores).",
        "",
    ]
    for run in RUNS:
        md = _run_file(run, bench_dir, "results.md")
        if md is None:
            continue
        body = md.read_text().splitlines()
        # demote the run's own headings one level under ours
        body = [("#" + ln) if ln.startswith("#") else ln for ln in body]
        note = []
        if RUNS.get(run) is _V1:
            name = "snpcnn_default" if run in kept else "snpcnn_default_v1"
            note += [
                f"In this run `{name}` is the previous default (v1, "
                "`linear_init='ridge'`, no gate).",
                "",
            ]
        if run in kept:
            note += [
                "The per-fold `results.csv` of this run was lost; this is its own report, "
                "kept in `benchmarks/results/`.",
                "",
            ]
        out += [f"## Full output: `{run}`", "", *note, *body, ""]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bench-dir", type=Path, default=REPO / "bench_out")
    ap.add_argument("--out", type=Path, default=DOC)
    ap.add_argument(
        "--archive",
        action="store_true",
        help="first copy the finished runs of --bench-dir into benchmarks/results/",
    )
    a = ap.parse_args(argv)
    if a.archive:
        print("archived:", ", ".join(archive(a.bench_dir)) or "nothing")
    a.out.write_text(render(a.bench_dir))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
