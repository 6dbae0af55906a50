"""The shared traced training step (snpcnn.fastfit): Keras' own step, no leakage between
the networks it trains, deterministic, and the same batches for streamed rows."""

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from snpcnn.fastfit import SharedStepper, stepper_for  # noqa: E402
from snpcnn.training import TrainConfig, _build, seeded  # noqa: E402


def _config(**kw):
    base = {"model": "mlp", "learning_rate": 1e-2, "batch_size": 8, "epochs": 3}
    base.update(kw)
    return TrainConfig(**base)


def _data(n=40, p=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p, 1)).astype(np.float32)
    y = (x[:, :3, 0].sum(axis=1, keepdims=True) + rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def _net(config, shape, seed):
    from snpcnn.models import compile_model

    with seeded(seed):
        m = _build(config, shape, "regression", 1, f"net{seed}")
    compile_model(m, "regression", learning_rate=config.learning_rate)
    return m


def _weights(m):
    return [np.array(w) for w in m.get_weights()]


def _dense(shape, head="regression", n_outputs=1, name="dense"):
    import keras

    inp = keras.Input(shape)
    h = keras.layers.Flatten()(inp)
    h = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-2))(h)
    return keras.Model(inp, keras.layers.Dense(n_outputs, name="output")(h), name=name)


def test_one_full_batch_epoch_equals_model_fit():
    """With one batch per epoch (and no dropout) the order cannot matter: the shared step
    must then give what model.fit gives (same loss, regularisation and optimizer update), up
    to the order of the batch's sum."""
    x, y = _data()
    config = _config(model=_dense)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    a, b = _net(config, x.shape[1:], 1), _net(config, x.shape[1:], 1)
    assert all(np.array_equal(u, v) for u, v in zip(_weights(a), _weights(b)))
    b.fit(x, y, epochs=2, batch_size=len(x), shuffle=False, verbose=0)
    losses = stepper.train(a, x, y, 2, len(x), np.random.default_rng(0))
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)
    assert len(losses) == 2 and losses[1] < losses[0]


def test_networks_do_not_leak_into_each_other_and_chunks_equal_one_run():
    x, y = _data()
    config = _config(learning_rate=3e-3)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    # B alone, 4 epochs in one call
    b1 = _net(config, x.shape[1:], 2)
    stepper.train(b1, x, y, 4, 8, np.random.default_rng(5))
    # A and B interleaved, B in two chunks of 2 epochs (its Adam state carried over)
    a = _net(config, x.shape[1:], 3)
    b2 = _net(config, x.shape[1:], 2)
    rng = np.random.default_rng(5)
    stepper.train(a, x, y, 3, 8, np.random.default_rng(9))
    stepper.train(b2, x, y, 2, 8, rng)
    stepper.train(a, x, y, 1, 8, np.random.default_rng(10))
    stepper.train(b2, x, y, 2, 8, rng)
    for u, v in zip(_weights(b1), _weights(b2)):
        np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(u, v) for u, v in zip(_weights(a), _weights(b2)))


def test_template_cache_is_keyed_by_the_architectures_content(tmp_path):
    """An edited architecture file, or a new dict at a freed dict's id(), gets its own
    template (the cache was keyed by the path string or id(dict): a notebook that edited
    the file, or looped over dict architectures, trained an older network)."""
    x, _ = _data()

    def arch(activation):
        return (
            'name = "a"\n[[blocks]]\ntype = "conv"\nfilters = 2\nkernel_size = 3\n'
            f'activation = "{activation}"\n[[blocks]]\ntype = "flatten"\n'
        )

    def activation_of(stepper):
        acts = {la.get_config().get("activation") for la in stepper.template.layers}
        (act,) = acts - {None, "linear"}
        return act

    path = tmp_path / "cur.toml"
    path.write_text(arch("relu"))
    s1 = stepper_for(_config(model=str(path)), x.shape[1:], "regression", 1, lambda t: None)
    path.write_text(arch("tanh"))
    s2 = stepper_for(_config(model=str(path)), x.shape[1:], "regression", 1, lambda t: None)
    assert s2 is not s1 and activation_of(s2) == "tanh"
    from snpcnn.models.spec import read_architecture_file

    seen = []
    for activation in ("relu", "tanh", "elu", "sigmoid"):
        path.write_text(arch(activation))
        spec = read_architecture_file(path)
        s = stepper_for(_config(model=spec), x.shape[1:], "regression", 1, lambda t: None)
        seen.append(activation_of(s))
        del spec
    assert seen == ["relu", "tanh", "elu", "sigmoid"]


def test_template_is_cached_per_architecture_and_checks_the_variables():
    x, y = _data()
    config = _config()
    s1 = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    s2 = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    assert s1 is s2 and isinstance(s1, SharedStepper)
    s3 = stepper_for(_config(learning_rate=5e-2), x.shape[1:], "regression", 1, lambda t: None)
    assert s3 is not s1
    other = _net(config, (x.shape[1] + 1, 1), 0)  # another input width
    assert not s1.fits(other)
    assert s1.fits(_net(config, x.shape[1:], 0))


def test_training_on_a_row_subset_equals_training_on_its_copy():
    x, y = _data()
    config = _config(learning_rate=3e-3)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    rows = np.flatnonzero(np.arange(len(x)) % 3 != 0)
    a, b = _net(config, x.shape[1:], 4), _net(config, x.shape[1:], 4)
    stepper.train(a, x[rows], y[rows], 2, 8, np.random.default_rng(1))
    stepper.train(b, x, y, 2, 8, np.random.default_rng(1), rows=rows)
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("n", [40, 37, 5])  # whole batches only; a partial last batch; < 1 batch
def test_staged_steps_equal_one_call_per_batch(n):
    """Several steps per traced call (the batches staged per epoch, in chunks of any size)
    train to the very same weights and losses as one call per batch."""
    x, y = _data(n=n)
    config = _config(learning_rate=3e-3)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    runs = []
    for per_call in (1, 2, 3, None):
        m = _net(config, x.shape[1:], 6)
        # two chunks of epochs, as the cross-fit trains them (the optimizer state carried over)
        rng = np.random.default_rng(11)
        losses = stepper.train(m, x, y, 2, 8, rng, steps_per_call=per_call)
        losses += stepper.train(m, x, y, 1, 8, rng, steps_per_call=per_call)
        runs.append((losses, _weights(m)))
    for losses, weights in runs[1:]:
        assert losses == runs[0][0]
        for u, v in zip(weights, runs[0][1]):
            np.testing.assert_array_equal(u, v)
    assert np.isfinite(runs[0][0]).all() and len(runs[0][0]) == 3
    if n > 8:  # several steps per epoch: it learns
        assert runs[0][0][2] < runs[0][0][0]


def test_traced_predict_equals_the_eager_prediction():
    from snpcnn.datapath import predict_rows

    x, y = _data(n=50)
    config = _config(learning_rate=3e-3)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    a, b = _net(config, x.shape[1:], 7), _net(config, x.shape[1:], 8)
    stepper.train(a, x, y, 2, 8, np.random.default_rng(0))
    np.testing.assert_array_equal(stepper.predict(a, x, 16), predict_rows(a, x, 16))
    stepper.train(b, x, y, 1, 8, np.random.default_rng(1))
    # the template now holds b: a's weights are loaded again, b's are not changed
    wb = _weights(b)
    np.testing.assert_array_equal(stepper.predict(a, x[:7], 4), predict_rows(a, x[:7], 4))
    np.testing.assert_array_equal(stepper.predict(b, x, 64), predict_rows(b, x, 64))
    for u, v in zip(_weights(b), wb):
        np.testing.assert_array_equal(u, v)
    assert stepper.predict(a, x[:0], 4).shape == (0, 1)


def test_xla_stepper_trains_the_same_network_to_nearly_the_same_weights():
    """``jit_compile`` (``snpcnn fit --xla``) reaches the cross-fitted networks' shared step:
    XLA's kernels round differently, so close to, not equal to, TensorFlow's own."""
    x, y = _data(n=37)
    # a network without dropout (XLA draws other random numbers for dropout masks)
    plain_cfg = _config(model=_dense, learning_rate=3e-3)
    xla_cfg = _config(model=_dense, learning_rate=3e-3, jit_compile=True)
    plain = stepper_for(plain_cfg, x.shape[1:], "regression", 1, lambda t: None)
    xla = stepper_for(xla_cfg, x.shape[1:], "regression", 1, lambda t: None)
    assert xla is not plain
    a, b = _net(plain_cfg, x.shape[1:], 9), _net(plain_cfg, x.shape[1:], 9)
    la = plain.train(a, x, y, 2, 8, np.random.default_rng(2))
    lb = xla.train(b, x, y, 2, 8, np.random.default_rng(2))
    np.testing.assert_allclose(la, lb, rtol=1e-4)
    for u, v in zip(_weights(a), _weights(b)):
        np.testing.assert_allclose(u, v, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(xla.predict(b, x, 16), plain.predict(a, x, 16), rtol=1e-3, atol=1e-5)


def test_a_new_network_never_inherits_a_dead_networks_optimizer_state():
    """Optimizer states are held per network object, weakly: Python reuses the id() of a
    freed network, and keying by id() once gave a new network a dead one's Adam state (a
    flaky test_staged_steps_equal_one_call_per_batch; 1 of 30 fresh networks here)."""
    import gc

    x, y = _data(n=40)
    config = _config(learning_rate=3e-3)
    stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
    losses = []
    for _ in range(30):
        m = _net(config, x.shape[1:], 6)
        losses.append(stepper.train(m, x, y, 1, 8, np.random.default_rng(11)))
        del m
        gc.collect()
    assert all(v == losses[0] for v in losses)
    assert len(stepper.states) == 0  # nothing kept for networks that are gone
