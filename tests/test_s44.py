"""Session 44: a fold table's unnamed fold column, the multi-trait boundary-correlation note,
and a failed refit of the scikit-learn estimators."""

import warnings

import numpy as np
import pytest

from snpcnn.cv import boundary_correlation_note
from snpcnn.errors import InputWarning
from snpcnn.estimator import SNPCNNClassifier, SNPCNNRegressor
from snpcnn.folds import read_folds

IDS = np.array([f"s{i}" for i in range(6)])


def test_an_unnamed_fold_column_among_several_is_named_in_a_warning(tmp_path):
    many = tmp_path / "many.csv"
    rows = "".join(f"s{i},{i % 2 + 1},{i},{i * 2}\n" for i in range(6))
    many.write_text("sample_id,env,year,plot\n" + rows)
    with pytest.warns(InputWarning, match=r"read from 'env', the first of 3 other columns"):
        t = read_folds(many, IDS)
    assert t["fold"].tolist() == [i % 2 + 1 for i in range(6)]
    # one other column: it is the fold column, quietly (as documented)
    two = tmp_path / "two.csv"
    two.write_text("sample_id,cv\n" + "".join(f"s{i},{i % 2 + 1}\n" for i in range(6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        read_folds(two, IDS)
    # a named fold column beside others: no warning either
    named = tmp_path / "named.csv"
    named.write_text("sample_id,year,fold\n" + "".join(f"s{i},{i},{i % 2 + 1}\n" for i in range(6)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)
        assert read_folds(named, IDS)["fold"].tolist() == [i % 2 + 1 for i in range(6)]


def _history(start, corr):
    return {"conv": {"start": start, "start_choice": {"genetic_correlations": corr}}}


def test_a_genetic_correlation_on_the_boundary_is_named():
    at_one = [[1.0, 1.0, 0.2], [1.0, 1.0, 0.3], [0.2, 0.3, 1.0]]
    inside = [[1.0, 0.8, 0.2], [0.8, 1.0, 0.3], [0.2, 0.3, 1.0]]
    traits = ["BMI", "LEN", "W"]
    hist = [_history("mtgblup", at_one), _history("mt_cnn_gp", inside), _history("ridge", None)]
    note = boundary_correlation_note(hist, {}, traits)
    assert "BMI and LEN" in note and "1 of 2 fold(s)" in note and "refit" not in note
    note = boundary_correlation_note(hist, {"refit_genetic_correlations": at_one}, traits)
    assert "1 of 2 fold(s) and the refit (model.keras)" in note
    # -1 is the boundary too; inside it, or one trait, or a one-trait start: no note
    neg = [[1.0, -0.9995], [-0.9995, 1.0]]
    assert "A and B" in boundary_correlation_note([_history("mtgblup", neg)], {}, ["A", "B"])
    assert boundary_correlation_note([_history("mtgblup", inside)], {}, traits) is None
    assert boundary_correlation_note([_history("ridge", at_one)], {}, traits) is None
    assert boundary_correlation_note([], {}, ["A"]) is None


TINY = {
    "name": "tiny",
    "blocks": [
        {"type": "conv", "filters": 2, "kernel_size": 4, "strides": 4},
        {"type": "flatten"},
        {"type": "dense", "units": 4},
    ],
}
TINY_KW = dict(model=TINY, epochs=2, batch_size=16, patience=0, val_fraction=0.0, min_length=8)


@pytest.mark.parametrize("cls", [SNPCNNRegressor, SNPCNNClassifier])
def test_a_failed_refit_leaves_the_fitted_estimator_as_it_was(cls):
    import pandas as pd

    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.integers(0, 3, (60, 16)), columns=[f"snp{i}" for i in range(16)])
    y = (X.iloc[:, :3].sum(axis=1) > 3).astype(float).to_numpy()
    est = cls(**TINY_KW).fit(X, y)
    before = est.predict(X)
    bad_y = y.copy()
    bad_y[0] = np.nan
    wider = pd.DataFrame(rng.integers(0, 3, (60, 20)), columns=[f"m{i}" for i in range(20)])
    with pytest.raises(ValueError):
        est.fit(wider, bad_y)  # NaN in y, after validate_data saw 20 new columns
    assert est.n_features_in_ == 16
    assert list(est.feature_names_in_) == list(X.columns)
    np.testing.assert_array_equal(est.predict(X), before)
    with pytest.raises(Exception, match="encoding"):
        est.set_params(encoding="bits").fit(wider, y)
    est.set_params(encoding=SNPCNNRegressor().encoding)
    assert est.n_features_in_ == 16
    # a first fit that fails leaves nothing fitted
    fresh = cls(**TINY_KW)
    with pytest.raises(ValueError):
        fresh.fit(X, bad_y)
    assert not hasattr(fresh, "n_features_in_")
