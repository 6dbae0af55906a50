"""Heads: masked regression loss and metrics, binary/multiclass, compile, mixed precision."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import build_model, compile_model, head_of, set_mixed_precision
from snpcnn.models.heads import MaskedMeanAbsoluteError, MaskedMeanSquaredError, MaskedMSE

TINY = {
    "name": "tiny",
    "blocks": [{"type": "conv", "filters": 2, "kernel_size": 3}, {"type": "flatten"}],
}
NAN = np.nan


def test_masked_mse_ignores_nan_targets():
    y = np.array([[1.0, NAN], [NAN, 2.0], [3.0, 4.0]], dtype="float32")
    p = np.array([[2.0, 99.0], [-50.0, 0.0], [3.0, 1.0]], dtype="float32")
    # observed errors: (2-1)^2=1, (0-2)^2=4, 0, (1-4)^2=9 -> 14 / 4 observed
    assert float(MaskedMSE()(y, p)) == pytest.approx(14 / 4)
    # without NaN it is the plain MSE
    y2 = np.array([[1.0], [2.0]], dtype="float32")
    p2 = np.array([[0.0], [4.0]], dtype="float32")
    assert float(MaskedMSE()(y2, p2)) == pytest.approx(
        float(keras.losses.MeanSquaredError()(y2, p2))
    )
    # all missing: 0, not NaN
    assert float(MaskedMSE()(np.full((2, 1), NAN, "float32"), p2)) == 0.0
    # y of shape (batch,) against predictions (batch, 1)
    assert (
        float(MaskedMSE()(np.array([1.0, NAN], "float32"), np.array([[3.0], [7.0]], "float32")))
        == 4.0
    )


def test_masked_mse_gradient_is_zero_for_nan_targets():
    if keras.backend.backend() != "tensorflow":
        pytest.skip("gradient check written with tf.GradientTape")
    import tensorflow as tf

    y = tf.constant([[1.0, NAN], [NAN, 2.0]])
    p = tf.Variable([[2.0, 5.0], [7.0, 1.0]])
    with tf.GradientTape() as tape:
        loss = MaskedMSE()(y, p)
    grad = tape.gradient(loss, p).numpy()
    assert np.isfinite(grad).all()
    assert grad[0, 1] == 0.0 and grad[1, 0] == 0.0
    # observed entries: d/dp of (p - y)^2 / n_observed = 2 (p - y) / 2
    assert grad[0, 0] == pytest.approx(1.0) and grad[1, 1] == pytest.approx(-1.0)


def test_masked_metrics_accumulate_over_batches():
    mse, mae = MaskedMeanSquaredError(), MaskedMeanAbsoluteError()
    for y, p in (([[1.0], [NAN]], [[3.0], [0.0]]), ([[0.0], [1.0]], [[1.0], [1.0]])):
        y, p = np.array(y, "float32"), np.array(p, "float32")
        mse.update_state(y, p)
        mae.update_state(y, p)
    # observed errors 2, 1, 0 over 3 values
    assert float(mse.result()) == pytest.approx((4 + 1 + 0) / 3)
    assert float(mae.result()) == pytest.approx((2 + 1 + 0) / 3)
    mse.reset_state()
    assert float(mse.result()) == 0.0


def test_regression_with_missing_traits_trains_without_nan():
    keras.utils.set_random_seed(0)
    model = compile_model(build_model(TINY, (16, 1), n_outputs=2), "regression")
    x = np.random.default_rng(0).normal(size=(8, 16, 1)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 2)).astype("float32")
    y[::2, 0] = NAN
    y[1, 1] = NAN
    logs = model.train_on_batch(x, y, return_dict=True)
    assert np.isfinite(logs["loss"]) and np.isfinite(logs["masked_mae"])
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize(
    "head, n, activation",
    [("regression", 3, "linear"), ("binary", 2, "sigmoid"), ("multiclass", 4, "softmax")],
)
def test_heads_output_layer_and_compile(head, n, activation):
    model = build_model(TINY, (16, 1), head=head, n_outputs=n)
    out = model.get_layer("output")
    assert out.units == n and out.activation.__name__ == activation
    assert head_of(model) == head
    compile_model(
        model, head, learning_rate=1e-2, optimizer="adamw", weight_decay=1e-4, clipnorm=1.0
    )
    x = np.zeros((4, 16, 1), "float32")
    y = {"regression": np.zeros((4, n)), "binary": np.ones((4, n)), "multiclass": np.arange(4) % n}[
        head
    ]
    logs = model.train_on_batch(x, y.astype("float32"), return_dict=True)
    assert np.isfinite(logs["loss"])
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-2)
    probs = np.asarray(model(x))
    if head == "multiclass":
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    if head == "binary":
        assert ((probs > 0) & (probs < 1)).all()


def test_compile_errors():
    model = build_model(TINY, (16, 1))
    with pytest.raises(InputError, match="built with a 'regression' output layer"):
        compile_model(model, "binary")
    with pytest.raises(InputError, match="Received head='ranking'"):
        compile_model(model, "ranking")
    with pytest.raises(InputError, match="Received optimizer='adagrad'"):
        compile_model(model, "regression", optimizer="adagrad")
    with pytest.raises(InputError, match="learning_rate"):
        compile_model(model, "regression", learning_rate=0)
    with pytest.raises(InputError, match="number of classes"):
        build_model(TINY, (16, 1), head="multiclass", n_outputs=1)


def test_output_layer_stays_float32_under_mixed_precision():
    try:
        keras.mixed_precision.set_global_policy("mixed_float16")
        model = build_model(TINY, (16, 1))
        assert model.get_layer("b1_conv").compute_dtype == "float16"
        assert model.get_layer("output").compute_dtype == "float32"
        assert model.output.dtype == "float32"
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_set_mixed_precision():
    try:
        assert set_mixed_precision(False) == "float32"
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            assert set_mixed_precision(True) == "mixed_float16"
        else:
            with pytest.warns(RuntimeWarning, match="no GPU"):
                assert set_mixed_precision(True) == "float32"
        with pytest.raises(InputError, match="Received enabled=1"):
            set_mixed_precision(1)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_xla_refused_by_keras_is_one_note_not_a_raw_warning(caplog):
    """Under op determinism Keras refuses XLA with a raw UserWarning per model: snpcnn asks
    first, trains without it and says so once per process, in one line."""
    import warnings

    from snpcnn.models import heads
    from snpcnn.training import seeded

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the refusal is TensorFlow's (JAX always compiles)")
    heads._XLA_REFUSAL_SAID = False
    with seeded(0), warnings.catch_warnings(record=True) as caught, caplog.at_level("WARNING"):
        warnings.simplefilter("always")
        for _ in range(2):
            model = build_model(TINY, (12, 1), head="regression")
            compile_model(model, "regression", jit_compile=True)
            assert model.jit_compile is False
    assert not [w for w in caught if "jit_compile" in str(w.message)]
    notes = [r.getMessage() for r in caplog.records if "--xla" in r.getMessage()]
    assert len(notes) == 1 and "op determinism" in notes[0] and "\n" not in notes[0]


@pytest.mark.parametrize("head, n, entropy", [("binary", 1, "binary"), ("multiclass", 3, "sparse")])
def test_a_regression_loss_on_a_classification_head_is_one_warning(head, n, entropy):
    # [training] loss = "mae" was silently ignored by the binary and multiclass heads
    import warnings

    from snpcnn.errors import InputWarning

    spec = {
        "name": f"mae_{head}",
        "training": {"loss": "mae"},
        "blocks": [{"type": "conv", "filters": 2, "kernel_size": 3}, {"type": "flatten"}],
    }
    with pytest.warns(
        InputWarning,
        match=rf"\[training\] loss = 'mae' applies to quantitative.*"
        rf"{head} head trains with {entropy}",
    ) as rec:
        compile_model(build_model(spec, (12, 1), head=head, n_outputs=n), head)
    assert len([w for w in rec if w.category is InputWarning]) == 1
    assert "\n" not in str(rec[0].message)
    with warnings.catch_warnings():  # once per model: the folds and seeds of a run say nothing
        warnings.simplefilter("error", InputWarning)
        compile_model(build_model(spec, (12, 1), head=head, n_outputs=n), head)
        mse = {**spec, "name": f"mse_{head}", "training": {"loss": "mse"}}
        compile_model(build_model(mse, (12, 1), head=head, n_outputs=n), head)
