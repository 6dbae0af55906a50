"""Issue 14 item 1: with covariates, genomic accuracy is reported apart from the total."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snpcnn.cv import FIXED_NAME, GENOMIC_METRIC, cross_validate
from snpcnn.report import console_report

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sexed(tmp_path_factory):
    """Wheat GY_E1 plus a strong 'sex' effect: the covariate alone predicts most of y."""
    ph = pd.read_csv(ROOT / "example_data" / "wheat_phenotypes.csv")
    rng = np.random.default_rng(3)
    ph["sex"] = rng.choice(["F", "M"], size=len(ph))
    ph["y"] = ph["GY_E1"] + np.where(ph["sex"] == "M", 3.0, 0.0)
    path = tmp_path_factory.mktemp("sexed") / "pheno.csv"
    ph[["sample_id", "y", "sex", "GY_E1"]].to_csv(path, index=False)
    res = cross_validate(
        ROOT / "example_data" / "wheat.bed",
        path,
        "y",
        covariates=["sex"],
        folds=3,
        cnn=False,
        baselines=["gblup"],
        refit=False,
    )
    return res, ph.set_index(ph["sample_id"].astype(str))


def test_covariates_only_row_and_genomic_r(sexed):
    res, ph = sexed
    assert FIXED_NAME in res.models
    m = res.metrics
    total = m[(m.model == "GBLUP") & (m.metric == "pearson_r")]["value"].mean()
    fixed = m[(m.model == FIXED_NAME) & (m.metric == "pearson_r")]["value"].mean()
    genomic = m[(m.model == "GBLUP") & (m.metric == GENOMIC_METRIC)]["value"].mean()
    # the covariate explains most of the total; the genomic r is far below it
    assert fixed > 0.75 and total > fixed
    assert 0.3 < genomic < total - 0.2
    # the covariates-only model has no genomic r of its own
    assert m[(m.model == FIXED_NAME) & (m.metric == GENOMIC_METRIC)].empty


def test_genomic_r_is_the_adjusted_correlation(sexed):
    """Recomputed by hand from predictions.csv: r(y - fixed, yhat - fixed) per fold."""
    res, _ = sexed
    p = res.predictions
    for fold, g in p.groupby("fold"):  # noqa: B007 (used as @fold in the query)
        gb = g[g.model == "GBLUP"].set_index("sample_id")
        fx = g[g.model == FIXED_NAME].set_index("sample_id").loc[gb.index]
        a = gb["observed"] - fx["predicted"]
        b = gb["predicted"] - fx["predicted"]
        want = np.corrcoef(a, b)[0, 1]
        got = res.metrics.query("model == 'GBLUP' and metric == @GENOMIC_METRIC and fold == @fold")[
            "value"
        ].iloc[0]
        assert got == pytest.approx(want, abs=1e-12)


def test_within_sex_r_close_to_genomic_r(sexed):
    """With one binary covariate, the adjusted r is close to the r within each level."""
    res, ph = sexed
    p = res.predictions[res.predictions.model == "GBLUP"].copy()
    p["sex"] = ph.loc[p["sample_id"].astype(str), "sex"].to_numpy()
    within = [np.corrcoef(g.observed, g.predicted)[0, 1] for _, g in p.groupby(["fold", "sex"])]
    genomic = res.metrics.query("model == 'GBLUP' and metric == @GENOMIC_METRIC")["value"]
    assert abs(np.mean(within) - genomic.mean()) < 0.05


def test_report_names_total_and_genomic(sexed):
    res, _ = sexed
    text = console_report(res)
    assert "**Total accuracy**" in text and "**Genomic accuracy**" in text
    assert "Covariates only" in text


def test_no_covariates_no_genomic_rows():
    res = cross_validate(
        ROOT / "example_data" / "wheat.bed",
        ROOT / "example_data" / "wheat_phenotypes.csv",
        "GY_E1",
        folds=3,
        cnn=False,
        baselines=["gblup"],
        refit=False,
    )
    assert FIXED_NAME not in res.models
    assert GENOMIC_METRIC not in set(res.metrics.metric)
    assert "Genomic accuracy" not in console_report(res)
