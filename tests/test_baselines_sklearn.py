"""The baselines are scikit-learn regressors: parameters, clone, cross_val_score, grid search,
and the errors scikit-learn's tools look for."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone, is_regressor
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from snpcnn.baselines import CNNGP, EGBLUP, GBLUP, GBLUPAD, RKHS, Lasso, RidgeRegression
from snpcnn.baselines.cnn_gp import MLPGP
from snpcnn.errors import InputError

ALL = [GBLUP, RidgeRegression, RKHS, GBLUPAD, EGBLUP, CNNGP, MLPGP, Lasso]


def _data(n=90, m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, (n, m)).astype(float)
    y = X[:, :6] @ rng.normal(size=6) + rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("cls", ALL)
def test_params_clone_and_repr(cls):
    model = cls()
    params = model.get_params()
    assert is_regressor(model)
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    key = sorted(params)[0]
    assert f"{key}=" in repr(model)
    changed = clone(model).set_params(solver="exact") if "solver" in params else model
    if "solver" in params:
        assert changed.get_params()["solver"] == "exact"


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression, RKHS, Lasso])
def test_cross_val_score_equals_a_manual_loop(cls):
    X, y = _data()
    cv = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(cls(), X, y, cv=cv, scoring="r2")
    manual = []
    for tr, te in cv.split(X):
        m = cls().fit(X[tr], y[tr])
        manual.append(m.score(X[te], y[te]))
    np.testing.assert_allclose(scores, manual, rtol=1e-10)


def test_grid_search_sets_a_parameter():
    X, y = _data()
    grid = GridSearchCV(RKHS(), {"bandwidths": [(0.25,), (4.0,)]}, cv=3).fit(X, y)
    assert grid.best_params_["bandwidths"] in [(0.25,), (4.0,)]
    assert grid.best_estimator_.bandwidths == grid.best_params_["bandwidths"]
    assert np.isfinite(grid.predict(X)).all()


@pytest.mark.parametrize("cls", ALL)
def test_predict_before_fit_is_both_errors(cls):
    X, _ = _data(n=10)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        cls().predict(X)
    with pytest.raises(InputError):
        cls().predict(X)


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression, Lasso])
def test_input_errors_scikit_learn_recognises(cls):
    X, y = _data(n=40)
    with pytest.raises(InputError, match="requires y to be passed"):
        cls().fit(X, None)
    with pytest.raises(InputError, match="sparse input is not supported"):
        cls().fit(sp.csr_matrix(X), y)
    with pytest.raises(InputError, match="complex"):
        cls().fit(X + 1j, y)
    with pytest.raises(InputError, match=r"0 feature\(s\)"):
        cls().fit(X[:, :0], y)
    model = cls().fit(X, y)
    with pytest.raises(InputError, match="Reshape your data"):
        model.predict(X[0])
    name = cls.__name__
    with pytest.raises(InputError, match=f"X has 59 features, but {name} is expecting 60 features"):
        model.predict(X[:, 1:])


def test_ridge_penalty_set_later_is_checked_by_fit():
    X, y = _data(n=30)
    model = RidgeRegression().set_params(penalty="gcv")  # no error until fit
    with pytest.raises(InputError, match="penalty must be 'loo' or 'reml'"):
        model.fit(X, y)


@pytest.mark.parametrize("cls", [RidgeRegression, RKHS, GBLUP])
def test_scikit_learn_estimator_checks(cls):
    """RidgeRegression and RKHS pass every check; GBLUP fails only those that feed X values
    outside 0..2, which it refuses by design (its relationship matrix needs dosages)."""
    from sklearn.utils.estimator_checks import check_estimator

    results = check_estimator(cls(), on_fail=None)
    failed = [r for r in results if r["status"] == "failed"]
    if cls is GBLUP:
        assert failed and all("outside 0..2" in str(r["exception"]) for r in failed)
        assert sum(r["status"] == "passed" for r in results) >= 25
    else:
        assert not failed, [(r["check_name"], str(r["exception"])[:200]) for r in failed]


@pytest.mark.parametrize("cls", [RKHS, CNNGP, Lasso, RidgeRegression])
def test_integer_codes_outside_0_2_are_refused_by_fit_and_predict(cls):
    """int8 -1 (a missing call) is no feature value; these models take any real feature, so
    only integer arrays are checked."""
    X, y = _data(n=40)
    coded = X.astype(np.int8)
    coded[0, 0] = -1
    with pytest.raises(InputError, match="outside 0..2"):
        cls().fit(coded, y)
    model = cls().fit(X, y)
    with pytest.raises(InputError, match="outside 0..2"):
        model.predict(coded)


def test_multitrait_gblup_checks_its_dosages():
    from snpcnn.multitrait import MultiTraitGBLUP

    X, y = _data(n=40)
    Y = np.column_stack([y, y + np.random.default_rng(1).normal(size=40)])
    with pytest.raises(InputError, match="outside 0..2"):
        MultiTraitGBLUP().fit(2 * X, Y)
    with pytest.raises(InputError, match="monomorphic"):
        MultiTraitGBLUP().fit(np.ones_like(X), Y)
    with pytest.raises(InputError, match="at least 3 training lines"):
        MultiTraitGBLUP().fit(X[:2], Y[:2])
    model = MultiTraitGBLUP().fit(X, Y)
    with pytest.raises(InputError, match="X has 59 features, but MultiTraitGBLUP is expecting 60"):
        model.predict(X[:, 1:])
