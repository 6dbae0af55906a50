"""The CNN's ridge start for many training rows (snpcnn.datapath.fit_ridge_large): the
large-n solver's model, honest out-of-fold residuals, the same for streamed rows."""

import numpy as np
import pytest

from snpcnn import datapath
from snpcnn.baselines import RidgeRegression
from snpcnn.datapath import EncodedRows, FlatRows, fit_ridge_large, start_is_large
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes
from snpcnn.training import _fit_ridge


@pytest.fixture(scope="module")
def data():
    geno = simulate_genotypes(160, 60, missing_rate=0.02, seed=11)
    pre = GenotypePreprocessor(scaling="standardize").fit(geno, np.arange(160))
    x = pre.transform(geno, np.arange(160))
    rng = np.random.default_rng(3)
    y = x[:, :6, 0].sum(axis=1) + rng.normal(size=160)
    return geno, pre, x, y.astype(np.float32)[:, None]


@pytest.fixture()
def small_limit(monkeypatch):
    monkeypatch.setattr(datapath, "START_LARGE_N", 40)


def test_switch_needs_many_rows_and_many_columns(data, small_limit):
    geno, pre, x, _ = data
    assert start_is_large(x)  # 160 rows, 60 columns, both above 40
    assert not start_is_large(x[:30])
    assert not start_is_large(x[:, :30])
    # streamed rows that outnumber the columns always take it (the exact streamed fit
    # needs rows <= columns)
    datapath.START_LARGE_N = 10**6
    assert start_is_large(EncodedRows(geno, pre, np.arange(160)))
    assert not start_is_large(EncodedRows(geno, pre, np.arange(50)))


def test_large_start_is_the_large_n_ridge_and_close_to_the_exact_one(data, small_limit):
    _, _, x, y = data
    start = _fit_ridge(x, y, penalty="reml")
    ref = RidgeRegression(penalty="reml", solver="iterative").fit(x.reshape(160, -1), y[:, 0])
    np.testing.assert_allclose(start.predict(x)[:, 0], ref.predict(x.reshape(160, -1)), atol=1e-4)
    datapath.START_LARGE_N = 10**6
    exact = _fit_ridge(x, y, penalty="reml")
    r = np.corrcoef(start.predict(x)[:, 0], exact.predict(x)[:, 0])[0, 1]
    assert r > 0.99


def test_out_of_fold_residuals_do_not_see_their_own_row(data, small_limit):
    """fit - shift is the prediction of a model that did not train on the row: changing
    a row's target moves its full fit but not that prediction (penalty fixed)."""
    _, _, x, y = data
    a = fit_ridge_large(x, y, alphas=[30.0])
    y2 = y.copy()
    y2[17, 0] += 50.0
    b = fit_ridge_large(x, y2, alphas=[30.0])
    honest_a = a.predict(x) - a.shift
    honest_b = b.predict(x) - b.shift
    assert abs(b.predict(x)[17, 0] - a.predict(x)[17, 0]) > 0.05
    assert abs(honest_b[17, 0] - honest_a[17, 0]) < 1e-4
    # and the out-of-fold residuals are larger than the in-sample ones
    assert np.mean((y - honest_a) ** 2) > np.mean((y - a.predict(x)) ** 2)


@pytest.mark.parametrize("dense_bytes", [0, 10**9])  # read lazily per CG pass, or encoded once
def test_missing_targets_and_streamed_rows(data, small_limit, monkeypatch, dense_bytes):
    monkeypatch.setattr(datapath, "START_DENSE_BYTES", dense_bytes)
    geno, pre, x, y = data
    y = y.copy()
    y[[3, 90], 0] = np.nan
    dense = fit_ridge_large(x, y, penalty="reml")
    streamed = fit_ridge_large(EncodedRows(geno, pre, np.arange(160)), y, penalty="reml")
    assert dense.shift[3, 0] == 0 and dense.shift[90, 0] == 0
    np.testing.assert_allclose(streamed.coef, dense.coef, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(streamed.shift, dense.shift, atol=1e-4)
    assert FlatRows(x).shape == (160, 60)


def test_gls_fixed_effects_of_the_start_on_many_rows(data, small_limit):
    from snpcnn.cv import _gls

    _, _, x, y = data
    c = np.random.default_rng(1).normal(size=(160, 1))
    yy = y[:, 0].astype(np.float64) + 2.0 * c[:, 0] + 5.0
    coef, alpha = _gls(x, yy, c)
    assert alpha > 0 and abs(coef[1] - 2.0) < 0.5 and abs(coef[0] - 5.0) < 0.5


def test_subsample_gram_of_streamed_rows_encodes_column_blocks(monkeypatch):
    """The REML subsample's Gram matrix from the int8 rows, encoded one column block at a
    time, equals the one from the float matrix (bit for bit)."""
    from snpcnn.baselines import large_n
    from snpcnn.datapath import EncodedRows, FlatRows
    from snpcnn.preprocess import GenotypePreprocessor
    from snpcnn.simulate import simulate_genotypes

    g = simulate_genotypes(80, 150, missing_rate=0.02, seed=3)
    rows = np.arange(5, 75)
    pre = GenotypePreprocessor().fit(g, rows)
    dense = FlatRows(pre.transform(g, rows))
    streamed = FlatRows(EncodedRows(g, pre, rows))
    monkeypatch.setattr(large_n, "BLOCK_BYTES", 4 * 20 * 16)  # 16 columns per block
    sub = np.array([0, 3, 7, 8, 20, 41, 69])
    mean = dense[np.arange(len(rows))].mean(axis=0).astype(np.float64)
    want = large_n.subsample_gram(dense.x.reshape(len(rows), -1), sub, mean)
    got = large_n.subsample_gram(streamed, sub, mean)
    np.testing.assert_array_equal(got, want)
