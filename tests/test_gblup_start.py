"""The v4 default's start: a REML ridge, which is GBLUP itself (with covariates too)."""

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines import GBLUP, RidgeRegression
from snpcnn.cv import TargetTransform, cross_validate
from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.models import load_architecture
from snpcnn.training import TrainConfig, ridge_penalty, starts_at_gblup

TINY_REML = {
    "name": "tiny_reml",
    "linear": {"l2": 1e-3, "penalty": "reml"},
    "screen": {"windows": 4, "width": 3},
    "blocks": [
        {"type": "conv", "filters": 2, "kernel_size": 3, "strides": 3, "activation": "square"},
        {"type": "flatten"},
    ],
}


def _data(n=160, m=240, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, rng.uniform(0.05, 0.5, m), size=(n, m)).astype(float)
    C = np.column_stack([rng.integers(0, 2, n), rng.normal(size=n)])
    y = X[:, :30] @ rng.normal(size=30) * 0.3 + C @ [1.0, -0.5] + rng.normal(size=n) * 1.5
    return X, y, C


@pytest.mark.parametrize("with_covariates", [False, True])
def test_reml_ridge_predicts_exactly_what_gblup_predicts(with_covariates):
    X, y, C = _data()
    tr, te = np.arange(120), np.arange(120, 160)
    c_tr, c_te = (C[tr], C[te]) if with_covariates else (None, None)
    g = GBLUP(solver="exact").fit(X[tr], y[tr], c_tr)
    r = RidgeRegression(penalty="reml").fit(X[tr], y[tr], c_tr)
    np.testing.assert_allclose(r.predict(X[te], c_te), g.predict(X[te], c_te), atol=1e-6)
    # the REML penalty is GBLUP's delta on VanRaden's scale (a different scale, same model)
    assert r.alpha_ == pytest.approx(g.delta_ * g.scale_, rel=1e-4)
    # the leave-one-out penalty is a different one: the two starts differ
    loo = RidgeRegression().fit(X[tr], y[tr], c_tr)
    assert abs(loo.alpha_ - r.alpha_) > 1e-3 * r.alpha_


def test_penalty_is_validated():
    X = np.random.default_rng(0).integers(0, 3, (20, 8)).astype(float)
    with pytest.raises(InputError, match="penalty must be"):
        RidgeRegression(penalty="gcv").fit(X, np.arange(20.0))
    bad = {**TINY_REML, "linear": {"penalty": "ml"}}
    with pytest.raises(InputError, match="penalty"):
        load_architecture(bad)


def test_default_preset_starts_at_gblup_and_v3_does_not():
    assert ridge_penalty(TrainConfig(model="snpcnn_default")) == "reml"
    assert ridge_penalty(TrainConfig(model="snpcnn_default_v3")) == "loo"
    assert starts_at_gblup(TrainConfig(model="snpcnn_default"), (500, 1), "regression", 1)
    assert not starts_at_gblup(TrainConfig(model="snpcnn_default"), (500, 1), "binary", 1)
    assert not starts_at_gblup(
        TrainConfig(model="snpcnn_default", linear_init="zeros"), (500, 1), "regression", 1
    )


def test_gls_target_transform_keeps_gblups_fixed_effects():
    X, y, C = _data(seed=1)
    tt = TargetTransform.fit(y[:, None], C, "regression", x=X - X.mean(0))
    g = GBLUP(solver="exact").fit(X, y, C)
    np.testing.assert_allclose(tt.coef[0][1:], g.beta_[1:], rtol=1e-5)
    assert tt.alphas is not None and len(tt.alphas) == 1
    ols = TargetTransform.fit(y[:, None], C, "regression")
    assert ols.alphas is None and not np.allclose(ols.coef[0][1:], g.beta_[1:], rtol=1e-3)


@pytest.mark.parametrize("with_covariates", [False, True])
def test_cnn_start_equals_gblup_on_every_test_fold(tmp_path, with_covariates):
    X, y, C = _data(n=150, m=120, seed=2)
    ids = [f"s{i}" for i in range(len(y))]
    geno = Genotypes(X.astype(np.int8), ids)
    table = pd.DataFrame({"sample_id": ids, "trait": y, "sex": C[:, 0].astype(int), "z": C[:, 1]})
    path = tmp_path / "ph.csv"
    table.to_csv(path, index=False)
    res = cross_validate(
        geno,
        path,
        traits="trait",
        covariates=["sex", "z"] if with_covariates else None,
        model=TINY_REML,
        folds=3,
        epochs=2,
        patience=1,
        baselines=["gblup"],
        refit=False,
    )
    p = res.predictions
    gblup = p[p.model == "GBLUP"].sort_values("sample_id").predicted.to_numpy()
    start = p[p.model == "CNN start (RR-BLUP)"].sort_values("sample_id").predicted.to_numpy()
    np.testing.assert_allclose(start, gblup, atol=1e-5 * np.std(gblup) + 1e-9)
