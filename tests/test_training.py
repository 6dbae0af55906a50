"""One CNN fit: the ridge start of the wide path, inner split, seeds."""

import numpy as np

from snpcnn.baselines import RidgeRegression
from snpcnn.training import TrainConfig, inner_split, train_cnn

WIDE = {
    "name": "wide_tiny",
    "linear": {"l2": 1e-3},
    "blocks": [
        {"type": "conv", "filters": 2, "kernel_size": 4, "strides": 4},
        {"type": "flatten"},
        {"type": "dense", "units": 4},
    ],
}


def _data(n=60, m=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, m, 1)).astype(np.float32)
    y = (x[:, :4, 0].sum(1) + rng.normal(scale=0.5, size=n)).astype(np.float32)[:, None]
    return x, y


def test_ridge_start_reproduces_ridge_exactly_before_training():
    x, y = _data()
    res = train_cnn(x, y, TrainConfig(model=WIDE, linear_init="ridge"), seed=0, fixed_epochs=0)
    ridge = RidgeRegression().fit(x.reshape(len(x), -1).astype(float), y[:, 0].astype(float))
    expected = ridge.predict(x.reshape(len(x), -1).astype(float))
    got = res.model.predict(x, verbose=0)[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert not res.model.get_layer("linear").trainable


def test_loo_ridge_start_is_kept_when_the_convolutions_do_not_help_validation():
    x, y = _data(seed=1)
    cfg = TrainConfig(
        model=WIDE,
        linear_init="ridge_loo",
        epochs=3,
        patience=1,
        learning_rate=100.0,
        conv_folds=0,
    )
    res = train_cnn(x, y, cfg, seed=0)  # a huge learning rate: training only hurts
    x2 = x.reshape(len(x), -1).astype(float)
    ridge = RidgeRegression().fit(x2, y[:, 0].astype(float))  # every row, validation included
    assert res.best_epochs == [0]
    np.testing.assert_allclose(
        res.model.predict(x, verbose=0)[:, 0], ridge.predict(x2), rtol=1e-4, atol=1e-4
    )
    # the inner-validation score uses the leave-one-out ridge predictions of those rows,
    # not the full fit that saw them
    _, va = inner_split(
        len(x),
        cfg.val_fraction,
        int(np.random.SeedSequence([0, 0]).generate_state(1)[0] % (2**31 - 1)),
    )
    loo_pred = y[va, 0] - ridge.loo_residuals_[va]
    expected_r = np.corrcoef(y[va, 0], loo_pred)[0, 1]
    assert abs(res.inner_val_r[0][0] - expected_r) < 1e-4
    full_r = np.corrcoef(y[va, 0], ridge.predict(x2)[va])[0, 1]
    assert abs(full_r - expected_r) > 1e-3  # the two scores differ: the check can fail


def test_convolutions_learn_the_leave_one_out_residual_with_the_linear_weight_held_at_one():
    # y = |sum of the first window of 4 SNPs|: no linear signal at all for ridge
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 32, 1)).astype(np.float32)
    y = (np.abs(x[:, :4, 0].sum(1)) + 0.3 * rng.normal(size=200)).astype(np.float32)[:, None]
    cfg = TrainConfig(
        model=WIDE,
        linear_init="ridge_loo",
        conv_gate=0.0,
        epochs=40,
        patience=10,
        learning_rate=3e-2,
        conv_folds=0,
    )
    res = train_cnn(x, y, cfg, seed=0)
    x2 = x.reshape(len(x), -1).astype(float)
    ridge = RidgeRegression().fit(x2, y[:, 0].astype(float))
    _, va = inner_split(
        len(x),
        cfg.val_fraction,
        int(np.random.SeedSequence([0, 0]).generate_state(1)[0] % (2**31 - 1)),
    )
    ridge_r = np.corrcoef(y[va, 0], y[va, 0] - ridge.loo_residuals_[va])[0, 1]
    assert res.best_epochs[0] > 0
    assert res.inner_val_r[0][0] > ridge_r + 0.2
    w = res.model.get_layer("output").get_weights()[0]
    assert w[-1, 0] == 1.0  # the linear score's weight never moved
    assert res.model.get_layer("output").kernel.constraint is None  # nothing left behind


def test_inner_split_ridge_start_is_kept_when_the_convolutions_do_not_help_validation():
    x, y = _data(seed=1)
    cfg = TrainConfig(model=WIDE, linear_init="ridge", epochs=3, patience=1, learning_rate=1.0)
    res = train_cnn(x, y, cfg, seed=0)  # a huge learning rate: training only hurts
    tr, _ = inner_split(
        len(x),
        cfg.val_fraction,
        int(np.random.SeedSequence([0, 0]).generate_state(1)[0] % (2**31 - 1)),
    )
    ridge = RidgeRegression().fit(x[tr].reshape(len(tr), -1).astype(float), y[tr, 0].astype(float))
    assert res.best_epochs == [0]
    np.testing.assert_allclose(
        res.model.predict(x, verbose=0)[:, 0],
        ridge.predict(x.reshape(len(x), -1).astype(float)),
        rtol=1e-4,
        atol=1e-4,
    )


def test_zeros_start_trains_the_linear_path():
    x, y = _data()
    res = train_cnn(x, y, TrainConfig(model=WIDE, linear_init="zeros", epochs=2), seed=0)
    assert res.model.get_layer("linear").trainable


def test_seed_ensemble_averages_members_and_round_trips_through_keras_file(tmp_path):
    from snpcnn.models import load_model

    x, y = _data()
    res = train_cnn(x, y, TrainConfig(model=WIDE, epochs=2, n_seeds=2, conv_folds=0), seed=3)
    members = [layer for layer in res.model.layers if layer.name.startswith("cnn_seed")]
    assert len(members) == 2
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(res.model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    res.model.save(tmp_path / "ens.keras")
    again = load_model(tmp_path / "ens.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), res.model.predict(x, verbose=0))


def test_unknown_linear_init_is_a_clear_error():
    import pytest

    from snpcnn.errors import InputError

    with pytest.raises(InputError, match="linear_init must be one of"):
        TrainConfig(linear_init="ridge-loo")


def test_improvement_p_is_small_only_for_a_consistent_gain():
    from snpcnn.training import _improvement_p

    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 1))
    before = y + rng.normal(scale=1.0, size=(50, 1))
    better = y + 0.3 * (before - y)  # every error shrinks
    noisy = y + rng.normal(scale=1.0, size=(50, 1))  # as good as before, different errors
    assert _improvement_p(y, before, better) < 1e-6
    assert _improvement_p(y, before, noisy) > 0.05
    assert _improvement_p(y, better, before) > 0.99


def test_conv_gate_keeps_the_ridge_start_unless_the_gain_is_significant():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 32, 1)).astype(np.float32)
    y = (np.abs(x[:, :4, 0].sum(1)) + 0.3 * rng.normal(size=200)).astype(np.float32)[:, None]
    kw = dict(
        model=WIDE,
        linear_init="ridge_loo",
        epochs=40,
        patience=10,
        learning_rate=3e-2,
        conv_folds=0,
    )
    loose = train_cnn(x, y, TrainConfig(conv_gate=0.5, **kw), seed=0)
    strict = train_cnn(x, y, TrainConfig(conv_gate=1e-300, **kw), seed=0)
    assert loose.best_epochs[0] > 0  # any gain in validation error passes p < 0.5
    assert strict.best_epochs == [0]  # an impossible level reverts to the ridge start
    x2 = x.reshape(len(x), -1).astype(float)
    ridge = RidgeRegression().fit(x2, y[:, 0].astype(float))
    np.testing.assert_allclose(
        strict.model.predict(x, verbose=0)[:, 0], ridge.predict(x2), rtol=1e-4, atol=1e-4
    )


def test_train_config_defaults_match_the_cross_validation_defaults():
    from snpcnn.cv import TRAIN_DEFAULTS

    cfg = TrainConfig()
    for key in ("epochs", "batch_size", "learning_rate", "patience", "n_seeds", "linear_init"):
        assert getattr(cfg, key) == TRAIN_DEFAULTS[key], key
    assert cfg.conv_gate == TRAIN_DEFAULTS["conv_gate"]
    assert cfg.conv_folds == TRAIN_DEFAULTS["conv_folds"]
