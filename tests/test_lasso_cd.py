"""The LASSO / elastic-net coordinate-descent solver (snpcnn.baselines._lasso_cd)."""

import numpy as np
import pytest

from snpcnn.baselines._lasso_cd import _solve_small, solve


def _ld_data(n=120, p=300, seed=0):
    """Markers in strong LD (a latent AR(1) chain, thresholded) and a sparse trait."""
    rng = np.random.default_rng(seed)
    z = np.empty((n, p))
    z[:, 0] = rng.normal(size=n)
    for j in range(1, p):
        z[:, j] = 0.9 * z[:, j - 1] + np.sqrt(1 - 0.81) * rng.normal(size=n)
    x = (z > 0).astype(float) + (z > 0.8)
    x -= x.mean(axis=0)
    y = x[:, [10, 50, 200]] @ [1.0, -0.7, 0.5] + rng.normal(size=n)
    return np.asfortranarray(x), y - y.mean()


def _violations(x, y, b, a1, a2):
    g = -x.T @ (y - x @ b) / len(y)
    v = np.where(b > 0, np.abs(g + a1 + a2 * b), np.abs(g - a1 + a2 * b))
    return np.where(b == 0, np.maximum(0.0, np.abs(g) - a1), v)


@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
def test_matches_scikit_learn_optimum(l1_ratio):
    """At a tight tolerance the effects equal scikit-learn's coordinate descent (the same
    objective: squared error / 2n + alpha (l1_ratio |b|_1 + (1 - l1_ratio) |b|^2 / 2))."""
    from sklearn.linear_model import ElasticNet

    x, y = _ld_data()
    alpha = 0.02
    ours, worst = solve(x, y, alpha, l1_ratio, 1e-10)
    sk = ElasticNet(
        alpha=alpha, l1_ratio=l1_ratio, fit_intercept=False, tol=1e-12, max_iter=200_000
    ).fit(x, y)
    assert worst <= 1e-10
    np.testing.assert_allclose(x @ ours, x @ sk.coef_, atol=1e-6)
    assert np.count_nonzero(ours) > 3  # a real path point, not the empty model


def test_every_column_within_the_tolerance():
    """The stopping rule holds for every column (checked independently, in numpy), also from a
    warm start at another penalty, and the result is the same on a second run (deterministic)."""
    x, y = _ld_data(seed=1)
    amax = np.abs(x.T @ y).max() / len(y)
    tol = 1e-4 * amax
    b1, _ = solve(x, y, 0.3 * amax, 1.0, tol)
    b2, worst = solve(x, y, 0.1 * amax, 1.0, tol, beta=b1)
    assert worst <= tol
    assert _violations(x, y, b2, 0.1 * amax, 0.0).max() <= tol * (1 + 1e-9)
    b3, _ = solve(x, y, 0.1 * amax, 1.0, tol, beta=b1)
    assert np.array_equal(b2, b3)
    assert not np.array_equal(b1, b2)


def test_above_alpha_max_gives_no_effect_and_constant_columns_stay_zero():
    x, y = _ld_data(seed=2)
    x = np.asfortranarray(np.column_stack([x, np.zeros(len(y))]))
    amax = np.abs(x.T @ y).max() / len(y)
    b, worst = solve(x, y, 1.01 * amax, 1.0, 1e-8)
    assert not b.any() and worst == 0.0
    b, _ = solve(x, y, 0.05 * amax, 1.0, 1e-8)
    assert b[-1] == 0.0 and np.count_nonzero(b) > 0


def test_small_solve():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 5))
    b = rng.normal(size=5)
    np.testing.assert_allclose(_solve_small(a, b), np.linalg.solve(a, b), rtol=1e-10)
    assert np.isnan(_solve_small(np.zeros((3, 3)), np.ones(3))).all()


def test_penalty_choice_does_not_depend_on_the_trait_scale():
    """The same trait in other units (x 1e-9, x 1e9) gets the same penalty and the same
    selected markers (the tie rule and the tolerance are relative)."""
    from snpcnn.baselines.lasso import cross_validated_lasso

    x, y = _ld_data(n=200, seed=4)
    x = np.ascontiguousarray(x)
    ref = cross_validated_lasso(x, y)
    assert ref.best > 0 and np.count_nonzero(ref.coef) > 0
    for s in (1e-9, 1e9):
        fit = cross_validated_lasso(x, y * s)
        assert fit.best == ref.best
        np.testing.assert_array_equal(fit.coef != 0, ref.coef != 0)
        np.testing.assert_allclose(fit.coef / s, ref.coef, rtol=1e-6, atol=1e-9)


def test_quadratic_effects_without_squares_predicts_the_same():
    """The LASSO start's layer (squares=False) gives the linear prediction bit for bit, and a
    layer saved before the flag existed (no "squares" in its config) keeps its squares."""
    from snpcnn.models.layers import QuadraticEffects

    rng = np.random.default_rng(5)
    x = rng.normal(size=(7, 12)).astype("float32")
    lin = rng.normal(size=12)
    full, lean = QuadraticEffects(12), QuadraticEffects(12, squares=False)
    for layer in (full, lean):
        layer.build((None, 12))
        layer.set_effects(lin, np.zeros(12), 0.5)
    np.testing.assert_array_equal(np.asarray(lean(x)), np.asarray(full(x)))
    config = full.get_config()
    config.pop("squares")
    assert QuadraticEffects.from_config(config).squares is True
