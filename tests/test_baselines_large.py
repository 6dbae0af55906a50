"""The large-n GBLUP / ridge solver against the exact eigendecomposition path."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from snpcnn.baselines import (
    GBLUP,
    KERNEL_MAX_N,
    RidgeRegression,
    drop_oversized,
    large_n,
    make_baseline,
)
from snpcnn.errors import InputError


def _sim(n: int, m: int, seed: int = 0, h2: float = 0.5, k: int = 2):
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, m)
    X = rng.binomial(2, freq, size=(n, m)).astype(np.int8)
    effects = rng.normal(size=m) * (rng.random(m) < 0.2)
    g = (X - 2 * freq) @ effects
    g = g / g.std() * np.sqrt(h2)
    C = rng.normal(size=(n, k))
    y = g + rng.normal(size=n) * np.sqrt(1 - h2) + C @ np.arange(1.0, k + 1) + 3.0
    return X, y, C


@pytest.fixture(scope="module")
def sim():
    return _sim(400, 600)


def _r(a, b):
    return float(np.corrcoef(a, b)[0, 1])


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression])
@pytest.mark.parametrize("with_covariates", [False, True])
def test_iterative_equals_exact_when_the_subsample_is_every_row(sim, cls, with_covariates):
    """Same variance ratio (the subsample is all rows): CG reproduces the exact solution."""
    X, y, C = sim
    tr, te = np.arange(300), np.arange(300, 400)
    c_tr, c_te = (C[tr], C[te]) if with_covariates else (None, None)
    exact = cls(solver="exact").fit(X[tr].astype(np.float64), y[tr], c_tr)
    it = cls(solver="iterative", subsample=300, cg_tol=1e-9).fit(X[tr], y[tr], c_tr)
    assert (exact.solver_, it.solver_) == ("exact", "iterative")
    pe, pi = exact.predict(X[te], c_te), it.predict(X[te], c_te)
    assert abs(_r(pe, y[te]) - _r(pi, y[te])) < 1e-6
    np.testing.assert_allclose(pi, pe, rtol=1e-5, atol=1e-5 * np.std(pe))
    np.testing.assert_allclose(
        it.coef_, exact.coef_, rtol=1e-4, atol=1e-6 * np.abs(exact.coef_).max()
    )
    np.testing.assert_allclose(it.beta_, exact.beta_, rtol=1e-5, atol=1e-6)
    if cls is GBLUP:
        assert it.delta_ == pytest.approx(exact.delta_, rel=1e-6)
    else:
        assert it.alpha_ == pytest.approx(exact.alpha_, rel=1e-9)
        np.testing.assert_allclose(
            it.loo_residuals_, exact.loo_residuals_, rtol=1e-5, atol=1e-5 * np.std(y)
        )


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression])
def test_iterative_on_a_subsample_keeps_the_accuracy(cls):
    """Variance ratio from half the rows: test r within 0.005 of the exact path."""
    X, y, C = _sim(900, 1500, seed=3)
    tr, te = np.arange(700), np.arange(700, 900)
    exact = cls(solver="exact").fit(X[tr].astype(np.float64), y[tr], C[tr])
    it = cls(solver="iterative", subsample=350).fit(X[tr], y[tr], C[tr])
    assert len(it.notes_) and "subsample of 350 of 700" in it.notes_[-1]
    r_exact, r_it = _r(exact.predict(X[te], C[te]), y[te]), _r(it.predict(X[te], C[te]), y[te])
    assert r_exact > 0.4
    assert abs(r_exact - r_it) < 0.005


def test_row_blocks_do_not_change_the_answer(sim, monkeypatch):
    X, y, C = sim
    one = GBLUP(solver="iterative", cg_tol=1e-10).fit(X, y, C)
    monkeypatch.setattr(large_n, "BLOCK_BYTES", 4 * 600 * 7)  # 7 rows per block
    assert len(list(large_n.row_blocks(400, 600))) == 58
    many = GBLUP(solver="iterative", cg_tol=1e-10).fit(X, y, C)
    np.testing.assert_allclose(
        many.coef_, one.coef_, rtol=1e-5, atol=1e-5 * np.abs(one.coef_).max()
    )
    np.testing.assert_allclose(many.predict(X, C), one.predict(X, C), rtol=1e-6, atol=1e-6)


def test_int8_float32_and_float64_inputs_agree(sim):
    X, y, _ = sim
    fits = [
        RidgeRegression(solver="iterative").fit(X.astype(t), y)
        for t in (np.int8, np.float32, np.float64)
    ]
    for f in fits[1:]:
        np.testing.assert_allclose(f.coef_, fits[0].coef_, rtol=1e-6, atol=1e-12)


def test_no_float_copy_of_the_whole_matrix(monkeypatch):
    """Peak allocation of an iterative fit stays far below a float32 copy of X."""
    X, y, _ = _sim(1500, 2000, seed=1)
    monkeypatch.setattr(large_n, "BLOCK_BYTES", 256 * 1024)
    tracemalloc.start()
    try:
        GBLUP(solver="iterative", subsample=300).fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X.size * 4, peak  # a float32 copy would be X.size * 4 bytes


def test_auto_switches_above_large_n(sim, monkeypatch):
    X, y, _ = sim
    monkeypatch.setattr(large_n, "LARGE_N", 350)
    assert GBLUP().fit(X[:350], y[:350]).solver_ == "exact"
    assert GBLUP().fit(X, y).solver_ == "iterative"
    assert make_baseline("ridge").fit(X, y).solver_ == "iterative"
    assert RidgeRegression().fit(X, y).solver_ == "exact"  # the class keeps exact LOO
    with pytest.raises(InputError, match="solver must be one of"):
        GBLUP(solver="fast").fit(X, y)


def test_iterative_path_checks_its_input(sim):
    X, y, _ = sim
    Xf = X.astype(np.float64)
    Xf[3, 5] = np.nan
    with pytest.raises(InputError, match="NaN"):
        GBLUP(solver="iterative").fit(Xf, y)
    with pytest.raises(InputError, match="monomorphic"):
        RidgeRegression(solver="iterative").fit(np.ones((50, 20), np.int8), y[:50])
    fit = GBLUP(solver="iterative").fit(X, y)
    with pytest.raises(InputError, match="SNP columns"):
        fit.predict(X[:, :10])


def test_kernel_baselines_take_the_nystrom_path_above_their_size():
    kept, notes = drop_oversized(["gblup", "ridge", "rkhs", "egblup"], KERNEL_MAX_N)
    assert kept == ["gblup", "ridge", "rkhs", "egblup"] and notes == []
    names = ["gblup", "ridge", "rkhs", "gblup_ad", "EG-BLUP", "cnn_gp", "mlp_gp"]
    kept, notes = drop_oversized(names, KERNEL_MAX_N + 1)
    assert kept == names  # nothing skipped
    labels = [n.split(" above ")[0] for n in notes]
    assert labels == ["RKHS", "GBLUP-AD", "EG-BLUP", "CNN-GP", "MLP-GP"]
    assert all("Nystrom" in n for n in notes)


def test_rkhs_nystrom_is_the_exact_fit_with_every_row_a_landmark_and_close_with_fewer():
    """The Nystrom path: with landmarks >= n the kernel is exact (same predictions to
    rounding); with fewer it predicts close to the exact fit; int8 input and covariates;
    predictions need only the landmarks."""
    from snpcnn.baselines import RKHS

    rng = np.random.default_rng(0)
    n, p = 700, 250
    X = rng.binomial(2, 0.3, size=(n, p)).astype(np.int8)
    g = X[:, 0] * X[:, 1] - 2.0 * (X[:, 7] == 1) + 0.5 * X[:, 20]
    y = g + rng.normal(scale=float(np.std(g)), size=n)
    C = rng.normal(size=(n, 1))
    tr, te = slice(0, 550), slice(550, n)
    exact = RKHS(solver="exact").fit(X[tr].astype(float), y[tr], C[tr])
    full = RKHS(solver="nystrom", landmarks=550).fit(X[tr], y[tr], C[tr])
    p_exact = exact.predict(X[te].astype(float), C[te])
    np.testing.assert_allclose(full.predict(X[te], C[te]), p_exact, atol=1e-6)
    assert full.solver_ == "nystrom" and exact.solver_ == "exact"
    assert abs(full.delta_ - exact.delta_) < 1e-6 * exact.delta_
    assert any("Nystrom approximation" in note for note in full.notes_)
    few = RKHS(solver="nystrom", landmarks=150).fit(X[tr], y[tr], C[tr])
    assert few.landmark_model_.X_train_.shape == (150, p) and not hasattr(few, "X_train_")
    r_exact = np.corrcoef(p_exact, y[te])[0, 1]
    r_few = np.corrcoef(few.predict(X[te], C[te]), y[te])[0, 1]
    assert r_few > r_exact - 0.1 and r_few > 0.2
    with pytest.raises(InputError, match="keeps no training rows"):
        few.kernel(X[te])
    with pytest.raises(InputError, match="solver must be one of"):
        RKHS(solver="fast").fit(X[tr], y[tr])
    with pytest.raises(InputError, match="SNP columns"):
        few.predict(X[te, :10], C[te])


@pytest.fixture(scope="module")
def small_csv(example_data, tmp_path_factory):
    import pandas as pd

    d = tmp_path_factory.mktemp("refit")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x.iloc[:80, :101].to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph[ph.sample_id.isin(x.sample_id[:80])].to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(
        'name = "tiny"\n[[blocks]]\ntype = "flatten"\n[[blocks]]\ntype = "dense"\nunits = 4\n'
    )
    return d


def _cv(d, **kw):
    from snpcnn.cv import cross_validate

    events = []
    res = cross_validate(
        str(d / "geno.csv"),
        str(d / "pheno.csv"),
        "GY_E1",
        model=str(d / "tiny.toml"),
        folds=2,
        epochs=1,
        baselines=["gblup"],
        progress=lambda kind, **info: events.append(kind),
        **kw,
    )
    return res, events


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_refit_over_the_cap_is_refused_before_the_first_fold(small_csv, monkeypatch):
    import snpcnn.cv as cv

    # 80 x 100 float32 = 32,000 bytes for the refit, 40 x 100 x 4 = 16,000 per fold
    monkeypatch.setattr(cv, "MAX_DENSE_BYTES", 20_000)
    events = []
    with pytest.raises(InputError, match="final refit on all 80 samples would encode.*refit=False"):
        cv.cross_validate(
            str(small_csv / "geno.csv"),
            str(small_csv / "pheno.csv"),
            "GY_E1",
            model=str(small_csv / "tiny.toml"),
            folds=2,
            epochs=1,
            baselines=["gblup"],
            progress=lambda kind, **info: events.append(kind),
        )
    assert "fold_start" not in events
    res, events = _cv(small_csv, refit=False)
    assert events.count("fold_done") == 2 and res.final_bundle is None


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_failed_refit_keeps_the_cross_validation(small_csv, monkeypatch):
    import snpcnn.cv as cv

    monkeypatch.setattr(cv, "MAX_DENSE_BYTES", 20_000)
    monkeypatch.setattr(cv, "_check_refit_size", lambda *a: None)  # as if it had passed
    res, events = _cv(small_csv)
    assert events.count("fold_done") == 2
    assert res.final_bundle is None
    assert not res.metrics.empty
    assert any("final refit on all 80 samples failed" in n for n in res.notes)
