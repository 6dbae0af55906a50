"""`snpcnn images fit` / `snpcnn images transfer` on the 8x8 digits (written as IDX files)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError
from snpcnn.images import MNIST_FILES, load_digits_small, write_idx


@pytest.fixture(scope="module")
def digits_dir(tmp_path_factory):
    """The 8x8 digits as an MNIST-style folder of four IDX files."""
    path = tmp_path_factory.mktemp("digits")
    (xtr, ytr), (xte, yte) = load_digits_small()
    for key, arr in (
        ("train_images", xtr),
        ("train_labels", ytr),
        ("test_images", xte),
        ("test_labels", yte),
    ):
        write_idx(path / f"{MNIST_FILES[key]}.gz", arr)
    return path


def _run(args):
    return CliRunner().invoke(main, args, catch_exceptions=False)


def test_images_fit_writes_outputs(digits_dir, tmp_path):
    out = tmp_path / "run"
    args = ["images", "fit", "--arch", "lenet5", "--data", str(digits_dir), "--epochs", "1"]
    args += ["--image-size", "16", "--batch-size", "64", "--seed", "1"]
    args += ["--augment", "rotation=5,shift=0.1", "--out", str(out)]
    res = _run(args)
    assert res.exit_code == 0, res.output
    assert (
        "test accuracy:" in res.output and "samples/s" in res.output and "wall time" in res.output
    )
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["n_test"] == 450 and meta["epochs"] == 1
    assert meta["config"]["augment"]["rotation"] == 5.0
    assert 0.0 <= meta["test_accuracy"] <= 1.0
    assert f"{meta['test_accuracy']:.4f}" in res.output
    assert (out / "model.keras").stat().st_size > 0

    # refuses to overwrite, before training
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert "already exists; pass --force" in res.output

    # transfer the trained base to digits 5-9 (feature extraction)
    tr = tmp_path / "transfer"
    res = _run(
        [
            "images",
            "transfer",
            "--base",
            str(out / "model.keras"),
            "--data",
            str(digits_dir),
            "--classes",
            "5-9",
            "--mode",
            "features",
            "--epochs",
            "2",
            "--out",
            str(tr),
        ]
    )
    assert res.exit_code == 0, res.output
    meta = json.loads((tr / "metrics.json").read_text())
    assert meta["mode"] == "features" and meta["classes"] == [5, 6, 7, 8, 9]
    assert meta["feature_shape"] == [64]  # lenet5 flatten at 16x16 input: 2 x 2 x 16
    assert (tr / "features_train.npy").exists() and (tr / "model.keras").exists()


def test_images_fit_xla_on_some_classes(digits_dir, tmp_path):
    from tensorflow.python.framework.config import is_op_determinism_enabled

    before = is_op_determinism_enabled()
    res = _run(
        [
            "images",
            "fit",
            "--data",
            str(digits_dir),
            "--epochs",
            "1",
            "--image-size",
            "16",
            "--xla",
            "--classes",
            "0-4",
            "--out",
            str(tmp_path),
        ]
    )
    assert res.exit_code == 0, res.output
    assert "arch: lenet5" in res.output
    meta = json.loads((tmp_path / "metrics.json").read_text())
    assert meta["config"]["jit_compile_effective"] is True  # XLA really used
    assert meta["config"]["op_determinism"] is False  # Keras refuses XLA under it
    assert meta["config"]["n_classes"] == 5
    assert is_op_determinism_enabled() == before  # left as it was before the command


def test_images_fit_errors(digits_dir, tmp_path):
    res = CliRunner().invoke(main, ["images", "fit", "--data", str(tmp_path), "--epochs", "1"])
    assert res.exit_code == 1
    assert res.output.count("\n") == 1 and "train-images-idx3-ubyte" in res.output

    res = CliRunner().invoke(
        main, ["images", "fit", "--data", str(digits_dir), "--augment", "spin=3"]
    )
    assert res.exit_code == 1 and "unknown option 'spin'" in res.output

    # LeNet-5 does not fit 8x8 images: one clear line, no traceback
    res = CliRunner().invoke(main, ["images", "fit", "--data", str(digits_dir), "--epochs", "1"])
    assert res.exit_code == 1 and "Traceback" not in res.output
    assert "Error:" in res.output and res.output.count("\n") == 1


def test_images_transfer_needs_one_base(digits_dir):
    res = CliRunner().invoke(main, ["images", "transfer", "--data", str(digits_dir)])
    assert res.exit_code == 2 and "exactly one of --base" in res.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--mode", "features", "--unfreeze", "3"], "which --mode features never trains"),
        (["--fine-tune-epochs", "3"], "needs both --unfreeze N"),
        (["--unfreeze", "2"], "needs both --unfreeze N"),
    ],
)
def test_images_transfer_refuses_fine_tuning_that_would_not_run(digits_dir, extra, message):
    """They were ignored, and metrics.json recorded them as if they had run (a helper)."""
    res = CliRunner().invoke(
        main,
        ["images", "transfer", "--application", "vgg16", "--data", str(digits_dir), *extra],
    )
    assert res.exit_code == 2 and message in res.output, res.output


def test_images_transfer_missing_weights(digits_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    res = CliRunner().invoke(
        main, ["images", "transfer", "--application", "vgg16", "--data", str(digits_dir)]
    )
    assert res.exit_code == 1
    assert "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in res.output
    assert "--weights PATH" in res.output


def _one_line_error(res) -> str:
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and "internal error" not in lines[0], res.output
    return lines[0]


def test_images_bad_input_found_by_fuzzing_is_one_line_before_training(digits_dir, tmp_path):
    """An empty --classes range; an output file that is a folder; --out under a file;
    a --validation-split a class cannot take; a MobileNet alpha without weights."""
    from snpcnn.transfer import application_weights_filename

    run = CliRunner().invoke
    fit = ["images", "fit", "--data", str(digits_dir), "--epochs", "1"]
    assert "names no class" in _one_line_error(run(main, [*fit, "--classes", "4-0"]))
    # one class: the error named Keras's `n_outputs` argument and head='multiclass'
    for one_class in ("0", "3-3", "5,5"):
        err = _one_line_error(run(main, [*fit, "--classes", one_class]))
        assert "names one class" in err and "n_outputs" not in err, err
    clash = tmp_path / "o"
    (clash / "model.keras").mkdir(parents=True)
    err = _one_line_error(run(main, [*fit, "--out", str(clash), "--force"]))
    assert "is a folder, not a file" in err
    (tmp_path / "afile").write_text("x")
    err = _one_line_error(run(main, [*fit, "--out", str(tmp_path / "afile" / "run")]))
    assert "is a file, not a folder" in err
    one = tmp_path / "one"
    (xtr, ytr), (xte, yte) = load_digits_small()
    keep = np.concatenate([np.flatnonzero(ytr != 9), np.flatnonzero(ytr == 9)[:1]])
    for key, arr in (
        ("train_images", xtr[keep]),
        ("train_labels", ytr[keep]),
        ("test_images", xte),
        ("test_labels", yte),
    ):
        write_idx(one / f"{MNIST_FILES[key]}.gz", arr)
    args = ["images", "fit", "--data", str(one), "--epochs", "1", "--validation-split", "0.1"]
    assert "class 9 has only 1 training image" in _one_line_error(run(main, args))
    with pytest.raises(InputError, match="only for alpha 0.25, 0.5, 0.75 and 1.0"):
        application_weights_filename("MobileNet", alpha=0.3)
