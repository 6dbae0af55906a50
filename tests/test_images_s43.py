"""Defects of transfer learning and image input found by a checking helper (session 43).

A base not named "base" crashed build_transfer_model; BatchNormalization layers took the
--unfreeze count and stayed frozen; NaN, unscaled float pixels and string labels got
through; --xla was ignored in --mode features but recorded as used; a stray test label was
blamed on the training labels; --force left a features run's files beside a new model.
"""

from __future__ import annotations

import json
import warnings

import keras
import numpy as np
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError, InputWarning
from snpcnn.images import MNIST_FILES, fit_images, load_digits_small, prepare_images, write_idx
from snpcnn.transfer import build_transfer_model, conv_base, unfreeze_last


def _tiny_base(name="mybase"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(3, 3, padding="same", name="conv")(inputs)
    return keras.Model(inputs, x, name=name)


def _tiny_classifier(shape=(8, 8, 1), n_out=10):
    """conv-bn-relu-conv-bn-flatten-dense: the last weighted base layer is a BN."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(n_out, activation="softmax", name="out")(x)
    model = keras.Model(inputs, outputs, name="tiny")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


# --------------------------------------------------------------------------- 1: base name


def test_a_base_not_named_base_gets_a_head(tmp_path):
    x = np.random.default_rng(0).random((6, 8, 8, 1), dtype=np.float32)
    y = np.arange(6) % 3
    model = build_transfer_model(_tiny_base("mybase"), 3)  # raised 'list' has no 'shape'
    assert model.output_shape == (None, 3)
    assert model.get_layer("base").output_shape == (None, 8, 8, 3)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    # conv_base of a saved model under another name, as the report had it
    path = tmp_path / "model.keras"
    _tiny_classifier().save(path)
    model = build_transfer_model(conv_base(path, name="mybase"), 5)
    assert model.output_shape == (None, 5)
    assert not model.get_layer("base").trainable_weights  # frozen
    # a base with two outputs is no base: one line, not a Keras error
    inputs = keras.Input((8, 8, 1))
    two = keras.Model(inputs, [keras.layers.Conv2D(2, 3)(inputs)] * 2, name="two")
    with pytest.raises(InputError, match="has 2 outputs"):
        build_transfer_model(two, 3)


def test_a_local_keras_application_gets_a_head(tmp_path):
    from snpcnn.transfer import load_application

    ref = keras.applications.MobileNet(
        input_shape=(32, 32, 3), alpha=0.25, include_top=False, weights=None
    )
    weights = tmp_path / "mobilenet.weights.h5"
    ref.save_weights(weights)
    base = load_application("MobileNet", weights, input_shape=(32, 32, 3), alpha=0.25)
    assert base.name != "base"
    model = build_transfer_model(base, 5)
    assert model.output_shape == (None, 5)


# --------------------------------------------------------------------------- 2: --unfreeze


def test_batchnorm_layers_do_not_take_the_unfreeze_count():
    from snpcnn.models import build_model

    source = build_model("resnet_small", (32, 2), head="regression")
    model = build_transfer_model(conv_base(source), 1, "regression")
    base = model.get_layer("base")
    last_two = [lyr for lyr in base.layers if lyr.weights][-2:]
    assert all(isinstance(lyr, keras.layers.BatchNormalization) for lyr in last_two)
    with warnings.catch_warnings():
        warnings.simplefilter("error", InputWarning)  # enough layers: no warning
        unfrozen = unfreeze_last(model, 2, head="regression")
    assert len(unfrozen) == 2  # was [] : the two BN layers took the count
    assert [lyr.name for lyr in base.layers if lyr.trainable_weights] == unfrozen
    assert all("conv" in name for name in unfrozen)
    with pytest.warns(InputWarning, match=r"unfreeze=999: the base has only \d+ weighted"):
        unfreeze_last(model, 999, head="regression")
    # one more than the base has: all of them (a negative slice start took the last 1 of 3
    # where n was between len and 2 len; a review, session 43)
    bn = keras.layers.BatchNormalization
    n = len([lyr for lyr in base.layers if lyr.weights and not isinstance(lyr, bn)])
    with pytest.warns(InputWarning, match=rf"only {n} weighted .* so {n} were unfrozen"):
        unfrozen = unfreeze_last(model, n + 1, head="regression")
    assert len(unfrozen) == n


# --------------------------------------------------------------------------- 3: pixels, labels


def test_bad_pixels_and_labels_are_refused():
    x = np.random.default_rng(0).random((20, 8, 8)).astype(np.float32)
    y = np.arange(20) % 2
    nan = x.copy()
    nan[3, 2, 1] = np.nan
    nan[7, 0, 0] = np.inf
    with pytest.raises(InputError, match=r"2 NaN or infinite pixel\(s\), the first in image 3"):
        prepare_images(nan)
    with pytest.raises(InputError, match=r"^training images: 2 NaN"):
        fit_images("lenet5", ((nan, y), (x, y)), epochs=1)
    with pytest.raises(InputError, match="divide 0..255 images by 255"):
        prepare_images(x * 255)  # was kept unscaled, though documented as [0, 1]
    with pytest.raises(InputError, match=r"^test images: float pixels run from"):
        fit_images("lenet5", ((x, y), (x * 255, y)), epochs=1)
    np.testing.assert_array_equal(prepare_images(x)[..., 0], x)  # in [0, 1]: as it is
    with pytest.raises(InputError, match=r"^training labels: labels must be integer.*dtype <U"):
        fit_images("lenet5", ((x, y.astype(str)), (x, y)), epochs=1)  # was a bare TypeError


# --------------------------------------------------------------------------- 4, 5: the CLI


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("digits")
    (xtr, ytr), (xte, yte) = load_digits_small()
    for key, arr in (
        ("train_images", xtr[:200]),
        ("train_labels", ytr[:200]),
        ("test_images", xte[:60]),
        ("test_labels", yte[:60]),
    ):
        write_idx(path / f"{MNIST_FILES[key]}.gz", arr)
    return path


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_transfer_cli_records_what_ran_and_leaves_no_stale_files(digits_dir, tmp_path):
    base = tmp_path / "base.keras"
    _tiny_classifier().save(base)
    out = tmp_path / "t"
    common = ["images", "transfer", "--base", str(base), "--data", str(digits_dir)]
    common += ["--classes", "0-2", "--epochs", "1", "--batch-size", "32", "--out", str(out)]
    res = _run([*common, "--mode", "features", "--xla"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["jit_compile"] is True and meta["jit_compile_effective"] is True
    assert (out / "features_train.npy").is_file()

    res = _run([*common, "--mode", "finetune", "--unfreeze", "1", "--fine-tune-epochs", "1"])
    assert res.exit_code == 1 and "already exists; pass --force" in res.output
    args = [*common, "--mode", "finetune", "--unfreeze", "1", "--fine-tune-epochs", "1"]
    res = _run([*args, "--force"])
    assert res.exit_code == 0, res.output
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["mode"] == "finetune" and meta["jit_compile_effective"] is False
    # the last weighted layer is bn2: it took the count and nothing was unfrozen
    assert meta["unfreeze"] == 1 and meta["unfrozen_layers"] == ["conv2"]
    assert not (out / "features_train.npy").exists()
    assert not (out / "features_test.npy").exists()
    assert "removed" in res.output


def test_a_stray_test_label_names_the_test_labels_file(digits_dir, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for key in ("train_images", "train_labels", "test_images"):
        name = f"{MNIST_FILES[key]}.gz"
        (bad / name).write_bytes((digits_dir / name).read_bytes())
    (_, _), (_, yte) = load_digits_small()
    yte = yte[:60].copy()
    yte[5] = 12
    write_idx(bad / f"{MNIST_FILES['test_labels']}.gz", yte)
    for command in ("fit", "transfer"):
        args = ["images", command, "--data", str(bad), "--epochs", "1"]
        if command == "transfer":
            base = tmp_path / "base.keras"
            _tiny_classifier().save(base)
            args += ["--base", str(base)]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 1, res.output
        line = [ln for ln in res.output.splitlines() if ln.startswith("Error")][0]
        assert "test labels (" in line and "t10k-labels-idx1-ubyte.gz" in line, line
        assert "label 12 (test image 5" in line and not line.startswith("Error: training")
