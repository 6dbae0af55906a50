"""The rank-generic convolutional core: one layer table, one set of argument checks.

A 1-D SNP model (``(n_snps, channels)`` input) and a 2-D image model
(``(height, width, channels)``) are the same code: every block takes ``rank`` and asks
:func:`layer_class` for the layer of that rank, the way Keras' ``BaseConv(rank, ...)``
serves ``Conv1D``/``Conv2D``/``Conv3D``.  Per-axis arguments (``kernel_size``,
``strides``, ``pool_size`` ...) are standardized to tuples of length ``rank`` by
:func:`_as_tuple`, with errors worded like Keras' own::

    Invalid value for argument `kernel_size`. Expected a strictly positive integer or a
    tuple of 1 strictly positive integers. Received kernel_size=0.

All checks raise :class:`snpcnn.errors.InputError` (a ``ValueError``), which the CLI
prints as one line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from snpcnn.errors import InputError

__all__ = [
    "RANKS",
    "LAYER_TABLE",
    "ACTIVATIONS",
    "INITIALIZERS",
    "PADDINGS",
    "layer_class",
    "make_layer",
    "spatial_shape",
    "check_fits",
    "InputTooSmall",
    "check_positive_int",
    "check_nonnegative_int",
    "check_rate",
    "check_fraction",
    "check_nonnegative_float",
    "check_choice",
    "check_bool",
    "check_activation",
    "check_int_list",
    "_as_tuple",
]

RANKS = (1, 2, 3)

#: kind -> {rank: Keras layer class}.  The only place that knows about 1D/2D/3D.
LAYER_TABLE: dict[str, dict[int, type]] = {
    "conv": {
        1: keras.layers.Conv1D,
        2: keras.layers.Conv2D,
        3: keras.layers.Conv3D,
    },
    "separable_conv": {
        1: keras.layers.SeparableConv1D,
        2: keras.layers.SeparableConv2D,
    },
    "depthwise_conv": {
        1: keras.layers.DepthwiseConv1D,
        2: keras.layers.DepthwiseConv2D,
    },
    "maxpool": {
        1: keras.layers.MaxPooling1D,
        2: keras.layers.MaxPooling2D,
        3: keras.layers.MaxPooling3D,
    },
    "avgpool": {
        1: keras.layers.AveragePooling1D,
        2: keras.layers.AveragePooling2D,
        3: keras.layers.AveragePooling3D,
    },
    "global_maxpool": {
        1: keras.layers.GlobalMaxPooling1D,
        2: keras.layers.GlobalMaxPooling2D,
        3: keras.layers.GlobalMaxPooling3D,
    },
    "global_avgpool": {
        1: keras.layers.GlobalAveragePooling1D,
        2: keras.layers.GlobalAveragePooling2D,
        3: keras.layers.GlobalAveragePooling3D,
    },
    "upsampling": {
        1: keras.layers.UpSampling1D,
        2: keras.layers.UpSampling2D,
        3: keras.layers.UpSampling3D,
    },
    "zeropadding": {
        1: keras.layers.ZeroPadding1D,
        2: keras.layers.ZeroPadding2D,
        3: keras.layers.ZeroPadding3D,
    },
    "cropping": {
        1: keras.layers.Cropping1D,
        2: keras.layers.Cropping2D,
        3: keras.layers.Cropping3D,
    },
}

#: activation names accepted everywhere (``"linear"`` = none).
ACTIVATIONS = (
    "relu",
    "elu",
    "leaky_relu",
    "selu",
    "gelu",
    "swish",
    "tanh",
    "sigmoid",
    "softplus",
    "square",
    "cube",
    "square_cube",
    "linear",
)
INITIALIZERS = ("he_normal", "he_uniform", "glorot_uniform", "glorot_normal", "lecun_normal")
PADDINGS = ("valid", "same")


def _invalid(name: str, expected: str, value: Any) -> InputError:
    return InputError(
        f"Invalid value for argument `{name}`. Expected {expected}. Received {name}={value!r}."
    )


def layer_class(kind: str, rank: int) -> type:
    """The Keras layer class of ``kind`` (a key of :data:`LAYER_TABLE`) at ``rank``.

    Examples
    --------
    >>> layer_class("conv", 1).__name__
    'Conv1D'
    >>> layer_class("maxpool", 2).__name__
    'MaxPooling2D'
    """
    if kind not in LAYER_TABLE:
        raise _invalid("kind", f"one of {', '.join(LAYER_TABLE)}", kind)
    table = LAYER_TABLE[kind]
    if isinstance(rank, bool) or not isinstance(rank, int) or rank not in RANKS:
        raise _invalid("rank", "1, 2 or 3", rank)
    if rank not in table:
        raise InputError(
            f"'{kind}' layers exist only at rank {', '.join(map(str, table))} in Keras; "
            f"received rank={rank}"
        )
    return table[rank]


def make_layer(kind: str, rank: int, **kwargs: Any) -> keras.layers.Layer:
    """Instantiate ``layer_class(kind, rank)(**kwargs)``."""
    return layer_class(kind, rank)(**kwargs)


# --------------------------------------------------------------------- checks
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as an int >= 1, else an error naming ``name``."""
    if not _is_int(value) or value < 1:
        raise _invalid(name, "a strictly positive integer", value)
    return int(value)


def check_nonnegative_int(value: Any, name: str) -> int:
    """``value`` as an int >= 0."""
    if not _is_int(value) or value < 0:
        raise _invalid(name, "a non-negative integer", value)
    return int(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def check_rate(value: Any, name: str) -> float:
    """A dropout-like rate in [0, 1)."""
    if not _is_number(value) or not 0 <= value < 1:
        raise _invalid(name, "a number in [0, 1)", value)
    return float(value)


def check_fraction(value: Any, name: str) -> float:
    """A fraction in (0, 1] (compression, squeeze ratio, width multiplier <= 1)."""
    if not _is_number(value) or not 0 < value <= 1:
        raise _invalid(name, "a number in (0, 1]", value)
    return float(value)


def check_nonnegative_float(value: Any, name: str) -> float:
    """A finite number >= 0 (L2 factor, ...)."""
    if not _is_number(value) or value < 0:
        raise _invalid(name, "a non-negative number", value)
    return float(value)


def check_choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``."""
    if value not in choices:
        raise _invalid(name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_bool(value: Any, name: str) -> bool:
    """A real bool (not 0/1, not "yes")."""
    if not isinstance(value, bool):
        raise _invalid(name, "true or false", value)
    return value


def check_activation(value: Any, name: str = "activation") -> str:
    """An activation name from :data:`ACTIVATIONS` (``None`` -> ``"linear"``)."""
    if value is None:
        return "linear"
    return check_choice(value, name, ACTIVATIONS)


def check_int_list(value: Any, name: str, allow_empty: bool = True) -> tuple[int, ...]:
    """A list of strictly positive ints (e.g. hidden ``units``)."""
    if _is_int(value):
        value = [value]
    if (
        not isinstance(value, list | tuple)
        or (not value and not allow_empty)
        or not all(_is_int(v) and v >= 1 for v in value)
    ):
        raise _invalid(name, "a list of strictly positive integers", value)
    return tuple(int(v) for v in value)


def _as_tuple(value: Any, rank: int, name: str, allow_zero: bool = False) -> tuple[int, ...]:
    """Standardize a per-axis argument to a tuple of ``rank`` ints.

    An int is repeated ``rank`` times; a sequence must have exactly ``rank`` ints.
    Values must be >= 1 (>= 0 with ``allow_zero``, for padding/cropping amounts).

    Examples
    --------
    >>> _as_tuple(3, 2, "kernel_size")
    (3, 3)
    >>> _as_tuple([1, 5], 2, "kernel_size")
    (1, 5)
    >>> _as_tuple(0, 1, "kernel_size")
    Traceback (most recent call last):
    ...
    snpcnn.errors.InputError: Invalid value for argument `kernel_size`. Expected a strictly positive integer or a tuple of 1 strictly positive integers. Received kernel_size=0.
    """
    lo = 0 if allow_zero else 1
    word = "non-negative" if allow_zero else "strictly positive"
    expected = f"a {word} integer or a tuple of {rank} {word} integers"
    if _is_int(value):
        values: tuple = (value,) * rank
    elif isinstance(value, list | tuple):
        values = tuple(value)
        if len(values) != rank:
            raise _invalid(name, expected, value)
    else:
        raise _invalid(name, expected, value)
    if not all(_is_int(v) and v >= lo for v in values):
        raise _invalid(name, expected, value)
    return tuple(int(v) for v in values)


# ------------------------------------------------------------------- shapes
class InputTooSmall(InputError):
    """An architecture that fits larger inputs but not this one (a ``valid`` window longer than
    its input): ``snpcnn models --snps N`` notes it instead of failing."""


# ------------------------------------------------------------------- shapes
def spatial_shape(x: Any) -> tuple:
    """The spatial dimensions of a channels-last tensor (drops batch and channels)."""
    return tuple(x.shape[1:-1])


def check_fits(
    x: Any, window: tuple[int, ...], padding: str, name: str, dilation: tuple[int, ...] = None
) -> None:
    """Raise a clear error if a ``valid`` window does not fit the input's spatial size.

    Keras would otherwise fail deep inside shape inference (or produce an empty
    tensor).  With ``padding="same"`` every window fits.
    """
    if padding != "valid":
        return
    dilation = dilation or (1,) * len(window)
    extent = tuple((w - 1) * d + 1 for w, d in zip(window, dilation))
    size = spatial_shape(x)
    if any(s is not None and s < e for s, e in zip(size, extent)):
        raise InputTooSmall(
            f"layer '{name}': its input has spatial size {size}, smaller than the window "
            f"{extent} with padding='valid'; use padding='same', a smaller kernel/pool, "
            "fewer downsampling layers or a larger input"
        )
