"""Building blocks: ``apply_<block>(x, ..., rank=, name=)`` functions on Keras tensors.

Every block

* works at any rank its layers exist at (1-D SNP sequences, 2-D images, ...) by
  looking its layers up in :data:`snpcnn.models.core.LAYER_TABLE`;
* names every layer it adds ``f"{name}_<part>"`` (``b3_conv``, ``b3_bn``, ``b3_act``)
  so that saliency, Grad-CAM and activation maps find layers by name;
* validates its arguments and raises :class:`snpcnn.errors.InputError` naming the
  argument and the received value.

Conventions: channels last; convolutions use He-normal initialisation by default
(ReLU-family activations); "conv -> batch norm -> activation" order; dropout after
the activation.

Examples
--------
>>> import keras
>>> x = keras.Input((64, 1))
>>> y = apply_conv(x, 8, 3, strides=3, rank=1, name="c1")
>>> tuple(y.shape)
(None, 22, 8)
"""

from __future__ import annotations

from typing import Any

import keras

from snpcnn.errors import InputError
from snpcnn.models.core import (
    INITIALIZERS,
    PADDINGS,
    _as_tuple,
    check_activation,
    check_bool,
    check_choice,
    check_fits,
    check_fraction,
    check_int_list,
    check_nonnegative_float,
    check_positive_int,
    check_rate,
    make_layer,
)
from snpcnn.models.layers import RandomGenotypeMask

__all__ = [
    "apply_activation",
    "apply_conv",
    "apply_pool",
    "apply_global_pool",
    "apply_separable_conv",
    "apply_vgg_block",
    "apply_inception_block",
    "apply_residual_block",
    "apply_dense_block",
    "apply_transition",
    "apply_squeeze_excite",
    "apply_dense",
    "apply_dropout",
    "apply_flatten",
    "apply_batch_norm",
    "apply_genotype_mask",
    "apply_head_stem",
]

POOLS = ("max", "avg")
REDUCTIONS = ("flatten", "global_avg", "global_max")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise InputError(
            f"Invalid value for argument `name`. Expected a non-empty string. Received name={name!r}."
        )
    return name


def _l2(l2: float | None):
    l2 = check_nonnegative_float(0.0 if l2 is None else l2, "l2")
    return keras.regularizers.L2(l2) if l2 > 0 else None


def _channels(x) -> int:
    return int(x.shape[-1])


def _check_rank(x, rank: int, name: str) -> None:
    """``x`` has ``rank`` spatial axes (batch, *spatial, channels): else one line with the
    fix (Keras said "Kernel shape must have the same length as input" or "expected
    ndim=3, found ndim=4")."""
    shape = tuple(getattr(x, "shape", ()) or ())
    if len(shape) == rank + 2:
        return
    have = len(shape) - 2
    fix = f"pass rank={have}" if have >= 1 else "give it a (batch, *spatial, channels) input"
    raise InputError(
        f"layer '{name}': rank={rank} needs an input of {rank + 2} axes (batch, "
        f"{rank} spatial, channels); got shape {shape}: {fix}"
    )


def apply_activation(x, activation: str | None, *, name: str):
    """Apply ``activation`` as a named ``Activation`` layer (nothing for ``"linear"``)."""
    activation = check_activation(activation)
    if activation == "linear":
        return x
    if activation in ("square", "cube", "square_cube"):
        from snpcnn.models import layers

        return keras.layers.Activation(getattr(layers, activation), name=_check_name(name))(x)
    return keras.layers.Activation(activation, name=_check_name(name))(x)


def apply_conv(
    x,
    filters: int,
    kernel_size: int | tuple[int, ...],
    *,
    rank: int,
    name: str,
    strides: int | tuple[int, ...] = 1,
    padding: str = "same",
    dilation_rate: int | tuple[int, ...] = 1,
    activation: str | None = "relu",
    batch_norm: bool = False,
    l2: float = 0.0,
    use_bias: bool = True,
    kernel_initializer: str = "he_normal",
):
    """Convolution, optional batch normalization, activation.

    Layers: ``{name}_conv``, ``{name}_bn`` (if ``batch_norm``), ``{name}_act``.

    Parameters
    ----------
    x : Keras tensor, shape (batch, *spatial, channels)
    filters : int
        Number of output channels.
    kernel_size, strides, dilation_rate : int or tuple of ``rank`` ints
        Per-axis values; an int applies to every spatial axis.  ``strides > 1``
        and ``dilation_rate > 1`` cannot be combined (a Keras restriction).
    padding : {"same", "valid"}
    activation : str or None
        One of :data:`snpcnn.models.core.ACTIVATIONS`.
    batch_norm : bool
        Batch normalization between the convolution and the activation.
    l2 : float
        L2 penalty on the kernel (0 = none).
    """
    name = _check_name(name)
    filters = check_positive_int(filters, "filters")
    kernel_size = _as_tuple(kernel_size, rank, "kernel_size")
    strides = _as_tuple(strides, rank, "strides")
    dilation_rate = _as_tuple(dilation_rate, rank, "dilation_rate")
    padding = check_choice(padding, "padding", PADDINGS)
    activation = check_activation(activation)
    batch_norm = check_bool(batch_norm, "batch_norm")
    use_bias = check_bool(use_bias, "use_bias")
    kernel_initializer = check_choice(kernel_initializer, "kernel_initializer", INITIALIZERS)
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise InputError(
            f"layer '{name}_conv': strides={strides} cannot be combined with "
            f"dilation_rate={dilation_rate}; use one of them"
        )
    _check_rank(x, rank, f"{name}_conv")
    check_fits(x, kernel_size, padding, f"{name}_conv", dilation_rate)
    x = make_layer(
        "conv",
        rank,
        filters=filters,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        dilation_rate=dilation_rate,
        use_bias=use_bias,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=_l2(l2),
        name=f"{name}_conv",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return apply_activation(x, activation, name=f"{name}_act")


def apply_pool(
    x,
    *,
    rank: int,
    name: str,
    kind: str = "max",
    pool_size: int | tuple[int, ...] = 2,
    strides: int | tuple[int, ...] | None = None,
    padding: str = "valid",
):
    """Max or average pooling (layer ``{name}``); ``strides`` defaults to ``pool_size``."""
    name = _check_name(name)
    kind = check_choice(kind, "kind", POOLS)
    pool_size = _as_tuple(pool_size, rank, "pool_size")
    strides = pool_size if strides is None else _as_tuple(strides, rank, "strides")
    padding = check_choice(padding, "padding", PADDINGS)
    _check_rank(x, rank, name)
    check_fits(x, pool_size, padding, name)
    return make_layer(
        f"{kind}pool", rank, pool_size=pool_size, strides=strides, padding=padding, name=name
    )(x)


def apply_global_pool(x, *, rank: int, name: str, kind: str = "avg", keepdims: bool = False):
    """Global max or average pooling over all spatial axes (layer ``{name}``)."""
    kind = check_choice(kind, "kind", POOLS)
    _check_rank(x, rank, _check_name(name))
    return make_layer(
        f"global_{kind}pool",
        rank,
        keepdims=check_bool(keepdims, "keepdims"),
        name=_check_name(name),
    )(x)


def apply_separable_conv(
    x,
    filters: int,
    kernel_size: int | tuple[int, ...],
    *,
    rank: int,
    name: str,
    strides: int | tuple[int, ...] = 1,
    padding: str = "same",
    depth_multiplier: int = 1,
    activation: str | None = "relu",
    batch_norm: bool = False,
    l2: float = 0.0,
    kernel_initializer: str = "he_normal",
):
    """Depthwise-separable convolution (MobileNet style), rank 1 or 2.

    A depthwise convolution (one ``kernel_size`` filter per input channel,
    ``{name}_dw``), then a pointwise (kernel 1) convolution to ``filters`` channels
    (``{name}_pw``); each followed by optional batch normalization and the
    activation.  Costs ``C*k*m + C*m*filters`` weights instead of ``C*k*filters``.
    """
    name = _check_name(name)
    filters = check_positive_int(filters, "filters")
    kernel_size = _as_tuple(kernel_size, rank, "kernel_size")
    strides = _as_tuple(strides, rank, "strides")
    padding = check_choice(padding, "padding", PADDINGS)
    depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier")
    batch_norm = check_bool(batch_norm, "batch_norm")
    kernel_initializer = check_choice(kernel_initializer, "kernel_initializer", INITIALIZERS)
    _check_rank(x, rank, f"{name}_dw")
    check_fits(x, kernel_size, padding, f"{name}_dw")
    x = make_layer(
        "depthwise_conv",
        rank,
        kernel_size=kernel_size,
        strides=strides,
        padding=padding,
        depth_multiplier=depth_multiplier,
        depthwise_initializer=kernel_initializer,
        depthwise_regularizer=_l2(l2),
        name=f"{name}_dw",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_dw_bn")(x)
    x = apply_activation(x, activation, name=f"{name}_dw_act")
    return apply_conv(
        x,
        filters,
        1,
        rank=rank,
        name=f"{name}_pw",
        activation=activation,
        batch_norm=batch_norm,
        l2=l2,
        kernel_initializer=kernel_initializer,
    )


def apply_vgg_block(
    x,
    filters: int,
    *,
    rank: int,
    name: str,
    n_convs: int = 2,
    kernel_size: int | tuple[int, ...] = 3,
    activation: str | None = "relu",
    batch_norm: bool = False,
    l2: float = 0.0,
    pool: str = "max",
    pool_size: int | tuple[int, ...] = 2,
    pool_padding: str = "valid",
    kernel_initializer: str = "he_normal",
):
    """A VGG stage: ``n_convs`` x (conv ``same`` + activation), then pooling.

    Layers ``{name}_1_conv`` ... ``{name}_{n}_conv``, then ``{name}_pool``.
    """
    name = _check_name(name)
    n_convs = check_positive_int(n_convs, "n_convs")
    for i in range(n_convs):
        x = apply_conv(
            x,
            filters,
            kernel_size,
            rank=rank,
            name=f"{name}_{i + 1}",
            activation=activation,
            batch_norm=batch_norm,
            l2=l2,
            kernel_initializer=kernel_initializer,
        )
    return apply_pool(
        x, rank=rank, name=f"{name}_pool", kind=pool, pool_size=pool_size, padding=pool_padding
    )


def apply_inception_block(
    x,
    filters_1x1: int,
    filters_3x3_reduce: int,
    filters_3x3: int,
    filters_5x5_reduce: int,
    filters_5x5: int,
    filters_pool_proj: int,
    *,
    rank: int,
    name: str,
    activation: str | None = "relu",
    batch_norm: bool = False,
    l2: float = 0.0,
    kernel_initializer: str = "he_normal",
):
    """GoogLeNet Inception module: four parallel paths concatenated on channels.

    Paths (all ``same`` padding, so the spatial size is kept):

    1. 1x1 conv (``{name}_1x1``);
    2. 1x1 reduce -> 3x3 conv (``{name}_3x3_reduce``, ``{name}_3x3``);
    3. 1x1 reduce -> 5x5 conv (``{name}_5x5_reduce``, ``{name}_5x5``);
    4. 3x3 max-pool stride 1 -> 1x1 projection (``{name}_pool``, ``{name}_pool_proj``).

    Output channels: ``filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj``.
    """
    name = _check_name(name)
    kw = dict(
        rank=rank,
        activation=activation,
        batch_norm=batch_norm,
        l2=l2,
        kernel_initializer=kernel_initializer,
    )
    p1 = apply_conv(x, filters_1x1, 1, name=f"{name}_1x1", **kw)
    p2 = apply_conv(x, filters_3x3_reduce, 1, name=f"{name}_3x3_reduce", **kw)
    p2 = apply_conv(p2, filters_3x3, 3, name=f"{name}_3x3", **kw)
    p3 = apply_conv(x, filters_5x5_reduce, 1, name=f"{name}_5x5_reduce", **kw)
    p3 = apply_conv(p3, filters_5x5, 5, name=f"{name}_5x5", **kw)
    p4 = apply_pool(x, rank=rank, name=f"{name}_pool", pool_size=3, strides=1, padding="same")
    p4 = apply_conv(p4, filters_pool_proj, 1, name=f"{name}_pool_proj", **kw)
    return keras.layers.Concatenate(axis=-1, name=f"{name}_concat")([p1, p2, p3, p4])


def apply_residual_block(
    x,
    filters: int,
    *,
    rank: int,
    name: str,
    kernel_size: int | tuple[int, ...] = 3,
    strides: int | tuple[int, ...] = 1,
    activation: str | None = "relu",
    batch_norm: bool = True,
    l2: float = 0.0,
    kernel_initializer: str = "he_normal",
):
    """Basic residual block (ResNet-18/34): two convolutions plus a shortcut.

    ``conv(kernel, strides) -> BN -> act -> conv(kernel) -> BN``, added to the
    shortcut, then the activation (``{name}_out``).  The shortcut is the identity
    when shapes match; otherwise a 1x1 convolution with ``strides`` (+ BN), the
    "projection shortcut" (``{name}_proj_conv``).
    """
    name = _check_name(name)
    filters = check_positive_int(filters, "filters")
    strides_t = _as_tuple(strides, rank, "strides")
    kw = dict(rank=rank, batch_norm=batch_norm, l2=l2, kernel_initializer=kernel_initializer)
    shortcut = x
    if max(strides_t) > 1 or _channels(x) != filters:
        shortcut = apply_conv(
            x, filters, 1, strides=strides_t, activation=None, name=f"{name}_proj", **kw
        )
    y = apply_conv(
        x, filters, kernel_size, strides=strides_t, activation=activation, name=f"{name}_1", **kw
    )
    y = apply_conv(y, filters, kernel_size, activation=None, name=f"{name}_2", **kw)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return apply_activation(y, activation, name=f"{name}_out")


def apply_dense_block(
    x,
    n_layers: int,
    growth_rate: int,
    *,
    rank: int,
    name: str,
    bottleneck: bool = True,
    kernel_size: int | tuple[int, ...] = 3,
    activation: str | None = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    kernel_initializer: str = "he_normal",
):
    """DenseNet dense block: each layer's output is concatenated to its input.

    Each of the ``n_layers`` layers is ``BN -> act -> [1x1 conv to 4*growth_rate ->
    BN -> act] -> conv(kernel_size) to growth_rate -> [dropout]`` (pre-activation,
    bottleneck = DenseNet-B).  Output channels: ``C_in + n_layers * growth_rate``.
    """
    name = _check_name(name)
    n_layers = check_positive_int(n_layers, "n_layers")
    growth_rate = check_positive_int(growth_rate, "growth_rate")
    bottleneck = check_bool(bottleneck, "bottleneck")
    dropout = check_rate(dropout, "dropout")
    for i in range(n_layers):
        p = f"{name}_{i + 1}"
        y = keras.layers.BatchNormalization(name=f"{p}_bn")(x)
        y = apply_activation(y, activation, name=f"{p}_act")
        if bottleneck:
            y = apply_conv(
                y,
                4 * growth_rate,
                1,
                rank=rank,
                name=f"{p}_bottleneck",
                activation=activation,
                batch_norm=True,
                l2=l2,
                use_bias=False,
                kernel_initializer=kernel_initializer,
            )
        y = apply_conv(
            y,
            growth_rate,
            kernel_size,
            rank=rank,
            name=p,
            activation=None,
            l2=l2,
            use_bias=False,
            kernel_initializer=kernel_initializer,
        )
        if dropout:
            y = keras.layers.Dropout(dropout, name=f"{p}_dropout")(y)
        x = keras.layers.Concatenate(axis=-1, name=f"{p}_concat")([x, y])
    return x


def apply_transition(
    x,
    *,
    rank: int,
    name: str,
    compression: float = 0.5,
    pool: str = "avg",
    activation: str | None = "relu",
    l2: float = 0.0,
    kernel_initializer: str = "he_normal",
):
    """DenseNet transition: ``BN -> act -> 1x1 conv (compression) -> 2x pooling``.

    Output channels: ``max(1, floor(C_in * compression))``; spatial size halved
    (``same`` padding, so odd sizes round up).
    """
    name = _check_name(name)
    compression = check_fraction(compression, "compression")
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = apply_activation(x, activation, name=f"{name}_act")
    x = apply_conv(
        x,
        max(1, int(_channels(x) * compression)),
        1,
        rank=rank,
        name=name,
        activation=None,
        l2=l2,
        use_bias=False,
        kernel_initializer=kernel_initializer,
    )
    return apply_pool(x, rank=rank, name=f"{name}_pool", kind=pool, pool_size=2, padding="same")


def apply_squeeze_excite(
    x, *, rank: int, name: str, ratio: float = 0.25, activation: str | None = "relu"
):
    """Squeeze-and-excitation: reweight channels by a gate computed from their means.

    ``global average pool -> dense(max(1, int(C * ratio)), activation) ->
    dense(C, sigmoid)``, multiplied onto ``x`` (``{name}_scale``).
    """
    name = _check_name(name)
    ratio = check_fraction(ratio, "ratio")
    c = _channels(x)
    s = apply_global_pool(x, rank=rank, name=f"{name}_squeeze", kind="avg", keepdims=True)
    s = keras.layers.Dense(
        max(1, int(c * ratio)), activation=check_activation(activation), name=f"{name}_reduce"
    )(s)
    s = keras.layers.Dense(c, activation="sigmoid", name=f"{name}_expand")(s)
    return keras.layers.Multiply(name=f"{name}_scale")([x, s])


def apply_dense(
    x,
    units: int,
    *,
    name: str,
    activation: str | None = "relu",
    dropout: float = 0.0,
    l2: float = 0.0,
    batch_norm: bool = False,
    kernel_initializer: str = "he_normal",
):
    """Fully connected layer: ``dense -> [BN] -> activation -> [dropout]``.

    Layers ``{name}_dense``, ``{name}_bn``, ``{name}_act``, ``{name}_dropout``.
    """
    name = _check_name(name)
    units = check_positive_int(units, "units")
    dropout = check_rate(dropout, "dropout")
    batch_norm = check_bool(batch_norm, "batch_norm")
    kernel_initializer = check_choice(kernel_initializer, "kernel_initializer", INITIALIZERS)
    x = keras.layers.Dense(
        units,
        kernel_initializer=kernel_initializer,
        kernel_regularizer=_l2(l2),
        name=f"{name}_dense",
    )(x)
    if batch_norm:
        x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    x = apply_activation(x, activation, name=f"{name}_act")
    if dropout:
        x = keras.layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return x


def apply_dropout(x, rate: float, *, name: str, whole: bool = False):
    """Dropout layer ``{name}`` (``rate`` in [0, 1)).

    ``whole``: drop each sample's whole input (all its units at once, scaled by
    1 / (1 - rate) otherwise), as PyTorch's ``Dropout1d`` does on a one-channel tensor.
    """
    rate = check_rate(rate, "rate")
    noise_shape = (None,) + (1,) * (len(x.shape) - 1) if whole else None
    return keras.layers.Dropout(rate, noise_shape=noise_shape, name=_check_name(name))(x)


def apply_flatten(x, *, name: str):
    """Flatten layer ``{name}``."""
    return keras.layers.Flatten(name=_check_name(name))(x)


def apply_batch_norm(x, *, name: str):
    """Batch normalization layer ``{name}``."""
    return keras.layers.BatchNormalization(name=_check_name(name))(x)


def apply_genotype_mask(x, rate: float, *, name: str, seed: int | None = None):
    """:class:`~snpcnn.models.layers.RandomGenotypeMask` layer ``{name}``."""
    return RandomGenotypeMask(rate, seed=seed, name=_check_name(name))(x)


def apply_head_stem(
    x,
    *,
    rank: int,
    name: str,
    reduce: str = "flatten",
    units: int | tuple[int, ...] = (),
    dropout: float = 0.0,
    activation: str | None = "relu",
    l2: float = 0.0,
    batch_norm: bool = False,
    kernel_initializer: str = "he_normal",
):
    """Feature map -> vector -> fully connected layers (the part before the output).

    ``reduce`` is ``"flatten"`` (keeps position: each SNP window gets its own
    weights), ``"global_avg"`` or ``"global_max"`` (position-free, fan-in = channels).
    Then one :func:`apply_dense` per entry of ``units`` (``{name}_fc1``, ...), each
    followed by ``dropout``.
    """
    name = _check_name(name)
    reduce = check_choice(reduce, "reduce", REDUCTIONS)
    units = check_int_list(units, "units")
    if len(x.shape) > 2:
        if reduce == "flatten":
            x = apply_flatten(x, name=f"{name}_flatten")
        else:
            kind = reduce.split("_")[1]
            x = apply_global_pool(x, rank=rank, name=f"{name}_{reduce}pool", kind=kind)
    for i, u in enumerate(units):
        x = apply_dense(
            x,
            u,
            name=f"{name}_fc{i + 1}",
            activation=activation,
            dropout=dropout,
            l2=l2,
            batch_norm=batch_norm,
            kernel_initializer=kernel_initializer,
        )
    return x
