"""Architectures as plain data: a dict (or TOML/JSON file) listing blocks.

An architecture is::

    {
        "name": "my_net",                      # required, used as the model name
        "description": "...",                  # optional
        "defaults": {"activation": "elu"},     # optional: for every block that takes the key
        "blocks": [                            # required, applied in order
            {"type": "conv", "filters": 16, "kernel_size": 3, "strides": 3},
            {"type": "maxpool", "pool_size": 2},
            {"type": "flatten"},
            {"type": "dense", "units": 32, "dropout": 0.3},
        ],
    }

or the same in TOML (``[[blocks]]`` tables).  Every block has a ``type`` (see
:data:`BLOCK_TYPES`), the keys of that type, and optionally ``name`` (its layers are
called ``{name}_...``) and ``repeat`` (apply it n times).  A value is taken from the
block, else from ``defaults``, else the block type's default.  The blocks must end
in a vector (``flatten``, a global pooling, ``head``, or ``dense`` after one of
those); :func:`snpcnn.models.build_model` adds the output layer for the chosen head.

:func:`load_architecture` validates every key and fails with one line naming the
block index, the key, the received value and what is valid.
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from snpcnn.errors import InputError
from snpcnn.models import blocks as B
from snpcnn.models.core import (
    INITIALIZERS,
    PADDINGS,
    check_activation,
    check_bool,
    check_choice,
    check_fraction,
    check_int_list,
    check_nonnegative_float,
    check_nonnegative_int,
    check_positive_int,
    check_rate,
)

__all__ = [
    "BLOCK_TYPES",
    "BLOCK_SCHEMA",
    "RESERVED_LAYER_NAMES",
    "load_architecture",
    "validate_architecture",
    "apply_overrides",
    "resolve_blocks",
    "build_blocks",
    "read_architecture_file",
    "LINEAR_KEYS",
    "TRAINING_KEYS",
    "apply_linear",
]

REQUIRED = object()  # marker: the key has no default
RESERVED_LAYER_NAMES = ("input", "output", "augment_mask")
TOP_LEVEL_KEYS = (
    "name",
    "description",
    "reference",
    "defaults",
    "linear",
    "screen",
    "training",
    "triple_stage",
    "blocks",
)
#: keys of the optional ``linear`` table (the wide path): key -> (check, default)
LINEAR_KEYS: dict[str, tuple[Callable, Any]] = {
    "l2": (check_nonnegative_float, 0.0),
    # a second block of effects on the squared inputs (DominanceFeatures): dominance
    "dominance": (check_bool, False),
    # how the ridge start (TrainConfig linear_init "ridge"/"ridge_loo") picks its penalty:
    # "loo" = exact leave-one-out over a grid; "reml" = REML, which makes the start the
    # GBLUP prediction itself (the same model, solved for marker effects)
    "penalty": (lambda v, n: check_choice(v, n, ("loo", "reml")), "loo"),
    # the model(s) that REML may choose as the start instead of the (REML) ridge, per
    # training set: "cnn_gp" = the infinite-width CNN (snpcnn.baselines.CNNGP); "gblup_ad" =
    # additive + dominance GBLUP on the CNN's input (dominance = each input's square minus
    # its regression on the input); "lasso" = the LASSO on the CNN's input (penalty by inner
    # 5-fold CV; proposed where its inner-CV error is below the others' leave-one-out
    # error); a list = several candidates, the one with the highest REML log-likelihood is
    # proposed (then the LASSO's rule); "none" = the ridge always.  Needs penalty = "reml"
    # (every start is then a REML mixed model).
    "kernel": (lambda v, n: _check_kernel(v, n), "none"),
    # REML log-likelihood gain the kernel needs over the ridge (GBLUP) to be chosen: 1.92 =
    # half the chi-square(1) 95% point, a likelihood-ratio test's threshold
    "kernel_threshold": (check_nonnegative_float, 1.92),
    # above this many training rows the start is the ridge (an n x n kernel per fit)
    "kernel_max_samples": (check_positive_int, 5000),
    # streamed genotypes (large data): the LASSO is offered up to this many training
    # genotypes (rows x input columns); each of its working-set iterations reads them all
    "lasso_max_streamed": (check_positive_int, 2**29),
    # streamed genotypes: the CNN-GP is offered up to this many training genotypes; its
    # start's layer keeps them as int8 codes in the model (1 byte each: 256 MiB at 2^28, the
    # float32 size at which a fold streams), and its kernel costs O(rows^2 x SNPs)
    "kernel_max_streamed": (check_positive_int, 2**28),
    # the LASSO is proposed only where its inner-CV squared errors are also significantly
    # lower than the incumbent's leave-one-out errors, row by row (one-sided paired t-test,
    # p below this); 1 = any lower mean (v7's rule)
    "lasso_proposal_p": (lambda v, n: _check_unit(v, n), 1.0),
    # the LASSO start on each input and its heterozygote indicator (where the training rows
    # hold three genotypes): a sparse dominance trait is linear in these; kept where its
    # inner-CV errors beat the plain LASSO's significantly (session 50, candidate
    # snpcnn_default_v17); in memory only (a streamed LASSO stays plain)
    "lasso_dominance": (check_bool, False),
    # a network fitted on several traits at once (snpcnn fit --trait A --trait B): the
    # multi-trait GBLUP on the CNN's input replaces the per-trait ridge as the start where a
    # likelihood-ratio test of the genetic and residual correlations prefers it (p < 0.05)
    "multitrait": (check_bool, False),
    # with multitrait: the multi-trait CNN-GP (the same model with the CNN-GP's kernel in
    # place of G) is a third start, taken where its likelihood beats both GBLUP starts' by
    # more than kernel_threshold (session 35)
    "multitrait_cnn_gp": (check_bool, False),
    # with multitrait_cnn_gp: a trait whose own one-trait CNN-GP has a lower exact
    # leave-one-out error than the joint fit's prediction of it is predicted by that fit,
    # where a one-sided paired t-test of the squared errors gives p below this value (0: never;
    # 1: the lower error wins; session 36, preset snpcnn_default_mt_trait)
    "multitrait_trait_choice": (lambda v, n: _check_unit_or_off(v, n), 0.0),
    # where the cross-fitted convolutions are kept on a ridge (GBLUP) start: the start is
    # refitted on the targets minus the convolutions' out-of-fold correction, the
    # correction's weight re-estimated, this many times (0: never), and the refitted start
    # kept where the out-of-fold squared errors fall significantly (one-sided paired t-test,
    # p < 0.05, or conv_gate where smaller; one output only).  A start
    # fitted on the whole target takes part of a local signal through LD proxies, as noise
    # around what the convolutions then find (session 55, candidate snpcnn_default_v20)
    "backfit": (lambda v, n: _refits(v, n), 0),
    # with backfit: where the convolutions are kept on the LASSO start, that start is
    # refitted the same way (its penalty by inner CV again, its cross-fitted predictions as
    # the leave-one-out's), in memory only (session 56, candidate snpcnn_default_v21)
    "backfit_lasso": (check_bool, False),
}
#: keys of the optional ``training`` table: how the network is compiled, where a published
#: model prescribes it (the learning rate, epochs and batch size stay run settings):
#: key -> (check, default).  ``snpcnn.models.compile_model`` reads it from the built model.
TRAINING_KEYS: dict[str, tuple[Callable, Any]] = {
    "optimizer": (lambda v, n: check_choice(v, n, ("adam", "adamw", "sgd", "rmsprop")), "adam"),
    # SGD's momentum (ignored by the other optimisers)
    "momentum": (lambda v, n: _momentum(v, n), 0.9),
    # the regression loss: "mse" (squared error) or "mae" (absolute error, an L1 loss);
    # early stopping follows the same loss on the inner validation rows
    "loss": (lambda v, n: check_choice(v, n, ("mse", "mae")), "mse"),
}
#: keys of the optional ``screen`` table (windows the convolutions see): key -> (check, default)
SCREEN_KEYS: dict[str, tuple[Callable, Any]] = {
    "windows": (check_positive_int, 32),
    "width": (check_positive_int, 5),
    # the SNP order the windows run along: "file" (adjacent columns), "ld" (seriated by LD on
    # each training part, snpcnn.ldorder), "auto" (seriated where the file's order carries
    # no LD: a panel without a map)
    "order": (lambda v, n: check_choice(v, n, ("file", "ld", "auto")), "file"),
    # in an LD order, pairs of SNPs up to this many positions apart are screened (a pair
    # further apart than the window width gets a window of its two SNPs and their LD-order
    # neighbours); 0 = width - 1, as in the file's order
    "ld_reach": (check_nonnegative_int, 0),
    # in the file's order (a map), pairs of SNPs up to this many positions apart are screened
    # where the windows are led by their pair (pairs = "lead"): a window holds the pair and
    # its neighbours, so SNPs that interact a few SNPs apart inside an LD block share a
    # window; 0 = width - 1 (pairs inside a run of width SNPs)
    "map_reach": (check_nonnegative_int, 0),
    # in an LD order, every pair of SNPs is a candidate, also pairs further apart than
    # ld_reach (scored by matrix products; ranked with the near pairs by Bonferroni-adjusted
    # p-value): pairs in weak LD can land anywhere in an LD order
    "all_pairs": (check_bool, False),
    # all_pairs on a panel with a map too (the file's order, windows led by their pair): a
    # pair further apart than map_reach (inside a long LD block, or anywhere) takes a window
    # where it is significant after Bonferroni over every such pair; needs all_pairs = true
    # and pairs = "lead"
    "map_all_pairs": (check_bool, False),
    # the windows' pairs picked by forward selection: each pick scored on what the pairs
    # already picked leave unexplained, so the LD neighbours of one strong pair do not take
    # the windows of weaker pairs (v18); needs pairs = "lead"
    "conditional": (check_bool, False),
    # with conditional: forward selection only while a candidate is significant at this
    # level after Bonferroni in its family (scored against the residuals' normal scores);
    # the windows still open are then filled as conditional_fill says (0: forward selection
    # to the last window, v18)
    "conditional_alpha": (check_rate, 0.0),
    # with conditional_alpha: what the windows still open get where forward selection
    # stopped after opening at least one: "marginal" (the pairs' marginal order: the LD
    # neighbours of the strong pairs) or "repeat" (the windows forward selection opened, in
    # turn, so no window goes to a pair that explains nothing given them; v19)
    "conditional_fill": (lambda v, n: check_choice(v, n, ("marginal", "repeat")), "marginal"),
    # every triple of SNPs that fits a window is a candidate too (scored against the
    # residuals' normal scores; a triple takes a window only if significant after Bonferroni
    # over every triple): a pure three-SNP interaction has no pair signal to find it by;
    # "only": the windows hold the best triples alone, no pairs (a [triple_stage] network);
    # "lead": as "only", each window's triple at its first three positions and the first
    # convolution started on the triple's product (polarisation identity)
    "triples": (lambda v, n: _check_triples(v, n), False),
    # with triples = "lead": how many of the first convolution's filters start on the
    # triples' products (in fours, the polarisation identity's sign patterns; 0: all); the
    # rest keep their random initial values
    "polarised": (check_nonnegative_int, 0),
    # "lead": each window's screened pair at its first two positions (the rest of the window
    # after it, in order) and the first convolution's filters started on the pair's product
    # (the polarisation identity for two SNPs), so a filter shared by the windows sees every
    # window's pair at the same positions; false: windows are runs (or sets) in their order
    "pairs": (lambda v, n: _check_pairs(v, n), False),
}
#: keys of the optional ``triple_stage`` table: a second cross-fitted correction over SNP
#: triples, trained on the first correction's out-of-fold residuals only where a triple is
#: significant in them (snpcnn.training): key -> (check, default)
TRIPLE_STAGE_KEYS: dict[str, tuple[Callable, Any]] = {
    # its architecture: a preset name or a TOML path (snpcnn_triples_lead, since session 26:
    # cube filters started on the triple products over windows of 9 SNPs led by the best
    # triples, [screen] triples = "lead"; snpcnn_triples before: random cube filters,
    # triples = "only")
    "model": (lambda v, n: _check_name(v, n), "snpcnn_triples_lead"),
    # its learning rate (the run's --learning-rate is the first correction's)
    "learning_rate": (lambda v, n: _check_positive(v, n), 3e-4),
    # its most epochs (0: the run's --epochs); early stopping as the first stage's
    "epochs": (check_nonnegative_int, 0),
}


# ------------------------------------------------------------- value checks
def _check_triples(value: Any, name: str) -> bool | str:
    """``[screen] triples``: true, false, "only" or "lead"."""
    if value in ("only", "lead"):
        return value
    try:
        return check_bool(value, name)
    except InputError:
        raise InputError(
            f'Invalid value for argument `{name}`. Expected true, false, "only" or "lead". '
            f"Received {name}={value!r}."
        ) from None


def _check_pairs(value: Any, name: str) -> bool | str:
    """``[screen] pairs``: false or "lead"."""
    if value == "lead" or value is False:
        return value
    raise InputError(
        f'Invalid value for argument `{name}`. Expected false or "lead". Received {name}={value!r}.'
    )


def _check_name(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(
            f"Invalid value for argument `{name}`. Expected a preset name or a TOML path "
            f'such as "snpcnn_triples". Received {name}={value!r}.'
        )
    return value


def _check_positive(value: Any, name: str) -> float:
    v = check_nonnegative_float(value, name)
    if not v > 0:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected {name} > 0. Received {name}={value!r}."
        )
    return v


def _check_unit(value: Any, name: str) -> float:
    """A number in (0, 1] (a p-value threshold)."""
    v = check_nonnegative_float(value, name)
    if not 0 < v <= 1:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected 0 < {name} <= 1. Received {name}={value!r}."
        )
    return v


def _check_unit_or_off(value: Any, name: str) -> float:
    """A number in [0, 1]: a p-value threshold, 0 for off."""
    v = check_nonnegative_float(value, name)
    if v > 1:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected 0 <= {name} <= 1 (0: off). "
            f"Received {name}={value!r}."
        )
    return v


def _momentum(value: Any, name: str) -> float:
    v = check_nonnegative_float(value, name)
    if v >= 1.0:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected 0 <= {name} < 1. Received {name}={value!r}."
        )
    return v


def _axes(value: Any, name: str) -> int | tuple[int, ...]:
    """An int >= 1 or a list of ints >= 1 (one per spatial axis; rank checked at build)."""
    if isinstance(value, list | tuple):
        if not value:
            raise InputError(
                f"Invalid value for argument `{name}`. Expected a strictly positive integer "
                f"or a list of them, one per spatial axis. Received {name}={value!r}."
            )
        return tuple(check_positive_int(v, name) for v in value)
    return check_positive_int(value, name)


def _optional_axes(value: Any, name: str):
    return None if value is None else _axes(value, name)


def _optional_int(value: Any, name: str):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(
            f"Invalid value for argument `{name}`. Expected an integer. Received {name}={value!r}."
        )
    return value


#: the most channels or units one layer may have (filters, units, growth_rate ...): 128 times
#: the widest preset layer (AlexNet/VGG's 4,096 units); wider layers do not fit in memory
MAX_WIDTH = 65_536
#: the most times a block may be repeated, or layers a block may stack (n_convs, n_layers)
MAX_DEPTH = 1_000


def _refits(value: Any, name: str) -> int:
    """``[linear] backfit``: 0 to 10 refits of the start."""
    v = check_nonnegative_int(value, name)
    if v > 10:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected 0 (off) to 10 refits of the "
            f"start. Received {name}={value!r}."
        )
    return v


def _bounded(value: Any, name: str, limit: int, what: str) -> int:
    v = check_positive_int(value, name)
    if v > limit:
        raise InputError(
            f"Invalid value for argument `{name}`. Expected a strictly positive integer up to "
            f"{limit:,} ({what}). Received {name}={value!r}."
        )
    return v


def _width(value: Any, name: str) -> int:
    """A channel or unit count of one layer: 1 .. :data:`MAX_WIDTH`."""
    return _bounded(value, name, MAX_WIDTH, "channels or units per layer")


def _depth(value: Any, name: str) -> int:
    """A repeat or layer count: 1 .. :data:`MAX_DEPTH`."""
    return _bounded(value, name, MAX_DEPTH, "layers or repeats per block")


def _width_list(value: Any, name: str) -> tuple[int, ...]:
    """A head's hidden ``units``: a list of widths (:data:`MAX_WIDTH` each, :data:`MAX_DEPTH`
    layers at most)."""
    units = check_int_list(value, name)
    if len(units) > MAX_DEPTH or any(u > MAX_WIDTH for u in units):
        raise InputError(
            f"Invalid value for argument `{name}`. Expected at most {MAX_DEPTH:,} layers of up to "
            f"{MAX_WIDTH:,} units each. Received {name}={value!r}."
        )
    return units


def out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is a failed allocation (TensorFlow's ResourceExhaustedError, JAX's
    RESOURCE_EXHAUSTED, a MemoryError)."""
    return (
        isinstance(exc, MemoryError)
        or type(exc).__name__ == "ResourceExhaustedError"
        or "RESOURCE_EXHAUSTED" in str(exc)[:200]
    )


def memory_cause(exc: BaseException) -> str:
    """The allocation that failed, in words (its values and float32 size where TensorFlow names
    the tensor's shape)."""
    import re

    shape = re.search(r"shape\[([\d,]+)\]", str(exc))
    if shape:
        n = 1
        for d in shape.group(1).split(","):
            n *= int(d)
        return f"a weight tensor of {n:,} values ({n * 4 / 2**30:,.0f} GiB as float32)"
    return f"{type(exc).__name__}"


def _choice(choices: tuple) -> Callable[[Any, str], Any]:
    return lambda v, n: check_choice(v, n, choices)


_ACT = (check_activation, "relu")
_BN = (check_bool, False)
_L2 = (check_nonnegative_float, 0.0)
_INIT = (_choice(INITIALIZERS), "he_normal")
_PAD_SAME = (_choice(PADDINGS), "same")
_POS = (_width, REQUIRED)

#: type -> {key: (check(value, key) -> value, default)}; defaults equal the
#: defaults of the matching ``apply_*`` function in :mod:`snpcnn.models.blocks`.
BLOCK_SCHEMA: dict[str, dict[str, tuple[Callable, Any]]] = {
    "conv": {
        "filters": _POS,
        "kernel_size": (_axes, REQUIRED),
        "strides": (_axes, 1),
        "padding": _PAD_SAME,
        "dilation_rate": (_axes, 1),
        "activation": _ACT,
        "batch_norm": _BN,
        "l2": _L2,
        "use_bias": (check_bool, True),
        "kernel_initializer": _INIT,
    },
    "separable_conv": {
        "filters": _POS,
        "kernel_size": (_axes, REQUIRED),
        "strides": (_axes, 1),
        "padding": _PAD_SAME,
        "depth_multiplier": (_width, 1),
        "activation": _ACT,
        "batch_norm": _BN,
        "l2": _L2,
        "kernel_initializer": _INIT,
    },
    "maxpool": {
        "pool_size": (_axes, 2),
        "strides": (_optional_axes, None),
        "padding": (_choice(PADDINGS), "valid"),
    },
    "avgpool": {
        "pool_size": (_axes, 2),
        "strides": (_optional_axes, None),
        "padding": (_choice(PADDINGS), "valid"),
    },
    "global_maxpool": {},
    "global_avgpool": {},
    "flatten": {},
    "batch_norm": {},
    # whole = true drops a sample's whole input vector (every unit at once) with probability
    # rate, as PyTorch's Dropout1d does on a one-channel tensor (GPBench's DeepGS)
    "dropout": {"rate": (check_rate, REQUIRED), "whole": (check_bool, False)},
    "activation": {"activation": (check_activation, REQUIRED)},
    "genotype_mask": {"rate": (check_rate, REQUIRED), "seed": (_optional_int, None)},
    "dense": {
        "units": _POS,
        "activation": _ACT,
        "dropout": (check_rate, 0.0),
        "l2": _L2,
        "batch_norm": _BN,
        "kernel_initializer": _INIT,
    },
    "vgg": {
        "filters": _POS,
        "n_convs": (_depth, 2),
        "kernel_size": (_axes, 3),
        "activation": _ACT,
        "batch_norm": _BN,
        "l2": _L2,
        "pool": (_choice(B.POOLS), "max"),
        "pool_size": (_axes, 2),
        "pool_padding": (_choice(PADDINGS), "valid"),
        "kernel_initializer": _INIT,
    },
    "inception": {
        "filters_1x1": _POS,
        "filters_3x3_reduce": _POS,
        "filters_3x3": _POS,
        "filters_5x5_reduce": _POS,
        "filters_5x5": _POS,
        "filters_pool_proj": _POS,
        "activation": _ACT,
        "batch_norm": _BN,
        "l2": _L2,
        "kernel_initializer": _INIT,
    },
    "residual": {
        "filters": _POS,
        "kernel_size": (_axes, 3),
        "strides": (_axes, 1),
        "activation": _ACT,
        "batch_norm": (check_bool, True),
        "l2": _L2,
        "kernel_initializer": _INIT,
    },
    "dense_block": {
        "n_layers": (_depth, REQUIRED),
        "growth_rate": _POS,
        "bottleneck": (check_bool, True),
        "kernel_size": (_axes, 3),
        "activation": _ACT,
        "dropout": (check_rate, 0.0),
        "l2": _L2,
        "kernel_initializer": _INIT,
    },
    "transition": {
        "compression": (check_fraction, 0.5),
        "pool": (_choice(B.POOLS), "avg"),
        "activation": _ACT,
        "l2": _L2,
        "kernel_initializer": _INIT,
    },
    "squeeze_excite": {
        "ratio": (check_fraction, 0.25),
        "activation": _ACT,
    },
    "head": {
        "reduce": (_choice(B.REDUCTIONS), "flatten"),
        "units": (_width_list, ()),
        "dropout": (check_rate, 0.0),
        "activation": _ACT,
        "l2": _L2,
        "batch_norm": _BN,
        "kernel_initializer": _INIT,
    },
}
BLOCK_TYPES = tuple(BLOCK_SCHEMA)
COMMON_KEYS = ("type", "name", "repeat")
# Block types made of a single layer: that layer is called ``{name}`` (default b{i}_{type}).
_SINGLE_LAYER = (
    "maxpool",
    "avgpool",
    "global_maxpool",
    "global_avgpool",
    "flatten",
    "batch_norm",
    "dropout",
    "activation",
    "genotype_mask",
)


def _taken_keys(blocks: list) -> str:
    """The keys that the types of ``blocks`` take, for an error message."""
    return ", ".join(sorted({k for b in blocks for k in BLOCK_SCHEMA[b["type"]]})) or "(none)"


def _check_for_blocks(blocks: list, key: str, value: Any, what: str) -> Any:
    """Check ``value`` of ``key`` (a ``defaults`` entry or a ``build_model`` override) with the
    check of every block type in ``blocks`` that takes ``key`` (a head's ``units`` is a list, a
    dense block's an int); returns the first such type's value (in :data:`BLOCK_SCHEMA` order),
    or :data:`REQUIRED` when no block takes ``key``."""
    types = [
        t for t in BLOCK_SCHEMA if key in BLOCK_SCHEMA[t] and any(b["type"] == t for b in blocks)
    ]
    checked = []
    for t in types:
        try:
            checked.append(BLOCK_SCHEMA[t][key][0](value, key))
        except InputError as exc:
            raise InputError(f"{what} (for the '{t}' blocks): {exc}") from None
    return checked[0] if checked else REQUIRED


def _all_keys() -> dict[str, Callable]:
    keys: dict[str, Callable] = {}
    for schema in BLOCK_SCHEMA.values():
        for key, (check, _) in schema.items():
            keys.setdefault(key, check)
    return keys


def _where(arch: str, index: int | None = None, btype: str | None = None) -> str:
    where = f"architecture '{arch}'"
    if index is not None:
        where += f", blocks[{index}]"
        if btype:
            where += f" (type '{btype}')"
    return where


def _check_block(block: Any, index: int, arch: str, defaults: Mapping) -> dict:
    if not isinstance(block, Mapping):
        raise InputError(
            f"{_where(arch, index)}: expected a table/dict with a `type` key, got {block!r}"
        )
    btype = block.get("type")
    if btype not in BLOCK_SCHEMA:
        raise InputError(
            f"{_where(arch, index)}: invalid `type`={btype!r}; valid types: "
            + ", ".join(BLOCK_TYPES)
        )
    schema = BLOCK_SCHEMA[btype]
    out: dict[str, Any] = {"type": btype}
    for key, value in block.items():
        if key == "type":
            continue
        try:
            if key == "name":
                if not isinstance(value, str) or not value.isidentifier():
                    raise InputError(
                        "Invalid value for argument `name`. Expected a name made of letters, "
                        f"digits and underscores. Received name={value!r}."
                    )
                if value in RESERVED_LAYER_NAMES:
                    raise InputError(
                        f"Invalid value for argument `name`. Expected a name other than "
                        f"{', '.join(RESERVED_LAYER_NAMES)}. Received name={value!r}."
                    )
                out[key] = value
            elif key == "repeat":
                out[key] = _depth(value, "repeat")
            elif key in schema:
                out[key] = schema[key][0](value, key)
            else:
                raise InputError(
                    f"unknown key `{key}` (value {value!r}); valid keys for '{btype}': "
                    + ", ".join((*COMMON_KEYS[1:], *schema))
                )
        except InputError as exc:
            raise InputError(f"{_where(arch, index, btype)}: {exc}") from None
    missing = [
        k
        for k, (_, default) in schema.items()
        if default is REQUIRED and k not in out and k not in defaults
    ]
    if missing:
        raise InputError(
            f"{_where(arch, index, btype)}: missing required key(s) "
            + ", ".join(f"`{k}`" for k in missing)
        )
    return out


def validate_architecture(spec: Mapping, source: str | None = None) -> dict:
    """Check an architecture dict and return a clean copy (explicit keys only).

    Parameters
    ----------
    spec : mapping
        ``{"name", "blocks", ["description", "reference", "defaults"]}``.
    source : str, optional
        Where it came from (a file), prefixed to error messages.
    """
    prefix = f"{source}: " if source else ""
    if not isinstance(spec, Mapping):
        raise InputError(f"{prefix}an architecture must be a dict/table, got {type(spec).__name__}")
    unknown = [k for k in spec if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise InputError(
            f"{prefix}unknown top-level key `{unknown[0]}` in architecture; valid keys: "
            + ", ".join(TOP_LEVEL_KEYS)
        )
    name = spec.get("name")
    if not isinstance(name, str) or not name.isidentifier():
        raise InputError(
            f"{prefix}architecture `name` must be a name made of letters, digits and "
            f"underscores; received name={name!r}"
        )
    try:
        defaults_in = spec.get("defaults", {}) or {}
        if not isinstance(defaults_in, Mapping):
            raise InputError(f"`defaults` must be a table/dict, got {defaults_in!r}")
        known = _all_keys()
        for key in defaults_in:
            if key not in known:
                raise InputError(
                    f"unknown key `{key}` in `defaults`; valid keys: " + ", ".join(sorted(known))
                )
        blocks = spec.get("blocks")
        if not isinstance(blocks, list | tuple) or not blocks:
            raise InputError("`blocks` must be a non-empty list of block tables")
        clean = [_check_block(b, i, name, defaults_in) for i, b in enumerate(blocks)]
        defaults = {}
        for key, value in defaults_in.items():
            defaults[key] = _check_for_blocks(clean, key, value, "`defaults`")
            if defaults[key] is REQUIRED:
                raise InputError(
                    f"`defaults` key `{key}` is taken by no block, so it would be ignored; "
                    f"remove it or use a key its blocks take: {_taken_keys(clean)}"
                )
        linear = _check_linear(spec["linear"]) if "linear" in spec else None
        screen = (
            _check_table(spec["screen"], "screen", SCREEN_KEYS, "{windows = 32, width = 5}")
            if "screen" in spec
            else None
        )
        training = (
            _check_table(spec["training"], "training", TRAINING_KEYS, '{optimizer = "sgd"}')
            if "training" in spec
            else None
        )
        triple_stage = (
            _check_table(
                spec["triple_stage"],
                "triple_stage",
                TRIPLE_STAGE_KEYS,
                '{model = "snpcnn_triples", learning_rate = 3e-4}',
            )
            if "triple_stage" in spec
            else None
        )
        if screen is not None and linear is None:
            raise InputError(
                "`screen` picks the convolutions' windows from the linear start's residuals, "
                "so it needs a `linear` table (as snpcnn_default); add a `linear` table "
                "(e.g. l2 = 1e-3) or remove `screen`"
            )
        if screen is not None and screen.get("map_reach") and screen.get("pairs") != "lead":
            raise InputError(
                '[screen] map_reach widens the pairs that lead a window (pairs = "lead"); '
                "without them the windows are runs of adjacent SNPs and map_reach would be "
                'ignored: add pairs = "lead" or remove map_reach'
            )
        if (
            screen is not None
            and screen.get("map_all_pairs")
            and not (screen.get("all_pairs") and screen.get("pairs") == "lead")
        ):
            raise InputError(
                "[screen] map_all_pairs extends all_pairs to panels with a map, where the "
                'windows are led by their pair: add all_pairs = true and pairs = "lead", or '
                "remove map_all_pairs"
            )
        if screen is not None and screen.get("conditional") and screen.get("pairs") != "lead":
            raise InputError(
                '[screen] conditional picks the pairs that lead a window (pairs = "lead"); '
                "without them the windows are runs of adjacent SNPs and conditional would be "
                'ignored: add pairs = "lead" or remove conditional'
            )
        if screen is not None and screen.get("conditional_alpha") and not screen.get("conditional"):
            raise InputError(
                "[screen] conditional_alpha is the level at which conditional (forward) "
                "selection stops; without conditional = true it would be ignored: add "
                "conditional = true or remove conditional_alpha"
            )
        if screen is not None and screen.get("conditional_alpha") and screen.get("triples"):
            raise InputError(
                "[screen] conditional_alpha stops the forward selection of pairs, which "
                "triples = true bypasses where a triple is significant: remove one of the two"
            )
        if (
            screen is not None
            and screen.get("conditional_fill", "marginal") != "marginal"
            and not screen.get("conditional_alpha")
        ):
            raise InputError(
                "[screen] conditional_fill fills the windows left where forward selection "
                "stops at conditional_alpha; without conditional_alpha it would be ignored: "
                "add conditional = true and conditional_alpha = 0.05, or remove conditional_fill"
            )
        if triple_stage is not None:
            _check_triple_stage_model(triple_stage["model"])
        if triple_stage is not None and (linear is None or screen is None):
            raise InputError(
                "`triple_stage` corrects a wide & deep model with a screen (a `linear` and a "
                "`screen` table, as snpcnn_default); add them or leave `triple_stage` out"
            )
        _check_unique_names(clean, name, linear, screen is not None)
    except InputError as exc:
        msg = str(exc)
        if not msg.startswith("architecture '"):
            msg = f"{_where(name)}: {msg}"
        raise InputError(prefix + msg) from None
    out = {"name": name, "blocks": clean}
    for key in ("description", "reference"):
        if key in spec:
            out[key] = str(spec[key])
    if defaults:
        out["defaults"] = defaults
    if linear is not None:
        out["linear"] = linear
    if screen is not None:
        # the keys added in session 21 appear only where set away from their defaults, so
        # the resolved architectures of earlier presets (run.json, benchmark unit keys) are
        # unchanged
        for key, default in (
            ("order", "file"),
            ("ld_reach", 0),
            ("map_reach", 0),
            ("all_pairs", False),
            ("map_all_pairs", False),
            ("conditional", False),
            ("conditional_alpha", 0.0),
            ("conditional_fill", "marginal"),
            ("triples", False),
            ("polarised", 0),
            ("pairs", False),
        ):
            if screen.get(key) == default:
                screen.pop(key)
        out["screen"] = screen
    if training is not None:
        out["training"] = training
    if triple_stage is not None:
        out["triple_stage"] = triple_stage
    return out


def _check_triple_stage_model(model: str) -> None:
    """``[triple_stage] model`` names a preset or an architecture file that exists (checked
    when the architecture is read, not after the genotypes are loaded)."""
    import difflib

    from snpcnn.models import zoo

    presets = zoo.list_presets()
    if model in presets:
        return
    path = Path(model)
    if path.suffix.lower() in (".toml", ".json"):
        if not path.is_file():
            raise InputError(
                f"`triple_stage`: model = {model!r}: no such architecture file; check the path "
                '(relative to the working folder) or name a preset such as "snpcnn_triples_lead"'
            )
        return
    close = difflib.get_close_matches(model, presets, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise InputError(
        f"`triple_stage`: model = {model!r} is not a preset nor a .toml/.json file; {hint}"
        "valid presets: " + ", ".join(presets)
    )


#: the starts that ``[linear] kernel`` may name
KERNEL_STARTS = ("cnn_gp", "gblup_ad", "lasso")


def _check_kernel(value: Any, name: str) -> str | list[str]:
    """``[linear] kernel``: "none", one of :data:`KERNEL_STARTS`, or a list of them."""
    if isinstance(value, str):
        return check_choice(value, name, ("none", *KERNEL_STARTS))
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, str) and v in KERNEL_STARTS for v in value)
        and len(set(value)) == len(value)
    ):
        return list(value) if len(value) > 1 else str(value[0])
    raise InputError(
        f'{name} must be "none", one of {", ".join(KERNEL_STARTS)}, or a list of distinct '
        f'ones such as ["cnn_gp", "gblup_ad"], got {value!r}'
    )


def kernel_starts(linear: Mapping) -> tuple[str, ...]:
    """The alternative starts a validated ``linear`` table names (() for none)."""
    k = linear.get("kernel", "none")
    if isinstance(k, str):
        return () if k == "none" else (k,)
    return tuple(k)


def _check_linear(table: Any) -> dict:
    """Validate the ``linear`` table (the wide path); returns it with defaults filled in."""
    out = _check_table(table, "linear", LINEAR_KEYS, "{l2 = 1e-3}")
    if out["multitrait"] and out["dominance"]:
        raise InputError(
            "`linear`: multitrait = true replaces the ridge start with the multi-trait GBLUP, "
            "which has no dominance block; set dominance = false or multitrait = false"
        )
    if out["multitrait_cnn_gp"] and not out["multitrait"]:
        raise InputError(
            "`linear`: multitrait_cnn_gp = true is a start of the multi-trait fit; set "
            "multitrait = true too"
        )
    if out["multitrait_trait_choice"] and not out["multitrait_cnn_gp"]:
        raise InputError(
            "`linear`: multitrait_trait_choice chooses between the multi-trait CNN-GP and each "
            "trait's own CNN-GP; set multitrait_cnn_gp = true too, or multitrait_trait_choice "
            "= 0"
        )
    if out["backfit_lasso"] and (not out["backfit"] or "lasso" not in kernel_starts(out)):
        raise InputError(
            "`linear`: backfit_lasso = true refits the LASSO start backfit times; name "
            '"lasso" in kernel and set backfit to 1-10, or set backfit_lasso = false'
        )
    if out["kernel"] != "none" and (out["penalty"] != "reml" or out["dominance"]):
        raise InputError(
            f'`linear`: kernel = {out["kernel"]!r} needs penalty = "reml" and no dominance '
            'block (REML chooses between REML mixed models); set penalty = "reml"'
        )
    return out


def _check_table(table: Any, what: str, keys: Mapping, example: str) -> dict:
    """Validate a top-level table (``linear``, ``screen``); returns it with defaults filled in."""
    if not isinstance(table, Mapping):
        raise InputError(
            f"`{what}` must be a table/dict such as {example}, got {table!r}; "
            f"leave it out for no {what}"
        )
    out = {}
    for key, value in table.items():
        if key not in keys:
            raise InputError(f"unknown key `{key}` in `{what}`; valid keys: " + ", ".join(keys))
        try:
            out[key] = keys[key][0](value, key)
        except InputError as exc:
            raise InputError(f"`{what}`: {exc}") from None
    for key, (_, default) in keys.items():
        out.setdefault(key, default)
    return out


def apply_linear(inputs, features, spec: Mapping, n_outputs: int):
    """Add the wide path: ``[features, Dense(n_outputs, L2)(flatten(inputs))]``.

    The linear path is one bias-free dense layer (``linear``) on the flattened
    input, i.e. one effect per SNP and channel and output (RR-BLUP-like with its
    L2 penalty), initialised at zero so training starts from the convolutional
    path alone.  Its scores are concatenated with the convolutional features
    (``wide_concat``) and the output layer weighs both.  Works for any rank.
    Returns ``features`` unchanged when the architecture has no ``linear`` table.
    """
    import keras

    if "linear" not in spec:
        return features
    l2 = spec["linear"]["l2"]
    flat = keras.layers.Flatten(name="linear_flatten")(inputs)
    if spec["linear"].get("dominance"):
        from snpcnn.models.layers import DominanceFeatures

        dom = DominanceFeatures(name="dominance")(inputs)
        dom = keras.layers.Flatten(name="dominance_flatten")(dom)
        flat = keras.layers.Concatenate(name="linear_inputs")([flat, dom])
    lin = keras.layers.Dense(
        n_outputs,
        use_bias=False,
        kernel_initializer="zeros",
        kernel_regularizer=keras.regularizers.L2(l2) if l2 > 0 else None,
        name="linear",
    )(flat)
    return keras.layers.Concatenate(name="wide_concat")([features, lin])


def wide_layer_names(linear: Mapping | None, screen: bool) -> dict[str, str]:
    """Layer names that :func:`snpcnn.models.build_model` adds beside the blocks: name -> what."""
    names = {}
    if screen:
        names["screen"] = "the `screen` table's layer"
    if linear is not None:
        for layer in ("linear_flatten", "linear", "wide_concat"):
            names[layer] = "a layer of the `linear` (wide) path"
        if linear.get("dominance"):
            for layer in ("dominance", "dominance_flatten", "linear_inputs"):
                names[layer] = "a layer of the `linear` path's dominance block"
    return names


def _name_note(name: str, block: Mapping, copy_: int) -> str:
    """How a block comes to be called ``name`` (its copy ``copy_`` when repeated)."""
    if "name" not in block:
        return f"named '{name}' by default (unnamed blocks are called b1, b2, ... by position)"
    repeat = block.get("repeat", 1)
    if repeat > 1:
        base = block["name"]
        return f"named '{name}': repeat {copy_} of '{base}' (repeat = {repeat} makes {base}_1, ...)"
    return f"named '{name}'"


def _check_unique_names(
    blocks: list, arch: str, linear: Mapping | None = None, screen: bool = False
) -> None:
    """Every block's name, after repeats are expanded and unnamed blocks named b{i}, is unique
    and not a layer of the wide path or the screen; a one-line error names the clash."""
    reserved = wide_layer_names(linear, screen)
    seen: dict[str, tuple[int, str]] = {}
    for index, copy_, name in _block_names(blocks):
        block = blocks[index]
        where = _where(arch, index, block["type"])
        note = _name_note(name, block, copy_)
        if name in reserved:
            raise InputError(
                f"{where}, {note}: that name is also {reserved[name]}; rename the block (its "
                "`name`)"
            )
        if name in seen:
            other, other_note = seen[name]
            raise InputError(
                f"{where}, {note}: that name is already used by blocks[{other}] "
                f"(type '{blocks[other]['type']}', {other_note}); layer names must be unique: "
                "rename one of the blocks (its `name`)"
            )
        seen[name] = (index, note)


def _block_names(blocks: list) -> list[tuple[int, int, str]]:
    """``(block index, repeat number from 1, layer-name prefix)`` of every expanded block."""
    out = []
    for index, block in enumerate(blocks):
        repeat = block.get("repeat", 1)
        for r in range(1, repeat + 1):
            i = len(out) + 1
            if "name" in block:
                name = block["name"] if repeat == 1 else f"{block['name']}_{r}"
            else:
                btype = block["type"]
                name = f"b{i}_{btype}" if btype in _SINGLE_LAYER else f"b{i}"
            out.append((index, r, name))
    return out


def read_architecture_file(path: str | os.PathLike) -> dict:
    """Read an architecture from a ``.toml`` or ``.json`` file and validate it."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such architecture file; check the path")
    suffix = path.suffix.lower()
    try:
        if suffix == ".toml":
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        elif suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
        else:
            raise InputError(
                f"{path}: unknown architecture file type '{suffix}'; use a .toml or .json file"
            )
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        kind = "TOML" if suffix == ".toml" else "JSON"
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            f"{kind} must be UTF-8: save the file as UTF-8"
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from None
    return validate_architecture(data, source=str(path))


def load_architecture(source: str | os.PathLike | Mapping, **params: Any) -> dict:
    """Resolve a preset name, a TOML/JSON file or a dict into a validated architecture.

    Parameters
    ----------
    source : str, path or dict
        A preset name (see :func:`snpcnn.models.list_presets`), a path to a
        ``.toml``/``.json`` file, or an architecture dict.
    **params
        Preset parameters (e.g. ``width=1/16`` for the VGG/ResNet zoo); other keys
        are set on every block that takes them (:func:`apply_overrides`).

    Returns
    -------
    dict
        ``{"name", "blocks", ...}`` with every key checked.

    Examples
    --------
    >>> spec = load_architecture({"name": "tiny", "blocks": [
    ...     {"type": "conv", "filters": 4, "kernel_size": 3}, {"type": "flatten"}]})
    >>> [b["type"] for b in spec["blocks"]]
    ['conv', 'flatten']
    """
    from snpcnn.models import zoo

    if isinstance(source, Mapping):
        spec = validate_architecture(copy.deepcopy(dict(source)))
        return apply_overrides(spec, **params) if params else spec
    if isinstance(source, str) and source in zoo.list_presets():
        return zoo.get_preset(source, **params)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if path.suffix.lower() in (".toml", ".json") or path.exists():
            spec = read_architecture_file(path)
            return apply_overrides(spec, **params) if params else spec
    raise InputError(
        f"unknown architecture {str(source)!r}: not a preset (valid: "
        f"{', '.join(zoo.list_presets())}) nor a .toml/.json file"
    )


def apply_overrides(spec: Mapping, **overrides: Any) -> dict:
    """Set ``key=value`` on every block whose type takes ``key`` (explicit values too).

    ``apply_overrides(spec, activation="elu", l2=1e-4)`` changes every activation
    and L2 factor of the architecture.  A key that no block takes is an error.
    """
    spec = copy.deepcopy(dict(spec))
    for key, value in overrides.items():
        where = f"override for architecture '{spec['name']}'"
        if _check_for_blocks(spec["blocks"], key, value, where) is REQUIRED:
            raise InputError(
                f"unknown override `{key}` for architecture '{spec['name']}'; its blocks take: "
                + _taken_keys(spec["blocks"])
            )
        for b in spec["blocks"]:
            if key in BLOCK_SCHEMA[b["type"]]:
                b[key] = BLOCK_SCHEMA[b["type"]][key][0](value, key)
    return spec


def resolve_blocks(spec: Mapping) -> list[dict]:
    """The blocks with repeats expanded, every key filled in and a layer name each.

    Values come from the block, else ``spec["defaults"]``, else the block type's
    default.  Blocks without a ``name`` are called ``b{i}`` (``b{i}_{type}`` for
    single-layer blocks), ``i`` counting from 1 over the expanded list.
    """
    defaults = spec.get("defaults", {})
    out: list[dict] = []
    for index, _, name in _block_names(spec["blocks"]):
        block = spec["blocks"][index]
        btype = block["type"]
        full = {"type": btype, "index": index}
        for key, (_, default) in BLOCK_SCHEMA[btype].items():
            if key in block:
                full[key] = block[key]
            elif key in defaults:  # checked for every type that takes it; its form for this one
                full[key] = BLOCK_SCHEMA[btype][key][0](defaults[key], key)
            else:
                full[key] = default
        full["name"] = name
        out.append(full)
    return out


def _apply_block(x, b: dict, rank: int):
    t, name = b["type"], b["name"]
    kw = {k: v for k, v in b.items() if k not in ("type", "index", "name")}
    if t == "conv":
        return B.apply_conv(x, rank=rank, name=name, **kw)
    if t == "separable_conv":
        return B.apply_separable_conv(x, rank=rank, name=name, **kw)
    if t in ("maxpool", "avgpool"):
        return B.apply_pool(x, rank=rank, name=name, kind=t[:3], **kw)
    if t in ("global_maxpool", "global_avgpool"):
        return B.apply_global_pool(x, rank=rank, name=name, kind=t[7:10])
    if t == "flatten":
        return B.apply_flatten(x, name=name)
    if t == "batch_norm":
        return B.apply_batch_norm(x, name=name)
    if t == "dropout":
        return B.apply_dropout(x, kw["rate"], name=name, whole=kw.get("whole", False))
    if t == "activation":
        return B.apply_activation(x, kw["activation"], name=name)
    if t == "genotype_mask":
        return B.apply_genotype_mask(x, kw["rate"], seed=kw["seed"], name=name)
    if t == "dense":
        return B.apply_dense(x, name=name, **kw)
    if t == "vgg":
        return B.apply_vgg_block(x, rank=rank, name=name, **kw)
    if t == "inception":
        return B.apply_inception_block(x, rank=rank, name=name, **kw)
    if t == "residual":
        return B.apply_residual_block(x, rank=rank, name=name, **kw)
    if t == "dense_block":
        return B.apply_dense_block(x, rank=rank, name=name, **kw)
    if t == "transition":
        return B.apply_transition(x, rank=rank, name=name, **kw)
    if t == "squeeze_excite":
        return B.apply_squeeze_excite(x, rank=rank, name=name, **kw)
    if t == "head":
        return B.apply_head_stem(x, rank=rank, name=name, **kw)
    raise AssertionError(f"unhandled block type {t}")  # pragma: no cover - schema is closed


def build_blocks(x, spec: Mapping, rank: int):
    """Apply the blocks of a validated architecture to the Keras tensor ``x``.

    Errors name the architecture, the block index and type, and the input shape.
    """
    for b in resolve_blocks(spec):
        shape = tuple(x.shape[1:])
        if b["type"] not in ("dense", "dropout", "activation", "batch_norm") and len(shape) < 2:
            raise InputError(
                f"{_where(spec['name'], b['index'], b['type'])}: needs a spatial feature map "
                f"but receives a vector of shape {shape} (after a flatten/global pooling); "
                "move it before the flatten"
            )
        if b["type"] == "dense" and len(shape) > 1:
            raise InputError(
                f"{_where(spec['name'], b['index'], b['type'])}: receives a feature map of "
                f"shape {shape}; put a `flatten`, `global_avgpool` or `global_maxpool` block "
                "before it"
            )
        try:
            x = _apply_block(x, b, rank)
        except InputError as exc:  # InputTooSmall (a valid window on a short input) stays one
            raise type(exc)(
                f"{_where(spec['name'], b['index'], b['type'])}, input shape {shape}: {exc}"
            ) from None
        except ValueError as exc:  # a Keras shape error
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            raise InputError(
                f"{_where(spec['name'], b['index'], b['type'])}, input shape {shape}: {first}"
            ) from None
        except Exception as exc:
            if not out_of_memory(exc):
                raise
            raise InputError(
                f"{_where(spec['name'], b['index'], b['type'])}, input shape {shape}: out of "
                f"memory allocating its weights ({memory_cause(exc)}); use fewer filters/units "
                "or a smaller kernel"
            ) from None
    return x
