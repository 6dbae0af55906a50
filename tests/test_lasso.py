"""The LASSO baseline: the sparse linear model, its penalty by inner CV on the training rows."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.baselines import BASELINE_LABELS, BASELINES, Lasso, RidgeRegression, make_baseline
from snpcnn.errors import InputError


def _sparse(seed: int = 0, n: int = 300, m: int = 400, k: int = 4):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, 0.4, size=(n, m)).astype(float)
    g = X[:, :k] @ rng.choice([-1.0, 1.0], size=k)
    y = g + rng.normal(scale=g.std(), size=n)  # h2 0.5
    return X, y


def test_registered_by_name():
    assert "lasso" in BASELINES and BASELINE_LABELS["lasso"] == "LASSO"
    m = make_baseline("LASSO")
    assert isinstance(m, Lasso) and m.name == "LASSO"


def test_sparse_trait_beats_ridge_and_selects_the_causal_markers():
    X, y = _sparse()
    tr, te = slice(0, 200), slice(200, None)
    las = Lasso().fit(X[tr], y[tr])
    rid = RidgeRegression().fit(X[tr], y[tr])
    r_las = np.corrcoef(las.predict(X[te]), y[te])[0, 1]
    r_rid = np.corrcoef(rid.predict(X[te]), y[te])[0, 1]
    assert r_las > r_rid + 0.05, (r_las, r_rid)
    assert 4 <= las.n_selected_ < 100
    top = np.argsort(-np.abs(las.coef_))[:4]
    assert set(top) == {0, 1, 2, 3}
    assert len(las.cv_mse_) <= len(las.alphas_) and las.alpha_ in las.alphas_
    assert las.alpha_ == las.alphas_[int(np.argmin(las.cv_mse_))]


def test_no_signal_selects_few_markers():
    rng = np.random.default_rng(1)
    X = rng.binomial(2, 0.5, size=(150, 200)).astype(float)
    m = Lasso().fit(X, rng.normal(size=150))
    assert m.n_selected_ <= 10


def test_deterministic_and_the_seed_is_the_only_randomness():
    X, y = _sparse(2)
    a, b = Lasso().fit(X, y), Lasso().fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.alpha_ == b.alpha_


def test_covariates_are_unpenalised_fixed_effects():
    X, y = _sparse(3)
    rng = np.random.default_rng(3)
    C = rng.normal(size=(len(y), 2))
    y2 = y + C @ [5.0, -3.0]
    m = Lasso().fit(X, y2, C)
    np.testing.assert_allclose(m.beta_[1:], [5.0, -3.0], atol=0.3)
    pred = m.predict(X, C)
    assert np.corrcoef(pred, y2)[0, 1] > 0.9
    with pytest.raises(InputError, match="C_new"):
        m.predict(X)


def test_elastic_net_and_shift_invariance():
    X, y = _sparse(4)
    a = Lasso(l1_ratio=0.5).fit(X, y)
    b = Lasso(l1_ratio=0.5).fit(X, y + 10.0)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-8)
    np.testing.assert_allclose(b.predict(X) - a.predict(X), 10.0, atol=1e-6)


@pytest.mark.parametrize("shift, scale", [(3e10, 1.0), (0.0, 1e-12), (0.0, 1e-90)])
def test_a_large_offset_or_a_tiny_scale_is_not_a_constant_trait(shift, scale):
    """y + 3e10, or y x 1e-12, was "constant after the fixed effects" (1e-10 of max(1, |y|))
    and the LASSO predicted the mean, scored "ok" with r ~ 0 (a checking helper, session 41)."""
    X, y = _sparse(4)
    a = Lasso().fit(X, y)
    b = Lasso().fit(X, y * scale + shift)
    assert b.n_selected_ == a.n_selected_ > 0
    np.testing.assert_allclose((b.predict(X) - shift) / scale, a.predict(X), rtol=1e-4, atol=1e-4)
    flat = Lasso().fit(X, np.full(len(y), 3e10))  # really constant: still the mean
    assert flat.n_selected_ == 0 and "constant" in flat.notes_[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"l1_ratio": 0.0}, "l1_ratio"),
        ({"cv": 1}, "inner folds"),
        ({"eps": 2.0}, "eps"),
        ({"cv": 5.0}, "whole number"),
        ({"tol": float("nan")}, "tol must be a number"),
    ],
)
def test_bad_parameters(kwargs, match):
    """Checked by fit, not the constructor (scikit-learn's rule: ``set_params`` then fit)."""
    X, y = _sparse(5, n=40, m=30)
    model = Lasso(**kwargs)  # stores its arguments as given
    assert model.get_params()[next(iter(kwargs))] is next(iter(kwargs.values()))
    with pytest.raises(InputError, match=match):
        model.fit(X, y)
    with pytest.raises(InputError, match=match):
        Lasso().set_params(**kwargs).fit(X, y)


def test_bad_inputs():
    X, y = _sparse(5, n=40, m=30)
    with pytest.raises(InputError, match="not fitted"):
        Lasso().predict(X)
    with pytest.raises(InputError, match="NaN"):
        Lasso().fit(np.where(X == 0, np.nan, X), y)
    # a constant trait is fitted as GBLUP and ridge fit it: it predicts the constant (it
    # used to be refused, and stopped a cross-validation whose training part was constant)
    const = Lasso().fit(X, np.full(len(y), 2.0))
    np.testing.assert_allclose(const.predict(X), 2.0)
    assert const.n_selected_ == 0 and any("constant" in n for n in const.notes_)
    with pytest.raises(InputError, match="at least 10"):
        Lasso().fit(X[:8], y[:8])
    m = Lasso().fit(X, y)
    with pytest.raises(InputError, match="SNP columns"):
        m.predict(X[:, :10])


def test_in_cross_validation(tmp_path):
    """--baselines lasso runs on the same folds as GBLUP and gets its own row."""
    from snpcnn.cv import cross_validate
    from snpcnn.simulate import simulate_genotypes, simulate_trait

    g = simulate_genotypes(160, 120, n_chrom=1, seed=5)
    y, _ = simulate_trait(g, "sparse_additive", n_loci=3, h2=0.6, seed=6)
    y.rename("t").to_frame().to_csv(tmp_path / "y.csv", index_label="sample_id")
    res = cross_validate(
        g, tmp_path / "y.csv", "t", folds=2, cnn=False, baselines=["gblup", "lasso"]
    )
    r = res.metrics[res.metrics["metric"] == "pearson_r"]
    assert set(r["model"]) >= {"GBLUP", "LASSO"}
    assert (r[r["model"] == "LASSO"]["status"] == "ok").all()
