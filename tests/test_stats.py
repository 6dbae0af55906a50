"""Marginal association scan against scipy.stats.linregress and a full OLS fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.stats import marginal_association, select_snps


@pytest.fixture
def small():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, size=(60, 12)).astype(np.int8)
    X[:, 4] = 1  # monomorphic
    y = 0.8 * X[:, 0] - 0.5 * X[:, 7] + rng.normal(size=60)
    return X, y


def test_matches_linregress_per_snp(small):
    X, y = small
    res = marginal_association(X, y)
    for j in range(X.shape[1]):
        if j == 4:
            continue
        ref = stats.linregress(X[:, j].astype(float), y)
        assert res["beta"][j] == pytest.approx(ref.slope, rel=1e-10, abs=1e-12)
        assert res["se"][j] == pytest.approx(ref.stderr, rel=1e-10)
        assert res["p"][j] == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
        assert res["neglog10p"][j] == pytest.approx(-np.log10(ref.pvalue), rel=1e-8)
    assert (res["n"] == 60).all()


def test_float_and_genotypes_input_agree(small):
    X, y = small
    g = Genotypes(X, [f"s{i}" for i in range(len(X))])
    a = marginal_association(g, y)
    b = marginal_association(X.astype(np.float64), y)
    assert list(a.columns[:3]) == ["chrom", "pos", "id"]
    np.testing.assert_allclose(a["t"], b["t"])


def test_monomorphic_gives_p_one_not_nan(small):
    X, y = small
    res = marginal_association(X, y)
    assert res["p"][4] == 1.0
    assert res["t"][4] == 0.0
    assert res["beta"][4] == 0.0
    assert res["neglog10p"][4] == 0.0
    assert not res[["beta", "t", "p", "neglog10p"]].isna().any().any()


def test_missing_is_mean_imputed_over_rows_used(small):
    X, y = small
    Xm = X.copy()
    Xm[[1, 5, 9], 0] = -1
    res = marginal_association(Xm, y)
    col = Xm[:, 0].astype(float)
    col[[1, 5, 9]] = col[Xm[:, 0] >= 0].mean()
    ref = stats.linregress(col, y)
    assert res["p"][0] == pytest.approx(ref.pvalue, rel=1e-8)
    Xf = X.astype(float)
    Xf[[1, 5, 9], 0] = np.nan
    assert marginal_association(Xf, y)["p"][0] == pytest.approx(ref.pvalue, rel=1e-8)


def test_covariates_match_full_ols(small):
    X, y = small
    rng = np.random.default_rng(0)
    C = rng.normal(size=(60, 2))
    y2 = y + 2 * C[:, 0]
    res = marginal_association(X, y2, covariates=C)
    for j in (0, 3, 7):
        D = np.column_stack([np.ones(60), C, X[:, j]])
        coef, rss, *_ = np.linalg.lstsq(D, y2, rcond=None)
        df = 60 - D.shape[1]
        cov = rss[0] / df * np.linalg.inv(D.T @ D)
        se = np.sqrt(cov[-1, -1])
        p = 2 * stats.t.sf(abs(coef[-1] / se), df)
        assert res["beta"][j] == pytest.approx(coef[-1], rel=1e-9)
        assert res["se"][j] == pytest.approx(se, rel=1e-9)
        assert res["p"][j] == pytest.approx(p, rel=1e-7)


def test_rows_equal_subset(small):
    X, y = small
    rows = np.arange(0, 60, 2)
    a = marginal_association(X, y[rows], rows=rows)
    b = marginal_association(X[rows], y[rows])
    np.testing.assert_allclose(a["p"], b["p"])
    assert (a["n"] == 30).all()


def test_tiny_p_values_stay_finite_on_log_scale():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, 2000).astype(np.int8)
    y = x + rng.normal(0, 0.01, 2000)
    res = marginal_association(x[:, None], y)
    assert res["p"][0] == 0.0  # underflows
    assert np.isfinite(res["neglog10p"][0]) and res["neglog10p"][0] > 300


def test_bad_input_is_one_clear_error(small):
    X, y = small
    y = y.copy()
    y[3] = np.nan
    with pytest.raises(InputError, match="row 3"):
        marginal_association(X, y)
    with pytest.raises(InputError, match="align"):
        marginal_association(X, y[:10])


def test_select_snps_top_k_and_threshold(small):
    X, y = small
    res = marginal_association(X, y)
    top2 = select_snps(X, y, k=2)
    assert set(top2) == set(np.argsort(res["p"].to_numpy())[:2])
    assert 0 in top2
    sig = select_snps(X, y, p_max=0.01)
    np.testing.assert_array_equal(sig, np.flatnonzero(res["p"].to_numpy() <= 0.01))


def test_marginal_association_with_rows_takes_a_phenotype_per_genotype_row():
    """docs/explain.md passes the whole phenotype with rows=train_rows (a checking helper:
    it was refused); both lengths give the same scan, another length is a clear error."""
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, size=(60, 8)).astype(np.int8)
    y = X[:, 2] + rng.normal(size=60)
    cov = rng.normal(size=(60, 2))
    rows = np.arange(0, 60, 2)
    a = marginal_association(X, y, covariates=cov, rows=rows)
    b = marginal_association(X, y[rows], covariates=cov[rows], rows=rows)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(InputError, match="30 \\(one per selected row\\) or 60"):
        marginal_association(X, y[:45], rows=rows)
