"""Noise a user cannot act on stays off stderr: TensorFlow's start-up lines, retracing
warnings, Keras's optimizer-restore warning when a saved model is loaded."""

import os
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from snpcnn.backend import predict_array

TINY = {
    "name": "tiny",
    "blocks": [
        {"type": "conv", "filters": 2, "kernel_size": 4, "strides": 4},
        {"type": "flatten"},
        {"type": "dense", "units": 4},
    ],
}

SCRIPT = textwrap.dedent(
    f"""
    import numpy as np
    import snpcnn
    from snpcnn.estimator import SNPCNNRegressor

    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, (80, 40)).astype(np.int8)
    y = X[:, 0] + rng.normal(size=80)
    models = [
        SNPCNNRegressor(model={TINY!r}, epochs=2, random_state=s).fit(X, y) for s in range(3)
    ]
    for m in models:  # many models x new batch shapes: what used to retrace
        for n in (7, 13, 21):
            m.predict(X[:n])
    print("ok")
    """
)


def test_python_api_prints_no_tensorflow_start_up_lines_or_retracing():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "SNPCNN_TF"))}
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.strip() == "ok"
    for noise in ("oneDNN", "cudart", "absl::InitializeLog", "retracing", "cpu_feature_guard"):
        assert noise not in p.stderr, p.stderr[-3000:]


def test_predict_array_equals_model_predict_bitwise():
    import keras

    from snpcnn.models import build_model

    keras.utils.set_random_seed(0)
    model = build_model(TINY, input_shape=(40, 1))
    x = np.random.default_rng(1).normal(size=(300, 40, 1)).astype(np.float32)
    expected = model.predict(x, verbose=0, batch_size=128)
    got = predict_array(model, x, 128)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert predict_array(model, x[:0], 128).shape == (0, *expected.shape[1:])
    with pytest.raises(ValueError):
        predict_array(model, x, 0)


WIDE = {**TINY, "name": "wide_tiny", "linear": {"l2": 1e-3}}


def test_a_saved_bundle_loads_and_predicts_without_warnings(example_data, tmp_path):
    """A trained wide model (its optimizer has state) saved in a bundle: loading it
    must not try to restore the optimizer (Keras's 'Skipping variable loading for
    optimizer' warning), and predicting from it warns about nothing."""
    from snpcnn.bundle import load_bundle
    from snpcnn.cv import cross_validate
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    g = read_genotypes(example_data / "wheat.bed").subset(
        samples=np.arange(90), variants=np.arange(64)
    )
    ph = read_phenotypes(example_data / "wheat_phenotypes.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fitting is not what this test is about
        res = cross_validate(
            g, ph, "GY_E1", model=WIDE, folds=2, epochs=3, baselines=[], conv_folds=0, seed=0
        )
        path = res.final_bundle.save(tmp_path / "model.keras")
    # lines the model never saw (predicting its training lines says so since session 36)
    new = read_genotypes(example_data / "wheat.bed").subset(
        samples=np.arange(90, 150), variants=np.arange(64)
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = load_bundle(path)
        table = bundle.predict(new)
    assert len(table) == new.n_samples
    assert [str(w.message) for w in caught] == []
    # compiling on load would restore an optimizer built for other variables (the
    # ridge-started linear path is frozen while the convolutions train; the networks inside
    # an averaged or kernel-started model were compiled for training): snpcnn's load_model
    # keeps Keras's "Skipping variable loading for optimizer" warning from the user
    from snpcnn.models import load_model

    with warnings.catch_warnings(record=True) as compiled:
        warnings.simplefilter("always")
        load_model(path, compile=True)
    assert not any("Skipping variable loading" in str(w.message) for w in compiled)
