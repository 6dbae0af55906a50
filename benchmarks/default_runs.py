"""The default CNN against GBLUP, ridge, RKHS, GBLUP-AD and EG-BLUP (issue 16): archive the runs
of one version of the default and write docs/bench/default_<version>.md.

Runs of v5, the default of sessions 11-16 (2 CPU cores; regenerate them with, today,
``--models snpcnn_default_v5``)::

    snpcnn benchmark benchmarks/configs/simulated.toml --models snpcnn_default --workers 2 \
        --out bench_out/simulated_v5
    snpcnn benchmark benchmarks/configs/wheat.toml --models snpcnn_default --workers 2 \
        --out bench_out/wheat_v5
    snpcnn benchmark benchmarks/configs/mice.toml --models snpcnn_default --workers 2 \
        --out bench_out/mice_v5
    snpcnn benchmark benchmarks/configs/wheat_random.toml --models snpcnn_default --workers 2 \
        --out bench_out/wheat_random_v5

then::

    .venv/bin/python benchmarks/default_runs.py v5 --archive bench_out   # into benchmarks/results
    .venv/bin/python benchmarks/default_runs.py v5                       # render from the archive
    .venv/bin/python benchmarks/assemble_docs.py

v6, the default since session 17 (measured as the candidate preset ``snpcnn_default_v6``,
identical to ``snpcnn_default`` today apart from its name), was run the same way with
``--models snpcnn_default_v6`` and ``--out bench_out/<config>_v6`` (simulated.toml and wheat.toml
in session 16, mice.toml and wheat_random.toml in session 17; mice's repeat 0 alone first, in
session 16, archived as mice_default_v6_repeat0), the sweep's sets with ``--datasets small
--models snpcnn_default_v6 --out bench_out/v6_sweep_small`` (session 16) and ``--datasets wide
--models snpcnn_default --out bench_out/v6_sweep_wide`` (session 17, v6 being the default),
then ``default_runs.py v6 --archive bench_out``.  The v5 preset is ``snpcnn_default_v5`` today
(``--models snpcnn_default_v5`` reruns v5).

v7 (session 18; measured as the candidate preset ``snpcnn_default_v7``) was run the same way
with ``--models snpcnn_default_v7`` and ``--out bench_out/<config>_v7`` for simulated.toml,
wheat.toml and mice.toml, and the sweep's small set with ``--datasets small --models
snpcnn_default_v7 --out bench_out/v7_sweep_small``; then ``default_runs.py v7 --archive
bench_out``.  The sweep's wide set followed in session 19, v7 being the default:
``--datasets wide --models snpcnn_default --out bench_out/v7_sweep_wide`` (the archive step
takes the default's rows where the candidate's are absent).  wheat_random.toml followed in
session 20: ``--models snpcnn_default --out bench_out/wheat_random_v7`` (before it,
``benchmarks/tuning/lasso_proposals.py wheat_random`` scanned where v7 would propose its LASSO
start on the wheat random folds: nowhere that v6 would not propose its own start).

v4 (the preset ``snpcnn_default_v4`` today) was run the same way with ``--out
bench_out/<config>_v4``.  v3 (the preset ``snpcnn_default_v3`` today) was run the same way, serially, with ``--out
bench_out/simulated``, ``bench_out/wheat_v3``, ``bench_out/mice_v3`` and, with ``--workers 2``,
``benchmarks/configs/wheat_random.toml`` into ``bench_out/wheat_random_v3``.  ``--workers 2``
gives the same results as a serial ``--threads 1`` run (docs/bench/workers.md).

The tables are Pearson r between observed and predicted values in each test fold, mean over
the folds (a collapsed fold, constant predictions, counts as r = 0 and is flagged); "kept" is
the number of folds in which the default's convolutional correction passed its gate.
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT / "benchmarks" / "results"
#: bench_out folder -> archive folder, per version of the default
RUNS = {
    "v3": {
        "simulated": "simulated_v3",
        "wheat_v3": "wheat_default_v3",
        "mice_v3": "mice_default_v3",
        "wheat_random_v3": "wheat_random_default_v3",
    },
    "v4": {
        "simulated_v4": "simulated_default_v4",
        "wheat_v4": "wheat_default_v4",
        "mice_v4": "mice_default_v4",
        "wheat_random_v4": "wheat_random_default_v4",
    },
    "v5": {
        "simulated_v5": "simulated_default_v5",
        "wheat_v5": "wheat_default_v5",
        "mice_v5": "mice_default_v5",
        "wheat_random_v5": "wheat_random_default_v5",
    },
    "v6": {
        "simulated_v6": "simulated_default_v6",
        "wheat_v6": "wheat_default_v6",
        "mice_v6": "mice_default_v6",
        "wheat_random_v6": "wheat_random_default_v6",
        "v6_sweep_small": "simulated_sweep_small_v6",
        "v6_sweep_wide": "simulated_sweep_wide_v6",
    },
    "v7": {
        "simulated_v7": "simulated_default_v7",
        "wheat_v7": "wheat_default_v7",
        "mice_v7": "mice_default_v7",
        "wheat_random_v7": "wheat_random_default_v7",
        "v7_sweep_small": "simulated_sweep_small_v7",
        "v7_sweep_wide": "simulated_sweep_wide_v7",
    },
}
#: the model (row and unit) name of a version's runs where it is not "snpcnn_default": v6
#: was run as the candidate preset snpcnn_default_v6 (``--models snpcnn_default_v6``); its
#: rows are renamed to the default's on reading
MODEL = {"v6": "snpcnn_default_v6", "v7": "snpcnn_default_v7"}
REAL = [
    ("wheat_default", "Wheat, the 10 shipped folds (`benchmarks/configs/wheat.toml`)"),
    (
        "wheat_random_default",
        "Wheat, 5 x random 10-fold (`benchmarks/configs/wheat_random.toml`, 50 test folds per "
        "trait; run with `--workers 2`, whose results equal a serial `--threads 1` run)",
    ),
    (
        "mice_default",
        "Mice, 3 x 5-fold with GENDER + Litter as fixed effects (`benchmarks/configs/mice.toml`)",
    ),
]
SIM = {
    "v3": "simulated_v3",
    "v4": "simulated_default_v4",
    "v5": "simulated_default_v5",
    "v6": "simulated_default_v6",
    "v7": "simulated_default_v7",
}
DESIGN = {
    "v3": "v3: RR-BLUP start with its penalty by leave-one-out (preset `snpcnn_default_v3`)",
    "v5": "v5, the default of sessions 11-16 (preset `snpcnn_default_v5` today): the start is chosen per training part by REML between "
    "RR-BLUP with its penalty by REML (= GBLUP) and the CNN-GP (chosen if its REML "
    "log-likelihood is higher by more than 1.92), and the v4 convolutions are cross-fitted on "
    "the chosen start's leave-one-out residuals. `CNN-GP starts` = folds whose start was the "
    "CNN-GP (from each fold's record, `starts.csv` in the archive). Where REML proposes the "
    "CNN-GP, the convolutions are cross-fitted on both starts and the CNN-GP pipeline is kept "
    "only if its out-of-fold squared errors on the training rows are significantly lower "
    "(paired t-test, p < 0.05). The simulated run was made at commit 4024b2f, before that "
    "significance test was added (the lower out-of-fold error alone decided); it kept the "
    "GBLUP-equivalent pipeline in every simulated fold, so the test cannot change those "
    "numbers. Wheat and mice were run at commit 58f7da7",
    "v6": "v6, the default since session 17 (measured as the preset `snpcnn_default_v6`, the "
    "default apart from its name): v5 with GBLUP-AD on the CNN's input as a third "
    "start. Per training part REML fits RR-BLUP (= GBLUP), the CNN-GP and GBLUP-AD; the "
    "alternative with the highest REML log-likelihood is proposed if it beats GBLUP's by more "
    "than 1.92, the convolutions are cross-fitted on both starts, and the alternative's "
    "pipeline is kept only if its out-of-fold squared errors on the training rows are "
    "significantly lower (paired t-test, p < 0.05). `alt. starts` = folds whose start was the "
    "CNN-GP / GBLUP-AD (`starts.csv` in the archive)",
    "v7": "v7, the candidate of session 18 (preset `snpcnn_default_v7`): v6 with the LASSO on "
    "the CNN's input as a fourth start. Per training part REML proposes as in v6; the LASSO "
    "(penalty by 5-fold CV inside the training part) replaces that proposal where its "
    "inner-CV squared error is below the leave-one-out squared error of GBLUP and of REML's "
    "proposal; the convolutions are cross-fitted on both starts (on the LASSO's 5-fold "
    "cross-fitted residuals) and the proposal's pipeline is kept only if its out-of-fold "
    "squared errors on the training rows are significantly lower (paired t-test, p < 0.05). "
    "`alt. starts` = folds whose start was the CNN-GP / GBLUP-AD / LASSO; `proposed` = folds "
    "where REML proposed the CNN-GP / GBLUP-AD and inner CV the LASSO (`starts.csv` in the "
    "archive)",
    "v4": "v4: RR-BLUP start with its penalty by REML, which is GBLUP "
    "itself (fixed effects by GLS with covariates). Re-run on 2026-12-02 (session 9) with the "
    "shared training step (`snpcnn.fastfit`): the cross-fitted networks' batch order changed, "
    "so the simulated numbers moved where the convolutions are kept (session 8: local "
    "epistasis 0.711, weak-LD pairs 0.720, dominance 0.584, mixed 0.580); wheat and mice, "
    "where they are dropped, are unchanged",
}
ORDER = [
    "snpcnn_default",
    "snpcnn_default start (RR-BLUP)",
    "CNN start (RR-BLUP)",
    "snpcnn_default start (RR-BLUP or CNN-GP)",
    "snpcnn_default start (RR-BLUP, CNN-GP or GBLUP-AD)",
    "snpcnn_default start (RR-BLUP, CNN-GP, GBLUP-AD or LASSO)",
    "GBLUP",
    "ridge",
    "RKHS",
    "GBLUP-AD",
    "EG-BLUP",
    "snpcnn_default+GBLUP",
]
BASELINES = ["GBLUP", "ridge", "RKHS", "GBLUP-AD", "EG-BLUP"]
RUN_DATE = {"v5": "2026-12-02", "v6": "2026-12-02 and 2026-12-03", "v7": "2026-12-03"}


def archive(bench_dir: Path, version: str) -> None:
    for src_name, dst_name in RUNS[version].items():
        src = bench_dir / src_name
        if not (src / "results.csv").exists():
            print(f"skip {src}: no results.csv")
            continue
        dst = ARCHIVE / dst_name
        copy_run(src, dst)
        model = MODEL.get(version, "snpcnn_default")
        if not any((src / "units").glob(f"*/*/{model}")):  # run as the default itself
            model = "snpcnn_default"
        starts = _starts(src, model)
        if starts is not None:
            starts.to_csv(dst / "starts.csv", index=False)
        print(f"archived {src} -> {dst}")


def copy_run(src: Path, dst: Path) -> None:
    """A benchmark run's results.csv (gzipped, reproducibly), results.md and run.json into the
    archive folder ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    with open(dst / "results.csv.gz", "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fo:
            fo.write((src / "results.csv").read_bytes())
    for name in ("results.md", "run.json"):
        shutil.copyfile(src / name, dst / name)


def _starts(src: Path, model: str = "snpcnn_default") -> pd.DataFrame | None:
    """Per fold of the default: the start it took, REML's log-likelihood gain of the best
    alternative start and whether the convolutions were kept (from the run's unit records)."""
    rows = []
    for f in sorted((src / "units").glob(f"*/*/{model}/seed*/r*_f*.json")):
        h = (json.loads(f.read_text()).get("result") or {}).get("history") or {}
        conv = h.get("conv") or {}
        if "start" not in conv:
            continue
        choice = conv.get("start_choice") or {}
        rows.append(
            {
                "trait": f.parts[-4],
                "repeat": h.get("repeat"),
                "fold": h.get("fold"),
                "start": conv["start"],
                "reml_choice": choice.get("reml_choice"),
                # the start whose pipeline was tested against GBLUP's (oof_mse's other key)
                "proposed": next((k for k in choice.get("oof_mse") or {} if k != "ridge"), "ridge"),
                "loglik_gain": choice.get("loglik_gain"),
                "kernel_depth": choice.get("kernel_depth"),
                "kept": bool((conv.get("kept") or [False])[0]),
            }
        )
    if not rows:
        return None
    return pd.DataFrame(rows).sort_values(["trait", "repeat", "fold"])


def _n_kernel(run: str, trait: str) -> str:
    path = ARCHIVE / run / "starts.csv"
    if not path.exists():
        return ""
    t = pd.read_csv(path)
    t = t[t["trait"] == trait]
    if not len(t):
        return ""
    n_gp = int((t["start"] == "cnn_gp").sum())
    if run.endswith("_v7"):
        kinds = ("cnn_gp", "gblup_ad", "lasso")
        kept = " / ".join(str(int((t["start"] == k).sum())) for k in kinds)
        # REML's proposals where inner CV did not replace them by the LASSO's
        prop = [
            int(((t["reml_choice"] == k) & (t["proposed"] != "lasso")).sum()) for k in kinds[:2]
        ]
        prop.append(int((t["proposed"] == "lasso").sum()))
        return f"{kept} of {len(t)} (proposed {' / '.join(map(str, prop))})"
    if not (t["start"] == "gblup_ad").any() and not run.endswith("_v6"):
        return f"{n_gp} of {len(t)}"
    kept = f"{n_gp} / {int((t['start'] == 'gblup_ad').sum())} of {len(t)}"
    if "reml_choice" not in t:
        return kept
    prop = [int((t["reml_choice"] == k).sum()) for k in ("cnn_gp", "gblup_ad")]
    return f"{kept} (REML proposed {prop[0]} / {prop[1]})"


def _table(run: str) -> tuple[pd.DataFrame, dict]:
    d = pd.read_csv(ARCHIVE / run / "results.csv.gz")
    meta = json.loads((ARCHIVE / run / "run.json").read_text())
    model = MODEL.get(run.rsplit("_", 1)[-1])
    if model:  # a candidate preset's rows under the default's names
        d["model"] = d["model"].str.replace(model, "snpcnn_default", regex=False)
    # the v7 sweep run was made before `snpcnn benchmark` dropped the whole ", by ..." from the
    # start row's name, which left "... or LASSO or inner CV)": the same row
    d["model"] = d["model"].str.replace(" or LASSO or inner CV)", " or LASSO)", regex=False)
    d = d[d["metric"] == "pearson_r"].copy()
    d["r"] = np.where(d["status"] == "collapsed", 0.0, d["value"])
    return d, meta


def _signed(v: float) -> str:
    return f"{0.0 if abs(v) < 5e-4 else v:+.3f}"


def _kept(meta: dict, trait: str) -> str:
    for u in meta["units"]:
        if u.get("trait") == trait and u.get("conv_kept"):
            k, n = u["conv_kept"]
            return f"{k} of {n}"
    return ""


def sim_cells(t: pd.DataFrame, ceiling: float) -> tuple[pd.Series, str]:
    """One simulated trait's rows (Pearson r): the mean r per model, and the table cells
    ceiling | default | start | the baselines (collapsed folds counted in brackets)."""
    means = t.groupby("model")["r"].mean()
    coll = t[t["status"] == "collapsed"].groupby("model").size()

    def cell(m):
        if m not in means:
            return "–"
        c = f" ({coll[m]})" if m in coll else ""
        return f"{means[m]:.3f}{c}"

    start = next((m for m in ORDER[1:6] if m in means), None)
    cells = [f"{ceiling:.3f}", cell("snpcnn_default"), cell(start) if start else "–"]
    return means, " | ".join(cells + [cell(b) for b in BASELINES])


def _alt_header(version: str) -> str:
    if version == "v7":
        return "alt. starts (CNN-GP / GBLUP-AD / LASSO)"
    return "alt. starts (CNN-GP / GBLUP-AD)" if version == "v6" else "CNN-GP starts"


def render(version: str) -> None:
    lines = [
        f"# The default CNN ({version}) against the additive and non-additive baselines (issue 16)",
        "",
        f"Design: {DESIGN[version]}. Pearson r between observed and predicted values in each "
        f"test fold, mean over folds (2 CPU cores, snpcnn 0.1.0, {RUN_DATE.get(version, '2026-12-01')}). A collapsed fold "
        "(constant predictions) enters the mean as r = 0 and is counted in brackets. `start` = "
        "the default's start alone (RR-BLUP; in v5 the start each fold kept), the CNN without its convolutions; kept = folds in "
        "which the convolutions' correction passed the gate. Regenerate: see "
        f"`benchmarks/default_runs.py` (`benchmarks/default_runs.py {version}`).",
        "",
    ]
    if not (ARCHIVE / SIM[version] / "results.csv.gz").exists():
        lines += [
            "## Simulated architectures",
            "",
            f"Not run with {version}: see the earlier version's section.",
            "",
        ]
        return _real(lines, version)
    sim, meta = _table(SIM[version])
    truth = meta["data"]["sim"]["inputs"]["truth"]
    lines += [
        "## Simulated architectures (`benchmarks/configs/simulated.toml`, 5-fold)",
        "",
        "2,000 x 4,000 LD genotypes (seed 1). Ceiling = corr(true genetic value, y) in the "
        "sample. `best baseline` = the highest of GBLUP, ridge, RKHS, GBLUP-AD, EG-BLUP.",
        "",
        "| trait | ceiling | default CNN | start | GBLUP | ridge | RKHS | GBLUP-AD | EG-BLUP "
        f"| CNN - best baseline | kept | {_alt_header(version)} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for trait in sim["trait"].unique():
        means, cells = sim_cells(sim[sim["trait"] == trait], truth[trait]["ceiling"])
        best = max(means[b] for b in BASELINES if b in means)
        lines.append(
            f"| {trait} | {cells}"
            + f" | {_signed(means['snpcnn_default'] - best)} | {_kept(meta, trait)} | "
            f"{_n_kernel(SIM[version], trait)} |"
        )
    lines.append("")
    if version in ("v6", "v7"):
        for name in SWEEP_SETS:
            _sweep(lines, name, version)
    _real(lines, version)


#: the sweep's genotype sets (benchmarks/configs/simulated_sweep.toml), for v6's tables
SWEEP_SETS = {
    "small": "1,000 x 3,000 LD genotypes (LD 0.8, seed 21)",
    "wide": "2,000 x 8,000 LD genotypes (8 chromosomes, LD 0.95, blocks of ~80 SNPs)",
}


def _means_of(run: str, dataset: str, model: str | None = None) -> pd.Series:
    """Mean Pearson r per trait of one model (the default's rows where ``model`` is None) in
    an archived run, on one data set (collapsed folds as r = 0)."""
    t, _ = _table(run)
    t = t[(t["dataset"] == dataset) & (t["model"] == (model or "snpcnn_default"))]
    return t.groupby("trait")["r"].mean()


def _sweep(lines: list[str], name: str, version: str = "v6") -> None:
    """A version of the default on one of the sweep's sets (``snpcnn benchmark
    benchmarks/configs/simulated_sweep.toml --datasets <name> --workers 2``; v6: ``--models
    snpcnn_default_v6 --out bench_out/v6_sweep_small`` in session 16, ``--models snpcnn_default
    --out bench_out/v6_sweep_wide`` in session 17, once v6 was the default; v7: ``--models
    snpcnn_default_v7 --out bench_out/v7_sweep_small`` in session 18 and ``--models
    snpcnn_default --out bench_out/v7_sweep_wide`` in session 19, once v7 was the default;
    archived as
    simulated_sweep_<name>_<version>), beside the previous version on the same folds (v5:
    the archive simulated_sweep_v5) and, for v7, the LASSO baseline (the archive lasso)."""
    run = f"simulated_sweep_{name}_{version}"
    if not (ARCHIVE / run / "results.csv.gz").exists():
        return
    sw, meta = _table(run)
    truth = meta["data"][name]["inputs"]["truth"]
    prev = "v5" if version == "v6" else "v6"
    prev_run = "simulated_sweep_v5" if prev == "v5" else f"simulated_sweep_{name}_v6"
    prev_means = _means_of(prev_run, name)
    lasso = pd.Series(dtype=float)
    if version == "v7" and (ARCHIVE / "lasso" / "results.csv.gz").exists():
        lasso = _means_of("lasso", name, "LASSO")
    extra = " LASSO |" if version == "v7" else ""
    lines += [
        f"## The sweep's `{name}` set (`simulated_sweep.toml --datasets {name}`, 5-fold)",
        "",
        f"{SWEEP_SETS[name]}, settings the default was not developed on. `{prev}` = the {prev} "
        "default on the same folds"
        + (
            "; `LASSO` = the LASSO baseline on the same folds (docs/bench/lasso.md)"
            if version == "v7"
            else " (docs/bench/simulated_sweep.md)"
        )
        + ".",
        "",
        "| trait | ceiling | default CNN | start | GBLUP | ridge | RKHS | GBLUP-AD | EG-BLUP "
        f"| CNN - best baseline | {prev} |{extra} kept | {_alt_header(version)} |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        + ("---:|" if extra else "")
        + "---|---|",
    ]
    for trait in sw["trait"].unique():
        means, cells = sim_cells(sw[sw["trait"] == trait], truth[trait]["ceiling"])
        best = max(means[b] for b in BASELINES if b in means)
        old = f"{prev_means[trait]:.3f}" if trait in prev_means else "–"
        las = (f" {lasso[trait]:.3f} |" if trait in lasso else " – |") if extra else ""
        lines.append(
            f"| {trait} | {cells} | {_signed(means['snpcnn_default'] - best)} | {old} |{las} "
            f"{_kept(meta, trait)} | {_n_kernel(run, trait)} |"
        )
    lines.append("")


def _real(lines: list[str], version: str) -> None:
    for base, title in REAL:
        run = f"{base}_{version}"
        if not (ARCHIVE / run / "results.csv.gz").exists():
            continue
        wh, wmeta = _table(run)
        lines += [
            f"## {title}",
            "",
            "| trait | default CNN | start | GBLUP | ridge | RKHS | GBLUP-AD | EG-BLUP | "
            f"CNN+GBLUP | kept | {_alt_header(version)} |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
        ]
        rows = []
        start = next(m for m in ORDER[1:6] if m in set(wh["model"]))
        for trait in wh["trait"].unique():
            means = wh[wh["trait"] == trait].groupby("model")["r"].mean()
            rows.append(means)
            lines.append(
                f"| {trait} | {means['snpcnn_default']:.3f} | "
                f"{means[start]:.3f} | "
                + " | ".join(f"{means[b]:.3f}" for b in BASELINES)
                + f" | {means.get('snpcnn_default+GBLUP', float('nan')):.3f} | "
                f"{_kept(wmeta, trait)} | {_n_kernel(run, trait)} |"
            )
        m = pd.DataFrame(rows).mean()
        cols = [start] + BASELINES + ["snpcnn_default+GBLUP"]
        lines.append(
            "| mean | "
            + f"{m['snpcnn_default']:.3f} | "
            + " | ".join(f"{m[c]:.3f}" for c in cols)
            + " | | |"
        )
        lines.append("")
    if version == "v7":
        _v7_not_rerun(lines)
    out = ROOT / "docs" / "bench" / f"default_{version}.md"
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


def _v7_not_rerun(lines: list[str]) -> None:
    """v7's note on the runs it did not repeat, with the scan of the wheat random folds."""
    scan = ARCHIVE / "lasso_proposals_wheat_random.csv"
    rerun = (ARCHIVE / "wheat_random_default_v7" / "results.csv.gz").exists()
    if rerun and (ARCHIVE / "simulated_sweep_wide_v7" / "results.csv.gz").exists():
        return  # every run re-made with v7 (wheat random folds: session 20)
    lines += ["## Not re-run with v7", ""]
    if scan.exists() and not rerun:
        t = pd.read_csv(scan)
        ratio = t["lasso_cv_mse"] / t["gblup_loo_mse"]
        per = ", ".join(
            f"{tr} {int(g['lasso_proposed'].sum())} of {len(g)}" for tr, g in t.groupby("trait")
        )
        lines += [
            "Wheat, 5 x random 10-fold: not re-run. `benchmarks/tuning/lasso_proposals.py "
            "wheat_random` computed, on each of the 200 training parts, what v7's start choice "
            "computes for the LASSO (its inner 5-fold CV error) and GBLUP's leave-one-out error "
            f"(`benchmarks/results/lasso_proposals_wheat_random.csv`): the LASSO would be proposed "
            f"in {per} training parts (its inner-CV error / GBLUP's leave-one-out error: median "
            f"{ratio.median():.3f}, smallest {ratio.min():.3f}) if GBLUP were the incumbent. In "
            "the one training part where its error was lower than GBLUP's (GY_E4, repeat 0, fold "
            "1: 0.791 vs 0.798) REML proposes the CNN-GP, whose leave-one-out error is lower "
            "still (0.753), so v7 proposes the CNN-GP there, as v6 does (checked with v7's own "
            "start choice on that training part). So v7 makes v6's proposal in all 200, and runs "
            "v6's code path: on the shipped wheat folds and on mice, where it was re-run, it is "
            "bit-identical to v6.",
            "",
        ]
    if not (ARCHIVE / "simulated_sweep_wide_v7" / "results.csv.gz").exists():
        lines += [
            "The sweep's `wide` set (2,000 x 8,000): not re-run with v7 (time); its v6 numbers "
            "are in [default_v6](#the-default-cnn-v6-against-the-additive-and-non-additive-"
            "baselines-issue-16).",
            "",
        ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("version", choices=sorted(RUNS), help="version of the default")
    ap.add_argument("--archive", type=Path, help="bench_out folder to archive from first")
    a = ap.parse_args()
    if a.archive:
        archive(a.archive, a.version)
    render(a.version)


if __name__ == "__main__":
    main()
