"""Recompute every claim of `snpcnn benchmark`: each number in results.md, results.csv and the
console is recomputed from the file below it.

One tiny run through the CLI: a 90 x 40 data set with a quantitative trait (covariates sex and
age) and a binary trait without signal, two seeds of 3 random folds, baselines GBLUP, ridge and
LASSO (which predicts a constant in some folds of the binary trait), the default CNN (3 epochs)
and a tiny plain CNN, ensembles on.

From the bottom up: the phenotype file and the folds -> `predictions.csv` (the covariates-only
least-squares fit, MODEL+GBLUP averages, the default = its start where its correction was
dropped, per the stored fold results under `units/`) -> `results.csv` (every fold's metric and
status, n_train, n_test, genomic r) -> `results.md` and the console (headline table: mean ± sd,
folds, collapsed, paired difference with GBLUP and folds won; other metrics; timing against
`run.json`; the convolutions' table against `run.json` and the fold results; header lines;
notes).  Printed numbers are compared to the number of decimals printed.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from sklearn.metrics import roc_auc_score
from test_claims import (
    NO_INFORMATION,
    WIN_TOLERANCE,
    assert_printed,
    is_constant,
    md_tables,
)

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N, M, N_EXTRA = 90, 40, 4
FIXED = "Covariates only"
START = "default start (RR-BLUP, CNN-GP, GBLUP-AD or LASSO)"
BASELINES = ["GBLUP", "ridge", "LASSO"]
CNNS = ["default", "tiny"]
#: trait -> (dataset, head, has covariates)
TRAITS = {"y": ("toy", "regression", True), "noise": ("plain", "binary", False)}
SEEDS = [0, 1]
REGRESSION = ["pearson_r", "spearman_rho", "r2", "rmse", "mae"]
BINARY = ["auc", "accuracy"]
LABELS = {
    "pearson_r": "Pearson r",
    "spearman_rho": "Spearman rho",
    "r2": "R^2",
    "rmse": "RMSE",
    "mae": "MAE",
    "auc": "ROC AUC",
    "accuracy": "accuracy",
}
CELL = re.compile(r"^(?P<mean>n/a|[+-]?\d+\.\d+)(?: ± (?P<sd>\d+\.\d+))?$")


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    d = tmp_path_factory.mktemp("claims_bench")
    rng = np.random.default_rng(4)
    g = rng.binomial(2, 0.4, size=(N + N_EXTRA, M))
    sex = rng.choice(["F", "M"], size=N)
    age = rng.normal(30, 5, size=N).round(1)
    beta = np.zeros(M)
    beta[[2, 7, 11, 20, 33]] = [0.8, -0.6, 0.5, 0.7, -0.4]
    y = g[:N] @ beta + 0.5 * g[:N, 2] * g[:N, 3] + 1.5 * (sex == "M") + 0.05 * age
    y = y + rng.normal(size=N)
    ids = [f"s{i}" for i in range(N + N_EXTRA)]
    geno = pd.DataFrame(g, columns=[f"snp{j}" for j in range(M)])
    geno.insert(0, "sample_id", ids)
    geno.to_csv(d / "geno.csv", index=False)
    noise = np.random.default_rng(11).integers(0, 2, N).astype(float)
    ph = pd.DataFrame({"sample_id": ids[:N], "y": 100.0 + y, "noise": noise, "sex": sex})
    ph["age"] = age
    ph.loc[3, "y"] = np.nan  # one sample without the quantitative trait
    ph.to_csv(d / "pheno.csv", index=False)
    shutil.copy(Path(__file__).parents[1] / "benchmarks/configs/tiny_arch.toml", d)
    (d / "bench.toml").write_text(
        f"""name = "claims"
baselines = ["gblup", "ridge", "lasso"]
seeds = {SEEDS}
ensemble = true

[[datasets]]
name = "toy"
genotypes = "geno.csv"
phenotypes = "pheno.csv"
traits = ["y"]
covariates = ["sex", "age"]
categorical = ["sex"]
folds = 3

[[datasets]]
name = "plain"
genotypes = "geno.csv"
phenotypes = "pheno.csv"
traits = ["noise"]
folds = 3

[[models]]
name = "default"
preset = "snpcnn_default"
epochs = 3

[[models]]
name = "tiny"
architecture = "tiny_arch.toml"
epochs = 2
"""
    )
    r = CliRunner().invoke(main, ["benchmark", str(d / "bench.toml"), "--out", str(d / "out")])
    assert r.exit_code == 0, r.output
    out = d / "out"
    b = type("Bench", (), {})()
    b.dir, b.out, b.stdout = d, out, r.stdout
    b.results = pd.read_csv(out / "results.csv")
    b.pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    b.run = json.loads((out / "run.json").read_text())
    b.md = (out / "results.md").read_text()
    b.pheno = ph.set_index("sample_id")
    return b


def section(md: str, title: str) -> str:
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, re.S | re.M)
    assert m, f"no section {title!r}"
    return m.group(1)


def fold_metrics(obs, pr, head) -> tuple[dict, str]:
    status = "collapsed" if is_constant(pr, obs) else "ok"
    if head == "binary":
        return {
            "auc": roc_auc_score(obs, pr) if status == "ok" else np.nan,
            "accuracy": np.mean((pr >= 0.5) == (obs > 0.5)),
        }, status
    resid = obs - pr
    return {
        "pearson_r": np.corrcoef(obs, pr)[0, 1] if status == "ok" else np.nan,
        "spearman_rho": stats.spearmanr(obs, pr)[0] if status == "ok" else np.nan,
        "r2": 1 - np.sum(resid**2) / np.sum((obs - obs.mean()) ** 2),
        "rmse": np.sqrt(np.mean(resid**2)),
        "mae": np.mean(np.abs(resid)),
    }, status


def wide(b, trait) -> pd.DataFrame:
    p = b.pred[b.pred["trait"] == trait]
    return p.pivot(
        index=["seed", "repeat", "fold", "sample_id"], columns="model", values="predicted"
    )


def fold_results(b, trait, model) -> dict[tuple[int, int, int], dict]:
    """The stored result of every fold of a CNN unit (units/...), by (seed, repeat, fold)."""
    out = {}
    for f in sorted((b.out / "units" / TRAITS[trait][0] / trait / model).glob("seed*/r*_f*.json")):
        seed = int(f.parent.name[4:])
        rep, fold = (int(x) for x in re.fullmatch(r"r(\d+)_f(\d+)", f.stem).groups())
        out[(seed, rep, fold)] = json.loads(f.read_text())["result"]
    return out


# ---------------------------------------------------------------- predictions.csv
def test_every_model_predicts_every_sample_once_per_seed(bench):
    for trait, (_, _, cov) in TRAITS.items():
        models = set(BASELINES + CNNS + [START] + [f"{c}+GBLUP" for c in CNNS])
        models |= {FIXED} if cov else set()
        p = bench.pred[bench.pred["trait"] == trait]
        want = set(bench.pheno.index[bench.pheno[trait].notna()])
        assert len(want) == (N - 1 if trait == "y" else N)
        assert set(p["model"]) == models, trait
        for (seed, model), g in p.groupby(["seed", "model"]):
            assert sorted(g["sample_id"]) == sorted(want), (trait, seed, model)
            np.testing.assert_allclose(
                g["observed"].to_numpy(), bench.pheno.loc[g["sample_id"], trait].to_numpy()
            )
        # every model of a seed sees the same test sets
        folds = p.groupby(["seed", "sample_id"])["fold"].nunique()
        assert folds.eq(1).all(), trait


def test_covariates_only_is_least_squares_on_each_training_part(bench):
    ph = bench.pheno
    design = pd.DataFrame({"one": 1.0, "male": (ph["sex"] == "M") * 1.0, "age": ph["age"]})
    for trait in ("y",):
        p = bench.pred[(bench.pred["trait"] == trait) & (bench.pred["model"] == FIXED)]
        assert len(p)
        for (seed, rep, fold), g in p.groupby(["seed", "repeat", "fold"]):
            test = g["sample_id"].to_numpy()
            others = p[(p["seed"] == seed) & (p["repeat"] == rep) & (p["fold"] != fold)]
            train = others["sample_id"].to_numpy()
            coef, *_ = np.linalg.lstsq(
                design.loc[train].to_numpy(), ph.loc[train, trait].to_numpy(), rcond=None
            )
            want = design.loc[test].to_numpy() @ coef
            np.testing.assert_allclose(g["predicted"].to_numpy(), want, rtol=1e-9, atol=1e-9)


def test_each_ensemble_is_the_mean_of_its_cnn_and_gblup(bench):
    for trait in TRAITS:
        w = wide(bench, trait)
        for cnn in CNNS:
            np.testing.assert_allclose(
                w[f"{cnn}+GBLUP"], 0.5 * (w[cnn] + w["GBLUP"]), rtol=1e-12, atol=1e-12
            )


# ------------------------------------------------------------------- results.csv
def test_every_fold_metric_recomputed_from_predictions(bench):
    res = bench.results.set_index(["trait", "seed", "repeat", "fold", "model", "metric"])
    n_rows = 0
    for (trait, seed, rep, fold, model), g in bench.pred.groupby(
        ["trait", "seed", "repeat", "fold", "model"]
    ):
        _, head, cov = TRAITS[trait]
        obs, pr = g["observed"].to_numpy(float), g["predicted"].to_numpy(float)
        vals, status = fold_metrics(obs, pr, head)
        if head == "regression" and cov and model != FIXED:
            f = wide(bench, trait).loc[(seed, rep, fold)].loc[g["sample_id"], FIXED].to_numpy()
            vals["genomic_pearson_r"] = (
                np.corrcoef(obs - f, pr - f)[0, 1] if status == "ok" else np.nan
            )
        n_test = len(g)
        n_all = bench.pheno[trait].notna().sum()
        for metric, v in vals.items():
            row = res.loc[(trait, seed, rep, fold, model, metric)]
            what = f"{trait} seed {seed} fold {fold} {model} {metric}"
            if np.isnan(v):
                assert np.isnan(row["value"]), what
            else:
                assert row["value"] == pytest.approx(v, abs=1e-9), what
            assert row["status"] == status, what
            assert (row["n_test"], row["n_train"]) == (n_test, n_all - n_test), what
            n_rows += 1
    assert n_rows == len(bench.results)


def test_some_folds_collapse_and_show_as_collapsed(bench):
    """The LASSO predicts a constant on some folds of the trait without signal: the data
    exercise the collapsed-fold rules below."""
    c = bench.results[bench.results["status"].eq("collapsed")]
    assert len(c) and set(c["trait"]) == {"noise"}
    assert c["value"][c["metric"].eq("auc")].isna().all()


# --------------------------------------------------------------------- results.md
def summary_of(b, trait, model, metric) -> dict:
    r = b.results
    g = r[(r["trait"] == trait) & (r["model"] == model) & (r["metric"] == metric)]
    v = g["value"].dropna()
    return {
        "mean": v.mean() if len(v) else np.nan,
        "sd": v.std(ddof=1) if len(v) > 1 else np.nan,
        "n_folds": len(g),
        "n_collapsed": int(g["status"].eq("collapsed").sum()),
    }


def check_cell(cell: str, s: dict, what: str) -> None:
    m = CELL.match(cell)
    assert m, f"{what}: cannot read {cell!r}"
    if np.isnan(s["mean"]):
        assert m["mean"] == "n/a", what
        return
    assert_printed(m["mean"], s["mean"], f"{what} mean")
    if np.isfinite(s["sd"]):
        assert m["sd"] is not None, what
        assert_printed(m["sd"], s["sd"], f"{what} SD")
    else:
        assert m["sd"] is None, what


def paired_with_gblup(b, trait, model) -> dict:
    head = TRAITS[trait][1]
    metric = "pearson_r" if head == "regression" else "auc"
    fill = NO_INFORMATION[metric]
    r = b.results[(b.results["trait"] == trait) & (b.results["metric"] == metric)]
    key = ["seed", "repeat", "fold"]
    j = r[r["model"] == model].merge(r[r["model"] == "GBLUP"], on=key, suffixes=("", "_ref"))
    a = np.where(j["status"].eq("collapsed"), fill, j["value"])
    c = np.where(j["status_ref"].eq("collapsed"), fill, j["value_ref"])
    d = a - c
    ok = j["status"].eq("ok").to_numpy()
    both = ok & j["status_ref"].eq("ok").to_numpy()
    return {
        "mean": float(np.mean(d)),
        "sd": float(np.std(d, ddof=1)),
        "wins": int(((d > WIN_TOLERANCE) & ok).sum()),
        "ties": int(((np.abs(d) <= WIN_TOLERANCE) & both).sum()),
        "n": len(d),
    }


def title(trait: str) -> str:
    return f"{TRAITS[trait][0]}: {trait}"


def headline(b, trait) -> dict:
    (t,) = [t for t in md_tables(section(b.md, title(trait))) if "folds" in t["header"]]
    return t


def test_headline_tables_recomputed_from_results(bench):
    for trait, (_, head, cov) in TRAITS.items():
        t = headline(bench, trait)
        metric = "pearson_r" if head == "regression" else "auc"
        genomic = head == "regression" and cov
        label = LABELS[metric] + " (mean ± sd)" + (", total" if genomic else "")
        want_header = ["model", label] + (["genomic r (mean ± sd)"] if genomic else [])
        want_header += ["folds", "collapsed", "difference vs GBLUP", "folds won vs GBLUP"]
        assert t["header"] == want_header, trait
        models = [r[0] for r in t["rows"]]
        assert sorted(models) == sorted(
            set(bench.results.loc[bench.results.trait == trait, "model"])
        ), trait
        for row in t["rows"]:
            cells = dict(zip(t["header"], row))
            model = cells["model"]
            what = f"{trait} {model}"
            s = summary_of(bench, trait, model, metric)
            check_cell(cells[label], s, what)
            assert int(cells["folds"]) == s["n_folds"] == len(SEEDS) * 3, what
            assert int(cells["collapsed"]) == s["n_collapsed"], what
            if genomic:
                if model == FIXED:
                    assert cells["genomic r (mean ± sd)"] == "", what
                else:
                    check_cell(
                        cells["genomic r (mean ± sd)"],
                        summary_of(bench, trait, model, "genomic_pearson_r"),
                        f"{what} genomic r",
                    )
            if model == "GBLUP":
                assert (cells["difference vs GBLUP"], cells["folds won vs GBLUP"]) == (
                    "(reference)",
                    "",
                )
                continue
            p = paired_with_gblup(bench, trait, model)
            mean, _, sd = cells["difference vs GBLUP"].partition(" ± ")
            assert_printed(mean, p["mean"], f"{what} difference")
            assert_printed(sd, p["sd"], f"{what} SD of the difference")
            m = re.fullmatch(r"(\d+) of (\d+)(?: \((\d+) tied\))?", cells["folds won vs GBLUP"])
            assert m, cells["folds won vs GBLUP"]
            assert (int(m[1]), int(m[2]), int(m[3] or 0)) == (p["wins"], p["n"], p["ties"]), what


def test_other_metrics_tables_recomputed_from_results(bench):
    for trait, (_, head, _) in TRAITS.items():
        (t,) = [
            t
            for t in md_tables(section(bench.md, title(trait)))
            if t["intro"].startswith("Other metrics")
        ]
        others = [m for m in (REGRESSION if head == "regression" else BINARY)][1:]
        assert t["header"] == ["model"] + [LABELS[m] for m in others], trait
        assert len(t["rows"]) == len(headline(bench, trait)["rows"])
        for row in t["rows"]:
            for metric, cell in zip(others, row[1:]):
                check_cell(cell, summary_of(bench, trait, row[0], metric), f"{row[0]} {metric}")


def test_the_console_prints_the_headline_tables(bench):
    for trait in TRAITS:
        block = bench.stdout.split(f"== {title(trait)} ==\n", 1)[1].split("\n\n", 1)[0]
        lines = block.strip().splitlines()
        t = headline(bench, trait)
        assert len(lines) == len(t["rows"]) + 1
        assert re.split(r"\s{2,}", lines[0].strip()) == t["header"]
        for line, row in zip(lines[1:], t["rows"]):
            assert re.split(r"\s{2,}", line.strip()) == [c for c in row if c], line


def test_header_lines_agree_with_the_data(bench):
    md = bench.md
    assert f"- seeds {SEEDS} (each a full replicate" in md
    assert "- baselines: GBLUP, ridge, LASSO; `MODEL+GBLUP` = mean of" in md
    for trait, (_, _, cov) in TRAITS.items():
        n = int(bench.pheno[trait].notna().sum())
        want = f"{n} samples with a value, {M} SNPs, 3-fold x 1 repeat(s)"
        want += ", covariates sex, age." if cov else "."
        assert section(md, title(trait)).strip().splitlines()[0] == want, trait
    m = re.search(r"device (.+), wall time (\S+) s$", md, re.M)
    assert m and m[1] == bench.run["device"]
    assert_printed(m[2], bench.run["wall_seconds"], "wall time")


def test_timing_table_agrees_with_run_json(bench):
    (t,) = md_tables(section(bench.md, "Timing"))
    units = bench.run["units"]
    assert len(t["rows"]) == len({(u["trait"], u["model"]) for u in units})
    for row in t["rows"]:
        c = dict(zip(t["header"], row))
        us = [u for u in units if (u["trait"], u["model"]) == (c["trait"], c["model"])]
        assert len(us) == len(SEEDS), row
        folds = sum(u["n_splits"] for u in us)
        fit = sum(u["fit_seconds"] for u in us)
        assert int(c["folds"]) == folds == 3 * len(SEEDS)
        assert_printed(c["total s"], fit, "total s")
        assert_printed(c["s per fold"], fit / folds, "s per fold")
        assert_printed(c["wall s"], sum(u["wall_seconds"] for u in us), "wall s")
        rates = [u["cnn_train_samples_per_second"] for u in us]
        if c["model"] == "baselines":
            assert c["CNN training samples/s"] == ""
        else:
            assert_printed(c["CNN training samples/s"], float(np.median(rates)), "samples/s")
        # a unit's fitting time is what its stored folds took
        stored = fold_results(bench, c["trait"], c["model"]).values()
        took = sum(r.get("seconds_cnn", 0) + r.get("seconds_baselines", 0) for r in stored)
        assert fit == pytest.approx(took, rel=1e-9)


def test_convolutions_table_agrees_with_run_json_and_predictions(bench):
    (t,) = md_tables(section(bench.md, "What the convolutions added"))
    rows = {(r[1], r[2]): dict(zip(t["header"], r)) for r in t["rows"]}
    # only the default starts at a fitted model; the tiny plain CNN has no row
    assert set(rows) == {(trait, "default") for trait in TRAITS}
    labels = {"ridge": "RR-BLUP", "cnn_gp": "CNN-GP", "gblup_ad": "GBLUP-AD", "lasso": "LASSO"}
    n_kept_all = 0
    for trait in TRAITS:
        folds = fold_results(bench, trait, "default")
        assert len(folds) == 3 * len(SEEDS)
        w = wide(bench, trait)
        scale = bench.pheno[trait].std()
        kept, starts, ld = 0, dict.fromkeys(labels.values(), 0), 0
        for key, res in folds.items():
            conv = res["history"]["conv"]
            (is_kept,) = conv["kept"]
            kept += is_kept
            lab = labels[conv["start"]]
            starts[lab] = starts.get(lab, 0) + 1
            ld += conv["screen_order"]["used"] == "ld"
            g = w.loc[key]
            gap = float(np.max(np.abs(g["default"] - g[START])))
            if is_kept:
                assert gap > 1e-4 * scale, f"{trait} {key}: kept, yet the default = its start"
            else:
                assert gap < 1e-5 * scale, f"{trait} {key}: dropped, yet default - start = {gap}"
        units = [u for u in bench.run["units"] if (u["trait"], u["model"]) == (trait, "default")]
        assert [sum(u["conv_kept"][i] for u in units) for i in (0, 1)] == [kept, len(folds)]
        row = rows[(trait, "default")]
        assert row["convolutions kept"] == f"{kept} of {len(folds)} fits"
        assert row["starts"] == ", ".join(f"{k} {v}" for k, v in starts.items() if v)
        if "windows in LD order" in row:
            assert row["windows in LD order"] == f"{ld} of {len(folds)} fits"
        n_kept_all += kept
        for u in bench.run["units"]:
            if u["model"] == "tiny":
                assert u["conv_kept"] is None
    assert n_kept_all > 0, "the data should give a fit whose convolutions were kept"


def test_notes_list_every_units_notes_once(bench):
    """Every unit's notes are listed; one that several seeds gave word for word is listed
    once, naming those seeds."""
    m = re.search(r"^## Notes\n\n(.*?)\n\n", bench.md, re.S | re.M)
    listed = [ln[2:] for ln in m[1].splitlines()] if m else []
    assert len(listed) == len(set(listed))
    said = set()
    for line in listed:
        h = re.fullmatch(r"(\S+) (\S+) seeds? ([\d, ]+) (\S+): (.*)", line)
        assert h, line
        for k in h[3].split(", "):
            said.add((h[1], h[2], int(k), h[4], h[5]))
    want = {
        (u["dataset"], u["trait"], u["seed"], u["model"], n)
        for u in bench.run["units"]
        for n in u["notes"]
    }
    assert said == want
    # the binary trait is said to be one, with how the default fits it, once for both seeds
    assert any(
        re.match(r"plain noise seeds 0, 1 default: trait 'noise' is binary", n) for n in listed
    )


def test_files_named_exist(bench):
    for name in re.findall(r"^- `([^`]+)`:", section(bench.md, "Files"), re.M):
        assert (bench.out / name.rstrip("/")).exists(), name
    line = bench.stdout.strip().splitlines()[-1]
    m = re.match(r"results written to (.+)/ \((.*)\) in \S+ s on ", line)
    assert m and Path(m[1]) == bench.out
    for name in m[2].split(", "):
        assert (bench.out / name.rstrip("/")).exists(), name
    assert list((bench.out / "plots").glob("*.png"))
