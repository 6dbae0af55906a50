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


def test_ridge_start_is_kept_when_the_convolutions_do_not_help_validation():
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
    res = train_cnn(x, y, TrainConfig(model=WIDE, epochs=2, n_seeds=2), seed=3)
    members = [layer for layer in res.model.layers if layer.name.startswith("cnn_seed")]
    assert len(members) == 2
    expected = np.mean([m.predict(x, verbose=0) for m in members], axis=0)
    np.testing.assert_allclose(res.model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    res.model.save(tmp_path / "ens.keras")
    again = load_model(tmp_path / "ens.keras")
    np.testing.assert_array_equal(again.predict(x, verbose=0), res.model.predict(x, verbose=0))
