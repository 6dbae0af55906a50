"""The rank -> layer table and the per-axis argument checks."""

from __future__ import annotations

import keras
import pytest

from snpcnn.errors import InputError
from snpcnn.models import core
from snpcnn.models.core import _as_tuple, check_fits, layer_class, make_layer


@pytest.mark.parametrize("kind", sorted(core.LAYER_TABLE))
@pytest.mark.parametrize("rank", [1, 2, 3])
def test_layer_table_gives_the_layer_of_that_rank(kind, rank):
    table = core.LAYER_TABLE[kind]
    if rank not in table:
        with pytest.raises(InputError, match=f"'{kind}' layers exist only at rank"):
            layer_class(kind, rank)
        return
    cls = layer_class(kind, rank)
    assert issubclass(cls, keras.layers.Layer)
    assert cls.__name__.endswith(f"{rank}D")


def test_layer_table_covers_the_required_kinds():
    required = {
        "conv": (1, 2, 3),
        "separable_conv": (1, 2),
        "depthwise_conv": (1, 2),
        "maxpool": (1, 2, 3),
        "avgpool": (1, 2, 3),
        "global_maxpool": (1, 2, 3),
        "global_avgpool": (1, 2, 3),
        "upsampling": (1, 2, 3),
        "zeropadding": (1, 2, 3),
        "cropping": (1, 2, 3),
    }
    for kind, ranks in required.items():
        assert set(ranks) <= set(core.LAYER_TABLE[kind]), kind


def test_make_layer_passes_arguments():
    layer = make_layer("conv", 2, filters=3, kernel_size=(1, 5), name="c")
    assert isinstance(layer, keras.layers.Conv2D)
    assert layer.kernel_size == (1, 5) and layer.name == "c"


@pytest.mark.parametrize(
    "kind, rank, match",
    [
        ("conv", 0, "Received rank=0"),
        ("conv", 4, "Received rank=4"),
        ("conv", True, "Received rank=True"),
        ("lstm", 1, "Received kind='lstm'"),
    ],
)
def test_layer_class_rejects_bad_kind_or_rank(kind, rank, match):
    with pytest.raises(InputError, match=match):
        layer_class(kind, rank)


@pytest.mark.parametrize(
    "value, rank, expected",
    [(3, 1, (3,)), (3, 2, (3, 3)), ([1, 5], 2, (1, 5)), ((2, 3, 4), 3, (2, 3, 4))],
)
def test_as_tuple_standardizes(value, rank, expected):
    assert _as_tuple(value, rank, "kernel_size") == expected


def test_as_tuple_error_reads_like_keras():
    with pytest.raises(InputError) as err:
        _as_tuple(0, 1, "kernel_size")
    assert str(err.value) == (
        "Invalid value for argument `kernel_size`. Expected a strictly positive integer or a "
        "tuple of 1 strictly positive integers. Received kernel_size=0."
    )


@pytest.mark.parametrize(
    "value, rank",
    [(0, 2), (-1, 1), ([1, 2], 1), ([3], 2), ([1, 0], 2), (2.0, 1), (True, 1), ("3", 1), (None, 1)],
)
def test_as_tuple_rejects(value, rank):
    with pytest.raises(InputError, match=r"Received strides="):
        _as_tuple(value, rank, "strides")


def test_as_tuple_allow_zero_for_padding_amounts():
    assert _as_tuple(0, 2, "padding", allow_zero=True) == (0, 0)
    with pytest.raises(InputError, match="non-negative"):
        _as_tuple(-1, 2, "padding", allow_zero=True)


@pytest.mark.parametrize(
    "check, good, bad",
    [
        (core.check_positive_int, 3, [0, -2, 1.5, True, "3"]),
        (core.check_nonnegative_int, 0, [-1, 0.5, False]),
        (core.check_rate, 0.3, [1.0, -0.1, float("nan"), "0.3", True]),
        (core.check_fraction, 1.0, [0.0, 1.5, float("inf")]),
        (core.check_nonnegative_float, 1e-3, [-1e-3, float("nan"), None]),
        (core.check_bool, True, [1, "true", None]),
    ],
)
def test_scalar_checks(check, good, bad):
    assert check(good, "arg") == good
    for value in bad:
        with pytest.raises(InputError, match=r"Invalid value for argument `arg`.*Received arg="):
            check(value, "arg")


def test_check_choice_and_activation_list_the_choices():
    assert core.check_activation(None) == "linear"
    with pytest.raises(InputError, match="'relu'.*Received activation='relux'"):
        core.check_activation("relux")
    with pytest.raises(InputError, match="one of 'valid', 'same'"):
        core.check_choice("full", "padding", core.PADDINGS)


def test_check_int_list():
    assert core.check_int_list([64, 32], "units") == (64, 32)
    assert core.check_int_list(8, "units") == (8,)
    assert core.check_int_list([], "units") == ()
    for bad in ([0], [1.5], "64", [True]):
        with pytest.raises(InputError, match="Received units="):
            core.check_int_list(bad, "units")


def test_check_fits():
    x = keras.Input((10, 4))
    check_fits(x, (10,), "valid", "c")  # fits exactly
    check_fits(x, (50,), "same", "c")  # same padding always fits
    with pytest.raises(InputError, match=r"layer 'c'.*\(10,\).*\(11,\)"):
        check_fits(x, (11,), "valid", "c")
    with pytest.raises(InputError, match=r"\(13,\)"):  # dilation widens the window
        check_fits(x, (4,), "valid", "c", dilation=(4,))
