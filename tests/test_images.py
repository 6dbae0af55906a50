"""Tests of snpcnn.images: IDX reader, digits fallback, augmentation, image training."""

from __future__ import annotations

import gzip
import json
import struct

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.images import (
    FILL_MODES,
    ImageFitResult,
    fit_images,
    load_digits_small,
    load_mnist,
    make_augmentation,
    parse_augment,
    prepare_images,
    read_idx,
    read_idx_header,
    select_classes,
    write_idx,
)

# md5 of the canonical files is in shared/data/mnist/README.md; these are the first
# test labels of MNIST (t10k-labels), well known: 7 2 1 0 4 1 4 9 5 9
MNIST_FIRST_TEST_LABELS = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.fixture(scope="module")
def mnist_dir(shared_data):
    path = shared_data / "mnist"
    if not (path / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("MNIST files not found")
    return path


@pytest.fixture(scope="module")
def digits():
    return load_digits_small()


# --------------------------------------------------------------------------- IDX


def test_idx_header_of_real_files(mnist_dir):
    assert read_idx_header(mnist_dir / "train-images-idx3-ubyte.gz") == (
        np.dtype("uint8"),
        (60000, 28, 28),
    )
    assert read_idx_header(mnist_dir / "t10k-labels-idx1-ubyte.gz") == (np.dtype("uint8"), (10000,))


def test_read_real_test_set(mnist_dir):
    x = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    y = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert y.tolist()[:10] == MNIST_FIRST_TEST_LABELS
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert x.max() == 255 and x.min() == 0
    first = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz", count=3)
    np.testing.assert_array_equal(first, x[:3])


def test_first_train_images_only(mnist_dir):
    x = read_idx(mnist_dir / "train-images-idx3-ubyte.gz", count=2)
    y = read_idx(mnist_dir / "train-labels-idx1-ubyte.gz", count=2)
    assert x.shape == (2, 28, 28)
    assert y.tolist() == [5, 0]  # the first two MNIST training labels


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
def test_write_read_roundtrip(tmp_path, compress, dtype):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((4, 3, 2)) * 50).astype(dtype)
    path = tmp_path / ("a.idx" + (".gz" if compress else ""))
    write_idx(path, arr)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, arr)
    with pytest.raises(InputError, match="already exists"):
        write_idx(path, arr)


def _idx_bytes(arr: np.ndarray) -> bytes:
    return bytes([0, 0, 8, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b[:-5], "truncated IDX file"),
        (lambda b: b[:6], "truncated IDX header"),
        (lambda b: b[:2], "truncated IDX file"),
        (lambda b: b + b"\x00\x00", "bytes beyond the declared shape"),
        (lambda b: b"\x01" + b[1:], "not an IDX file"),
        (lambda b: b[:2] + b"\x07" + b[3:], "unknown IDX data type code 0x07"),
        (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
        (lambda b: b"", "truncated IDX file"),
    ],
)
def test_corrupt_idx_is_one_line_error(tmp_path, mutate, message):
    good = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    path = tmp_path / "bad-idx3-ubyte"
    path.write_bytes(mutate(good))
    with pytest.raises(InputError, match=message) as info:
        read_idx(path)
    assert "\n" not in str(info.value)
    assert str(path) in str(info.value)


def test_truncated_gzip_is_clear(tmp_path, mnist_dir):
    raw = (mnist_dir / "t10k-labels-idx1-ubyte.gz").read_bytes()
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(InputError, match="corrupt or truncated gzip"):
        read_idx(path)


def test_gzip_of_truncated_idx(tmp_path):
    good = _idx_bytes(np.zeros((5, 2, 2), dtype=np.uint8))
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(good[:-1]))
    with pytest.raises(InputError, match=r"header declares shape \(5, 2, 2\)"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_idx(tmp_path / "nope.gz")


def test_load_mnist_dir_of_digits(tmp_path, digits):
    (xtr, ytr), (xte, yte) = digits
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", ytr)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", xte)  # plain works too
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", yte)
    (a, b), (c, d) = load_mnist(tmp_path)
    np.testing.assert_array_equal(a, xtr)
    np.testing.assert_array_equal(d, yte)


def test_load_mnist_count_mismatch(tmp_path, digits):
    (xtr, ytr), (xte, yte) = digits
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", xtr)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", ytr[:-1])
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", xte)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", yte)
    with pytest.raises(InputError, match="images but train-labels-idx1-ubyte.gz holds"):
        load_mnist(tmp_path)


def test_load_mnist_missing_member(tmp_path):
    with pytest.raises(InputError, match="train-images-idx3-ubyte"):
        load_mnist(tmp_path)


def test_digits_small(digits):
    (xtr, ytr), (xte, yte) = digits
    assert xtr.dtype == np.uint8 and xtr.shape[1:] == (8, 8)
    assert len(xtr) + len(xte) == 1797
    assert set(np.unique(ytr)) == set(range(10))
    assert xtr.max() == 255


def test_select_classes(digits):
    (xtr, ytr), _ = digits
    x, y = select_classes(xtr, ytr, [7, 3])
    assert set(y.tolist()) == {0, 1}
    assert len(x) == int(np.sum(ytr == 7) + np.sum(ytr == 3))
    np.testing.assert_array_equal(x[y == 0], xtr[ytr == 7])
    with pytest.raises(InputError, match="no images with label"):
        select_classes(xtr, ytr, [42])


def test_prepare_images():
    x = np.full((2, 8, 8), 255, dtype=np.uint8)
    out = prepare_images(x, size=(32, 32), channels=3)
    assert out.shape == (2, 32, 32, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, 1.0)
    # an int is a square size, as --image-size 16 (it raised TypeError: a checking helper)
    assert prepare_images(x, size=16).shape == (2, 16, 16, 1)


# --------------------------------------------------------------------------- augmentation


def _batch():
    rng = np.random.default_rng(0)
    return rng.random((4, 16, 16, 1)).astype("float32")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"rotation": 20},
        {"width_shift": 0.2, "height_shift": 0.2},
        {"shear": 0.3},
        {"zoom": 0.3},
        {"horizontal_flip": True},
    ],
)
def test_augmentation_changes_training_inputs_only(kwargs):
    aug = make_augmentation(seed=1, **kwargs)
    x = _batch()
    trained = np.asarray(aug(x, training=True))
    inferred = np.asarray(aug(x, training=False))
    assert trained.shape == x.shape
    np.testing.assert_array_equal(inferred, x)
    assert not np.allclose(trained, x)


def test_augmentation_identity_when_off():
    aug = make_augmentation()
    x = _batch()
    np.testing.assert_array_equal(np.asarray(aug(x, training=True)), x)


def test_augmentation_seeded_repeats():
    x = _batch()
    a = np.asarray(make_augmentation(rotation=15, zoom=0.2, seed=3)(x, training=True))
    b = np.asarray(make_augmentation(rotation=15, zoom=0.2, seed=3)(x, training=True))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_each_fill_mode_accepted(fill_mode):
    aug = make_augmentation(
        rotation=30, width_shift=0.3, fill_mode=fill_mode, fill_value=0.5, seed=0
    )
    layers = [layer for layer in aug.layers if hasattr(layer, "fill_mode")]
    assert layers and all(layer.fill_mode == fill_mode for layer in layers)
    out = np.asarray(aug(_batch(), training=True))
    assert np.isfinite(out).all()


def test_constant_fill_uses_fill_value():
    x = np.ones((2, 16, 16, 1), dtype="float32")
    aug = make_augmentation(width_shift=0.5, fill_mode="constant", fill_value=0.25, seed=0)
    out = np.asarray(aug(x, training=True))
    # shifted-in pixels are 0.25 (bilinear mixes them with 1 only at the seam)
    assert np.isclose(out, 0.25).any()


def test_bad_fill_mode_is_clear():
    with pytest.raises(InputError, match=r"fill_mode.*nearest, reflect, wrap, constant.*'mirror'"):
        make_augmentation(rotation=10, fill_mode="mirror")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rotation": -1}, "rotation"),
        ({"width_shift": 1.5}, "width_shift"),
        ({"zoom": 1.0}, "zoom"),
    ],
)
def test_bad_augmentation_ranges(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_augmentation(**kwargs)


def test_parse_augment():
    assert parse_augment("rotation=10,shift=0.1,zoom=0.05,flip,fill=wrap") == {
        "rotation": 10.0,
        "width_shift": 0.1,
        "height_shift": 0.1,
        "zoom": 0.05,
        "horizontal_flip": True,
        "fill_mode": "wrap",
    }
    assert parse_augment("none") == {}
    with pytest.raises(InputError, match="unknown option 'rotaton'"):
        parse_augment("rotaton=10")
    with pytest.raises(InputError, match="not a number"):
        parse_augment("zoom=big")
    with pytest.raises(InputError, match="fill mode"):
        parse_augment("fill=mirror")


# --------------------------------------------------------------------------- training

# LeNet-5's second conv is 5x5 "valid": 8x8 digits are resized to 16x16 for it
LENET = {"image_size": 16}


def test_fit_images_on_digits_is_deterministic(digits, tmp_path):
    kwargs = dict(epochs=2, batch_size=64, seed=7, validation_split=0.1, **LENET)
    r1 = fit_images("lenet5", digits, **kwargs)
    r2 = fit_images("lenet5", digits, **kwargs)
    assert isinstance(r1, ImageFitResult)
    assert r1.n_test == len(digits[1][1]) and r1.n_val > 0
    assert r1.history["loss"] == r2.history["loss"]
    assert r1.test_accuracy == r2.test_accuracy
    w1, w2 = r1.model.get_weights(), r2.model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(w1, w2))
    assert 0.0 <= r1.test_accuracy <= 1.0
    assert r1.samples_per_s > 0 and len(r1.epoch_times_s) == 2
    assert "val_loss" in r1.history

    paths = r1.save(tmp_path / "out")
    meta = json.loads(paths["metrics"].read_text())
    assert meta["test_accuracy"] == r1.test_accuracy
    assert meta["config"]["seed"] == 7
    assert paths["model"].stat().st_size > 0
    with pytest.raises(InputError, match="already exists"):
        r1.save(tmp_path / "out")
    r1.save(tmp_path / "out", force=True)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]


def test_fit_images_learns_digits(digits):
    result = fit_images("lenet5", digits, epochs=8, batch_size=32, seed=0, **LENET)
    # chance is 0.1; a LeNet on 8x8 digits reaches well above 0.8 in a few epochs
    assert result.test_accuracy > 0.8


def test_fit_images_with_augmentation_spec(digits):
    result = fit_images(
        "lenet5", digits, epochs=1, batch_size=128, seed=0, augment="rotation=10,shift=0.1", **LENET
    )
    assert result.config["augment"] == {"rotation": 10.0, "width_shift": 0.1, "height_shift": 0.1}
    assert any("augment" in layer.name for layer in result.model.layers)


def test_fit_images_xy_data_split():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (60, 8, 8), dtype=np.uint8)
    y = np.repeat(np.arange(3), 20)
    result = fit_images("lenet5", (x, y), epochs=1, seed=0, test_fraction=0.25, image_size=16)
    assert result.n_test == 15 and result.n_train == 45


def test_fit_images_bad_schedule(digits):
    with pytest.raises(InputError, match="lr_schedule"):
        fit_images("lenet5", digits, epochs=1, lr_schedule="step", **LENET)


@pytest.mark.gpu
def test_fit_images_mixed_precision_gpu(digits):
    result = fit_images(
        "lenet5", digits, epochs=1, seed=0, mixed_precision=True, jit_compile=True, **LENET
    )
    assert result.config["dtype_policy"] == "mixed_float16"
    assert result.model.layers[-1].compute_dtype in ("float32", "float16")
    assert result.test_accuracy > 0.1


@pytest.mark.parametrize("arch", ["lenet5", "resnet_small"])
def test_add_augmentation_keeps_graph_and_names(arch):
    from snpcnn.images import add_augmentation
    from snpcnn.models import build_model

    model = build_model(arch, (16, 16, 1), head="multiclass", n_outputs=3)
    aug = make_augmentation(rotation=20, width_shift=0.2, seed=0)
    augmented = add_augmentation(model, aug)
    names = {layer.name for layer in augmented.layers}
    assert {layer.name for layer in model.layers} <= names and "augment" in names
    for layer in model.layers:  # same weights -> same inference output (augment is off)
        if layer.weights:
            augmented.get_layer(layer.name).set_weights(layer.get_weights())
    x = _batch()
    np.testing.assert_allclose(
        np.asarray(augmented(x, training=False)),
        np.asarray(model(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )
    # and the augmentation really sits in front of the first layer while training
    assert augmented.layers[1].name == "augment"


def test_outputs_are_written_together_or_not_at_all(tmp_path):
    """images fit/transfer write model.keras and metrics.json (and features) as one: a writer
    that fails leaves no new file, no temporary file, and every earlier file as it was."""
    from snpcnn.images import write_outputs

    def fail(path):
        raise RuntimeError("disk full")

    def text(payload):
        return lambda path: open(path, "w").write(payload)

    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        write_outputs(out, {"model.keras": text("new"), "metrics.json": fail})
    assert sorted(p.name for p in out.iterdir()) == []
    paths = write_outputs(out, {"model.keras": text("m1"), "metrics.json": text("j1")})
    assert paths["model.keras"].read_text() == "m1" and paths["metrics.json"].read_text() == "j1"
    with pytest.raises(RuntimeError):
        write_outputs(out, {"model.keras": text("m2"), "metrics.json": fail}, force=True)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "model.keras"]
    assert paths["model.keras"].read_text() == "m1" and paths["metrics.json"].read_text() == "j1"
    with pytest.raises(InputError, match="already exists"):
        write_outputs(out, {"model.keras": text("m3")})
    write_outputs(out, {"model.keras": text("m3"), "metrics.json": text("j3")}, force=True)
    assert paths["model.keras"].read_text() == "m3" and paths["metrics.json"].read_text() == "j3"


def test_a_missing_snpcnn_mnist_folder_is_named(monkeypatch, tmp_path):
    """SNPCNN_MNIST pointing nowhere fell through to ../shared/data/mnist silently."""
    from snpcnn.errors import InputError
    from snpcnn.images import default_mnist_dir

    monkeypatch.setenv("SNPCNN_MNIST", str(tmp_path / "nope"))
    with pytest.raises(InputError, match="SNPCNN_MNIST=.*nope: no such folder"):
        default_mnist_dir()
