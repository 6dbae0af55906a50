"""snpcnn.models: one rank-generic convolutional core and the architecture zoo.

The same architecture (a preset name, a TOML/JSON file or a dict, see
:mod:`snpcnn.models.spec`) builds a 1-D model for SNP input ``(n_snps, channels)``
and a 2-D model for images ``(height, width, channels)``; the rank is
``len(input_shape) - 1``.

Examples
--------
>>> model = build_model("snpcnn_default", (1000, 1))
>>> count_params(model)["total"] > 0
True
>>> model = compile_model(model, "regression")
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import keras

from snpcnn.errors import InputError
from snpcnn.models.core import LAYER_TABLE, check_rate, layer_class
from snpcnn.models.heads import (
    HEADS,
    MaskedMAE,
    MaskedMeanAbsoluteError,
    MaskedMeanSquaredError,
    MaskedMSE,
    attach_training,
    compile_model,
    head_of,
    output_layer,
    set_mixed_precision,
    training_spec,
)
from snpcnn.models.layers import (
    KernelPrediction,
    QuadraticEffects,
    RandomGenotypeMask,
    WindowGather,
    cube,
    square,
    square_cube,
)
from snpcnn.models.spec import (
    apply_linear,
    build_blocks,
    load_architecture,
    memory_cause,
    out_of_memory,
    resolve_blocks,
    wide_layer_names,
)
from snpcnn.models.zoo import get_preset, list_presets

__all__ = [
    "build_model",
    "list_presets",
    "get_preset",
    "load_architecture",
    "resolve_blocks",
    "count_params",
    "describe",
    "conv_layer_names",
    "compile_model",
    "set_mixed_precision",
    "head_of",
    "save_model",
    "load_model",
    "RandomGenotypeMask",
    "MaskedMSE",
    "MaskedMAE",
    "training_spec",
    "MaskedMeanSquaredError",
    "MaskedMeanAbsoluteError",
    "HEADS",
    "LAYER_TABLE",
    "layer_class",
]


def _check_input_shape(input_shape: Any) -> tuple[int, ...]:
    ok = (
        isinstance(input_shape, Sequence)
        and not isinstance(input_shape, str)
        and 2 <= len(input_shape) <= 4
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in input_shape)
    )
    if not ok:
        raise InputError(
            "Invalid value for argument `input_shape`. Expected (n_snps, channels), "
            "(height, width, channels) or (depth, height, width, channels) with positive "
            f"integers, without the batch axis. Received input_shape={input_shape!r}."
        )
    return tuple(int(d) for d in input_shape)


def build_model(
    arch: str | os.PathLike | Mapping,
    input_shape: Sequence[int],
    head: str = "regression",
    n_outputs: int = 1,
    name: str | None = None,
    augment: float | Mapping | None = None,
    **overrides: Any,
) -> keras.Model:
    """Build a Keras model from an architecture and add the output head.

    Parameters
    ----------
    arch : str, path or dict
        A preset name (:func:`list_presets`), a ``.toml``/``.json`` architecture
        file, or an architecture dict (see :mod:`snpcnn.models.spec`).
    input_shape : tuple of int
        Without the batch axis: ``(n_snps, channels)`` (rank 1; channels 1 for
        dosages, 3 for one-hot), ``(height, width, channels)`` (rank 2).
    head : {"regression", "binary", "multiclass"}
    n_outputs : int
        Traits (regression), labels (binary) or classes (multiclass).
    name : str, optional
        Model name (default: the architecture's name).
    augment : float or dict, optional
        SNP-side augmentation: a :class:`RandomGenotypeMask` layer (``augment_mask``)
        right after the input, active only in training.  A float is its ``rate``;
        a dict is ``{"mask_rate": float, "seed": int}``.
    **overrides
        Preset parameters (``width=1/16``, ``activation="tanh"`` for LeNet-5 ...) and
        block keys set on every block that takes them (``l2=1e-4``, ``dropout=0.5``).

    Returns
    -------
    keras.Model
        Layers named ``input``, [``augment_mask``], the blocks' layers, ``output``.
        Not compiled: see :func:`compile_model`.

    Examples
    --------
    >>> m = build_model("lenet5", (28, 28, 1), head="multiclass", n_outputs=10)
    >>> count_params(m)["total"]
    61706
    """
    input_shape = _check_input_shape(input_shape)
    spec = load_architecture(arch, **overrides)
    out_layer = output_layer(head, n_outputs)  # checks head and n_outputs
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    if augment is not None:
        if isinstance(augment, Mapping):
            unknown = set(augment) - {"mask_rate", "seed"}
            if unknown or "mask_rate" not in augment:
                raise InputError(
                    f"Invalid value for argument `augment`. Expected a rate or a dict with "
                    f"'mask_rate' (and optionally 'seed'). Received augment={dict(augment)!r}."
                )
            rate, seed = augment["mask_rate"], augment.get("seed")
        else:
            rate, seed = augment, None
        x = RandomGenotypeMask(check_rate(rate, "augment"), seed=seed, name="augment_mask")(x)
    wide_input = x
    try:
        outputs = out_layer(_network(x, wide_input, spec, input_shape, n_outputs))
        model = keras.Model(inputs, outputs, name=name or spec["name"])
    except InputError as exc:
        source = _source_file(arch)
        raise type(exc)(f"{source}: {exc}" if source else str(exc)) from None
    except ValueError as exc:
        clash = re.match(r'The name "(.+?)" is used \d+ times', str(exc))
        if clash is None:
            raise
        source = _source_file(arch)
        msg = _duplicate_layer_message(spec, clash.group(1))
        raise InputError(f"{source}: {msg}" if source else msg) from None
    except Exception as exc:  # the wide path or the output layer on a huge input
        if not out_of_memory(exc):
            raise
        source = _source_file(arch)
        raise InputError(
            f"{source + ': ' if source else ''}architecture '{spec['name']}': out of memory "
            f"allocating its weights on input shape {input_shape} ({memory_cause(exc)})"
        ) from None
    return attach_training(model, spec.get("training"))


def _source_file(arch: Any) -> str | None:
    """The architecture file ``arch`` names (None for a preset or a dict)."""
    if isinstance(arch, str | os.PathLike) and str(arch) not in list_presets():
        return str(arch)
    return None


def _duplicate_layer_message(spec: Mapping, layer: str) -> str:
    """One line naming the blocks (or the wide path) that make two layers called ``layer``."""
    makers = [
        f"blocks[{b['index']}] (type '{b['type']}', layers {b['name']}_*)"
        for b in resolve_blocks(spec)
        if layer == b["name"] or layer.startswith(b["name"] + "_")
    ]
    wide = wide_layer_names(spec.get("linear"), "screen" in spec)
    if layer in wide:
        makers.append(wide[layer])
    return (
        f"architecture '{spec['name']}': two layers are called '{layer}' (made by "
        f"{' and '.join(makers) or 'two blocks'}); layer names must be unique: rename one of "
        "the blocks (its `name`)"
    )


def _network(x, wide_input, spec: Mapping, input_shape: tuple, n_outputs: int):
    """The screen, the blocks and the wide path on ``x`` (the features the output layer reads)."""
    rank = len(input_shape) - 1
    if "screen" in spec:
        if rank != 1:
            raise InputError(
                f"architecture '{spec['name']}': `screen` picks windows of SNPs and needs "
                f"1-D input (n_snps, channels); received input_shape={tuple(input_shape)}"
            )
        width = min(spec["screen"]["width"], input_shape[0])
        n_windows = max(1, min(spec["screen"]["windows"], input_shape[0] // width))
        screen = spec["screen"]
        x = WindowGather(
            n_windows,
            width,
            order=screen.get("order", "file"),
            ld_reach=screen.get("ld_reach", 0),
            map_reach=screen.get("map_reach", 0),
            all_pairs=screen.get("all_pairs", False),
            map_all_pairs=screen.get("map_all_pairs", False),
            conditional=screen.get("conditional", False),
            conditional_alpha=screen.get("conditional_alpha", 0.0),
            conditional_fill=screen.get("conditional_fill", "marginal"),
            polarised=screen.get("polarised", 0),
            triples=screen.get("triples", False),
            pairs=screen.get("pairs", False),
            name="screen",
        )(x)
    x = build_blocks(x, spec, rank)
    if len(x.shape) != 2:
        raise InputError(
            f"architecture '{spec['name']}' ends with a feature map of shape "
            f"{tuple(x.shape[1:])}; end its blocks with `flatten`, `global_avgpool`, "
            "`global_maxpool` or a `head` block so the output layer gets a vector"
        )
    return apply_linear(wide_input, x, spec, n_outputs)


def count_params(model: keras.Model) -> dict[str, int]:
    """Parameter counts: ``{"trainable", "non_trainable", "total"}``.

    Batch-normalization moving means/variances are non-trainable.
    """
    trainable = sum(int(keras.ops.size(w)) for w in model.trainable_weights)
    non_trainable = sum(int(keras.ops.size(w)) for w in model.non_trainable_weights)
    return {
        "trainable": trainable,
        "non_trainable": non_trainable,
        "total": trainable + non_trainable,
    }


def conv_layer_names(model: keras.Model) -> list[str]:
    """Names of the convolution layers in model order (the last one suits Grad-CAM)."""
    classes = tuple(
        cls
        for kind in ("conv", "separable_conv", "depthwise_conv")
        for cls in LAYER_TABLE[kind].values()
    )
    return [layer.name for layer in model.layers if isinstance(layer, classes)]


def describe(model: keras.Model) -> str:
    """A plain-text table of the model's layers, output shapes and parameter counts.

    Ends with the trainable / non-trainable / total parameter counts.
    """
    rows = [("layer", "type", "output shape", "params")]
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape[1:])
        except (AttributeError, ValueError):  # pragma: no cover - layers without one output
            shape = "?"
        rows.append((layer.name, type(layer).__name__, str(shape), f"{layer.count_params():,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [
        f"Model '{model.name}': input {tuple(model.input_shape[1:])} -> output "
        f"{tuple(model.output_shape[1:])}"
    ]
    for i, r in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if j < 3 else c.rjust(w) for j, (c, w) in enumerate(zip(r, widths))
            )
        )
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    n = count_params(model)
    lines.append(
        f"params: {n['trainable']:,} trainable, {n['non_trainable']:,} non-trainable, "
        f"{n['total']:,} total"
    )
    return "\n".join(lines)


def save_model(model: keras.Model, path: str | os.PathLike, force: bool = False) -> Path:
    """Save ``model`` to a ``.keras`` file, atomically; refuse to overwrite unless ``force``.

    The file is written to a temporary file in the same folder and renamed, so a
    crash never leaves a half-written model under ``path``.  Returns the path.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise InputError(f"{path}: a model file must end in '.keras'")
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; pass force=True (--force) to overwrite it")
    if not path.parent.is_dir():
        raise InputError(f"{path.parent}: no such folder; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".keras", dir=path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        from snpcnn.io.output import ready_to_replace

        ready_to_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: str | os.PathLike, compile: bool = True) -> keras.Model:
    """Load a ``.keras`` model saved by :func:`save_model` (snpcnn's custom objects included)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file; check the path")
    if path.suffix != ".keras":
        raise InputError(
            f"{path}: not a '.keras' model file; give the model.keras that snpcnn fit wrote"
        )
    import zipfile

    if not zipfile.is_zipfile(path):
        raise InputError(
            f"{path}: not a .keras model file (not a zip archive: damaged or another format); "
            "give the model.keras that snpcnn fit wrote, or fit the model again"
        )
    from snpcnn.backend import full_float32_matmul

    full_float32_matmul()  # no TF32 on GPUs: the kernel start's products stay float32
    custom = {
        "RandomGenotypeMask": RandomGenotypeMask,
        "WindowGather": WindowGather,
        "KernelPrediction": KernelPrediction,
        "QuadraticEffects": QuadraticEffects,
        "square": square,
        "cube": cube,
        "square_cube": square_cube,
        "MaskedMSE": MaskedMSE,
        "MaskedMeanSquaredError": MaskedMeanSquaredError,
        "MaskedMeanAbsoluteError": MaskedMeanAbsoluteError,
    }
    try:
        with warnings.catch_warnings():
            # the networks inside an averaged or kernel-started model were compiled for
            # training; their optimizer state is not needed (nor saved whole) for prediction
            warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
            return keras.saving.load_model(path, custom_objects=custom, compile=compile)
    except (ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{path}: cannot load the model ({first}); the file is damaged or not written by "
            "snpcnn: use the model.keras that snpcnn fit wrote, or fit again"
        ) from None
