"""The architecture's [training] table (optimizer, momentum, loss) and whole-vector dropout."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import MaskedMAE, MaskedMSE, build_model, compile_model, training_spec
from snpcnn.models.spec import load_architecture


def _arch(training=None, whole=False):
    d = {
        "name": "t",
        "blocks": [
            {"type": "flatten", "name": "flat"},
            {"type": "dropout", "name": "drop", "rate": 0.5, "whole": whole},
        ],
    }
    if training is not None:
        d["training"] = training
    return d


def test_training_table_defaults_and_checks():
    spec = load_architecture(_arch({"optimizer": "sgd"}))
    assert spec["training"] == {"optimizer": "sgd", "momentum": 0.9, "loss": "mse"}
    assert "training" not in load_architecture(_arch())
    with pytest.raises(InputError, match="optimizer"):
        load_architecture(_arch({"optimizer": "lion"}))
    with pytest.raises(InputError, match="momentum"):
        load_architecture(_arch({"optimizer": "sgd", "momentum": 1.0}))
    with pytest.raises(InputError, match="loss"):
        load_architecture(_arch({"loss": "huber"}))
    with pytest.raises(InputError, match="epochs"):
        load_architecture(_arch({"epochs": 10}))  # run settings stay out of the table


def test_compile_model_follows_the_training_table():
    m = build_model(_arch({"optimizer": "sgd", "momentum": 0.5, "loss": "mae"}), (6, 1))
    assert training_spec(m) == {"optimizer": "sgd", "momentum": 0.5, "loss": "mae"}
    compile_model(m, "regression", learning_rate=0.01)
    assert isinstance(m.optimizer, keras.optimizers.SGD)
    assert float(m.optimizer.momentum) == pytest.approx(0.5)
    assert float(m.optimizer.learning_rate) == pytest.approx(0.01)
    assert isinstance(m.loss, MaskedMAE)
    # without a table: Adam and the squared error, as before
    plain = compile_model(build_model(_arch(), (6, 1)), "regression")
    assert isinstance(plain.optimizer, keras.optimizers.Adam) and isinstance(plain.loss, MaskedMSE)
    # an explicit optimizer argument wins over the table
    compile_model(m, "regression", optimizer="adam")
    assert isinstance(m.optimizer, keras.optimizers.Adam)


def test_masked_mae_ignores_missing_targets():
    y = np.array([[1.0, np.nan], [2.0, 4.0]])
    p = np.array([[2.0, 50.0], [0.0, 1.0]])
    assert float(MaskedMAE()(y, p)) == pytest.approx((1 + 2 + 3) / 3)


@pytest.mark.parametrize("whole", [True, False])
def test_whole_dropout_drops_whole_rows(whole):
    m = build_model(_arch(whole=whole), (40, 1))
    drop = keras.Model(m.input, m.get_layer("drop").output)
    x = np.ones((400, 40, 1), dtype=np.float32)
    out = np.asarray(drop(x, training=True))
    row_zero = (out == 0).all(axis=1)
    row_kept = (out == 2).all(axis=1)
    if whole:
        assert (row_zero | row_kept).all() and 0.35 < row_zero.mean() < 0.65
    else:
        assert not (row_zero | row_kept).all()  # unit-wise: rows mix dropped and kept units
    assert np.array_equal(np.asarray(drop(x, training=False)), x.reshape(400, 40))
