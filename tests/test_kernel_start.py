"""The default's start chosen by REML between the ridge (GBLUP) and the CNN-GP (v5)."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.baselines import CNNGP
from snpcnn.baselines.cnn_gp import dense_kernel, window_kernel
from snpcnn.errors import InputError
from snpcnn.models import load_architecture
from snpcnn.training import TrainConfig, _choose_start, train_cnn

#: these tests pin v5's start choice (ridge or CNN-GP); the default since session 17 (v6) also
#: offers GBLUP-AD: tests/test_dominance_start.py
V5 = "snpcnn_default_v5"


def _brute_loo(m: CNNGP, X: np.ndarray, y: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Refit GLS + BLUP without each row (kernel and delta fixed): the residual of its
    prediction."""
    Z = (X - m.mean_) / m.sd_
    K0, d0, _ = window_kernel(Z, Z, m.width, m.activation, m.bias)
    K = dense_kernel(K0, d0, d0, m.depth_, m.bias)[0]
    n = len(y)
    out = np.empty(n)
    for i in range(n):
        o = np.arange(n) != i
        Hi = np.linalg.inv(K[np.ix_(o, o)] + m.delta_ * np.eye(n - 1))
        b = np.linalg.solve(F[o].T @ Hi @ F[o], F[o].T @ Hi @ y[o])
        out[i] = y[i] - (F[i] @ b + K[i, o] @ Hi @ (y[o] - F[o] @ b))
    return out


def test_cnn_gp_leave_one_out_residuals_are_exact():
    rng = np.random.default_rng(0)
    X = rng.binomial(2, 0.3, size=(50, 30)).astype(float)
    y = X[:, 0] * X[:, 1] + rng.normal(size=50)
    C = rng.normal(size=(50, 2))
    m = CNNGP(depths=(1,)).fit(X, y, C)
    F = np.column_stack([np.ones(50), C])
    np.testing.assert_allclose(m.loo_residuals_, _brute_loo(m, X, y, F), atol=1e-9)
    # no covariates: intercept only
    m = CNNGP(depths=(0, 2)).fit(X, y)
    np.testing.assert_allclose(m.loo_residuals_, _brute_loo(m, X, y, np.ones((50, 1))), atol=1e-9)


@pytest.mark.parametrize(("activation", "depth", "m"), [("relu", 2, 23), ("square", 0, 20)])
def test_kernel_prediction_layer_matches_the_cnn_gp(activation, depth, m):
    """The Keras layer predicts what CNNGP.predict does (float32), a last short window included,
    also when the windows are processed in several chunks."""
    from snpcnn.models.layers import KernelPrediction

    rng = np.random.default_rng(1)
    X = rng.binomial(2, 0.4, size=(70, m)).astype(float)
    y = X[:, 0] * X[:, 2] - X[:, 5] + rng.normal(size=70)
    gp = CNNGP(activation=activation, depths=(depth,)).fit(X[:50], y[:50])
    want = gp.predict(X[50:])
    for chunk in (1 << 24, 1):  # 1: one window per chunk
        layer = KernelPrediction(50, m, 5, activation, depth, gp.bias, chunk_elements=chunk)
        layer.build((None, m, 1))
        layer.set_fit(gp, [gp.beta_[0]])
        got = np.asarray(layer(X[50:, :, None].astype("float32")))[:, 0]
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4 * np.abs(want).max())


def _data(kind: str, seed: int = 0, n: int = 240, m: int = 60):
    rng = np.random.default_rng(seed)
    # LD-like blocks: copies of a few haplotype columns with noise
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    if kind == "additive":
        g = x[:, :20] @ rng.normal(size=20)
    else:  # a smooth nonlinear function of many SNPs, which a global kernel captures
        g = np.tanh((x - 1.0) @ rng.normal(size=m) / 3.0) * 3.0
        g += ((x[:, :30] - 1.0) ** 2).sum(1) * 0.5
    y = g + rng.normal(scale=g.std() * 0.6, size=n)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    return z, ((y - y.mean()) / y.std()).astype(np.float32)[:, None]


def test_reml_chooses_the_ridge_on_an_additive_trait_and_records_why():
    x, y = _data("additive")
    start, info = _choose_start(x, y, TrainConfig(model=V5), "regression")
    assert start is None and info["chosen"] == "ridge"
    assert info["loglik_gain"] <= info["threshold"] == 1.92
    # the v4 preset has no kernel: no choice is made at all
    assert _choose_start(x, y, TrainConfig(model="snpcnn_default_v4"), "regression") == (
        None,
        None,
    )


def test_kernel_start_drives_the_model_and_equals_its_start_where_dropped(tmp_path):
    """Where REML picks the CNN-GP, the saved model predicts start + correction; with the
    correction dropped (epochs = 0) it predicts exactly the CNN-GP, also after a reload."""
    from snpcnn.datapath import predict_rows
    from snpcnn.models import load_model

    x, y = _data("nonlinear", seed=3)
    cfg = TrainConfig(model=V5, epochs=0)
    start, info = _choose_start(x, y, cfg, "regression")
    assert start is not None and info["chosen"] == "cnn_gp" and info["loglik_gain"] > 1.92
    # its leave-one-out shift: y + shift - fitted is the exact leave-one-out residual
    np.testing.assert_allclose(
        (y + start.shift - start.fitted)[:, 0], start.gp.loo_residuals_, atol=1e-5
    )
    events = []
    res = train_cnn(x[:200], y[:200], cfg, seed=0, on_event=lambda k, **i: events.append((k, i)))
    choice = res.conv["start_choice"]
    # the second cross-fit is announced (snpcnn.progress grows the fold's work)
    assert events[0] == ("cnn_second_start", {"start": "the CNN-GP", "gain": choice["loglik_gain"]})
    # ... and which pipeline the out-of-fold comparison kept
    assert events[1:] == [
        (
            "cnn_start_chosen",
            {
                "start": "CNN-GP",
                "other": "CNN-GP",
                "mse": choice["oof_mse"],
                "p": choice["oof_p_value"],
            },
        )
    ]
    assert res.conv["start"] == "cnn_gp" and choice["chosen"] == "cnn_gp"
    assert choice["reml_choice"] == "cnn_gp"
    # both pipelines were cross-fitted; the kept one has the lower out-of-fold error
    assert choice["oof_mse"]["cnn_gp"] < choice["oof_mse"]["ridge"]
    assert choice["oof_p_value"] < 0.05 and "oof_resid" not in res.conv
    assert res.conv["oof_mse"] == choice["oof_mse"]["cnn_gp"]
    assert res.conv["kept"] == [False]
    got = np.asarray(predict_rows(res.model, x[200:], 256))[:, 0]
    want = res.start.predict(x[200:])[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    path = tmp_path / "m.keras"
    res.model.save(path)
    again = np.asarray(load_model(path, compile=False).predict(x[200:], verbose=0))[:, 0]
    np.testing.assert_allclose(again, got, atol=1e-4 * np.abs(want).max())


def test_kernel_start_is_deterministic():
    x, y = _data("nonlinear", seed=3)
    cfg = TrainConfig(model=V5, epochs=5, patience=5)
    a = train_cnn(x, y, cfg, seed=4)
    b = train_cnn(x, y, cfg, seed=4)
    for wa, wb in zip(a.model.get_weights(), b.model.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


def test_kernel_needs_the_reml_penalty():
    spec = {
        "name": "k",
        "linear": {"l2": 1e-3, "penalty": "loo", "kernel": "cnn_gp"},
        "blocks": [{"name": "f", "type": "flatten"}],
    }
    with pytest.raises(InputError, match='needs penalty = "reml"') as exc:
        load_architecture(spec)
    assert "\n" not in str(exc.value)
    with pytest.raises(InputError, match="kernel"):
        load_architecture({**spec, "linear": {"penalty": "reml", "kernel": "rkhs"}})


def test_the_ridge_pipeline_is_kept_unless_the_kernel_is_significantly_better(monkeypatch):
    """REML may propose the kernel, but its start + correction must have a lower out-of-fold
    error, significantly: with the kernel's out-of-fold error made worse, the ridge pipeline is
    kept, and the model is exactly the one trained without a kernel (v4)."""
    from snpcnn import training

    x, y = _data("nonlinear", seed=3)
    cfg = TrainConfig(model=V5, epochs=0)
    real = training._crossfit

    def worse_kernel(config, x, y, start, *a, **k):
        out = real(config, x, y, start, *a, **k)
        if isinstance(start, training._KernelStart):
            out[3]["oof_mse"] += 10.0
            out[3]["oof_resid"] = out[3]["oof_resid"] * 3.0
        return out

    monkeypatch.setattr(training, "_crossfit", worse_kernel)
    res = train_cnn(x, y, cfg, seed=0)
    assert res.conv["start"] == "ridge"
    assert res.conv["start_choice"]["reml_choice"] == "cnn_gp"
    assert res.conv["start_choice"]["chosen"] == "ridge"
    v4 = train_cnn(x, y, TrainConfig(epochs=0, model="snpcnn_default_v4"), seed=0)
    for a, b in zip(res.model.get_weights(), v4.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
