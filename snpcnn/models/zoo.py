"""Named architectures, each an architecture dict buildable at rank 1 and rank 2.

Two kinds of presets, both resolved through :func:`snpcnn.models.load_architecture`:

* **Image-zoo factories** (Python functions returning a dict, so depth and width can be
  parameters): ``lenet5``, ``alexnet``, ``vgg11``, ``vgg16``, ``googlenet``,
  ``resnet18``, ``resnet_small``, ``densenet_small``.  ``width`` multiplies every
  channel and hidden-unit count (``width=1/16`` builds a tiny VGG-16 for tests).
* **Genomic presets** shipped as TOML files in ``snpcnn/presets/``:
  ``snpcnn_default``, ``perez_enciso_2019``, ``deepgs``, ``dnngp``, ``mlp``.  They are
  plain data: copy one, edit it, and pass the path to ``build_model``.

The same dict builds a 1-D model on ``(n_snps, channels)`` input and a 2-D model on
``(height, width, channels)``: kernel and pool sizes given as one int apply to every
spatial axis.

Examples
--------
>>> spec = get_preset("vgg16", width=1 / 16)
>>> [b["filters"] for b in spec["blocks"] if b["type"] == "vgg"]
[4, 8, 16, 32, 32]
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from importlib import resources
from typing import Any

from snpcnn.errors import InputError
from snpcnn.models.core import (
    PADDINGS,
    check_activation,
    check_bool,
    check_choice,
    check_fraction,
    check_rate,
)
from snpcnn.models.spec import (
    MAX_DEPTH,
    MAX_WIDTH,
    apply_overrides,
    read_architecture_file,
    validate_architecture,
)

__all__ = [
    "list_presets",
    "get_preset",
    "lenet5",
    "alexnet",
    "vgg11",
    "vgg16",
    "googlenet",
    "resnet18",
    "resnet_small",
    "densenet_small",
    "VGG_CONFIGS",
    "INCEPTION_CONFIG",
]


def _check_width(width: Any) -> float:
    if isinstance(width, bool) or not isinstance(width, int | float) or not width > 0:
        raise InputError(
            "Invalid value for argument `width`. Expected a strictly positive number "
            f"(e.g. 1/16 for a tiny model). Received width={width!r}."
        )
    return float(width)


def _count(value: Any, name: str, preset: str, limit: int | None = None) -> int:
    """A preset parameter that counts something (an int >= 1, not a bool or a string)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or value < 1
        or (limit is not None and value > limit)
    ):
        upto = f" up to {limit:,}" if limit is not None else ""
        raise InputError(
            f"preset '{preset}': Invalid value for argument `{name}`. Expected a strictly "
            f"positive integer{upto}. Received {name}={value!r}."
        )
    return value


def _w(n: int, width: float) -> int:
    """``n`` channels scaled by ``width`` (at least 1)."""
    return max(1, int(round(n * width)))


# --------------------------------------------------------------------- LeNet
def lenet5(
    activation: str = "relu", pooling: str = "max", padding: str = "same", width: float = 1.0
) -> dict:
    """LeNet-5 (LeCun et al. 1998): two conv + pooling stages, dense 120 and 84.

    ``conv(6, 5, padding) -> pool 2 -> conv(16, 5, valid) -> pool 2 -> flatten ->
    dense 120 -> dense 84``.  The original uses ``activation="tanh"`` (or sigmoid),
    ``pooling="avg"`` and 32x32 input with ``padding="valid"``; the default is the
    usual MNIST setup (ReLU, max-pooling, ``same`` padding on 28x28, 61,706
    parameters with a 10-class output).
    """
    activation = check_activation(activation)
    pooling = check_choice(pooling, "pooling", ("max", "avg"))
    padding = check_choice(padding, "padding", PADDINGS)
    width = _check_width(width)
    saturating = activation in ("tanh", "sigmoid")
    return validate_architecture(
        {
            "name": "lenet5",
            "description": f"LeNet-5 ({activation}, {pooling}-pooling, first conv {padding})",
            "reference": "LeCun et al. (1998) Proc. IEEE 86:2278",
            "defaults": {
                "activation": activation,
                "kernel_initializer": "glorot_uniform" if saturating else "he_normal",
            },
            "blocks": [
                {
                    "name": "c1",
                    "type": "conv",
                    "filters": _w(6, width),
                    "kernel_size": 5,
                    "padding": padding,
                },
                {"name": "s2", "type": f"{pooling}pool", "pool_size": 2},
                {
                    "name": "c3",
                    "type": "conv",
                    "filters": _w(16, width),
                    "kernel_size": 5,
                    "padding": "valid",
                },
                {"name": "s4", "type": f"{pooling}pool", "pool_size": 2},
                {"name": "flatten", "type": "flatten"},
                {"name": "f5", "type": "dense", "units": _w(120, width)},
                {"name": "f6", "type": "dense", "units": _w(84, width)},
            ],
        }
    )


# ------------------------------------------------------------------- AlexNet
def alexnet(width: float = 1.0, dropout: float = 0.5, batch_norm: bool = False) -> dict:
    """AlexNet-style network (Krizhevsky et al. 2012), single tower.

    ``conv(96, 11, stride 4) -> maxpool 3/2 -> conv(256, 5) -> maxpool 3/2 ->
    conv(384, 3) -> conv(384, 3) -> conv(256, 3) -> maxpool 3/2 -> flatten ->
    dense 4096 -> dense 4096`` with dropout.  Local response normalization is
    replaced by optional batch normalization; all padding is ``same`` so small
    inputs (32x32, 64 SNPs) work.
    """
    width = _check_width(width)
    check_rate(dropout, "dropout")
    pool = {"type": "maxpool", "pool_size": 3, "strides": 2, "padding": "same"}
    convs = [(96, 11, 4), (256, 5, 1), (384, 3, 1), (384, 3, 1), (256, 3, 1)]
    blocks: list[dict] = []
    for i, (f, k, s) in enumerate(convs, start=1):
        blocks.append(
            {"name": f"conv{i}", "type": "conv", "filters": _w(f, width), "kernel_size": k}
            | ({"strides": s} if s > 1 else {})
        )
        if i in (1, 2, 5):
            blocks.append({"name": f"pool{i}"} | pool)
    blocks += [
        {"name": "flatten", "type": "flatten"},
        {"name": "fc6", "type": "dense", "units": _w(4096, width), "dropout": dropout},
        {"name": "fc7", "type": "dense", "units": _w(4096, width), "dropout": dropout},
    ]
    return validate_architecture(
        {
            "name": "alexnet",
            "description": "AlexNet-style: 5 conv, 3 max-pool, 2 x dense 4096",
            "reference": "Krizhevsky et al. (2012) NeurIPS",
            "defaults": {"batch_norm": check_bool(batch_norm, "batch_norm")},
            "blocks": blocks,
        }
    )


# ----------------------------------------------------------------------- VGG
#: filters of each conv, per stage (each stage ends with a 2x max-pool).
VGG_CONFIGS = {
    "vgg11": ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    "vgg16": ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
}


def _vgg(
    config: str,
    width: float,
    batch_norm: bool,
    dense_units: int,
    dropout: float,
    global_pool: bool,
) -> dict:
    width = _check_width(width)
    check_rate(dropout, "dropout")
    dense_units = _count(dense_units, "dense_units", config, MAX_WIDTH)
    global_pool = check_bool(global_pool, "global_pool")
    blocks: list[dict] = [
        {
            "name": f"block{i}",
            "type": "vgg",
            "filters": _w(stage[0], width),
            "n_convs": len(stage),
            "pool_padding": "same",
        }
        for i, stage in enumerate(VGG_CONFIGS[config], start=1)
    ]
    if global_pool:
        blocks.append({"name": "gap", "type": "global_avgpool"})
    else:
        blocks.append({"name": "flatten", "type": "flatten"})
        for j in (1, 2):
            blocks.append(
                {
                    "name": f"fc{j}",
                    "type": "dense",
                    "units": _w(dense_units, width),
                    "dropout": dropout,
                }
            )
    return validate_architecture(
        {
            "name": config,
            "description": f"{config.upper()} (Simonyan & Zisserman 2015), width x{width:g}",
            "reference": "Simonyan & Zisserman (2015) ICLR, arXiv:1409.1556",
            "defaults": {"batch_norm": check_bool(batch_norm, "batch_norm")},
            "blocks": blocks,
        }
    )


def vgg11(
    width: float = 1.0,
    batch_norm: bool = False,
    dense_units: int = 4096,
    dropout: float = 0.5,
    global_pool: bool = False,
) -> dict:
    """VGG-11 (configuration A): 8 conv 3x3 in 5 stages, 2 dense layers.

    Pooling uses ``same`` padding so inputs not divisible by 32 still work.
    ``global_pool=True`` replaces flatten + dense by global average pooling.
    """
    return _vgg("vgg11", width, batch_norm, dense_units, dropout, global_pool)


def vgg16(
    width: float = 1.0,
    batch_norm: bool = False,
    dense_units: int = 4096,
    dropout: float = 0.5,
    global_pool: bool = False,
) -> dict:
    """VGG-16 (configuration D): 13 conv 3x3 in 5 stages, 2 dense layers."""
    return _vgg("vgg16", width, batch_norm, dense_units, dropout, global_pool)


# ----------------------------------------------------------------- GoogLeNet
#: (name, 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj), Szegedy et al. 2015, Table 1.
INCEPTION_CONFIG = (
    ("3a", 64, 96, 128, 16, 32, 32),
    ("3b", 128, 128, 192, 32, 96, 64),
    ("4a", 192, 96, 208, 16, 48, 64),
    ("4b", 160, 112, 224, 24, 64, 64),
    ("4c", 128, 128, 256, 24, 64, 64),
    ("4d", 112, 144, 288, 32, 64, 64),
    ("4e", 256, 160, 320, 32, 128, 128),
    ("5a", 256, 160, 320, 32, 128, 128),
    ("5b", 384, 192, 384, 48, 128, 128),
)


def googlenet(width: float = 1.0, dropout: float = 0.4, batch_norm: bool = False) -> dict:
    """GoogLeNet-style network: stem, nine Inception modules, global average pooling.

    Stem ``conv(64, 7, stride 2) -> maxpool 3/2 -> conv(64, 1) -> conv(192, 3) ->
    maxpool 3/2``; Inception 3a-3b, maxpool, 4a-4e, maxpool, 5a-5b; global average
    pooling and dropout.  No auxiliary classifiers, no LRN.
    """
    width = _check_width(width)
    check_rate(dropout, "dropout")
    pool = {"type": "maxpool", "pool_size": 3, "strides": 2, "padding": "same"}
    blocks: list[dict] = [
        {"name": "conv1", "type": "conv", "filters": _w(64, width), "kernel_size": 7, "strides": 2},
        {"name": "pool1"} | pool,
        {"name": "conv2_reduce", "type": "conv", "filters": _w(64, width), "kernel_size": 1},
        {"name": "conv2", "type": "conv", "filters": _w(192, width), "kernel_size": 3},
        {"name": "pool2"} | pool,
    ]
    keys = (
        "filters_1x1",
        "filters_3x3_reduce",
        "filters_3x3",
        "filters_5x5_reduce",
        "filters_5x5",
        "filters_pool_proj",
    )
    for tag, *filters in INCEPTION_CONFIG:
        blocks.append(
            {"name": f"inception{tag}", "type": "inception"}
            | {k: _w(f, width) for k, f in zip(keys, filters)}
        )
        if tag in ("3b", "4e"):
            blocks.append({"name": f"pool{tag[0]}"} | pool)
    blocks += [{"name": "gap", "type": "global_avgpool"}]
    if dropout:
        blocks.append({"name": "dropout", "type": "dropout", "rate": dropout})
    return validate_architecture(
        {
            "name": "googlenet",
            "description": "GoogLeNet-style: 9 Inception modules, global average pooling",
            "reference": "Szegedy et al. (2015) CVPR, arXiv:1409.4842",
            "defaults": {"batch_norm": check_bool(batch_norm, "batch_norm")},
            "blocks": blocks,
        }
    )


# -------------------------------------------------------------------- ResNet
def _resnet(
    name: str,
    description: str,
    stem: list[dict],
    stage_filters: tuple[int, ...],
    blocks_per_stage: int,
    width: float,
) -> dict:
    blocks = list(stem)
    for s, f in enumerate(stage_filters, start=1):
        for j in range(1, blocks_per_stage + 1):
            blocks.append(
                {"name": f"stage{s}_block{j}", "type": "residual", "filters": _w(f, width)}
                | ({"strides": 2} if s > 1 and j == 1 else {})
            )
    blocks.append({"name": "gap", "type": "global_avgpool"})
    return validate_architecture(
        {
            "name": name,
            "description": description,
            "reference": "He et al. (2016) CVPR, arXiv:1512.03385",
            "blocks": blocks,
        }
    )


def resnet18(width: float = 1.0) -> dict:
    """ResNet-18: stem ``conv(64, 7, /2) + BN + ReLU, maxpool 3/2``, 4 stages x 2 basic blocks.

    Stages of 64, 128, 256, 512 filters; stages 2-4 halve the resolution with a
    projection shortcut; global average pooling.
    """
    width = _check_width(width)
    stem = [
        {
            "name": "conv1",
            "type": "conv",
            "filters": _w(64, width),
            "kernel_size": 7,
            "strides": 2,
            "batch_norm": True,
        },
        {"name": "pool1", "type": "maxpool", "pool_size": 3, "strides": 2, "padding": "same"},
    ]
    return _resnet(
        "resnet18", "ResNet-18: 8 basic residual blocks", stem, (64, 128, 256, 512), 2, width
    )


def resnet_small(width: float = 1.0, blocks_per_stage: int = 1) -> dict:
    """A small CIFAR-style ResNet: ``conv(16, 3) + BN``, 3 stages (16, 32, 64 filters).

    ``blocks_per_stage=1`` gives 8 weight layers; 3 gives ResNet-20.
    """
    width = _check_width(width)
    if isinstance(blocks_per_stage, bool) or not isinstance(blocks_per_stage, int):
        blocks_per_stage = -1
    if blocks_per_stage < 1:
        raise InputError(
            "Invalid value for argument `blocks_per_stage`. Expected a strictly positive "
            f"integer. Received blocks_per_stage={blocks_per_stage!r}."
        )
    stem = [
        {
            "name": "conv1",
            "type": "conv",
            "filters": _w(16, width),
            "kernel_size": 3,
            "batch_norm": True,
        }
    ]
    return _resnet(
        "resnet_small",
        f"small ResNet: 3 stages x {blocks_per_stage} basic block(s)",
        stem,
        (16, 32, 64),
        blocks_per_stage,
        width,
    )


# ------------------------------------------------------------------ DenseNet
def densenet_small(
    growth_rate: int = 12, layers_per_block: int = 4, n_blocks: int = 3, compression: float = 0.5
) -> dict:
    """A small DenseNet-BC: stem ``conv(2k, 3)``, ``n_blocks`` dense blocks of
    ``layers_per_block`` bottleneck layers (growth rate k), transitions with
    ``compression``, final BN + ReLU, global average pooling.
    """
    growth_rate = _count(growth_rate, "growth_rate", "densenet_small", MAX_WIDTH // 2)
    layers_per_block = _count(layers_per_block, "layers_per_block", "densenet_small", MAX_DEPTH)
    n_blocks = _count(n_blocks, "n_blocks", "densenet_small", MAX_DEPTH)
    compression = check_fraction(compression, "compression")
    blocks: list[dict] = [
        {"name": "conv1", "type": "conv", "filters": 2 * growth_rate, "kernel_size": 3}
    ]
    for i in range(1, n_blocks + 1):
        blocks.append(
            {
                "name": f"dense{i}",
                "type": "dense_block",
                "n_layers": layers_per_block,
                "growth_rate": growth_rate,
            }
        )
        if i < n_blocks:
            blocks.append(
                {"name": f"transition{i}", "type": "transition", "compression": compression}
            )
    blocks += [
        {"name": "final_bn", "type": "batch_norm"},
        {"name": "final_act", "type": "activation", "activation": "relu"},
        {"name": "gap", "type": "global_avgpool"},
    ]
    return validate_architecture(
        {
            "name": "densenet_small",
            "description": f"DenseNet-BC: {n_blocks} dense blocks x {layers_per_block} layers, k={growth_rate}",
            "reference": "Huang et al. (2017) CVPR, arXiv:1608.06993",
            "blocks": blocks,
        }
    )


# ------------------------------------------------------------------- registry
_FACTORIES: dict[str, Callable[..., dict]] = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg11": vgg11,
    "vgg16": vgg16,
    "googlenet": googlenet,
    "resnet18": resnet18,
    "resnet_small": resnet_small,
    "densenet_small": densenet_small,
}


def _toml_presets() -> dict[str, Any]:
    folder = resources.files("snpcnn").joinpath("presets")
    if not folder.is_dir():  # pragma: no cover - broken install
        return {}
    # *.space.toml files beside the presets are search spaces (snpcnn tune), not architectures
    return {
        p.name[: -len(".toml")]: p
        for p in folder.iterdir()
        if p.name.endswith(".toml") and not p.name.endswith(".space.toml")
    }


def list_presets() -> list[str]:
    """Names of all presets (image zoo and genomic TOML presets), sorted.

    Examples
    --------
    >>> {"snpcnn_default", "deepgs", "lenet5", "vgg16"} <= set(list_presets())
    True
    """
    return sorted({*_FACTORIES, *_toml_presets()})


def get_preset(name: str, **params: Any) -> dict:
    """The architecture dict of preset ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_presets`.
    **params
        For zoo factories, their parameters (``width``, ``activation``, ...); any
        other key is applied to every block that takes it (see
        :func:`snpcnn.models.spec.apply_overrides`), e.g. ``activation="relu"`` or
        ``l2=1e-4`` on a TOML preset.
    """
    if name in _FACTORIES:
        factory = _FACTORIES[name]
        accepted = set(inspect.signature(factory).parameters)
        own = {k: v for k, v in params.items() if k in accepted}
        rest = {k: v for k, v in params.items() if k not in accepted}
        spec = factory(**own)
    else:
        toml = _toml_presets()
        if name not in toml:
            raise InputError(f"unknown preset {name!r}; valid presets: {', '.join(list_presets())}")
        with resources.as_file(toml[name]) as path:
            spec = read_architecture_file(path)
        rest = params
    if not rest:
        return spec
    try:
        return apply_overrides(spec, **rest)
    except InputError as exc:
        if name in _FACTORIES:
            params_ = ", ".join(inspect.signature(_FACTORIES[name]).parameters)
            raise InputError(f"{exc}; preset parameters of '{name}': {params_}") from None
        raise
