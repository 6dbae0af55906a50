"""The shared compiled training step on Keras's JAX backend (snpcnn.fastfit.JaxSharedStepper)
and the compiled forward pass of snpcnn.backend.predict_array there: Keras's own step, few
compiled programs, padded batches that change nothing, deterministic.

Each test runs in a fresh interpreter that cannot import TensorFlow, as on the GPU machines."""

from __future__ import annotations

import json

import pytest

from tests.test_backend import _run_without_tf, needs_jax

_SETUP = """
import json
import numpy as np
import keras
from snpcnn.backend import enable_determinism
enable_determinism()
from snpcnn.fastfit import JaxSharedStepper, stepper_for
from snpcnn.models import compile_model
from snpcnn.training import TrainConfig, _build, seeded

def dense(shape, head="regression", n_outputs=1, name="dense", norm=False):
    inp = keras.Input(shape)
    h = keras.layers.Flatten()(inp)
    h = keras.layers.Dense(16, activation="relu",
                           kernel_regularizer=keras.regularizers.L2(1e-2))(h)
    if norm:
        h = keras.layers.BatchNormalization()(h)
    return keras.Model(inp, keras.layers.Dense(n_outputs, name="output")(h), name=name)

rng = np.random.default_rng(0)
x = rng.normal(size=(60, 12, 1)).astype(np.float32)
y = (x[:, :3, 0].sum(axis=1, keepdims=True) + rng.normal(size=(60, 1))).astype(np.float32)
config = TrainConfig(model=dense, learning_rate=1e-2, batch_size=8, epochs=3)

def net(seed, cfg=config):
    with seeded(seed):
        m = _build(cfg, x.shape[1:], "regression", 1, f"net{seed}")
    compile_model(m, "regression", learning_rate=cfg.learning_rate)
    return m

def weights(m):
    return [np.array(w) for w in m.get_weights()]

def maxdiff(a, b):
    return max(float(np.abs(u - v).max()) for u, v in zip(weights(a), weights(b)))

out = {}
"""


def _run(code: str, tmp_path) -> dict:
    p = _run_without_tf(_SETUP + code + "\nprint(json.dumps(out))\n", tmp_path)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


@needs_jax
def test_the_jax_step_is_kerass_step_and_padding_the_last_batch_changes_nothing(tmp_path):
    out = _run(
        """
stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
out["type"] = type(stepper).__name__
out["pads"] = stepper.pad_partial
# one full batch per epoch: the order cannot matter, so the step must be model.fit's
a, b = net(1), net(1)
b.fit(x, y, epochs=2, batch_size=len(x), shuffle=False, verbose=0)
stepper.train(a, x, y, 2, len(x), np.random.default_rng(0))
out["vs_fit"] = maxdiff(a, b)
# 45 rows in batches of 8: the last batch (5 rows) padded with missing targets, or not
a, b, c = net(2), net(2), net(2)
la = stepper.train(a, x, y, 3, 8, np.random.default_rng(5), rows=np.arange(45))
stepper.pad_partial = False
stepper.train(b, x, y, 3, 8, np.random.default_rng(5), rows=np.arange(45))
stepper.pad_partial = True
lc = stepper.train(c, x, y, 3, 8, np.random.default_rng(5), rows=np.arange(45))
out["pad_vs_not"] = maxdiff(a, b)
out["repeat_equal"] = all(np.array_equal(u, v) for u, v in zip(weights(a), weights(c)))
out["losses_equal"] = la == lc
out["moved"] = maxdiff(a, net(2))
# training in chunks keeps each network's optimizer state: 2 + 1 epochs = 3 epochs
d = net(2)
r = np.random.default_rng(5)
stepper.train(d, x, y, 2, 8, r, rows=np.arange(45))
stepper.train(d, x, y, 1, 8, r, rows=np.arange(45))
out["chunks_equal"] = all(np.array_equal(u, v) for u, v in zip(weights(a), weights(d)))
# predictions through the compiled forward pass equal Keras's
p1 = stepper.predict(a, x, 16)
out["predict"] = float(np.abs(p1 - np.asarray(a.predict(x, verbose=0))).max())
out["predict_shape"] = list(p1.shape)
""",
        tmp_path,
    )
    assert out["type"] == "JaxSharedStepper" and out["pads"] is True
    assert out["vs_fit"] < 1e-6
    assert out["pad_vs_not"] < 1e-6  # the padded rows add neither loss nor gradient
    assert out["repeat_equal"] and out["losses_equal"]  # deterministic on CPU
    assert out["chunks_equal"]
    assert out["moved"] > 1e-3  # it did train
    assert out["predict"] < 1e-5 and out["predict_shape"] == [60, 1]


@needs_jax
def test_networks_of_one_architecture_share_one_compiled_program(tmp_path):
    """Networks trained on different numbers of rows (so different numbers of batches and
    last-batch sizes) run the same compiled epoch loop; a model with batch statistics
    keeps its exact last batch instead of a padded one."""
    out = _run(
        """
stepper = stepper_for(config, x.shape[1:], "regression", 1, lambda t: None)
for k, n in enumerate((33, 41, 47, 52, 60)):
    stepper.train(net(10 + k), x, y, 2, 8, np.random.default_rng(k), rows=np.arange(n))
    stepper.predict(net(10 + k), x[:n], n)
out["run_programs"] = stepper._run._cache_size()
out["one_programs"] = stepper._one._cache_size()
out["forward_programs"] = stepper._forward_fn._cache_size()
norm = TrainConfig(model=lambda *a, **k: dense(*a, **k, norm=True), learning_rate=1e-2,
                   batch_size=8, epochs=3)
bn = stepper_for(norm, x.shape[1:], "regression", 1, lambda t: None)
out["bn_pads"] = bn.pad_partial
bn.train(net(3, norm), x, y, 2, 8, np.random.default_rng(1), rows=np.arange(45))
out["bn_one_programs"] = bn._one._cache_size()
""",
        tmp_path,
    )
    assert out["run_programs"] == 1  # 5 networks, 5 row counts, 1 program
    assert out["one_programs"] == 0  # every last batch was padded into the loop
    assert out["forward_programs"] <= 2  # 33..60 rows padded to 64 (and 32)
    assert out["bn_pads"] is False and out["bn_one_programs"] == 1


@needs_jax
def test_predict_array_on_jax_is_one_compiled_program_per_model(tmp_path):
    out = _run(
        """
import gc
from snpcnn.backend import _JAX_FORWARD, predict_array
m = net(4)
eager = np.asarray(m(x, training=False))
p = predict_array(m, x, 25)  # batches of 25, 25, 10: padded to 32, 32, 16
out["diff"] = float(np.abs(p - eager).max())
out["shape"] = list(p.shape)
fwd = _JAX_FORWARD[id(m)][1]
out["cached"] = len(_JAX_FORWARD)
# the model's current weights are read at every call
m.get_layer("output").bias.assign(np.full((1,), 10.0, np.float32))
out["moved"] = float(np.abs(predict_array(m, x, 25) - p).mean())
del m, fwd
gc.collect()
out["after_del"] = len(_JAX_FORWARD)
""",
        tmp_path,
    )
    assert out["diff"] < 1e-5 and out["shape"] == [60, 1]
    assert out["cached"] == 1
    assert out["moved"] > 1.0
    assert out["after_del"] == 0  # the cache does not keep a model alive


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
