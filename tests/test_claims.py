"""Recompute every claim: each number `snpcnn fit` prints is recomputed from the file below it.

Three tiny runs (`snpcnn fit` through the CLI, default CNN, 3 folds, 3 epochs, no refit):

- a quantitative trait with covariates (a categorical and a numeric one), baselines GBLUP and
  ridge: the default CNN hybrid, its start row, `CNN+GBLUP`, `Covariates only` and genomic r;
- a binary (0/1) trait with the same covariates and baselines (ROC AUC, accuracy);
- a binary trait without signal with the LASSO baseline, which predicts a constant in some
  folds (collapsed folds in the tables and the paired comparison).

From the bottom up: the phenotype file -> `predictions.csv` (observed values, the covariates-only
least-squares fit, the CNN+GBLUP average, the hybrid = its start where the correction was
dropped) -> `metrics.csv` (every fold's metric, status, n_train, n_test, genomic r) ->
`summary.md` and the console (fold tables, mean ± sd, folds defined/collapsed, paired
comparison, attribution line, counts "in k of K" against `run.json`, header lines, notes).
Printed numbers are compared to the number of decimals printed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats
from sklearn.metrics import roc_auc_score

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

HYBRID = "CNN hybrid (start + convolutions)"
FIXED = "Covariates only"
ENSEMBLE = "CNN+GBLUP"
N_CORE, N_SNPS, N_EXTRA = 90, 40, 6
LABELS = {
    "Pearson r": "pearson_r",
    "Spearman rho": "spearman_rho",
    "R^2": "r2",
    "RMSE": "rmse",
    "MAE": "mae",
    "genomic r": "genomic_pearson_r",
    "ROC AUC": "auc",
    "accuracy": "accuracy",
}
CORRELATIONS = ("pearson_r", "spearman_rho", "auc", "genomic_pearson_r")
#: docs/outputs.md: a fold is won where the metric beats GBLUP's by more than this
WIN_TOLERANCE = 0.001
#: docs/outputs.md: what a collapsed fold counts as in paired comparisons
NO_INFORMATION = {"pearson_r": 0.0, "auc": 0.5}
#: run.json's start kinds -> the labels summary.md counts them under
START_LABELS = {"ridge": "RR-BLUP", "cnn_gp": "CNN-GP", "gblup_ad": "GBLUP-AD", "lasso": "LASSO"}


# ------------------------------------------------------------------------------ the data
@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """90 samples x 40 SNPs with a quantitative trait `y` (additive + a little epistasis + sex
    + age), a binary trait `case`, a binary trait without signal `noise`; plus 3 samples only
    genotyped, 3 genotyped with every trait missing and 2 only phenotyped."""
    d = tmp_path_factory.mktemp("claims")
    rng = np.random.default_rng(4)
    n, m = N_CORE, N_SNPS
    g = rng.binomial(2, 0.4, size=(n, m))
    sex = rng.choice(["F", "M"], size=n)
    age = rng.normal(30, 5, size=n).round(1)
    beta = np.zeros(m)
    beta[[2, 7, 11, 20, 33]] = [0.8, -0.6, 0.5, 0.7, -0.4]
    noise = rng.normal(size=n)
    y = g @ beta + 0.5 * g[:, 2] * g[:, 3] + 1.5 * (sex == "M") + 0.05 * age + noise
    liability = g @ beta + rng.normal(size=n)
    case = (liability > np.median(liability)).astype(float)
    g_all = np.vstack([g, rng.binomial(2, 0.4, size=(N_EXTRA, m))])
    ids = [f"s{i}" for i in range(n + N_EXTRA)]
    geno = pd.DataFrame(g_all, columns=[f"snp{j}" for j in range(m)])
    geno.insert(0, "sample_id", ids)
    geno.to_csv(d / "geno.csv", index=False)
    core = pd.DataFrame(
        {
            "sample_id": ids[:n],
            "y": 100.0 + y,
            "case": case,
            "noise": np.random.default_rng(11).integers(0, 2, n).astype(float),
            "sex": sex,
            "age": age,
        }
    )
    more = pd.DataFrame(
        {
            "sample_id": ids[n + 3 :] + ["x1", "x2"],
            "y": [np.nan] * 3 + [101.0, 99.0],
            "case": [np.nan] * 3 + [0.0, 1.0],
            "noise": [np.nan] * 3 + [0.0, 1.0],
            "sex": ["F", "M", "F", "M", "F"],
            "age": [30.0] * 5,
        }
    )
    pd.concat([core, more]).to_csv(d / "pheno.csv", index=False)
    return d


def _fit(data: Path, name: str, *args: str):
    out = data / name
    r = CliRunner().invoke(
        main,
        [
            "fit",
            str(data / "geno.csv"),
            str(data / "pheno.csv"),
            *args,
            "--epochs",
            "3",
            "--folds",
            "3",
            "--no-refit",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    return _Run(out, r.stdout, args)


class _Run:
    def __init__(self, out: Path, stdout: str, args):
        self.out = out
        self.stdout = stdout
        self.args = list(args)
        self.metrics = pd.read_csv(out / "metrics.csv")
        self.pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
        self.run = json.loads((out / "run.json").read_text())
        self.summary = (out / "summary.md").read_text()
        self.trait = self.args[self.args.index("--trait") + 1]
        self.covariates = (
            self.args[self.args.index("--covariates") + 1].split(",")
            if "--covariates" in self.args
            else []
        )
        self.head = "regression" if self.trait == "y" else "binary"
        self.headline = "pearson_r" if self.head == "regression" else "auc"


@pytest.fixture(scope="module")
def quant(data):
    cov = ["--covariates", "sex,age", "--categorical", "sex"]
    return _fit(data, "quant", "--trait", "y", *cov, "--baselines", "gblup,ridge")


@pytest.fixture(scope="module")
def quant_both(data):
    """The quantitative fit with a frozen preset whose convolutions are kept in some folds of
    this data and dropped in others (v17; the default since session 53, v19, drops them in all
    three at 3 epochs), for the checks that need both kinds of folds."""
    cov = ["--covariates", "sex,age", "--categorical", "sex"]
    return _fit(
        data,
        "quant_v17",
        "--trait",
        "y",
        *cov,
        "--baselines",
        "gblup,ridge",
        "--model",
        "snpcnn_default_v17",
    )


@pytest.fixture(scope="module")
def binary(data):
    cov = ["--covariates", "sex,age", "--categorical", "sex"]
    return _fit(data, "binary", "--trait", "case", *cov, "--baselines", "gblup,ridge")


@pytest.fixture(scope="module")
def collapsed(data):
    return _fit(data, "collapsed", "--trait", "noise", "--baselines", "gblup,lasso")


RUNS = ["quant", "binary", "collapsed"]


@pytest.fixture(params=RUNS)
def any_run(request):
    return request.getfixturevalue(request.param)


# --------------------------------------------------------------------------- helpers
def assert_printed(printed: str, value: float, what: str = "") -> None:
    """``printed`` is ``value`` rounded to as many decimals as it shows."""
    printed = printed.strip()
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    assert np.isfinite(value), f"{what}: printed {printed}, recomputed {value}"
    assert abs(float(printed) - value) <= 0.5 * 10.0**-decimals + 1e-9, (
        f"{what}: printed {printed}, recomputed {value:.6f}"
    )


def robust_sd(v) -> float:
    v = np.asarray(v, dtype=float)
    mad = 1.4826 * float(np.median(np.abs(v - np.median(v))))
    return mad if mad > 0 else float(np.std(v))


def is_constant(pred, obs) -> bool:
    """docs/outputs.md: a spread below 1e-6 of the observed values' robust spread."""
    return float(np.std(pred)) <= 1e-6 * robust_sd(obs)


def md_tables(text: str) -> list[dict]:
    """Every Markdown table in ``text``: its header, rows (cells stripped) and the paragraph
    before it."""
    lines = text.splitlines()
    out, i = [], 0
    while i < len(lines):
        if (
            lines[i].startswith("|")
            and i + 1 < len(lines)
            and re.match(r"^\|(-+\|)+$", lines[i + 1])
        ):
            header = [c.strip() for c in lines[i].strip().strip("|").split("|")]
            j, rows = i + 2, []
            while j < len(lines) and lines[j].startswith("|"):
                row = [c.strip() for c in lines[j].strip()[1:-1].split("|")]
                assert len(row) == len(header), lines[j]
                rows.append(row)
                j += 1
            k = i - 1
            while k >= 0 and not lines[k].strip():
                k -= 1
            out.append({"header": header, "rows": rows, "intro": lines[k] if k >= 0 else ""})
            i = j
        else:
            i += 1
    return out


def trait_section(summary: str, trait: str) -> str:
    m = re.search(rf"^## {re.escape(trait)}\n(.*?)(?=^## |\Z)", summary, re.S | re.M)
    assert m, f"no section for {trait}"
    return m.group(1)


MEAN_CELL = re.compile(
    r"^(?P<mean>n/a|[+-]?\d+\.\d+)(?: ± (?P<sd>\d+\.\d+))?"
    r"(?: \((?P<nc>\d+) collapsed\))?(?: \((?P<k>\d+) of (?P<n>\d+) folds defined\))?$"
)


def recompute_fold_metrics(run: _Run) -> pd.DataFrame:
    """metrics.csv from predictions.csv, by the definitions in docs/outputs.md."""
    p = run.pred[run.pred["trait"] == run.trait]
    fixed = p[p["model"] == FIXED].set_index(["repeat", "fold", "sample_id"])["predicted"]
    rows = []
    for (rep, fold, model), g in p.groupby(["repeat", "fold", "model"]):
        obs, pr = g["observed"].to_numpy(float), g["predicted"].to_numpy(float)
        status = "collapsed" if is_constant(pr, obs) else "ok"
        if run.head == "regression":
            resid = obs - pr
            vals = {
                "pearson_r": np.corrcoef(obs, pr)[0, 1] if status == "ok" else np.nan,
                "spearman_rho": stats.spearmanr(obs, pr)[0] if status == "ok" else np.nan,
                "r2": 1 - np.sum(resid**2) / np.sum((obs - obs.mean()) ** 2),
                "rmse": np.sqrt(np.mean(resid**2)),
                "mae": np.mean(np.abs(resid)),
            }
        else:
            vals = {
                "auc": roc_auc_score(obs, pr) if status == "ok" else np.nan,
                "accuracy": np.mean((pr >= 0.5) == (obs > 0.5)),
            }
        st = dict.fromkeys(vals, status)
        if run.head == "regression" and run.covariates and model != FIXED:
            f = fixed.loc[[(rep, fold, s) for s in g["sample_id"]]].to_numpy(float)
            a, b = obs - f, pr - f
            vals["genomic_pearson_r"] = np.corrcoef(a, b)[0, 1] if status == "ok" else np.nan
            st["genomic_pearson_r"] = status
        for metric, v in vals.items():
            rows.append(
                {
                    "repeat": rep,
                    "fold": fold,
                    "model": model,
                    "metric": metric,
                    "value": float(v),
                    "status": st[metric],
                    "n_test": len(g),
                }
            )
    return pd.DataFrame(rows)


def over_folds(run: _Run) -> pd.DataFrame:
    """Mean, SD, count of defined folds, folds and collapsed folds per model and metric,
    from metrics.csv."""
    m = run.metrics[run.metrics["trait"] == run.trait]
    rows = []
    for (model, metric), g in m.groupby(["model", "metric"]):
        v = g["value"].dropna()
        rows.append(
            {
                "model": model,
                "metric": metric,
                "mean": v.mean() if len(v) else np.nan,
                "sd": v.std(ddof=1) if len(v) > 1 else np.nan,
                "count": len(v),
                "n_folds": len(g),
                "n_collapsed": int(g["status"].eq("collapsed").sum()),
            }
        )
    return pd.DataFrame(rows).set_index(["model", "metric"])


def check_mean_cell(cell: str, s: pd.Series, metric: str, what: str) -> None:
    m = MEAN_CELL.match(cell)
    assert m, f"{what}: cannot read {cell!r}"
    if s["count"] == 0:
        assert m["mean"] == "n/a", what
    else:
        assert_printed(m["mean"], s["mean"], f"{what} mean")
    if s["count"] > 1:
        assert m["sd"] is not None, f"{what}: {cell!r} has no SD over {s['count']} folds"
        assert_printed(m["sd"], s["sd"], f"{what} SD")
    else:
        assert m["sd"] is None, what
    nc = s["n_collapsed"] if metric in CORRELATIONS else 0
    assert int(m["nc"] or 0) == nc, f"{what}: {cell!r}, {nc} collapsed"
    undefined = s["count"] < s["n_folds"] - nc and s["count"] > 0
    if undefined:
        assert (int(m["k"] or -1), int(m["n"] or -1)) == (s["count"], s["n_folds"]), what
    else:
        assert m["k"] is None, f"{what}: {cell!r} but {s['count']} of {s['n_folds']} defined"


def paired_expected(run: _Run) -> dict[str, dict]:
    """docs/outputs.md: the paired comparison with GBLUP of the headline metric."""
    m = run.metrics[(run.metrics["trait"] == run.trait) & (run.metrics["metric"] == run.headline)]
    fill = NO_INFORMATION[run.headline]
    ref = m[m["model"] == "GBLUP"].set_index(["repeat", "fold"])
    out = {}
    for model, g in m.groupby("model"):
        if model in ("GBLUP", FIXED):
            continue
        g = g.set_index(["repeat", "fold"]).join(ref.add_suffix("_ref"))
        a = np.where(g["status"].eq("collapsed"), fill, g["value"])
        b = np.where(g["status_ref"].eq("collapsed"), fill, g["value_ref"])
        d = a - b
        both_ok = (g["status"].eq("ok") & g["status_ref"].eq("ok")).to_numpy()
        out[model] = {
            "mean": float(np.mean(d)),
            "sd": float(np.std(d, ddof=1)),
            "wins": int(((d > WIN_TOLERANCE) & g["status"].eq("ok").to_numpy()).sum()),
            "ties": int(((np.abs(d) <= WIN_TOLERANCE) & both_ok).sum()),
            "n": len(d),
            "collapsed": int(g["status"].eq("collapsed").sum()),
        }
    return out


def conv_records(run: _Run) -> list[dict]:
    return [f.get("conv") or {} for f in run.run["cnn_folds"]]


def wide_predictions(run: _Run) -> pd.DataFrame:
    p = run.pred[run.pred["trait"] == run.trait]
    return p.pivot(index=["repeat", "fold", "sample_id"], columns="model", values="predicted")


# ---------------------------------------------------------------- predictions.csv
def test_predictions_hold_every_usable_sample_once_per_model(any_run):
    run = any_run
    ph = pd.read_csv(run.out.parent / "pheno.csv", dtype={"sample_id": str})
    geno_ids = set(pd.read_csv(run.out.parent / "geno.csv", usecols=["sample_id"])["sample_id"])
    usable = ph[ph["sample_id"].isin(geno_ids) & ph[run.trait].notna()]
    assert len(usable) == N_CORE
    p = run.pred
    assert set(p["trait"]) == {run.trait} and set(p["repeat"]) == {0}
    for model, g in p.groupby("model"):
        assert sorted(g["sample_id"]) == sorted(usable["sample_id"]), model
    # observed values are the phenotype file's, on its own scale
    obs = usable.set_index("sample_id")[run.trait]
    assert np.array_equal(p["observed"].to_numpy(), obs.loc[p["sample_id"]].to_numpy())
    # a sample's fold is the same for every model
    assert p.groupby("sample_id")["fold"].nunique().eq(1).all()
    assert np.isfinite(p["predicted"]).all()


def test_covariates_only_is_least_squares_on_each_training_part(any_run):
    run = any_run
    ph = pd.read_csv(run.out.parent / "pheno.csv", dtype={"sample_id": str}).set_index("sample_id")
    p = run.pred
    if not run.covariates:
        assert FIXED not in set(p["model"])
        return
    folds = p.drop_duplicates("sample_id").set_index("sample_id")["fold"]
    design = pd.DataFrame({"one": 1.0, "male": (ph["sex"] == "M") * 1.0, "age": ph["age"]})
    fixed = p[p["model"] == FIXED].set_index("sample_id")["predicted"]
    for fold in sorted(folds.unique()):
        train = folds.index[folds != fold]
        test = folds.index[folds == fold]
        coef, *_ = np.linalg.lstsq(
            design.loc[train].to_numpy(), ph.loc[train, run.trait].to_numpy(), rcond=None
        )
        want = design.loc[test].to_numpy() @ coef
        np.testing.assert_allclose(fixed.loc[test].to_numpy(), want, rtol=1e-9, atol=1e-9)


def test_cnn_plus_gblup_is_the_average_of_the_two(any_run):
    w = wide_predictions(any_run)
    cnn = HYBRID if HYBRID in w else "CNN"
    np.testing.assert_allclose(w[ENSEMBLE], 0.5 * (w[cnn] + w["GBLUP"]), rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------- metrics.csv
def test_every_fold_metric_recomputed_from_predictions(any_run):
    run = any_run
    want = recompute_fold_metrics(run)
    got = run.metrics[run.metrics["trait"] == run.trait]
    key = ["repeat", "fold", "model", "metric"]
    assert not got.duplicated(key).any()
    j = got.merge(want, on=key, how="outer", suffixes=("", "_want"), indicator=True)
    assert j["_merge"].eq("both").all(), j.loc[j["_merge"] != "both", key + ["_merge"]]
    for row in j.itertuples():
        what = f"fold {row.fold} {row.model} {row.metric}"
        # genomic r: "undefined" only where the fold is ok but the rest is flat (not here)
        assert row.status == row.status_want, f"{what}: {row.status} vs {row.status_want}"
        if np.isnan(row.value_want):
            assert np.isnan(row.value), what
        else:
            assert row.value == pytest.approx(row.value_want, rel=1e-9, abs=1e-12), what
        assert row.n_test == row.n_test_want, what


def test_metrics_cover_every_model_and_metric(any_run):
    run = any_run
    m = run.metrics
    base = ["pearson_r", "spearman_rho", "r2", "rmse", "mae"]
    metrics = base if run.head == "regression" else ["auc", "accuracy"]
    for model, g in m.groupby("model"):
        want = set(metrics)
        if run.head == "regression" and run.covariates and model != FIXED:
            want.add("genomic_pearson_r")
        assert set(g["metric"]) == want, model
        assert g.groupby("metric").size().eq(3).all(), model


def test_n_train_and_n_test_agree_with_the_folds(any_run):
    run = any_run
    p = run.pred
    sizes = p.drop_duplicates("sample_id").groupby(["repeat", "fold"]).size()
    total = p["sample_id"].nunique()
    for row in run.metrics.itertuples():
        assert row.n_test == sizes.loc[(row.repeat, row.fold)], row
        assert row.n_train == total - row.n_test, row
    assert sizes.sum() == total == N_CORE


def test_genomic_r_uses_the_covariates_only_prediction(quant):
    """Recomputed per docs/outputs.md (the general recomputation covers it too); here also
    that it differs from the total r, i.e. the covariates were taken out."""
    g = quant.metrics[quant.metrics["metric"] == "genomic_pearson_r"]
    t = quant.metrics[quant.metrics["metric"] == "pearson_r"]
    j = g.merge(t, on=["repeat", "fold", "model"], suffixes=("_g", "_t"))
    assert len(j) == 3 * (quant.metrics["model"].nunique() - 1)
    assert (np.abs(j["value_g"] - j["value_t"]) > 1e-3).any()


# ---------------------------------------------------------------- summary tables
def _tables(run: _Run, text: str | None = None) -> list[dict]:
    return md_tables(trait_section(run.summary, run.trait) if text is None else text)


def _check_fold_table(run: _Run, table: dict, metric: str, what: str) -> None:
    m = run.metrics[(run.metrics["trait"] == run.trait) & (run.metrics["metric"] == metric)]
    models = set(m["model"])
    assert table["header"][:2] == ["fold", "n_test"], what
    assert set(table["header"][2:]) == models and len(table["header"]) == len(models) + 2, what
    agg = over_folds(run)
    *folds, last = table["rows"]
    assert [int(r[0]) for r in folds] == sorted(m["fold"].unique()), what
    for row in folds:
        fold = int(row[0])
        cur = m[m["fold"] == fold].set_index("model")
        assert int(row[1]) == cur["n_test"].iloc[0], f"{what} fold {fold} n_test"
        for model, cell in zip(table["header"][2:], row[2:]):
            if cur.loc[model, "status"] in ("collapsed", "undefined"):
                assert cell == cur.loc[model, "status"], f"{what} fold {fold} {model}"
            else:
                assert_printed(cell, cur.loc[model, "value"], f"{what} fold {fold} {model}")
    assert last[:2] == ["mean ± sd", ""], what
    for model, cell in zip(table["header"][2:], last[2:]):
        check_mean_cell(cell, agg.loc[(model, metric)], metric, f"{what} mean {model}")


def test_fold_tables_recomputed_from_metrics(any_run):
    run = any_run
    tables = [t for t in _tables(run) if t["header"][0] == "fold"]
    genomic = run.head == "regression" and bool(run.covariates)
    assert len(tables) == (2 if genomic else 1)
    _check_fold_table(run, tables[0], run.headline, "headline fold table")
    if genomic:
        assert "Genomic accuracy" in tables[1]["intro"] or "Genomic accuracy" in trait_section(
            run.summary, run.trait
        )
        _check_fold_table(run, tables[1], "genomic_pearson_r", "genomic fold table")


def test_all_metrics_table_recomputed_from_metrics(any_run):
    run = any_run
    (table,) = [t for t in _tables(run) if t["header"][0] == "metric"]
    agg = over_folds(run)
    models = set(run.metrics["model"])
    assert set(table["header"][1:]) == models and len(table["header"]) == len(models) + 1
    names = [LABELS[r[0]] for r in table["rows"]]
    want = set(run.metrics["metric"])
    assert sorted(names) == sorted(want)
    for row in table["rows"]:
        metric = LABELS[row[0]]
        for model, cell in zip(table["header"][1:], row[1:]):
            if (model, metric) not in agg.index:
                assert cell == "", f"{model} {metric}: {cell!r} for a metric it has not"
                continue
            check_mean_cell(cell, agg.loc[(model, metric)], metric, f"{model} {row[0]}")


def test_paired_comparison_recomputed_from_metrics(any_run):
    run = any_run
    (table,) = [t for t in _tables(run) if t["header"][0] == "model"]
    label = {"pearson_r": "Pearson r", "auc": "ROC AUC"}[run.headline]
    assert table["header"] == [
        "model",
        f"mean difference in {label} vs GBLUP",
        "folds won",
        "collapsed folds",
    ]
    want = paired_expected(run)
    assert sorted(r[0] for r in table["rows"]) == sorted(want)
    for model, diff, won, coll in table["rows"]:
        w = want[model]
        mean, _, sd = diff.partition(" ± ")
        assert_printed(mean, w["mean"], f"{model} mean difference")
        assert_printed(sd, w["sd"], f"{model} SD of the difference")
        m = re.fullmatch(r"(\d+) of (\d+)(?: \((\d+) tied\))?", won)
        assert m, won
        assert (int(m[1]), int(m[2]), int(m[3] or 0)) == (w["wins"], w["n"], w["ties"]), model
        assert int(coll) == w["collapsed"], model


def test_the_console_prints_the_summary_tables(any_run):
    run = any_run
    console = run.stdout.split(f"== {run.trait} ==\n", 1)[1]
    console = console.split("\nwall time", 1)[0]
    assert _tables(run, console) == _tables(run)
    md = trait_section(run.summary, run.trait).strip()
    assert console.strip() == md


# --------------------------------------------------------------- header and notes
def test_header_lines_agree_with_the_data_and_run_json(any_run):
    run = any_run
    c, t = run.run["config"], run.run["timings"]
    s = run.summary
    n_geno = N_CORE + N_EXTRA
    m = re.search(r"^- genotypes: (\d+) samples x (\d+) SNPs; (\d+) samples genotyped", s, re.M)
    assert m and (int(m[1]), int(m[2])) == (n_geno, N_SNPS)
    # the samples analysed: genotyped with a value of the trait
    assert int(m[3]) == run.pred["sample_id"].nunique() == run.run["data"]["n_samples_used"]
    m = re.search(r"^- traits: (\S+) \(n = (\d+)\)(?:; covariates: (.*))?$", s, re.M)
    assert m and m[1] == run.trait and int(m[2]) == run.pred["sample_id"].nunique()
    assert (m[3] or "") == ", ".join(run.covariates)
    assert c["covariates"] == run.covariates
    cnn = HYBRID if HYBRID in set(run.metrics["model"]) else "CNN"
    m = re.search(
        rf"^- {re.escape(cnn)}: `(\S+)`, (\w+) encoding, up to (\d+) epochs (.*), batch (\d+), "
        r"learning rate (\S+), (\d+) seed\(s\)$",
        s,
        re.M,
    )
    assert m, "the CNN line"
    assert (
        (m[1], m[2], int(m[3]))
        == (c["model"], c["encoding"], c["epochs"])
        == (
            "snpcnn_default",
            "dosage",
            3,
        )
    )
    assert (int(m[5]), float(m[6]), int(m[7])) == (
        c["batch_size"],
        c["learning_rate"],
        c["n_seeds"],
    )
    pat = re.search(r"patience (\d+)", m[4])
    assert pat and int(pat[1]) == c["patience"]
    if cnn == HYBRID:
        assert f"its {c['conv_folds']} cross-fitted networks" in m[4]
    else:
        assert f"inner {c['val_fraction']:.0%} validation split" in m[4]
    for f in run.run["cnn_folds"]:
        assert all(0 <= e <= c["epochs"] for e in f["best_epochs"])
    m = re.search(r"^- folds: (\d+)-fold \((\S+)\), (\d+) repeat\(s\), seed (\d+)$", s, re.M)
    assert m and int(m[1]) == run.pred["fold"].nunique() == c["n_folds"] == 3
    assert (int(m[3]), int(m[4])) == (run.pred["repeat"].nunique(), c["seed"])
    assert len(run.run["cnn_folds"]) == 3
    # a run without a refit says so (run.json's refit false) instead of "refit 0.0 s"
    refit = c.get("refit", True)
    keys = ("total", "cnn", "baseline", "refit") if refit else ("total", "cnn", "baseline")
    tail = r"final refit (\S+) s" if refit else r"no final refit: --no-refit"
    m = re.search(
        rf"^- device: (.+); wall time (\S+) s \(CNN (\S+) s, baselines (\S+) s, {tail}\)$",
        s,
        re.M,
    )
    assert m and m[1] == run.run["device"]
    for printed, key in zip(m.groups()[1:], keys):
        assert_printed(printed, t[f"{key}_seconds"], f"{key} seconds")
    tail = r"refit (\S+) s" if refit else r"no refit: --no-refit"
    m = re.search(
        rf"^wall time (\S+) s on (.+) \(CNN (\S+) s, baselines (\S+) s, {tail}\)$",
        run.stdout,
        re.M,
    )
    assert m and m[2] == run.run["device"]
    for printed, key in zip(m.groups()[:1] + m.groups()[2:], keys):
        assert_printed(printed, t[f"{key}_seconds"], f"console {key} seconds")
    for key, name in (("genotypes", "geno.csv"), ("phenotypes", "pheno.csv")):
        assert f"\n- {key}: `{run.out.parent / name}`\n" in s


def test_notes_agree_everywhere(any_run):
    run = any_run
    notes = run.run["notes"]
    m = re.search(r"^## Notes\n\n(.*?)\n\n", run.summary, re.S | re.M)
    in_summary = [] if m is None else [ln[2:] for ln in m[1].splitlines()]
    assert in_summary == notes
    if notes:
        block = run.stdout.split("\nnotes:\n", 1)[1].split("\n\n", 1)[0]
        assert [ln.strip()[2:] for ln in block.splitlines()] == notes
    # a note per collapsed fold, and none for a fold that was not
    coll = run.metrics[run.metrics["status"].eq("collapsed")]
    want = {
        f"repeat {r} fold {f}: {model} predicted a constant for '{run.trait}' "
        "(correlation undefined; counted as a loss)"
        for r, f, model in coll[["repeat", "fold", "model"]].drop_duplicates().to_numpy()
    }
    assert {n for n in notes if "predicted a constant" in n} == want


def test_files_named_on_the_console_exist(any_run):
    line = any_run.stdout.strip().splitlines()[-1]
    m = re.fullmatch(r"results written to (.+)/ \((.*)\)", line)
    assert m and Path(m[1]) == any_run.out
    for name in m[2].split(", "):
        assert (any_run.out / name.rstrip("/")).exists(), name


# ----------------------------------------------------- the default CNN's counts
def test_convolutions_kept_counts_agree_with_run_json_and_predictions(quant_both):
    run = quant_both
    folds = run.run["cnn_folds"]
    convs = conv_records(run)
    assert all(f["ridge_start"] for f in folds)
    kept = [e > 0 for f in folds for e in f["best_epochs"]]
    k, n = sum(kept), len(kept)
    # run.json agrees with itself: epochs > 0 <=> conv.kept <=> weight > 0
    for f, cv in zip(folds, convs):
        assert [e > 0 for e in f["best_epochs"]] == cv["kept"] == [w > 0 for w in cv["weight"]]
    # ... and with the predictions: the hybrid predicts its start where not kept
    w = wide_predictions(run)
    start = next(c for c in w.columns if c.startswith("CNN start"))
    scale = run.pred["observed"].std()
    for f, is_kept in zip(folds, kept):
        g = w.loc[(f["repeat"], f["fold"])]
        gap = float(np.max(np.abs(g[HYBRID] - g[start])))
        if is_kept:
            assert gap > 1e-4 * scale, f"fold {f['fold']}: kept, yet the hybrid = its start"
        else:
            assert gap < 1e-5 * scale, f"fold {f['fold']}: dropped, yet hybrid - start = {gap}"
    assert 0 < k < n, "the data should give both kinds of folds"
    s = run.summary
    assert f"in **{k} of {n}** fits. Where it was not kept" in s
    assert re.findall(r"correction was kept in (\d+) of (\d+) fits", run.stdout) == [
        (str(k), str(n))
    ]
    assert f"in the other {n - k} it predicted its start (to float32 rounding" in run.stdout
    assert f"(cross-fitted in {run.run['config']['conv_folds']} parts" in run.stdout


def test_start_counts_agree_with_run_json_and_predictions(quant):
    run = quant
    convs = conv_records(run)
    starts = [START_LABELS[cv["start"]] for cv in convs]
    counts = {lab: starts.count(lab) for lab in START_LABELS.values()}
    for cv in convs:
        assert cv["start"] == cv["start_choice"]["chosen"]
    n = len(starts)
    s = run.summary
    got = dict(re.findall(r"(CNN-GP|GBLUP-AD|LASSO) \([^)]*\) in \*\*(\d+) of " + str(n), s))
    got["RR-BLUP"] = re.search(r"fits, RR-BLUP in (\d+)\. Its predictions", s)[1]
    assert {k: int(v) for k, v in got.items()} == counts
    short = re.search(r"CNN hybrid: of (\d+) fits, its start was (.*?), chosen on", run.stdout)
    assert short and int(short[1]) == n
    got = dict(re.findall(r"(CNN-GP|GBLUP-AD|LASSO) \([^)]*\) in (\d+)", short[2]))
    got["RR-BLUP"] = re.search(r"RR-BLUP \(= GBLUP\) in (\d+)", short[2])[1]
    assert {k: int(v) for k, v in got.items()} == counts
    attribution = re.search(r"from its start \('[^']*': (.*?)\) and [+-]", s)
    assert attribution
    got = dict(re.findall(r"(CNN-GP|GBLUP-AD|LASSO), [^,]+, in (\d+) fits", attribution[1]))
    got["RR-BLUP"] = re.search(r"RR-BLUP in (\d+)$", attribution[1])[1]
    assert {k: int(v) for k, v in got.items()} == counts
    # where the start is RR-BLUP on the CNN's input, it is GBLUP (same fixed effects, penalty)
    w = wide_predictions(run)
    start = next(c for c in w.columns if c.startswith("CNN start"))
    for f, lab in zip(run.run["cnn_folds"], starts):
        if lab == "RR-BLUP":
            g = w.loc[(f["repeat"], f["fold"])]
            assert np.max(np.abs(g[start] - g["GBLUP"])) < 1e-4 * g["GBLUP"].std()


def test_screen_order_and_triple_stage_counts_agree_with_run_json(quant):
    run = quant
    convs = conv_records(run)
    n = len(convs)
    orders = [cv["screen_order"] for cv in convs if cv.get("screen_order")]
    ld = [o for o in orders if o["used"] == "ld"]
    m = re.search(
        r"windows ran along an LD order of the SNPs \(seriated on each training part, "
        r"snpcnn\.ldorder\) in (\d+) of (\d+) fits(?: \(in the file's order adjacent SNPs' mean "
        r"r\^2 was (\S+) vs (\S+) for random pairs)?",
        run.summary,
    )
    if not ld:
        assert m is None
    else:
        assert m and (int(m[1]), int(m[2])) == (len(ld), len(orders))
        assert_printed(m[3], float(np.median([o["file_adjacent_r2"] for o in ld])), "adjacent r2")
        assert_printed(m[4], float(np.median([o["random_r2"] for o in ld])), "random r2")
    # pairs beyond the screen's reach that led windows ([screen] all_pairs)
    far = [o for o in orders if sum(o.get("far_windows") or ()) > 0]
    m = re.search(
        r"(\d+) of (\d+) fits a pair of SNPs (\d+) or more .*?; (\d+) window\(s\) of the "
        r"cross-fitted networks held such a pair",
        run.summary,
    )
    if far:
        assert m and (int(m[1]), int(m[2])) == (len(far), len(orders))
        assert int(m[4]) == sum(sum(o["far_windows"]) for o in far)
    else:
        assert m is None
    stages = [cv["triple_stage"] for cv in convs if cv.get("triple_stage")]
    m = re.search(
        r"ran in (\d+) of (\d+) fits \(where a triple.*?\) and was kept in (\d+)", run.summary
    )
    if stages:
        assert m
        want = (sum(bool(x.get("ran")) for x in stages), len(stages))
        want += (sum(bool(x.get("kept")) for x in stages),)
        assert (int(m[1]), int(m[2]), int(m[3])) == want
        assert len(stages) == n
    else:
        assert m is None


def test_attribution_line_recomputed_from_metrics(quant):
    run = quant
    m = run.metrics[run.metrics["metric"] == "pearson_r"]
    wide = m.pivot(index=["repeat", "fold"], columns="model", values="value").fillna(0.0)
    start = next(c for c in wide.columns if c.startswith("CNN start"))
    line = re.search(
        r"CNN hybrid - GBLUP = (\S+) = (\S+) from its start \('([^']*)'.*\) and (\S+) from "
        r"its trained convolutions\.",
        run.summary,
    )
    assert line and line[3] == start
    assert_printed(line[1], float((wide[HYBRID] - wide["GBLUP"]).mean()), "hybrid - GBLUP")
    assert_printed(line[2], float((wide[start] - wide["GBLUP"]).mean()), "start - GBLUP")
    assert_printed(line[4], float((wide[HYBRID] - wide[start]).mean()), "hybrid - start")


# ------------------------------------------------------------------ binary traits
def test_binary_trait_note_says_how_the_cnn_fits_it(binary):
    """Since session 32 the default CNN fits a binary trait as a linear probability model with
    the covariates as fixed effects, as GBLUP does (it ignored them before)."""
    notes = binary.run["notes"]
    assert not [n for n in notes if "does not use the covariates" in n]
    (note,) = [n for n in notes if "linear probability model" in n]
    assert "covariates as fixed effects" in note and "ROC AUC" in note
    assert binary.run["config"]["cnn_head"] == "regression"
    assert FIXED in set(binary.metrics["model"])
    assert "genomic_pearson_r" not in set(binary.metrics["metric"])


def test_collapsed_folds_show_as_collapsed(collapsed):
    run = collapsed
    coll = run.metrics[run.metrics["status"].eq("collapsed")]
    assert len(coll) and set(coll["model"]) == {"LASSO"}
    # AUC undefined there, accuracy still a number
    assert coll.loc[coll["metric"] == "auc", "value"].isna().all()
    assert coll.loc[coll["metric"] == "accuracy", "value"].notna().all()
    # the paired comparison explains how a collapsed fold counted, in summary.md and on the
    # console (what value it names: the test below)
    for text in (run.summary, run.stdout):
        assert COLLAPSED_NOTE.search(text)
        assert COLLAPSED_NOTE.search(text)[1] == "ROC AUC"


COLLAPSED_NOTE = re.compile(
    r"^A collapsed fold \(constant predictions, correlation undefined\) counts as a loss and "
    r"enters the mean difference with (.+?) = (\S+?) or GBLUP's \1, whichever is lower "
    r"\(never a gain\)\.$",
    re.M,
)


def test_collapsed_fold_note_names_the_value_the_mean_difference_used(collapsed):
    run = collapsed
    m = COLLAPSED_NOTE.search(run.summary)
    assert m and m[1] == "ROC AUC"
    (table,) = [
        t for t in md_tables(trait_section(run.summary, run.trait)) if t["header"][0] == "model"
    ]
    printed = {r[0]: r[1].partition(" ± ")[0] for r in table["rows"]}
    # the mean difference recomputed with the value the note names
    metr = run.metrics[run.metrics["metric"] == "auc"]
    wide = metr.pivot(index=["repeat", "fold"], columns="model", values="value")
    lasso = wide["LASSO"].fillna(np.minimum(float(m[2]), wide["GBLUP"]))
    with_note = float((lasso - wide["GBLUP"]).mean())
    assert_printed(printed["LASSO"], with_note, "LASSO mean difference with the note's value")


def test_plots_named_in_the_docs_exist(any_run):
    names = sorted(p.name for p in (any_run.out / "plots").iterdir())
    t = any_run.trait
    assert names == [
        "learning_curves.png",
        f"observed_vs_predicted_{t}.png",
        f"per_fold_cnn_vs_gblup_{t}.png",
    ]


def test_every_file_the_summary_lists_exists(quant):
    files = quant.summary.split("\n## Files\n", 1)[1]
    names = re.findall(r"^- `([^`]+)`:", files, re.M)
    assert "metrics.csv" in names and "plots/" in names
    missing = [n for n in names if not (quant.out / n.rstrip("/")).exists()]
    assert not missing, f"summary.md lists {missing}, absent from {quant.out}"
