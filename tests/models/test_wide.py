"""The optional linear ("wide") path of an architecture: validation, build, training."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import build_model, compile_model, get_preset, load_architecture

BASE = {
    "name": "tiny",
    "blocks": [{"type": "conv", "filters": 2, "kernel_size": 3, "strides": 3}, {"type": "flatten"}],
}


def _with_linear(linear):
    return {**BASE, "linear": linear}


def test_linear_table_is_validated_and_filled():
    spec = load_architecture(_with_linear({}))
    kernel = {
        "kernel": "none",
        "kernel_threshold": 1.92,
        "kernel_max_samples": 5000,
        "lasso_max_streamed": 2**29,
        "kernel_max_streamed": 2**28,
        "lasso_proposal_p": 1.0,
        "lasso_dominance": False,
        "multitrait": False,
        "multitrait_cnn_gp": False,
        "multitrait_trait_choice": 0.0,
        "backfit": 0,
        "backfit_lasso": False,
    }
    assert spec["linear"] == {"l2": 0.0, "dominance": False, "penalty": "loo", **kernel}
    assert load_architecture(_with_linear({"l2": 1e-3, "penalty": "reml"}))["linear"] == {
        "l2": 1e-3,
        "dominance": False,
        "penalty": "reml",
        **kernel,
    }
    assert "linear" not in load_architecture(BASE)


@pytest.mark.parametrize(
    ("linear", "match"),
    [
        ({"l1": 0.1}, "unknown key `l1` in `linear`; valid keys: l2, dominance, penalty, kernel"),
        ({"l2": -1.0}, r"`linear`: .*Received l2=-1"),
        (0.001, "`linear` must be a table/dict"),
    ],
)
def test_linear_errors_are_one_line(linear, match):
    with pytest.raises(InputError, match=match) as exc:
        load_architecture(_with_linear(linear))
    assert "\n" not in str(exc.value)
    assert "architecture 'tiny'" in str(exc.value)


@pytest.mark.parametrize("shape", [(30, 1), (30, 3), (6, 6, 2)])
@pytest.mark.parametrize(("head", "n_out"), [("regression", 2), ("binary", 1)])
def test_wide_model_builds_for_any_rank(shape, head, n_out):
    m = build_model(_with_linear({"l2": 1e-3}), shape, head=head, n_outputs=n_out)
    lin = m.get_layer("linear")
    assert lin.kernel.shape == (int(np.prod(shape)), n_out)
    assert not lin.use_bias
    assert np.all(lin.kernel.numpy() == 0)  # starts from the convolutional path alone
    assert m.output_shape == (None, n_out)
    assert len(m.losses) >= 1  # its L2 penalty is part of the loss


def test_no_linear_path_without_the_table():
    names = [layer.name for layer in build_model(BASE, (30, 1)).layers]
    assert "linear" not in names and "wide_concat" not in names


def test_default_preset_has_the_linear_path():
    assert get_preset("snpcnn_default")["linear"]["l2"] > 0
    m = build_model("snpcnn_default", (100, 1))
    assert m.get_layer("linear").kernel.shape == (100, 1)


def test_wide_path_learns_additive_effects():
    # y is additive in 40 SNPs: the wide net fits it, and its linear kernel moves off zero.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, size=(400, 40, 1)).astype("float32") - 1.0
    beta = rng.normal(size=40).astype("float32")
    y = (x[:, :, 0] @ beta)[:, None]
    y = (y - y.mean()) / y.std()
    import keras

    keras.utils.set_random_seed(0)
    m = compile_model(
        build_model(_with_linear({"l2": 0.0}), (40, 1)), "regression", learning_rate=1e-2
    )
    m.fit(x[:300], y[:300], epochs=30, batch_size=32, verbose=0)
    pred = m.predict(x[300:], verbose=0)[:, 0]
    assert np.corrcoef(pred, y[300:, 0])[0, 1] > 0.9
    assert np.abs(m.get_layer("linear").kernel.numpy()).max() > 0
