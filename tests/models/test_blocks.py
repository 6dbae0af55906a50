"""Every block at rank 1 and rank 2: output shapes, layer names, parameter counts, errors."""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.models import blocks as B

SIZE = 16  # spatial size per axis
C_IN = 3


def _input(rank: int, size: int = SIZE, channels: int = C_IN):
    return keras.Input((size,) * rank + (channels,))


def _new_layers(x, y):
    """Layers between the input ``x`` and ``y`` (a throwaway functional model)."""
    model = keras.Model(x, y)
    return model, [
        layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)
    ]


def _run(model, rank):
    out = model(np.ones((2,) + (SIZE,) * rank + (C_IN,), dtype="float32"), training=False)
    assert np.isfinite(np.asarray(out)).all()
    return out


# (block name, builder(x, rank) -> y, expected output shape (without batch) as f(rank))
CASES = {
    "conv_same_stride2": (
        lambda x, r: B.apply_conv(x, 5, 3, strides=2, rank=r, name="blk"),
        lambda r: (8,) * r + (5,),
    ),
    "conv_valid_bn_l2": (
        lambda x, r: B.apply_conv(
            x, 4, 5, padding="valid", batch_norm=True, l2=1e-3, rank=r, name="blk"
        ),
        lambda r: (12,) * r + (4,),
    ),
    "conv_dilated": (
        lambda x, r: B.apply_conv(x, 4, 3, dilation_rate=2, padding="valid", rank=r, name="blk"),
        lambda r: (12,) * r + (4,),
    ),
    "maxpool": (
        lambda x, r: B.apply_pool(x, kind="max", pool_size=2, rank=r, name="blk"),
        lambda r: (8,) * r + (C_IN,),
    ),
    "avgpool_stride": (
        lambda x, r: B.apply_pool(x, kind="avg", pool_size=4, strides=2, rank=r, name="blk"),
        lambda r: (7,) * r + (C_IN,),
    ),
    "global_max": (
        lambda x, r: B.apply_global_pool(x, kind="max", rank=r, name="blk"),
        lambda r: (C_IN,),
    ),
    "global_avg": (
        lambda x, r: B.apply_global_pool(x, kind="avg", rank=r, name="blk"),
        lambda r: (C_IN,),
    ),
    "separable": (
        lambda x, r: B.apply_separable_conv(
            x, 6, 3, strides=2, batch_norm=True, rank=r, name="blk"
        ),
        lambda r: (8,) * r + (6,),
    ),
    "vgg": (
        lambda x, r: B.apply_vgg_block(x, 4, n_convs=3, rank=r, name="blk"),
        lambda r: (8,) * r + (4,),
    ),
    "inception": (
        lambda x, r: B.apply_inception_block(x, 2, 3, 4, 1, 5, 6, rank=r, name="blk"),
        lambda r: (SIZE,) * r + (2 + 4 + 5 + 6,),
    ),
    "residual_identity": (
        lambda x, r: B.apply_residual_block(x, C_IN, rank=r, name="blk"),
        lambda r: (SIZE,) * r + (C_IN,),
    ),
    "residual_projection": (
        lambda x, r: B.apply_residual_block(x, 8, strides=2, rank=r, name="blk"),
        lambda r: (8,) * r + (8,),
    ),
    "dense_block": (
        lambda x, r: B.apply_dense_block(x, 3, 4, rank=r, name="blk"),
        lambda r: (SIZE,) * r + (C_IN + 3 * 4,),
    ),
    "transition": (
        lambda x, r: B.apply_transition(
            B.apply_conv(x, 10, 1, rank=r, name="pre"), compression=0.5, rank=r, name="blk"
        ),
        lambda r: (8,) * r + (5,),
    ),
    "squeeze_excite": (
        lambda x, r: B.apply_squeeze_excite(x, ratio=0.5, rank=r, name="blk"),
        lambda r: (SIZE,) * r + (C_IN,),
    ),
    "head_flatten": (
        lambda x, r: B.apply_head_stem(x, units=[7, 5], dropout=0.2, rank=r, name="blk"),
        lambda r: (5,),
    ),
    "head_global": (
        lambda x, r: B.apply_head_stem(x, reduce="global_max", units=[4], rank=r, name="blk"),
        lambda r: (4,),
    ),
    "genotype_mask": (
        lambda x, r: B.apply_genotype_mask(x, 0.1, seed=1, name="blk"),
        lambda r: (SIZE,) * r + (C_IN,),
    ),
}


@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_block_shape_and_names(case, rank):
    build, expected = CASES[case]
    x = _input(rank)
    y = build(x, rank)
    assert tuple(y.shape[1:]) == expected(rank)
    model, layers = _new_layers(x, y)
    assert layers, "the block added no layer"
    for layer in layers:
        assert layer.name == "blk" or layer.name.startswith(("blk_", "pre_")), layer.name
    _run(model, rank)


@pytest.mark.parametrize("rank", [1, 2])
def test_conv_param_count_by_hand(rank):
    x = _input(rank)
    y = B.apply_conv(x, 5, 3, batch_norm=True, rank=rank, name="c")
    model, _ = _new_layers(x, y)
    kernel = 3**rank * C_IN * 5 + 5  # weights + biases
    bn = 4 * 5  # gamma, beta (trainable) + moving mean, variance (non-trainable)
    assert model.count_params() == kernel + bn
    assert [layer.name for layer in model.layers[1:]] == ["c_conv", "c_bn", "c_act"]


@pytest.mark.parametrize("rank", [1, 2])
def test_separable_is_depthwise_then_pointwise(rank):
    x = _input(rank)
    y = B.apply_separable_conv(x, 6, 3, depth_multiplier=2, rank=rank, name="s")
    model, _ = _new_layers(x, y)
    depthwise = 3**rank * C_IN * 2 + C_IN * 2
    pointwise = C_IN * 2 * 6 + 6
    assert model.count_params() == depthwise + pointwise
    assert isinstance(model.get_layer("s_dw"), keras.layers.Layer)
    assert model.get_layer("s_pw_conv").kernel_size == (1,) * rank


@pytest.mark.parametrize("rank", [1, 2])
def test_residual_projection_only_when_shape_changes(rank):
    x = _input(rank)
    model, _ = _new_layers(x, B.apply_residual_block(x, C_IN, rank=rank, name="r"))
    assert "r_proj_conv" not in [layer.name for layer in model.layers]
    model, _ = _new_layers(x, B.apply_residual_block(x, C_IN + 1, rank=rank, name="r"))
    assert model.get_layer("r_proj_conv").kernel_size == (1,) * rank
    model, _ = _new_layers(x, B.apply_residual_block(x, C_IN, strides=2, rank=rank, name="r"))
    assert model.get_layer("r_proj_conv").strides == (2,) * rank


@pytest.mark.parametrize("rank", [1, 2])
def test_inception_paths(rank):
    x = _input(rank)
    model, _ = _new_layers(x, B.apply_inception_block(x, 2, 3, 4, 1, 5, 6, rank=rank, name="i"))
    assert model.get_layer("i_3x3_conv").kernel_size == (3,) * rank
    assert model.get_layer("i_5x5_conv").kernel_size == (5,) * rank
    assert model.get_layer("i_pool").pool_size == (3,) * rank
    assert model.get_layer("i_pool").strides == (1,) * rank


def test_squeeze_excite_gates_channels():
    x = _input(1)
    model, _ = _new_layers(x, B.apply_squeeze_excite(x, ratio=1.0, rank=1, name="se"))
    data = np.random.default_rng(0).normal(size=(2, SIZE, C_IN)).astype("float32")
    out = np.asarray(model(data))
    gate = out / data  # one gate per (sample, channel), in (0, 1)
    assert np.allclose(gate, gate[:, :1, :], atol=1e-5)
    assert ((gate > 0) & (gate < 1)).all()


def test_dense_block_and_transition_channel_arithmetic():
    x = _input(1, channels=7)
    y = B.apply_dense_block(x, 2, 5, bottleneck=False, rank=1, name="d")
    assert y.shape[-1] == 7 + 2 * 5
    z = B.apply_transition(y, compression=0.3, rank=1, name="t")
    assert z.shape[-1] == math.floor(17 * 0.3)
    assert z.shape[1] == SIZE // 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: B.apply_conv(x, 0, 3, rank=1, name="c"), "Received filters=0"),
        (lambda x: B.apply_conv(x, 4, 0, rank=1, name="c"), "Received kernel_size=0"),
        (
            lambda x: B.apply_conv(x, 4, (1, 3), rank=1, name="c"),
            r"tuple of 1 .*Received kernel_size=\(1, 3\)",
        ),
        (
            lambda x: B.apply_conv(x, 4, 3, padding="full", rank=1, name="c"),
            "Received padding='full'",
        ),
        (
            lambda x: B.apply_conv(x, 4, 3, activation="relux", rank=1, name="c"),
            "Received activation='relux'",
        ),
        (lambda x: B.apply_conv(x, 4, 3, l2=-1, rank=1, name="c"), "Received l2=-1"),
        (
            lambda x: B.apply_conv(x, 4, 3, batch_norm="yes", rank=1, name="c"),
            "Received batch_norm='yes'",
        ),
        (
            lambda x: B.apply_conv(x, 4, 3, strides=2, dilation_rate=2, rank=1, name="c"),
            "cannot be combined",
        ),
        (
            lambda x: B.apply_conv(x, 4, 17, padding="valid", rank=1, name="c"),
            "layer 'c_conv'.*smaller than the window",
        ),
        (lambda x: B.apply_conv(x, 4, 3, rank=1, name=""), "Received name=''"),
        (lambda x: B.apply_pool(x, kind="min", rank=1, name="p"), "Received kind='min'"),
        (lambda x: B.apply_pool(x, pool_size=0, rank=1, name="p"), "Received pool_size=0"),
        (
            lambda x: B.apply_pool(x, pool_size=32, rank=1, name="p"),
            "layer 'p'.*smaller than the window",
        ),
        (lambda x: B.apply_vgg_block(x, 4, n_convs=0, rank=1, name="v"), "Received n_convs=0"),
        (lambda x: B.apply_dense_block(x, 2, 0, rank=1, name="d"), "Received growth_rate=0"),
        (
            lambda x: B.apply_transition(x, compression=0, rank=1, name="t"),
            "Received compression=0",
        ),
        (lambda x: B.apply_squeeze_excite(x, ratio=2, rank=1, name="se"), "Received ratio=2"),
        (lambda x: B.apply_head_stem(x, reduce="mean", rank=1, name="h"), "Received reduce='mean'"),
        (lambda x: B.apply_head_stem(x, units=[0], rank=1, name="h"), r"Received units=\[0\]"),
        (lambda x: B.apply_dropout(x, 1.0, name="d"), "Received rate=1.0"),
        (lambda x: B.apply_genotype_mask(x, -0.1, name="m"), "Received rate=-0.1"),
    ],
)
def test_block_errors(call, match):
    x = keras.Input((SIZE, C_IN))
    with pytest.raises(InputError, match=match):
        call(x)


def test_separable_rank3_error():
    with pytest.raises(InputError, match="exist only at rank 1, 2"):
        B.apply_separable_conv(keras.Input((4, 4, 4, 1)), 4, 3, rank=3, name="s")


@pytest.mark.parametrize(
    "fn, kw",
    [
        (B.apply_conv, dict(filters=4, kernel_size=3)),
        (B.apply_pool, {}),
        (B.apply_global_pool, {}),
        (B.apply_separable_conv, dict(filters=4, kernel_size=3)),
        (B.apply_residual_block, dict(filters=4)),
    ],
)
def test_a_block_given_the_wrong_rank_says_which_rank_to_pass(fn, kw):
    """rank=1 on an image tensor: one line with the rank to pass (Keras said "Kernel shape
    must have the same length as input" or "expected ndim=3, found ndim=4")."""
    x = keras.Input((12, 12, 1))
    with pytest.raises(InputError, match=r"rank=1 needs an input of 3 axes .*: pass rank=2$"):
        fn(x, rank=1, name="b", **kw)
