"""2D image parity: the MNIST IDX reader, image augmentation and image training.

The same rank-generic model core that fits SNP genotypes (rank 1) fits images (rank 2).
This module supplies what is specific to images:

* :func:`read_idx` / :func:`write_idx` / :func:`load_mnist`: the IDX format of the
  MNIST files (``.gz`` or plain), with every header field and size checked;
* :func:`load_digits_small`: scikit-learn's bundled 8x8 digits, a tiny offline stand-in
  for tests and demos;
* :func:`make_augmentation` / :func:`parse_augment`: Keras preprocessing layers that
  are active only while training;
* :func:`fit_images`: train a preset (``"lenet5"``, ``"vgg11"``, ...) on images and
  report test accuracy, wall time and training throughput, deterministically on CPU
  for a fixed seed.

Examples
--------
>>> from snpcnn.images import load_digits_small, fit_images
>>> train, test = load_digits_small()
>>> result = fit_images("lenet5", (train, test), epochs=1, image_size=16)  # doctest: +SKIP
>>> round(result.test_accuracy, 3)  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import gzip
import json
import logging
import math
import os
import platform
import struct
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snpcnn.errors import InputError

__all__ = [
    "FILL_MODES",
    "MNIST_FILES",
    "ImageFitResult",
    "add_augmentation",
    "check_outputs",
    "default_mnist_dir",
    "fit_images",
    "load_digits_small",
    "load_mnist",
    "make_augmentation",
    "parse_augment",
    "prepare_images",
    "read_idx",
    "read_idx_header",
    "seeded",
    "select_classes",
    "write_idx",
]

log = logging.getLogger(__name__)

#: Fill modes accepted by :func:`make_augmentation` (those of Keras' image layers).
FILL_MODES = ("nearest", "reflect", "wrap", "constant")

#: The canonical MNIST file names (each may also end in ``.gz``).
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# IDX type code -> big-endian numpy dtype (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT")
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_IDX_CODES = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


# --------------------------------------------------------------------------- IDX files


def _open_idx(path: Path):
    """Open an IDX file for binary reading, transparently decompressing gzip."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.open(path, "rb")
    return open(path, "rb")


def _read_exact(path: Path, n: int | None) -> bytes:
    """Read ``n`` bytes (all when None), turning gzip damage into an InputError."""
    try:
        with _open_idx(path) as fh:
            return fh.read() if n is None else fh.read(n)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"{path}: corrupt or truncated gzip stream ({exc}); re-copy the file "
            "(for MNIST check its md5 against the README)"
        ) from None


def _parse_header(path: Path, raw: bytes) -> tuple[np.dtype, tuple[int, ...], int]:
    if len(raw) < 4:
        raise InputError(
            f"{path}: truncated IDX file ({len(raw)} bytes; the header alone needs at least 4); "
            "re-copy the file"
        )
    if raw[0] != 0 or raw[1] != 0:
        magic = struct.unpack(">I", raw[:4])[0]
        raise InputError(
            f"{path}: not an IDX file (magic number 0x{magic:08X}; an IDX file starts with "
            "two zero bytes, e.g. 0x00000803 for images, 0x00000801 for labels)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
        raise InputError(
            f"{path}: unknown IDX data type code 0x{code:02X} (expected one of {valid}); "
            "the file is corrupt or not IDX"
        )
    if ndim == 0:
        raise InputError(f"{path}: IDX header declares 0 dimensions; the file is corrupt")
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise InputError(
            f"{path}: truncated IDX header ({len(raw)} bytes; {ndim} dimensions need "
            f"{header_len}); re-copy the file"
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    return _IDX_DTYPES[code], tuple(int(d) for d in dims), header_len


def read_idx_header(path: str | os.PathLike) -> tuple[np.dtype, tuple[int, ...]]:
    """Read only the header of an IDX file.

    Parameters
    ----------
    path : str or path-like
        An IDX file, plain or gzip-compressed.

    Returns
    -------
    dtype : numpy.dtype
        The element type in native byte order.
    shape : tuple of int
        The dimensions declared in the header.

    Examples
    --------
    >>> read_idx_header("../shared/data/mnist/t10k-images-idx3-ubyte.gz")  # doctest: +SKIP
    (dtype('uint8'), (10000, 28, 28))
    """
    path = Path(path)
    _require_file(path)
    raw = _read_exact(path, 4 + 4 * 255)
    dtype, dims, _ = _parse_header(path, raw)
    return dtype.newbyteorder("="), dims


def read_idx(path: str | os.PathLike, count: int | None = None) -> np.ndarray:
    """Read an IDX file (the MNIST format) into a NumPy array.

    The magic number, the data type code, the number of dimensions and the data size
    are all checked; a truncated or corrupt file raises :class:`InputError` with one
    line naming the file.

    Parameters
    ----------
    path : str or path-like
        An IDX file, plain or gzip-compressed (detected from the content, not the name).
    count : int, optional
        Read only the first ``count`` items along the first axis.  The size check then
        covers those items only (the rest of the file is not read).

    Returns
    -------
    numpy.ndarray
        Shape as declared in the header (first axis cut to ``count``), native byte
        order; ``uint8`` for MNIST.

    Raises
    ------
    InputError
        If the file is missing, not IDX, truncated, longer than its header says, or a
        damaged gzip stream.

    Examples
    --------
    >>> x = read_idx("../shared/data/mnist/t10k-images-idx3-ubyte.gz", count=5)  # doctest: +SKIP
    >>> x.shape, x.dtype  # doctest: +SKIP
    ((5, 28, 28), dtype('uint8'))
    """
    path = Path(path)
    _require_file(path)
    if count is not None:
        if count < 0:
            raise InputError(f"Invalid value for argument `count`: expected >= 0, got {count}")
        dtype, dims = read_idx_header(path)
        header_len = 4 + 4 * len(dims)
        count = min(count, dims[0])
        item = int(np.prod(dims[1:], dtype=np.int64)) * dtype.itemsize
        raw = _read_exact(path, header_len + count * item)
    else:
        raw = _read_exact(path, None)
    dtype, dims, header_len = _parse_header(path, raw)
    if count is not None:
        dims = (count, *dims[1:])
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(raw) - header_len
    if actual < expected:
        raise InputError(
            f"{path}: truncated IDX file: header declares shape {dims} ({expected} data bytes) "
            f"but only {actual} follow; re-copy the file"
        )
    if count is None and actual > expected:
        raise InputError(
            f"{path}: IDX file has {actual - expected} bytes beyond the declared shape {dims}; "
            "the header or the data is corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, count=int(np.prod(dims)), offset=header_len)
    return data.reshape(dims).astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, force: bool = False) -> Path:
    """Write an array as an IDX file (gzip-compressed when the name ends in ``.gz``).

    Parameters
    ----------
    path : str or path-like
        Output file; written atomically.
    array : numpy.ndarray
        Any of the IDX element types (uint8, int8, int16, int32, float32, float64).
    force : bool, default False
        Overwrite an existing file.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> write_idx("digits-labels-idx1-ubyte.gz", np.arange(10, dtype=np.uint8))  # doctest: +SKIP
    """
    path = Path(path)
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _IDX_CODES:
        raise InputError(
            f"Invalid array dtype {array.dtype} for IDX; expected one of "
            "uint8, int8, int16, int32, float32, float64"
        )
    if array.ndim == 0 or array.ndim > 255:
        raise InputError(f"Invalid array for IDX: ndim={array.ndim}; expected 1..255")
    code = _IDX_CODES[native]
    payload = (
        bytes([0, 0, code, array.ndim])
        + struct.pack(f">{array.ndim}I", *array.shape)
        + np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    )
    if path.name.endswith(".gz"):
        payload = gzip.compress(payload, mtime=0)
    _atomic_write_bytes(path, payload, force=force)
    return path


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise InputError(f"{path}: no such file; check the path")


def default_mnist_dir() -> Path | None:
    """Locate ``shared/data/mnist`` next to the repository, or return None (an
    :class:`InputError` where ``$SNPCNN_MNIST`` names a missing folder).

    Looked for, in order: ``$SNPCNN_MNIST``, ``../shared/data/mnist`` relative to the
    working directory, and ``../shared/data/mnist`` relative to the source checkout.
    """
    candidates = []
    if os.environ.get("SNPCNN_MNIST"):
        named = Path(os.environ["SNPCNN_MNIST"])
        if not named.is_dir():  # it fell through to another folder without a word
            raise InputError(
                f"SNPCNN_MNIST={named}: no such folder; point it at the folder of the MNIST "
                "idx files, or unset it"
            )
        candidates.append(named)
    candidates.append(Path.cwd() / ".." / "shared" / "data" / "mnist")
    candidates.append(Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "mnist")
    for cand in candidates:
        if cand.is_dir():
            return cand.resolve()
    return None


def _find_member(directory: Path, stem: str) -> Path:
    for name in (
        stem + ".gz",
        stem,
        stem.replace("-idx", ".idx") + ".gz",
        stem.replace("-idx", ".idx"),
    ):
        if (directory / name).is_file():
            return directory / name
    raise InputError(
        f"{directory}: no {stem}.gz (or {stem}) found; an MNIST directory holds the four files "
        + ", ".join(f"{s}.gz" for s in MNIST_FILES.values())
    )


def load_mnist(
    directory: str | os.PathLike | None = None,
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Load the four MNIST IDX files from a directory.

    Parameters
    ----------
    directory : str or path-like, optional
        Folder with ``train-images-idx3-ubyte(.gz)``, ``train-labels-idx1-ubyte(.gz)``,
        ``t10k-images-idx3-ubyte(.gz)`` and ``t10k-labels-idx1-ubyte(.gz)``.  Defaults to
        :func:`default_mnist_dir`.  Any image size works (the files need not be 28x28).

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of numpy.ndarray
        Images ``uint8`` of shape ``(n, rows, cols)``, labels ``uint8`` of shape ``(n,)``.

    Raises
    ------
    InputError
        A missing or corrupt file, image/label count mismatch, train/test image size
        mismatch, or non-uint8 content.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = load_mnist("../shared/data/mnist")  # doctest: +SKIP
    >>> x_train.shape, x_test.shape  # doctest: +SKIP
    ((60000, 28, 28), (10000, 28, 28))
    """
    if directory is None:
        found = default_mnist_dir()
        if found is None:
            raise InputError(
                "no MNIST directory given and ../shared/data/mnist not found; pass the folder "
                "holding the four IDX files (--data DIR)"
            )
        directory = found
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(
            f"{directory}: not a directory; pass the folder holding the MNIST IDX files"
        )
    arrays = {}
    for key, stem in MNIST_FILES.items():
        path = _find_member(directory, stem)
        arr = read_idx(path)
        want_ndim = 3 if key.endswith("images") else 1
        if arr.ndim != want_ndim or arr.dtype != np.uint8:
            raise InputError(
                f"{path}: expected {want_ndim}-D uint8 {'images' if want_ndim == 3 else 'labels'}, "
                f"found {arr.ndim}-D {arr.dtype} with shape {arr.shape}; wrong file?"
            )
        arrays[key] = (path, arr)
    for part in ("train", "test"):
        (pi, xi), (pl, yl) = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if len(xi) != len(yl):
            raise InputError(
                f"{pi}: {len(xi)} images but {pl.name} holds {len(yl)} labels; the files do not match"
            )
    (_, xtr), (pte, xte) = arrays["train_images"], arrays["test_images"]
    if xtr.shape[1:] != xte.shape[1:]:
        raise InputError(
            f"{pte}: test images are {xte.shape[1:]} but training images are {xtr.shape[1:]}"
        )
    return (xtr, arrays["train_labels"][1]), (xte, arrays["test_labels"][1])


def load_digits_small(
    test_fraction: float = 0.25, seed: int = 0
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Scikit-learn's bundled 8x8 digits (1,797 images) as a tiny MNIST stand-in.

    Pixel values 0..16 are rescaled to 0..255 ``uint8`` so that the arrays look like
    MNIST; the train/test split is stratified by class and fixed by ``seed``.

    Parameters
    ----------
    test_fraction : float, default 0.25
        Fraction of images held out as the test set.
    seed : int, default 0
        Seed of the split.

    Returns
    -------
    (x_train, y_train), (x_test, y_test) : tuple of numpy.ndarray
        Images ``uint8`` of shape ``(n, 8, 8)``, labels ``uint8`` of shape ``(n,)``.

    Examples
    --------
    >>> (x_train, y_train), (x_test, y_test) = load_digits_small()
    >>> x_train.shape[1:], x_train.dtype
    ((8, 8), dtype('uint8'))
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    y = digits.target.astype(np.uint8)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return (x_tr, y_tr), (x_te, y_te)


def prepare_images(
    x: np.ndarray, *, size: tuple[int, int] | None = None, channels: int | None = None
) -> np.ndarray:
    """Scale images to float32 in [0, 1], add a channel axis, optionally resize or tile.

    Parameters
    ----------
    x : numpy.ndarray
        ``(n, rows, cols)`` or ``(n, rows, cols, channels)``; integer images (0..255) are
        divided by 255, float images must already be in [0, 1] and are kept as they are.
    size : (int, int) or int, optional
        Resize (bilinear) to ``(rows, cols)``, e.g. ``(32, 32)`` for an ImageNet network
        (an int: square).
    channels : int, optional
        Repeat a single channel to this many (``3`` for ImageNet networks).

    Returns
    -------
    numpy.ndarray
        float32 array ``(n, rows, cols, channels)``.

    Raises
    ------
    InputError
        Non-numeric, NaN or infinite pixels, or float pixels outside [0, 1].
    """
    x = np.asarray(x)
    _check_pixels(x, "images")
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise InputError(
            f"Invalid image array shape {x.shape}: expected (n, rows, cols) or (n, rows, cols, channels)"
        )
    out = (
        x.astype(np.float32) / 255.0 if np.issubdtype(x.dtype, np.integer) else x.astype(np.float32)
    )
    if isinstance(size, (int, np.integer)):  # 16 means 16 x 16, as --image-size 16 does
        size = (int(size), int(size))
    if size is not None and tuple(size) != out.shape[1:3]:
        import tensorflow as tf

        out = tf.image.resize(out, tuple(size), method="bilinear").numpy().astype(np.float32)
    if channels is not None and channels != out.shape[-1]:
        if out.shape[-1] != 1:
            raise InputError(
                f"cannot turn {out.shape[-1]}-channel images into {channels} channels; "
                "only single-channel images are repeated"
            )
        out = np.repeat(out, channels, axis=-1)
    return out


def _check_pixels(x: np.ndarray, what: str) -> None:
    """Refuse pixels a network cannot learn from: NaN images trained to chance without a
    word, and float images in 0..255 were kept unscaled although the result is documented
    as [0, 1] (a checking helper, session 43)."""
    x = np.asarray(x)
    if x.dtype.kind == "b" or np.issubdtype(x.dtype, np.integer) or x.size == 0:
        return
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"{what}: pixels must be numbers, got dtype {x.dtype}")
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise InputError(
            f"{what}: {int(bad.sum())} NaN or infinite pixel(s), the first in image {first[0]} "
            f"at index {first}; fill or drop those images first"
        )
    lo, hi = float(x.min()), float(x.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"{what}: float pixels run from {lo:g} to {hi:g}, not 0..1; divide 0..255 images "
            "by 255 (or pass them as uint8)"
        )


def select_classes(
    x: np.ndarray, y: np.ndarray, classes: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the images of some classes and relabel them ``0..len(classes)-1``.

    Useful for transfer experiments: train a base on digits 0-4, transfer to 5-9.

    Parameters
    ----------
    x, y : numpy.ndarray
        Images and integer labels.
    classes : sequence of int
        The classes to keep; the i-th becomes label ``i``.

    Returns
    -------
    x, y : numpy.ndarray
        The selected images and their new labels (``int32``).

    Examples
    --------
    >>> x, y = select_classes(np.zeros((4, 2, 2)), np.array([5, 1, 7, 5]), [5, 7])
    >>> y.tolist()
    [0, 1, 0]
    """
    classes = [int(c) for c in classes]
    if not classes or len(set(classes)) != len(classes):
        raise InputError(f"classes: expected distinct class labels, got {classes}")
    y = np.asarray(y)
    missing = [c for c in classes if not np.any(y == c)]
    if missing:
        raise InputError(f"classes: no images with label(s) {missing} in the data")
    keep = np.isin(y, classes)
    lookup = {c: i for i, c in enumerate(classes)}
    new_y = np.array([lookup[int(v)] for v in y[keep]], dtype=np.int32)
    return np.asarray(x)[keep], new_y


# --------------------------------------------------------------------------- augmentation


def make_augmentation(
    rotation: float = 0.0,
    width_shift: float = 0.0,
    height_shift: float = 0.0,
    shear: float = 0.0,
    zoom: float = 0.0,
    horizontal_flip: bool = False,
    fill_mode: str = "nearest",
    fill_value: float = 0.0,
    seed: int | None = None,
):
    """Random image augmentation as Keras preprocessing layers, active only in training.

    Calling the returned model with ``training=False`` (inference, ``model.predict``,
    ``model.evaluate``) returns its input unchanged.

    Parameters
    ----------
    rotation : float, default 0
        Maximum rotation in degrees, either way (``10`` rotates by up to +-10 degrees).
    width_shift, height_shift : float, default 0
        Maximum horizontal / vertical translation as a fraction of the width / height.
    shear : float, default 0
        Maximum shear along both axes as a fraction of the image size (``RandomShear``).
    zoom : float, default 0
        Maximum zoom in or out as a fraction (``0.1`` zooms by a factor in 0.9..1.1).
    horizontal_flip : bool, default False
        Flip left-right at random (wrong for digits, right for most photographs).
    fill_mode : {"nearest", "reflect", "wrap", "constant"}, default "nearest"
        How pixels moved in from outside the image are filled.
    fill_value : float, default 0
        The fill for ``fill_mode="constant"`` (in the units of the input, e.g. 0..1).
    seed : int, optional
        Base seed; each layer gets ``seed + i`` so that runs repeat.

    Returns
    -------
    keras.Sequential
        Named ``"augment"``; an identity when every option is off.

    Examples
    --------
    >>> aug = make_augmentation(rotation=10, width_shift=0.1, height_shift=0.1, seed=0)
    >>> [layer.__class__.__name__ for layer in aug.layers]
    ['RandomRotation', 'RandomTranslation']
    """
    import keras

    if fill_mode not in FILL_MODES:
        raise InputError(
            f"Invalid value for argument `fill_mode`. Expected one of {', '.join(FILL_MODES)}. "
            f"Received fill_mode={fill_mode!r}"
        )
    _check_range("rotation", rotation, 0.0, 180.0)
    for name, value in (("width_shift", width_shift), ("height_shift", height_shift)):
        _check_range(name, value, 0.0, 1.0)
    _check_range("shear", shear, 0.0, 1.0)
    _check_range("zoom", zoom, 0.0, 0.99)

    fill = {"fill_mode": fill_mode, "fill_value": float(fill_value)}
    counter = iter(range(1_000))

    def _seed() -> int | None:
        return None if seed is None else int(seed) + next(counter)

    layers = []
    if rotation:
        layers.append(
            keras.layers.RandomRotation(rotation / 360.0, seed=_seed(), name="rotation", **fill)
        )
    if width_shift or height_shift:
        layers.append(
            keras.layers.RandomTranslation(
                height_shift, width_shift, seed=_seed(), name="translation", **fill
            )
        )
    if shear:
        if not hasattr(keras.layers, "RandomShear"):  # pragma: no cover - older Keras
            raise InputError(
                f"this Keras ({keras.__version__}) has no RandomShear layer; drop shear= or "
                "upgrade to Keras >= 3.8"
            )
        layers.append(keras.layers.RandomShear(shear, shear, seed=_seed(), name="shear", **fill))
    if zoom:
        layers.append(keras.layers.RandomZoom(zoom, seed=_seed(), name="zoom", **fill))
    if horizontal_flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=_seed(), name="flip"))
    if not layers:
        layers.append(keras.layers.Identity(name="identity"))
    return keras.Sequential(layers, name="augment")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        raise InputError(
            f"Invalid value for augmentation `{name}`: expected a number, got {value!r}"
        )
    if not low <= value <= high:
        raise InputError(
            f"Invalid value for augmentation `{name}`: expected {low:g}..{high:g}, got {value:g}"
        )


_AUGMENT_KEYS = {
    "rotation": "rotation",
    "rotate": "rotation",
    "shift": "shift",
    "width_shift": "width_shift",
    "height_shift": "height_shift",
    "shear": "shear",
    "zoom": "zoom",
    "flip": "horizontal_flip",
    "horizontal_flip": "horizontal_flip",
    "fill": "fill_mode",
    "fill_mode": "fill_mode",
    "fill_value": "fill_value",
}


def parse_augment(spec: str | None) -> dict[str, Any]:
    """Parse a command-line augmentation spec into :func:`make_augmentation` arguments.

    Parameters
    ----------
    spec : str or None
        Comma-separated ``key=value`` pairs: ``rotation`` (degrees), ``shift`` (both
        axes) or ``width_shift`` / ``height_shift`` (fractions), ``shear``, ``zoom``,
        ``flip`` (a bare flag, or ``flip=true``), ``fill`` (a fill mode) and
        ``fill_value``.  ``None``, ``""`` and ``"none"`` mean no augmentation.

    Returns
    -------
    dict
        Keyword arguments for :func:`make_augmentation`.

    Examples
    --------
    >>> parse_augment("rotation=10,shift=0.1,fill=reflect")
    {'rotation': 10.0, 'width_shift': 0.1, 'height_shift': 0.1, 'fill_mode': 'reflect'}
    """
    if spec is None or spec.strip().lower() in ("", "none", "off"):
        return {}
    out: dict[str, Any] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        if key not in _AUGMENT_KEYS:
            raise InputError(
                f"--augment: unknown option {key!r} in {spec!r}; valid: "
                "rotation, shift, width_shift, height_shift, shear, zoom, flip, fill, fill_value"
            )
        target = _AUGMENT_KEYS[key]
        value = value.strip()
        if target == "horizontal_flip":
            if sep and value.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
                raise InputError(f"--augment: flip takes no value or true/false, got {value!r}")
            out[target] = not sep or value.lower() in ("1", "true", "yes", "on")
        elif target == "fill_mode":
            if value not in FILL_MODES:
                raise InputError(
                    f"--augment: fill={value!r} is not a fill mode; use one of {', '.join(FILL_MODES)}"
                )
            out[target] = value
        else:
            if not sep:
                raise InputError(f"--augment: {key} needs a value, e.g. {key}=0.1")
            try:
                number = float(value)
            except ValueError:
                raise InputError(f"--augment: {key}={value!r} is not a number") from None
            if target == "shift":
                out["width_shift"] = number
                out["height_shift"] = number
            else:
                out[target] = number
    return out


# --------------------------------------------------------------------------- training


@contextlib.contextmanager
def seeded(seed: int | None, deterministic: bool = True) -> Iterator[None]:
    """Seed Python, NumPy and Keras and turn on TensorFlow op determinism.

    Op determinism is switched off again on exit if it was off before.  With a fixed
    seed, training on CPU repeats bit for bit.

    Parameters
    ----------
    seed : int or None
        ``None`` does nothing.
    deterministic : bool, default True
        Also enable op determinism.  Keras refuses XLA (``jit_compile``) while it is on,
        so XLA runs are seeded but not guaranteed bit-for-bit repeatable.
    """
    if seed is None:
        yield
        return
    import keras
    import tensorflow as tf

    try:
        from tensorflow.python.framework import config as _tf_config

        was_on = bool(_tf_config.is_op_determinism_enabled())
    except Exception:  # pragma: no cover - private API moved
        _tf_config, was_on = None, True
    keras.utils.set_random_seed(int(seed))
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    elif was_on and _tf_config is not None:
        _tf_config.disable_op_determinism()
    try:
        yield
    finally:
        if _tf_config is not None and bool(_tf_config.is_op_determinism_enabled()) != was_on:
            if was_on:
                tf.config.experimental.enable_op_determinism()
            else:
                _tf_config.disable_op_determinism()


@contextlib.contextmanager
def _precision(mixed: bool) -> Iterator[str]:
    """Mixed precision for the duration (:func:`snpcnn.models.set_mixed_precision`).

    ``mixed_float16`` on a GPU; on a machine without one the policy stays ``float32``
    (with a warning), since float16 is slower on CPUs.  The previous policy is restored.
    """
    import keras

    before = keras.mixed_precision.global_policy().name
    if not mixed:
        yield before
        return
    from snpcnn.models import set_mixed_precision

    try:
        yield set_mixed_precision(True)
    finally:
        keras.mixed_precision.set_global_policy(before)


@dataclass
class ImageFitResult:
    """What :func:`fit_images` returns.

    Attributes
    ----------
    arch : str
        The architecture (preset name or ``"custom"`` for a dict spec).
    test_accuracy : float
        Fraction of test images whose arg-max prediction equals the label.
    test_loss : float
        Sparse categorical cross-entropy on the test set.
    history : dict
        Per-epoch training (and validation) loss and accuracy.
    epochs : int
        Epochs trained.
    n_train, n_val, n_test : int
        Images used for training, validation (split off the training set) and testing.
    train_time_s : float
        Wall time of ``model.fit`` (all epochs, validation included, first-epoch
        graph tracing included).
    wall_time_s : float
        Wall time of the whole call (loading, building, training, testing).
    samples_per_s : float
        ``n_train * epochs / train_time_s``.
    epoch_times_s : list of float
        Wall time of each epoch.
    samples_per_s_steady : float
        ``n_train / median(epoch_times_s[1:])`` (first epoch excluded: graph tracing);
        equals ``samples_per_s`` for a single epoch.
    config : dict
        Every setting of the run, for provenance.
    model : keras.Model
        The trained model.
    """

    arch: str
    test_accuracy: float
    test_loss: float
    history: dict[str, list[float]]
    epochs: int
    n_train: int
    n_val: int
    n_test: int
    train_time_s: float
    wall_time_s: float
    samples_per_s: float
    epoch_times_s: list[float]
    samples_per_s_steady: float
    config: dict[str, Any]
    model: Any = field(repr=False, default=None)

    def to_dict(self) -> dict[str, Any]:
        """Everything except the model, JSON-ready (with library versions and date)."""
        import keras
        import tensorflow as tf

        from snpcnn import __version__
        from snpcnn.backend import gpu_available

        out = {k: v for k, v in self.__dict__.items() if k != "model"}
        out["test_accuracy_statistic"] = "fraction of test images with argmax(prediction) == label"
        out["written_by"] = "snpcnn images fit"  # how other commands know the folder
        out["provenance"] = {
            "source": f"snpcnn-{__version__}",
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
            "machine": platform.platform(),
            "device": "GPU" if gpu_available() else "CPU",
            "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        }
        return _jsonable(out)

    def save(self, out_dir: str | os.PathLike, *, force: bool = False) -> dict[str, Path]:
        """Write ``model.keras`` and ``metrics.json`` into ``out_dir`` atomically.

        Parameters
        ----------
        out_dir : str or path-like
            Created if missing.
        force : bool, default False
            Overwrite existing ``model.keras`` / ``metrics.json``.

        Returns
        -------
        dict
            ``{"model": path, "metrics": path}``.
        """
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"
        paths = write_outputs(
            out_dir,
            {"model.keras": self.model.save, "metrics.json": _bytes_writer(text.encode())},
            force=force,
        )
        return {"model": paths["model.keras"], "metrics": paths["metrics.json"]}


def check_outputs(out_dir: str | os.PathLike, names, *, force: bool = False) -> dict[str, Path]:
    """Fail early (before any training) if an output exists and ``force`` is off.

    Returns
    -------
    dict
        ``name -> out_dir / name``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir}: exists and is not a directory; choose another --out")
    for parent in out_dir.parents:  # a file where a folder must be: refused before training
        if parent.exists():
            if not parent.is_dir():
                raise InputError(
                    f"--out {out_dir}: {parent} is a file, not a folder; choose another --out"
                )
            break
    if out_dir.is_dir():
        from snpcnn.report import IMAGES_OWNER, results_folder_owner

        owner = results_folder_owner(out_dir)
        if owner is not None and owner != IMAGES_OWNER:
            # --force replaced a `snpcnn fit` folder's model.keras; without it, the files
            # went into a simulate or benchmark folder (an adversarial tester, session 56)
            raise InputError(
                f"--out {out_dir} holds the results of {owner}, which snpcnn images never "
                "writes into, even with --force; choose another --out"
            )
    paths = {name: out_dir / name for name in names}
    for path in paths.values():
        if path.is_dir():
            raise InputError(f"{path}: is a folder, not a file; move it or choose another --out")
    if not force:
        for path in paths.values():
            if path.exists():
                raise InputError(f"{path}: already exists; pass --force (force=True) to overwrite")
    return paths


def _bytes_writer(payload: bytes):
    """A writer for :func:`write_outputs`: writes ``payload`` to the path it is given."""
    return lambda path: Path(path).write_bytes(payload)


def write_outputs(out_dir: str | os.PathLike, writers, *, force: bool = False) -> dict[str, Path]:
    """Write several output files into ``out_dir`` as one: each writer (``name -> callable
    taking a path``) writes a temporary file there, and only when every one has succeeded
    are they all renamed into place, so an error or an interrupt leaves no new file and
    every existing one as it was (never a new model.keras beside an old metrics.json).

    Returns
    -------
    dict
        ``name -> out_dir / name``.
    """
    from snpcnn.io.output import ready_to_replace

    paths = check_outputs(out_dir, tuple(writers), force=force)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    temps: dict[str, str] = {}
    try:
        for name, write in writers.items():
            path = paths[name]
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
            os.close(fd)
            temps[name] = tmp
            write(tmp)
            ready_to_replace(tmp)
        for name in writers:  # every file is complete: move them in, one rename each
            os.replace(temps.pop(name), paths[name])
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return paths


def _atomic_write_bytes(path: Path, payload: bytes, *, force: bool) -> None:
    path = Path(path)
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; pass --force (force=True) to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        from snpcnn.io.output import ready_to_replace

        ready_to_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _jsonable(obj):
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


class _EpochTimer:
    """Keras callback factory recording the wall time of each epoch."""

    def __new__(cls):
        import keras

        class _Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times: list[float] = []
                self._t0 = 0.0

            def on_epoch_begin(self, epoch, logs=None):
                self._t0 = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                self.times.append(time.perf_counter() - self._t0)

        return _Timer()


def _resolve_data(data, seed: int, test_fraction: float):
    """Return ((x_train, y_train), (x_test, y_test), description)."""
    if data is None or isinstance(data, (str, os.PathLike)):
        (xtr, ytr), (xte, yte) = load_mnist(data)
        return (xtr, ytr), (xte, yte), str(data if data is not None else default_mnist_dir())
    if isinstance(data, (tuple, list)) and len(data) == 2:
        first, second = data
        if (
            isinstance(first, (tuple, list))
            and isinstance(second, (tuple, list))
            and len(first) == 2
            and len(second) == 2
        ):
            return tuple(first), tuple(second), "arrays (train, test)"
        from sklearn.model_selection import train_test_split

        x, y = np.asarray(first), np.asarray(second)
        if len(x) != len(y):
            raise InputError(f"data: {len(x)} images but {len(y)} labels")
        xtr, xte, ytr, yte = train_test_split(
            x, y, test_size=test_fraction, random_state=seed, stratify=y
        )
        return (
            (xtr, ytr),
            (xte, yte),
            f"arrays (x, y) with a {test_fraction:g} stratified test split",
        )
    raise InputError(
        "data: expected a directory of IDX files, (x, y), or ((x_train, y_train), (x_test, y_test))"
    )


def _label_names(data) -> tuple[str, str]:
    """``("training labels (FILE)", "test labels (FILE)")`` where ``data`` is an
    MNIST-style folder (or None: the default one), to name the file in label errors; the
    bare words for arrays or where a file is not found."""
    if data is None:
        data = default_mnist_dir()
    if not isinstance(data, (str, os.PathLike)):
        return "training labels", "test labels"
    names = []
    for key, what in (("train_labels", "training labels"), ("test_labels", "test labels")):
        try:
            names.append(f"{what} ({_find_member(Path(data), MNIST_FILES[key])})")
        except InputError:
            names.append(what)
    return names[0], names[1]


def _check_labels(y: np.ndarray, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"{what}: labels must be 1-D class indices, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        # strings ("3") raised a bare TypeError from np.mod (a checking helper, session 43)
        if y.dtype.kind not in "fb":
            raise InputError(
                f"{what}: labels must be integer class indices 0..n_classes-1, got dtype "
                f"{y.dtype}; map them to integers first"
            )
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise InputError(f"{what}: labels must be integer class indices")
    if y.size and y.min() < 0:
        raise InputError(f"{what}: negative class label {y.min()}; labels must be 0..n_classes-1")
    return y.astype(np.int32)


def n_classes_of(
    ytr: np.ndarray,
    yte: np.ndarray,
    *,
    train_what: str = "training labels",
    test_what: str = "test labels",
) -> int:
    """The number of classes, ``max label + 1``, once every class ``0..max`` has training
    images and no test label is a class the training set lacks.  A stray label (250 among
    the digits 0-9) silently built a 251-class model (a checking helper, session 34).

    ``train_what`` / ``test_what`` name the labels in messages (e.g. with their file)."""
    ytr, yte = np.asarray(ytr), np.asarray(yte)
    k = int(ytr.max()) + 1
    if k < 2:
        raise InputError(
            f"{train_what}: every image is class 0; a classifier needs at least two classes"
        )
    counts = np.bincount(ytr, minlength=k)
    absent = np.flatnonzero(counts == 0)
    if len(absent):
        present = np.flatnonzero(counts)
        rare = [int(c) for c in present if counts[c] <= 2 and c > absent[0]]
        raise InputError(
            f"{train_what}: class {int(absent[0])} has no training image (labels must be "
            f"0..n_classes-1 with every class in the training set; the labels run to {k - 1}"
            + (
                f", and class {rare[0]} has {int(counts[rare[0]])} image(s): a stray label?"
                if rare
                else ""
            )
            + "); fix the labels, or pick classes with --classes (relabelled 0..k-1)"
        )
    # a test label past the training classes is the test file's fault: it was blamed on
    # the training labels, with no file named (a checking helper, session 43)
    stray = np.flatnonzero(yte >= k)
    if len(stray):
        i = int(stray[0])
        raise InputError(
            f"{test_what}: label {int(yte[i])} (test image {i}; {len(stray)} such) is a class "
            f"the training labels lack (they run 0..{k - 1}); fix the test labels, or pick "
            "classes with --classes (relabelled 0..k-1)"
        )
    return k


def _optimizer(learning_rate: float, schedule: str, total_steps: int):
    """``"adam"`` (constant rate) or an Adam optimizer with a cosine-decay schedule."""
    import keras

    if schedule == "constant":
        return "adam"
    if schedule == "cosine":
        return keras.optimizers.Adam(
            keras.optimizers.schedules.CosineDecay(
                float(learning_rate), decay_steps=max(1, total_steps), alpha=0.01
            )
        )
    raise InputError(
        f"Invalid value for argument `lr_schedule`. Expected 'constant' or 'cosine'. "
        f"Received lr_schedule={schedule!r}"
    )


def input_readers(model) -> list:
    """The layers of a one-input functional model that read its input directly."""
    import keras

    source = model.inputs[0]
    readers = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            tensors = keras.tree.flatten(layer.input)
        except (AttributeError, ValueError):  # a shared layer: not an input consumer here
            continue
        if any(t is source for t in tensors):
            readers.append(layer)
    return readers


def add_augmentation(model, augmentation):
    """Insert an augmentation layer right after a model's input (a flat copy of the graph).

    The model is cloned (fresh, untrained weights) with ``augmentation`` applied to the
    input before every layer that reads it, so named layers stay at the top level (for
    Grad-CAM and activation maps) whatever the topology (plain, residual, inception).

    Parameters
    ----------
    model : keras.Model
        A functional model with one input, e.g. from :func:`snpcnn.models.build_model`.
    augmentation : keras.layers.Layer
        E.g. :func:`make_augmentation`; it should be the identity when ``training=False``.

    Returns
    -------
    keras.Model
    """
    import keras

    if len(model.inputs) != 1:
        raise InputError(f"add_augmentation: model {model.name!r} must have exactly one input")
    consumers = {layer.name for layer in input_readers(model)}
    cache: dict[str, Any] = {}

    def _call(layer, *args, **kwargs):
        if layer.name in consumers and args:
            if "x" not in cache:
                cache["x"] = augmentation(args[0])
            args = (cache["x"], *args[1:])
        return layer(*args, **kwargs)

    return keras.models.clone_model(model, call_function=_call)


def fit_images(
    arch: str | Mapping[str, Any] = "lenet5",
    data=None,
    *,
    epochs: int = 10,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    lr_schedule: str = "constant",
    augment: Mapping[str, Any] | str | Any | None = None,
    validation_split: float = 0.0,
    seed: int | None = 0,
    mixed_precision: bool = False,
    jit_compile: bool = False,
    image_size: int | tuple[int, int] | None = None,
    test_fraction: float = 0.2,
    verbose: int = 0,
    **overrides: Any,
) -> ImageFitResult:
    """Train an image classifier from the model zoo and test it.

    Parameters
    ----------
    arch : str or dict, default "lenet5"
        A preset of :func:`snpcnn.models.list_presets` or a dict/TOML spec.
    data : path, (x, y) or ((x_train, y_train), (x_test, y_test)), optional
        A directory of MNIST-style IDX files (default :func:`default_mnist_dir`), arrays
        with a held-out test set, or ``(x, y)`` from which a stratified
        ``test_fraction`` is held out.  Images ``(n, rows, cols[, channels])``, integer
        (scaled by 1/255) or float; labels ``0..n_classes-1``.
    epochs : int, default 10
    batch_size : int, default 128
    learning_rate : float, default 1e-3
        Adam learning rate (the peak for ``lr_schedule="cosine"``).
    lr_schedule : {"constant", "cosine"}, default "constant"
        ``"cosine"`` decays to 1% of ``learning_rate`` over all training steps.
    augment : dict, str, keras layer or None
        Arguments of :func:`make_augmentation`, a :func:`parse_augment` spec such as
        ``"rotation=10,shift=0.1"``, or a ready layer.  Only active while training.
    validation_split : float, default 0
        Fraction of the training images held out (stratified, seeded) to monitor; the
        test set is never used before the final evaluation.
    seed : int or None, default 0
        Seeds everything and turns on TensorFlow op determinism: identical results on CPU.
    mixed_precision : bool, default False
        ``mixed_float16`` on a GPU (the output layer stays float32); without a GPU the
        policy stays float32 with a warning.  The policy used is in ``config``.
    jit_compile : bool, default False
        Compile the train step with XLA.  Keras disables XLA under TensorFlow op
        determinism and for layers without XLA support (``RandomShear``), so with
        ``jit_compile=True`` op determinism stays off (seeded, not bit-for-bit
        repeatable); ``config["jit_compile_effective"]`` says whether XLA was used.
    image_size : int or (int, int), optional
        Resize all images (bilinear) first, e.g. ``16`` so that LeNet-5 fits 8x8 digits
        or ``32`` for the original LeNet-5 input.
    test_fraction : float, default 0.2
        Only for ``data=(x, y)``.
    verbose : int, default 0
        Keras fit verbosity.
    **overrides
        Passed to :func:`snpcnn.models.build_model` (e.g. ``dropout=0.2``).

    Returns
    -------
    ImageFitResult

    Examples
    --------
    >>> result = fit_images("lenet5", "../shared/data/mnist", epochs=12, seed=0)  # doctest: +SKIP
    >>> result.test_accuracy  # doctest: +SKIP
    """
    from snpcnn.models import build_model, compile_model

    t_start = time.perf_counter()
    if epochs < 1:
        raise InputError(f"Invalid value for argument `epochs`: expected >= 1, got {epochs}")
    if batch_size < 1:
        raise InputError(
            f"Invalid value for argument `batch_size`: expected >= 1, got {batch_size}"
        )
    if not 0.0 <= validation_split < 1.0:
        raise InputError(
            f"Invalid value for argument `validation_split`: expected 0 <= v < 1, got {validation_split}"
        )
    if lr_schedule not in ("constant", "cosine"):
        raise InputError(
            f"Invalid value for argument `lr_schedule`. Expected 'constant' or 'cosine'. "
            f"Received lr_schedule={lr_schedule!r}"
        )
    data_seed = 0 if seed is None else int(seed)
    (xtr, ytr), (xte, yte), source = _resolve_data(data, data_seed, test_fraction)
    train_what, test_what = _label_names(data)
    ytr = _check_labels(ytr, train_what)
    yte = _check_labels(yte, test_what)
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    _check_pixels(xtr, "training images")
    _check_pixels(xte, "test images")
    xtr, xte = prepare_images(xtr, size=image_size), prepare_images(xte, size=image_size)
    if len(xtr) != len(ytr) or len(xte) != len(yte):
        raise InputError("data: the number of images and labels differ")
    if len(xtr) == 0 or len(xte) == 0:
        which = "training" if len(xtr) == 0 else "test"
        raise InputError(f"data: the {which} set has 0 images; give images for both sets")
    if xtr.shape[1:] != xte.shape[1:]:
        raise InputError(f"data: training images are {xtr.shape[1:]}, test images {xte.shape[1:]}")
    n_classes = n_classes_of(ytr, yte, train_what=train_what, test_what=test_what)

    xval = yval = None
    if validation_split > 0:
        from sklearn.model_selection import train_test_split

        labels, counts = np.unique(ytr, return_counts=True)
        if counts.min() < 2:
            raise InputError(
                f"--validation-split: class {labels[int(np.argmin(counts))]} has only "
                f"{counts.min()} training image; a stratified split needs at least 2 per class "
                "(use --validation-split 0, or more images)"
            )

        xtr, xval, ytr, yval = train_test_split(
            xtr, ytr, test_size=validation_split, random_state=data_seed, stratify=ytr
        )

    if isinstance(augment, str):
        augment = parse_augment(augment) or None
    augment_config = dict(augment) if isinstance(augment, Mapping) else augment
    arch_name = arch if isinstance(arch, str) else "custom"

    with seeded(seed, deterministic=not jit_compile), _precision(mixed_precision) as policy:
        aug_layer = None
        if isinstance(augment, Mapping):
            aug_layer = make_augmentation(**{"seed": seed, **augment})
        elif augment is not None:
            aug_layer = augment
        model = build_model(
            arch, input_shape=xtr.shape[1:], head="multiclass", n_outputs=n_classes, **overrides
        )
        if aug_layer is not None:
            model = add_augmentation(model, aug_layer)
        steps = math.ceil(len(xtr) / batch_size) * epochs
        compile_model(
            model,
            "multiclass",
            learning_rate=learning_rate,
            optimizer=_optimizer(learning_rate, lr_schedule, steps),
            jit_compile=jit_compile,
        )
        timer = _EpochTimer()
        t_fit = time.perf_counter()
        hist = model.fit(
            xtr,
            ytr,
            epochs=epochs,
            batch_size=batch_size,
            shuffle=True,
            validation_data=None if xval is None else (xval, yval),
            callbacks=[timer],
            verbose=verbose,
        )
        train_time = time.perf_counter() - t_fit
        proba = model.predict(xte, batch_size=max(batch_size, 256), verbose=0)
    proba = np.asarray(proba, dtype=np.float64)
    test_accuracy = float(np.mean(np.argmax(proba, axis=1) == yte))
    p_true = np.clip(proba[np.arange(len(yte)), yte], 1e-12, 1.0)
    test_loss = float(-np.mean(np.log(p_true)))

    times = list(timer.times)
    steady = (
        len(xtr) / float(np.median(times[1:])) if len(times) > 1 else len(xtr) * epochs / train_time
    )
    config = {
        "arch": arch if isinstance(arch, str) else dict(arch),
        "data": source,
        "input_shape": list(xtr.shape[1:]),
        "n_classes": n_classes,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "lr_schedule": lr_schedule,
        "optimizer": "adam",
        "augment": augment_config if not hasattr(augment_config, "get_config") else "custom layer",
        "validation_split": validation_split,
        "seed": seed,
        "mixed_precision": bool(mixed_precision),
        "dtype_policy": policy,
        "jit_compile": bool(jit_compile),
        "jit_compile_effective": bool(getattr(model, "jit_compile", False)),
        "op_determinism": seed is not None and not jit_compile,
        "image_size": None if image_size is None else list(image_size),
        "overrides": dict(overrides),
    }
    return ImageFitResult(
        arch=arch_name,
        test_accuracy=test_accuracy,
        test_loss=test_loss,
        history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
        epochs=epochs,
        n_train=len(xtr),
        n_val=0 if xval is None else len(xval),
        n_test=len(xte),
        train_time_s=train_time,
        wall_time_s=time.perf_counter() - t_start,
        samples_per_s=len(xtr) * epochs / train_time,
        epoch_times_s=times,
        samples_per_s_steady=steady,
        config=config,
        model=model,
    )
