"""The CNN-GP start on streamed genotypes (large data, snpcnn.datapath; session 28): its
kernel from column blocks, the same numbers bit for bit as in memory, and its Keras layer
holding the training rows as int8 dosage codes instead of float32 values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from snpcnn import datapath
from snpcnn.baselines import CNNGP
from snpcnn.datapath import EncodedRows, predict_rows
from snpcnn.genotypes import Genotypes
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes, simulate_trait
from snpcnn.training import TrainConfig, _choose_start, train_cnn
from tests.test_backend import _run_without_tf, needs_jax
from tests.test_streamed_start import in_memory_and_streamed


@pytest.fixture()
def small_blocks(monkeypatch):
    """Blocks of a few columns, so that every pass really is many blocks."""
    monkeypatch.setattr(datapath, "BLOCK_BYTES", 16 * 1024)


def _sim(n=300, m=603, seed=4):
    g = simulate_genotypes(n, m, missing_rate=0.02, seed=seed)
    y, _ = simulate_trait(g, architecture="local_epistasis", n_loci=5, h2=0.6, seed=1)
    return g, np.asarray(y, float)


def _nonlinear(n=240, m=60, seed=3):
    """tests/test_kernel_start.py's trait that REML gives to the CNN-GP, as int8 genotypes
    with missing calls."""
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    g = np.tanh((x - 1.0) @ rng.normal(size=m) / 3.0) * 3.0
    g += ((x[:, :30] - 1.0) ** 2).sum(1) * 0.5
    y = g + rng.normal(scale=g.std() * 0.6, size=n)
    d = x.astype(np.int8)
    d[rng.random(d.shape) < 0.01] = -1
    return Genotypes(d, np.array([f"s{i}" for i in range(n)])), (y - y.mean()) / y.std()


@pytest.mark.parametrize("activation, width", [("relu", 5), ("square", 7)])
def test_streamed_fit_equals_in_memory_bit_for_bit(small_blocks, activation, width):
    g, y = _sim()
    rows = np.arange(250)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    src = EncodedRows(g, pre, rows)
    assert len(list(src.column_blocks(itemsize=8, align=width))) > 10
    mem = CNNGP(width=width, activation=activation).fit(
        pre.transform(g, rows).reshape(250, -1), y[rows]
    )
    got = CNNGP(width=width, activation=activation).fit(src, y[rows])
    assert got.Z_train_ is None and got.depth_ == mem.depth_ and got.loglik_ == mem.loglik_
    np.testing.assert_array_equal(got.dual_coef_, mem.dual_coef_)
    np.testing.assert_array_equal(got.loo_residuals_, mem.loo_residuals_)
    test = pre.transform(g, np.arange(250, 300)).reshape(50, -1)
    np.testing.assert_array_equal(got.predict(test), mem.predict(test))
    # the int8 codes and their table give back the fit's standardised rows exactly
    codes, table = got.train_codes()
    assert codes.dtype == np.int8 and (codes == -1).any() and table.shape == (603, 4)
    z = np.take_along_axis(table.T, codes.astype(np.int64) + 1, axis=0)
    np.testing.assert_array_equal(z, mem.Z_train_)
    # an in-memory fit's codes: each column's distinct values, exact too
    codes, table = mem.train_codes()
    z = np.take_along_axis(table.T, codes.astype(np.int64) + 1, axis=0)
    np.testing.assert_array_equal(z, mem.Z_train_)


@pytest.mark.parametrize("activation", ["relu", "square"])
def test_streamed_mlp_gp_equals_in_memory(small_blocks, activation):
    """MLP-GP (one window over every SNP) on streamed rows: its products summed over many
    column blocks (float64), the in-memory fit's kernel (float32 products) to float
    rounding; streamed test rows too."""
    from snpcnn.baselines import MLPGP

    g, y = _nonlinear(n=300, m=200)
    rows, test = np.arange(250), np.arange(250, 300)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    src = EncodedRows(g, pre, rows)
    assert len(list(src.column_blocks(itemsize=8, align=1))) > 10
    mem = MLPGP(activation=activation).fit(pre.transform(g, rows).reshape(250, -1), y[rows])
    got = MLPGP(activation=activation).fit(src, y[rows])
    assert got.Z_train_ is None and got.depth_ == mem.depth_
    assert got.loglik_ == pytest.approx(mem.loglik_, rel=1e-6)
    np.testing.assert_allclose(got.loo_residuals_, mem.loo_residuals_, rtol=1e-4, atol=1e-5)
    x_te = pre.transform(g, test).reshape(50, -1)
    p_mem = mem.predict(x_te)
    np.testing.assert_allclose(got.predict(x_te), p_mem, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.predict(EncodedRows(g, pre, test)), p_mem, rtol=1e-4, atol=1e-5)
    assert np.std(p_mem) > 0.05  # a fit that predicts something


def _layer_model(gp, storage, coded, shape, intercept=0.5):
    import keras

    from snpcnn.models.layers import KernelPrediction

    inp = keras.Input(shape=shape)
    layer = KernelPrediction(
        gp.n_train_,
        gp.n_features_in_,
        gp.width,
        gp.activation,
        gp.depth_,
        gp.bias,
        storage=storage,
        n_codes=4 if coded is None else coded[1].shape[1],
        name="cnn_gp_start",
    )
    model = keras.Model(inp, layer(inp))
    layer.set_fit(gp, np.array([intercept]), coded)
    return model


def test_int8_layer_predicts_as_the_float32_layer_and_reloads(small_blocks, tmp_path):
    """The CNN-GP's layer with its training rows as int8 codes: those of a streamed fit
    (dosages) and of an in-memory fit (each column's distinct values) predict exactly as the
    float32 rows do, also after a save and reload, in a quarter of the memory."""
    from snpcnn.models import load_model

    g, y = _sim()
    rows = np.arange(250)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    mem = CNNGP().fit(pre.transform(g, rows).reshape(250, -1), y[rows])
    got = CNNGP().fit(EncodedRows(g, pre, rows), y[rows])
    test = pre.transform(g, np.arange(250, 300))
    shape = test.shape[1:]
    want = _layer_model(mem, "float32", None, shape).predict(test, verbose=0)[:, 0]
    np.testing.assert_allclose(want - 0.5, mem.genomic_values(test.reshape(50, -1)), atol=1e-5)
    mem_codes, got_codes = mem.train_codes(), got.train_codes()
    # the in-memory fit's codes: each column's distinct values in increasing order
    assert mem_codes[1].shape == (603, 4) and (np.diff(mem_codes[1][:, :3], axis=1) > 0).all()
    for gp, coded in ((mem, mem_codes), (got, got_codes)):
        model = _layer_model(gp, "int8", coded, shape)
        assert model.get_layer("cnn_gp_start").train_codes.dtype == "int8"
        np.testing.assert_array_equal(model.predict(test, verbose=0)[:, 0], want)
    path = tmp_path / "m.keras"
    model.save(path)
    again = load_model(path, compile=False)
    np.testing.assert_array_equal(again.predict(test, verbose=0)[:, 0], want)
    # 1 byte a training genotype instead of 4
    stored = {w.name: w.numpy().nbytes for w in again.get_layer("cnn_gp_start").weights}
    assert stored["train_codes"] == 250 * 605 and "train_z" not in stored


def test_distinct_codes_are_exact_and_have_a_limit():
    from snpcnn.baselines.cnn_gp import MAX_CODES, _distinct_codes

    rng = np.random.default_rng(0)
    Z = rng.choice(np.float32([-1.5, 0.25, 3.0, np.pi]), size=(40, 7))
    Z[:, 3] = 0.25  # a constant column: one code
    codes, table = _distinct_codes(Z)
    assert codes.dtype == np.int8 and table.shape == (7, 4)
    np.testing.assert_array_equal(np.take_along_axis(table.T, codes + 1, axis=0), Z)
    assert (codes[:, 3] == -1).all()
    Z[:, 5] = np.arange(40, dtype=np.float32)  # a column of 40 distinct values
    assert _distinct_codes(Z) is None and MAX_CODES < 40


def test_streamed_training_chooses_and_keeps_the_cnn_gp_as_in_memory(small_blocks, monkeypatch):
    """train_cnn on streamed rows (v5: ridge or CNN-GP): REML's CNN-GP start, the same
    choice and the same predictions as in memory (correction dropped: epochs = 0)."""
    g, y = _nonlinear()
    rows, test = np.arange(200), np.arange(200, 240)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    yt = y[rows].astype(np.float32)[:, None]
    cfg = TrainConfig(model="snpcnn_default_v5", epochs=0)
    _, info = _choose_start(EncodedRows(g, pre, rows), yt, cfg, "regression")
    assert info["chosen"] == "cnn_gp" and "not_offered" not in info
    res = {}
    for name, x in (("mem", pre.transform(g, rows)), ("stream", EncodedRows(g, pre, rows))):
        res[name] = train_cnn(x, yt, cfg, seed=0)
        assert res[name].conv["start"] == "cnn_gp"
    a = res["mem"].conv["start_choice"]
    b = res["stream"].conv["start_choice"]
    assert a["loglik"] == b["loglik"] if "loglik" in a else a["loglik_kernel"] == b["loglik_kernel"]
    want = np.asarray(predict_rows(res["mem"].model, pre.transform(g, test)))[:, 0]
    got = np.asarray(predict_rows(res["stream"].model, EncodedRows(g, pre, test)))[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-6)
    layer = res["stream"].model.get_layer("cnn_gp_start")
    assert layer.storage == "int8"
    # the start's own predictions of streamed rows (the 'CNN start' row): one column-block
    # pass over training and test rows, the in-memory numbers bit for bit
    np.testing.assert_array_equal(
        res["stream"].start.predict(EncodedRows(g, pre, test)),
        res["mem"].start.predict(pre.transform(g, test)),
    )


def test_streamed_cnn_gp_has_a_size_limit():
    """Above ``[linear] kernel_max_streamed`` training genotypes (its layer keeps them, 1
    byte each) a streamed fit does not offer the CNN-GP and says why."""
    from snpcnn.models import load_architecture

    g, y = _nonlinear()
    rows = np.arange(200)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    arch = load_architecture("snpcnn_default_v5")
    arch["linear"]["kernel_max_streamed"] = 1000
    yt = y[rows].astype(np.float32)[:, None]
    start, info = _choose_start(
        EncodedRows(g, pre, rows), yt, TrainConfig(model=arch), "regression"
    )
    assert "kernel_max_streamed (1000)" in info["not_offered"]["cnn_gp"]
    assert start is None and info["skipped"].startswith("streamed genotypes: 200 x 60")


@needs_jax
def test_int8_layer_on_jax_without_tensorflow(tmp_path):
    """The int8 layer on Keras's JAX backend (the GPU machines have no TensorFlow): the
    float32 layer's predictions bit for bit, through snpcnn's compiled forward pass."""
    p = _run_without_tf(
        """
import json
import numpy as np
import keras
from snpcnn import datapath
from snpcnn.backend import predict_array
from snpcnn.baselines import CNNGP
from snpcnn.datapath import EncodedRows
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes, simulate_trait
from snpcnn.training import _cnn_gp_start, _start_output
datapath.BLOCK_BYTES = 16 * 1024
g = simulate_genotypes(120, 203, missing_rate=0.02, seed=4)
y = np.asarray(simulate_trait(g, architecture="local_epistasis", n_loci=3, h2=0.6, seed=1)[0])
rows = np.arange(100)
pre = GenotypePreprocessor(scaling="center").fit(g, rows)
test = pre.transform(g, np.arange(100, 120))
preds = []
for x in (pre.transform(g, rows).reshape(100, -1), EncodedRows(g, pre, rows)):
    gp = CNNGP().fit(x, y[rows])
    inp = keras.Input(shape=test.shape[1:])
    m = keras.Model(inp, _start_output(_cnn_gp_start(gp, y[rows]), inp))
    preds.append(np.asarray(predict_array(m, test))[:, 0])
print(json.dumps({"backend": keras.backend.backend(), "equal": bool(np.array_equal(*preds)),
                  "storage": m.get_layer("cnn_gp_start").storage}))
""",
        tmp_path,
    )
    assert p.returncode == 0, p.stderr[-3000:]
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"backend": "jax", "equal": True, "storage": "int8"}


def test_cnn_gp_baseline_runs_on_streamed_folds(tmp_path, monkeypatch, small_blocks):
    """``--baselines cnn_gp`` on streamed folds (before session 28: skipped there): fitted
    and predicted from column blocks, the in-memory predictions bit for bit."""
    g, y = _sim(n=200, m=303)
    _, a, b = in_memory_and_streamed(g, y, tmp_path, monkeypatch, epochs=1, baselines=["cnn_gp"])
    a, b = a[a["model"] == "CNN-GP"], b[b["model"] == "CNN-GP"]
    assert len(a) == len(b) == 200
    np.testing.assert_array_equal(b["predicted"].to_numpy(), a["predicted"].to_numpy())


def test_cnn_gp_kernel_of_streamed_new_rows(small_blocks):
    """CNNGP.kernel on streamed new rows (EncodedRows, DosageRows) equals the in-memory
    kernel bit for bit, for an in-memory fit and a streamed one; a wrong width says so."""
    from snpcnn.datapath import DosageRows
    from snpcnn.errors import InputError

    g, y = _sim()
    rows, test = np.arange(250), np.arange(250, 300)
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    mem = CNNGP().fit(pre.transform(g, rows).reshape(250, -1), y[rows])
    got = CNNGP().fit(EncodedRows(g, pre, rows), y[rows])
    want = mem.kernel(pre.transform(g, test).reshape(50, -1))
    for gp in (mem, got):
        np.testing.assert_array_equal(gp.kernel(EncodedRows(g, pre, test)), want)
    dmem = CNNGP().fit(pre.dosage_matrix(g, rows), y[rows])
    np.testing.assert_array_equal(
        dmem.kernel(DosageRows(g, pre, test)), dmem.kernel(pre.dosage_matrix(g, test))
    )

    class Narrow:  # streamed rows of another panel
        n_features = 7

        def column_blocks(self, itemsize=8, align=1):
            return iter([(0, 7)])

        def __len__(self):
            return 3

    with pytest.raises(InputError, match="X has 7 features, but CNNGP is expecting 603 features"):
        mem.kernel(Narrow())
