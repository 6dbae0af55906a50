"""The baselines' input from a DataFrame or a list: column names recorded and checked as
scikit-learn does, and int8 -1 missing codes refused whatever the container (a checking
helper, session 43)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines import CNNGP, EGBLUP, GBLUP, GBLUPAD, RKHS, Lasso, RidgeRegression
from snpcnn.baselines.cnn_gp import MLPGP
from snpcnn.errors import InputError

ALL = [GBLUP, RidgeRegression, RKHS, GBLUPAD, EGBLUP, CNNGP, MLPGP, Lasso]
DOSAGE_MODELS = [GBLUP, GBLUPAD, EGBLUP]
FEATURE_MODELS = [RidgeRegression, RKHS, CNNGP, MLPGP, Lasso]


def _frame(n=80, m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, (n, m)).astype(np.int8)
    y = X[:, :6] @ rng.normal(size=6) + rng.normal(size=n)
    return pd.DataFrame(X, columns=[f"snp{j}" for j in range(m)]), y


@pytest.mark.parametrize("cls", ALL)
def test_a_frame_in_another_column_order_or_with_other_names_is_refused(cls):
    df, y = _frame()
    model = cls().fit(df, y)
    np.testing.assert_array_equal(model.feature_names_in_, df.columns)
    assert model.feature_names_in_.dtype == object
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fitted names: no warning
        expected = model.predict(df)
    # the same columns in the order of fit: the same predictions
    np.testing.assert_allclose(model.predict(df[list(model.feature_names_in_)]), expected)
    cols = list(df.columns)
    with pytest.raises(InputError, match="Feature names must be in the same order"):
        model.predict(df[cols[::-1]])
    renamed = df.set_axis([f"x{j}" for j in range(df.shape[1])], axis=1)
    with pytest.raises(InputError, match="Feature names unseen at fit time"):
        model.predict(renamed)
    with pytest.raises(InputError, match=r"X_new\[model.feature_names_in_\]"):
        model.predict(renamed)


@pytest.mark.parametrize("cls", ALL)
def test_names_on_one_side_only_warn_as_scikit_learn_does(cls):
    df, y = _frame()
    model = cls().fit(df, y)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = model.predict(df.to_numpy())
    np.testing.assert_allclose(from_array, model.predict(df))
    # refitted on an array: the names are gone, and a frame at predict warns
    model.fit(df.to_numpy(), y)
    assert not hasattr(model, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but"):
        model.predict(df)


@pytest.mark.parametrize("cls", FEATURE_MODELS)
def test_scikit_learns_column_name_check_passes(cls):
    """The check that check_estimator (1.9) no longer runs by default; it feeds any real
    values, so the dosage models are covered by the test above instead."""
    from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

    check_dataframe_column_names_consistency(cls.__name__, cls())


@pytest.mark.parametrize("cls", FEATURE_MODELS)
@pytest.mark.parametrize("container", ["frame", "list"])
def test_integer_codes_in_a_frame_or_a_list_are_refused_by_fit(cls, container):
    df, y = _frame()
    coded = df.copy()
    coded.iloc[0, 0] = -1
    X = coded if container == "frame" else coded.to_numpy().tolist()
    with pytest.raises(InputError, match="outside 0..2"):
        cls().fit(X, y)


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize("container", ["frame", "list", "nullable"])
def test_integer_codes_in_a_frame_or_a_list_are_refused_by_predict(cls, container):
    """GBLUP and GBLUP-AD predicted from -1 in a frame silently, though they refused the
    same values as an array."""
    df, y = _frame()
    model = cls().fit(df if container != "list" else df.to_numpy().tolist(), y)
    coded = df.copy()
    coded.iloc[0, 0] = -1
    if container == "nullable":
        coded = coded.astype("Int8")  # pandas' nullable integers
    X = coded if container != "list" else coded.to_numpy().tolist()
    with pytest.raises(InputError, match="outside 0..2"):
        model.predict(X)


@pytest.mark.parametrize("cls", DOSAGE_MODELS)
def test_dosage_models_check_float_frames_at_predict_as_at_fit(cls):
    df, y = _frame()
    model = cls().fit(df, y)
    outside = df.astype(float)
    outside.iloc[0, 0] = 2.5
    with pytest.raises(InputError, match="outside 0..2"):
        cls().fit(outside, y)
    with pytest.raises(InputError, match="outside 0..2"):
        model.predict(outside)


@pytest.mark.parametrize("cls", FEATURE_MODELS)
def test_float_features_in_a_frame_are_still_taken(cls):
    """Only integer codes are refused: centred (negative) float features are features."""
    df, y = _frame()
    centred = df - df.mean()
    model = cls().fit(centred, y)
    assert np.isfinite(model.predict(centred)).all()
    X = df.to_numpy().astype(float)
    np.testing.assert_allclose(cls().fit(df, y).predict(df), cls().fit(X, y).predict(X))


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression])
def test_names_of_mixed_types_are_taken_by_position_as_before(cls):
    """scikit-learn refuses str and int names mixed; these frames were taken by position
    before session 43 and still are, without names (a review, session 43)."""
    df, y = _frame()
    mixed = df.set_axis([*df.columns[:-1], 7], axis=1)
    model = cls().fit(mixed, y)
    assert not hasattr(model, "feature_names_in_")
    np.testing.assert_allclose(model.predict(mixed), cls().fit(df.to_numpy(), y).predict(df))
    named = cls().fit(df, y)
    with pytest.raises(InputError, match=r"X_new\[model.feature_names_in_\]"):
        named.predict(df.set_axis([f"x{j}" for j in range(df.shape[1])], axis=1))


@pytest.mark.parametrize("cls", [GBLUP, RidgeRegression, Lasso])
def test_a_nullable_integer_frame_with_a_missing_value_is_refused_as_nan(cls):
    df, y = _frame()
    nullable = df.astype("Int8")
    nullable.iloc[0, 0] = pd.NA  # a bare TypeError from float(pd.NA) before
    with pytest.raises(InputError, match="NaN"):
        cls().fit(nullable, y)
