"""Explaining trained CNNs: attributions, Grad-CAM, activation maps and filter patterns.

One implementation serves every spatial rank: a model on SNPs takes input
``(batch, n_snps, channels)`` (rank 1) and a model on images takes
``(batch, height, width, channels)`` (rank 2); every reduction below is over
the spatial axes ``1 .. rank`` of whatever array it gets, never over a fixed
tuple of axes.

Methods (``f`` is the selected model output, ``x`` one encoded input):

* ``saliency``: the plain gradient ``d f / d x`` (Simonyan et al. 2014).
* ``gradxinput``: ``x * d f / d x``; exact attribution for a linear model.
* ``integrated_gradients``: ``(x - x0) * integral_0^1 d f(x0 + a (x - x0)) / d x da``
  (Sundararajan et al. 2017), by the trapezoidal rule over ``steps`` intervals.
  Attributions sum to ``f(x) - f(x0)`` (completeness).  The default baseline
  ``x0`` is the all-zero *encoded* input: for centred dosage encoding that is
  the training-mean genotype at every SNP, for one-hot encoding it is
  "missing" at every SNP, for raw (uncentred) dosage it is homozygous for the
  non-counted allele.
* ``grad_cam``: on a named convolutional layer with activations ``A_k``,
  ``cam = relu(sum_k w_k A_k)`` with ``w_k`` the mean over the spatial axes of
  ``d f / d A_k`` (Selvaraju et al. 2017), resampled to input resolution by
  linear interpolation along each spatial axis, each feature-map unit placed at
  the centre of its receptive field (proportional resampling when the geometry
  cannot be traced).
* ``hirescam``: ``cam = relu(sum_k A_k * d f / d A_k)``, each position's own gradient
  (Draelos and Carin 2020), resampled alike.  Where a flatten + dense head follows the
  layer (the default's screened windows, ``deepgs``), Grad-CAM's average over positions
  removes the head's per-position weights; HiResCAM keeps them (with a linear head after
  the layer and a homogeneous activation, a position's score is its contribution to the
  output times the activation's degree).

The output ``f``: ``output_index=None`` selects output 0 of a single-output
model and the predicted class (argmax per sample) of a multi-output model;
an int selects that output (class) for every sample; an array selects one per
sample.  Gradients are taken of the model's output as is (for a softmax
classifier: the class probability).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
import pandas as pd
from scipy import stats as sps

if keras.backend.backend() != "tensorflow":
    from snpcnn._tf import tensorflow_only

    raise ImportError(tensorflow_only("snpcnn.explain"))
import tensorflow as tf  # noqa: E402 - only after the backend check above

from snpcnn import plots
from snpcnn.errors import InputError

__all__ = [
    "METHODS",
    "saliency",
    "gradient_x_input",
    "integrated_gradients",
    "grad_cam",
    "hires_cam",
    "reduce_channels",
    "aggregate",
    "snp_importance",
    "activation_maps",
    "plot_activations",
    "filter_patterns",
    "plot_filter_patterns",
    "plot_manhattan",
    "grad_cam_overlay",
    "grad_cam_status",
    "conv_layer_names",
    "receptive_field_centres",
    "resample_to_input",
]

METHODS = ("saliency", "gradxinput", "integrated_gradients", "grad_cam", "hirescam")
#: the methods that map a convolutional layer (and need one whose output the model uses)
CAM_METHODS = ("grad_cam", "hirescam")

# Compiled gradient functions are cached on the model object itself (attribute
# names below, set with object.__setattr__ so Keras does not track them); the
# model -> function -> model cycle is collected with the model.
_GRAD_ATTR = "_snpcnn_grad_fn"
_CAM_ATTR = "_snpcnn_cam_fns"


# --------------------------------------------------------------------------- helpers
#: what the model's own input is, for the errors below
_ENCODE_HINT = (
    "pass the model's own input: bundle.encode(genotypes)[0] for a snpcnn fit's model, "
    "snpcnn.images.prepare_images(x) for images (where X already is that input, e.g. a 0/1 "
    "one-hot array, X.astype('float32'))"
)


def keras_model_of(model):
    """The Keras model inside what a user naturally passes: a ModelBundle (``load_bundle``)
    or a fitted estimator (``SNPCNNRegressor``); a Keras model as it is.  Before session 50
    a bundle gave "'ModelBundle' object is not callable" (a checking helper)."""
    from snpcnn.bundle import ModelBundle

    if isinstance(model, keras.Model):
        return model
    if isinstance(model, ModelBundle):
        return model.model
    inner = getattr(model, "model_", None)
    if isinstance(inner, keras.Model):
        return inner
    if hasattr(model, "get_params") and hasattr(model, "fit"):
        raise InputError(
            f"model is a {type(model).__name__}, not a fitted snpcnn estimator (no model_): fit "
            "it first; from a Pipeline pass pipe[-1], from a search search.best_estimator_; "
            "or pass a Keras model or load_bundle('model.keras')"
        )
    raise InputError(
        "model must be a Keras model, a snpcnn ModelBundle (load_bundle('model.keras')) or a "
        f"fitted snpcnn estimator; got {type(model).__name__}"
    )


def _input_array(model, X) -> np.ndarray:
    from snpcnn.genotypes import Genotypes

    if isinstance(X, Genotypes):
        raise InputError(f"X is a Genotypes, not the model's encoded input; {_ENCODE_HINT}")
    raw = np.asarray(X)
    if raw.dtype.kind not in "uibfc":
        raise InputError(
            f"X holds {raw.dtype} values, not the model's encoded float input; {_ENCODE_HINT}"
        )
    if raw.ndim and raw.shape[0] == 0:
        raise InputError("X has no samples (0 rows); give at least one sample to explain")
    if raw.dtype.kind in "fc" and not np.isfinite(raw).all():
        # NaN input gave a saliency of 0 for every SNP (a checking helper, session 50)
        where = np.argwhere(~np.isfinite(raw))[0]
        raise InputError(
            f"X holds a non-finite value (e.g. {raw[tuple(where)]} at index "
            f"{tuple(int(i) for i in where)}); encode the genotypes with "
            "bundle.encode(genotypes)[0], which fills missing calls"
        )
    if raw.dtype.kind in "uib":
        # raw 0-255 images (load_mnist) or 0/1/2 dosages: the channel axis was filled in and
        # the maps came out of a 255x (or uncentred) input without a word (a checking helper)
        raise InputError(
            f"X holds {raw.dtype} values, not the model's encoded float input; {_ENCODE_HINT}"
        )
    X = raw.astype(np.float32, copy=False)
    try:
        want = len(model.inputs[0].shape)
    except (AttributeError, IndexError, TypeError, ValueError):
        want = X.ndim
    if X.ndim == want - 1:
        X = X[..., None]
    if X.ndim < 3:
        raise InputError(
            f"expected encoded input of shape (samples, *spatial, channels); got shape {X.shape}"
        )
    if X.ndim != want:
        raise InputError(
            f"the model takes {want}-D input (samples, *spatial, channels) but X has shape {X.shape}"
        )
    try:
        shape = tuple(model.inputs[0].shape[1:])
    except (AttributeError, IndexError, TypeError, ValueError):
        shape = ()
    if shape and any(w is not None and w != h for w, h in zip(shape, X.shape[1:])):
        raise InputError(
            f"the model takes input of shape (samples, {', '.join(map(str, shape))}) but X has "
            f"shape {X.shape}; {_ENCODE_HINT} (at the size the model was trained on)"
        )
    return X


def _as_2d(out):
    if isinstance(out, (list, tuple)):
        out = out[0]
    return tf.reshape(out, (tf.shape(out)[0], -1))


def _predict(model, X: np.ndarray, batch_size: int) -> np.ndarray:
    outs = [
        np.asarray(_as_2d(model(tf.constant(X[s : s + batch_size]), training=False)))
        for s in range(0, len(X), batch_size)
    ]
    return np.concatenate(outs, axis=0)


def _targets(model, X: np.ndarray, output_index, batch_size: int) -> np.ndarray:
    """Output index to explain, one per sample."""
    n = len(X)
    if output_index is None:
        first = _predict(model, X[:1], 1)
        if first.shape[1] == 1:
            return np.zeros(n, dtype=np.int32)
        return _predict(model, X, batch_size).argmax(axis=1).astype(np.int32)
    idx = np.asarray(output_index)
    n_out = _predict(model, X[:1], 1).shape[1]
    if idx.ndim == 0:
        idx = np.full(n, int(idx))
    if idx.shape != (n,):
        raise InputError(
            f"output_index must be an int or one index per sample ({n}); got {idx.shape}"
        )
    if idx.min() < 0 or idx.max() >= n_out:
        raise InputError(
            f"Invalid value for argument `output_index`. The model has {n_out} outputs "
            f"(0..{n_out - 1}). Received {int(idx.max()) if idx.max() >= n_out else int(idx.min())}."
        )
    return idx.astype(np.int32)


def _signature(model):
    """(x, target index) tensor specs with a free batch axis: one trace per model."""
    try:
        shape = [None, *model.inputs[0].shape[1:]]
    except (AttributeError, IndexError, TypeError, ValueError):
        return None
    return [tf.TensorSpec(shape, tf.float32), tf.TensorSpec([None], tf.int32)]


def _grad_fn(model):
    """A compiled function (x, target) -> (d f_target / d x, f_target)."""
    fn = getattr(model, _GRAD_ATTR, None)
    if fn is None:

        @tf.function(input_signature=_signature(model))
        def fn(x, idx):
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = _as_2d(model(x, training=False))
                sel = tf.gather(out, idx[:, None], axis=1, batch_dims=1)[:, 0]
            return tape.gradient(sel, x), sel

        object.__setattr__(model, _GRAD_ATTR, fn)
    return fn


def _gradients(model, X, targets, batch_size) -> tuple[np.ndarray, np.ndarray]:
    fn = _grad_fn(model)
    grads = np.empty_like(X)
    vals = np.empty(len(X), dtype=np.float32)
    for s in range(0, len(X), batch_size):
        g, v = fn(tf.constant(X[s : s + batch_size]), tf.constant(targets[s : s + batch_size]))
        grads[s : s + batch_size] = g.numpy()
        vals[s : s + batch_size] = v.numpy()
    return grads, vals


def _check_batch(batch_size: int) -> int:
    from snpcnn.config import _integer

    return _integer(batch_size, "batch_size", 1)


# ------------------------------------------------------------------ gradient methods
def saliency(model, X, output_index=None, batch_size: int = 128) -> np.ndarray:
    """Plain gradient of the selected output with respect to the input.

    Parameters
    ----------
    model : keras.Model
    X : array, shape (n, *spatial, channels)
        Encoded input (the channel axis may be omitted for one channel).
    output_index : None, int or array of int
        See the module docstring.
    batch_size : int
        Samples per gradient call (bounds memory).

    Returns
    -------
    float32 array with the shape of ``X`` (signed gradients).
    """
    X = _input_array(model, X)
    batch_size = _check_batch(batch_size)
    t = _targets(model, X, output_index, batch_size)
    return _gradients(model, X, t, batch_size)[0]


def gradient_x_input(model, X, output_index=None, batch_size: int = 128) -> np.ndarray:
    """``X * saliency``: exact per-feature attribution ``w * x`` for a linear model.

    Parameters and returns as :func:`saliency`.
    """
    X = _input_array(model, X)
    return X * saliency(model, X, output_index, batch_size)


def _baseline(X: np.ndarray, baseline) -> np.ndarray:
    if baseline is None:
        return np.zeros(X.shape[1:], dtype=np.float32)
    b = np.asarray(baseline, dtype=np.float32)
    try:
        fits = np.broadcast_shapes(b.shape, X.shape) == X.shape
    except ValueError:
        fits = False
    if not fits:
        raise InputError(
            f"baseline of shape {b.shape} does not broadcast to the input shape {X.shape}; give "
            "a scalar, one encoded sample or one baseline per sample"
        )
    return b


def integrated_gradients(
    model,
    X,
    baseline=None,
    steps: int = 64,
    output_index=None,
    batch_size: int = 128,
    return_delta: bool = False,
):
    """Integrated gradients along the straight path from ``baseline`` to ``X``.

    Parameters
    ----------
    model : keras.Model
    X : array, shape (n, *spatial, channels)
    baseline : None, scalar or array broadcastable to ``X``
        Reference input ``x0``.  Default: all zeros in the encoded space, i.e.
        the training-mean genotype for centred dosage, "missing" for one-hot
        (and homozygous non-counted allele for raw dosage).
    steps : int
        Trapezoidal-rule intervals (``steps + 1`` gradient evaluations per
        sample); 50 to 300 is typical.
    output_index : None, int or array of int
        The output explained; chosen at ``X`` (the predicted class for a
        classifier) and kept fixed along the path.
    batch_size : int
        Samples per gradient call.
    return_delta : bool
        Also return the completeness gap per sample,
        ``sum(attributions) - (f(x) - f(x0))``; it shrinks as ``steps`` grows.

    Returns
    -------
    attributions : float32 array with the shape of ``X``
    delta : float array of shape (n,), only with ``return_delta=True``
    """
    X = _input_array(model, X)
    batch_size = _check_batch(batch_size)
    if int(steps) < 1:
        raise InputError(
            f"Invalid value for argument `steps`. Expected >= 1. Received steps={steps}."
        )
    steps = int(steps)
    base = _baseline(X, baseline)
    t = _targets(model, X, output_index, batch_size)
    alphas = np.linspace(0.0, 1.0, steps + 1, dtype=np.float64)
    weights = np.full(steps + 1, 1.0 / steps)
    weights[[0, -1]] = 0.5 / steps
    fn = _grad_fn(model)
    attr = np.empty_like(X)
    delta = np.empty(len(X))
    for s in range(0, len(X), batch_size):
        xb = X[s : s + batch_size]
        bb = np.broadcast_to(base, X.shape)[s : s + batch_size] if base.ndim == X.ndim else base
        diff = (xb - bb).astype(np.float32)
        tb = tf.constant(t[s : s + batch_size])
        total = np.zeros(xb.shape, dtype=np.float64)
        f0 = f1 = None
        for k, (a, w) in enumerate(zip(alphas, weights)):
            xa = (bb + np.float32(a) * diff).astype(np.float32)
            g, v = fn(tf.constant(xa), tb)
            total += w * g.numpy()
            if k == 0:
                f0 = v.numpy()
            if k == steps:
                f1 = v.numpy()
        a_b = (diff * total).astype(np.float32)
        attr[s : s + batch_size] = a_b
        delta[s : s + batch_size] = a_b.reshape(len(xb), -1).sum(1, dtype=np.float64) - (
            f1.astype(np.float64) - f0
        )
    return (attr, delta) if return_delta else attr


# --------------------------------------------------------------------------- Grad-CAM
def _is_conv(layer) -> bool:
    return hasattr(layer, "kernel_size") and hasattr(layer, "strides")


def conv_layer_names(model) -> list[str]:
    """Names of the model's (top-level) convolutional layers, input to output."""
    return [layer.name for layer in model.layers if _is_conv(layer)]


def _nested_text(members) -> str:
    """Where a model's convolutions sit inside nested models, and what reaches them."""
    return (
        f"its convolutions are inside the nested model(s) {', '.join(m.name for m in members)} "
        f"(layers {', '.join(conv_layer_names(members[0]))}), which grad_cam() and "
        "activation_maps() do not reach from the whole model: snp_importance() averages the "
        "maps of averaged networks (the default with kept convolutions) on a layer named "
        "there; a transfer model (`images transfer`) wraps its base, so explain it with "
        "saliency, or explain the base model itself"
    )


def _get_layer(model, name: str | None):
    members = _conv_members(model)
    if name is None:
        convs = conv_layer_names(model)
        if not convs:
            if members:
                raise InputError(
                    f"the model has no convolutional layer of its own; {_nested_text(members)}"
                )
            raise InputError("the model has no convolutional layer; pass layer_name explicitly")
        name = convs[-1]
    try:
        return model.get_layer(name)
    except ValueError:
        if members and any(name in {lay.name for lay in m.layers} for m in members):
            raise InputError(
                f"layer '{name}' is not the model's own: {_nested_text(members)}"
            ) from None
        where = (
            _nested_text(members)
            if members
            else f"convolutional layers: {', '.join(conv_layer_names(model)) or '(none)'}"
        )
        raise InputError(f"the model has no layer named '{name}'; {where}") from None


def _sub_model(model, layers: Sequence, with_output: bool):
    try:
        outputs = [layer.output for layer in layers]
        if with_output:
            out = model.outputs[0] if isinstance(model.outputs, (list, tuple)) else model.output
            outputs.append(out)
        inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
        return keras.Model(inputs=inputs, outputs=outputs)
    except (AttributeError, ValueError) as exc:
        raise InputError(
            "activation and Grad-CAM maps need a functional or Sequential keras model with a "
            f"defined input ({type(exc).__name__}: {exc})"
        ) from None


def _spatial(shape) -> tuple[int, ...]:
    return tuple(int(s) for s in shape[1:-1])


def _trace_path(layer) -> list:
    """Layers from the model input to ``layer`` (inclusive), following first inputs."""
    path = [layer]
    tensor = layer.input
    if isinstance(tensor, (list, tuple)):
        tensor = tensor[0]
    for _ in range(10_000):
        op = tensor._keras_history.operation
        if isinstance(op, keras.layers.InputLayer) or type(op).__name__ == "InputLayer":
            return path[::-1]
        path.append(op)
        node = op._inbound_nodes[tensor._keras_history.node_index]
        tensor = node.input_tensors[0]
    raise RuntimeError("could not trace the layer back to the model input")


def _node_shapes(op):
    node = op._inbound_nodes[0]
    return node.input_tensors[0].shape, node.output_tensors[0].shape


def receptive_field_centres(model, layer_name: str) -> list[np.ndarray]:
    """Input coordinate of the receptive-field centre of each unit of a layer, per spatial axis.

    Traced through the chain of convolution and pooling layers (``valid``,
    ``same`` and ``causal`` padding, strides, dilation) that leads from the model
    input to the layer; layers that keep the spatial shape (activations, batch
    normalization, dropout) are transparent.  Where the geometry cannot be traced
    (resizing, reshaping, shared layers), units are spread proportionally:
    ``(i + 0.5) * L_in / L_out - 0.5``.

    Returns
    -------
    list of float arrays, one per spatial axis, each of the layer's length on that axis.
    """
    layer = _get_layer(model, layer_name)
    in_sp = _spatial(model.inputs[0].shape)
    out_sp = _spatial(layer.output.shape)
    if len(in_sp) != len(out_sp):
        raise InputError(
            f"layer '{layer.name}' has {len(out_sp)} spatial axes but the input has {len(in_sp)}"
        )
    rank = len(in_sp)
    proportional = [(np.arange(lo) + 0.5) * li / lo - 0.5 for li, lo in zip(in_sp, out_sp)]
    try:
        path = _trace_path(layer)
        start = np.zeros(rank)
        jump = np.ones(rank)
        for op in path:
            shp_in, shp_out = _node_shapes(op)
            s_in, s_out = _spatial(shp_in), _spatial(shp_out)
            if len(s_in) != rank or len(s_out) != rank:
                return proportional
            geom = None
            if _is_conv(op):
                k = np.asarray(op.kernel_size)
                d = np.asarray(getattr(op, "dilation_rate", (1,) * rank))
                geom = ((k - 1) * d + 1, np.asarray(op.strides), op.padding)
            elif hasattr(op, "pool_size") and hasattr(op, "strides"):
                geom = (np.asarray(op.pool_size), np.asarray(op.strides), op.padding)
            if geom is None:
                if s_in != s_out:
                    return proportional
                continue
            k, st, pad = geom
            for ax in range(rank):
                L = s_in[ax]
                if pad == "valid":
                    expect, left = (L - k[ax]) // st[ax] + 1, 0
                elif pad == "same":
                    expect = -(-L // st[ax])
                    left = max((expect - 1) * st[ax] + k[ax] - L, 0) // 2
                elif pad == "causal":
                    expect, left = -(-L // st[ax]), k[ax] - 1
                else:
                    return proportional
                if expect != s_out[ax]:
                    return proportional
                start[ax] += jump[ax] * (-left + (k[ax] - 1) / 2.0)
                jump[ax] *= st[ax]
        return [start[ax] + jump[ax] * np.arange(out_sp[ax]) for ax in range(rank)]
    except (AttributeError, IndexError, TypeError, ValueError, RuntimeError):
        return proportional


def _interp_axis(a: np.ndarray, axis: int, centres: np.ndarray, length: int) -> np.ndarray:
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 1:
        return np.repeat(np.take(a, [0], axis=axis), length, axis=axis)
    p = np.arange(length, dtype=np.float64)
    j = np.clip(np.searchsorted(c, p, side="right") - 1, 0, len(c) - 2)
    w = np.clip((p - c[j]) / (c[j + 1] - c[j]), 0.0, 1.0)
    shape = [1] * a.ndim
    shape[axis] = length
    w = w.reshape(shape)
    return np.take(a, j, axis=axis) * (1.0 - w) + np.take(a, j + 1, axis=axis) * w


def resample_to_input(maps: np.ndarray, centres: Sequence[np.ndarray], input_spatial) -> np.ndarray:
    """Linearly interpolate ``(n, *spatial_layer)`` maps to ``(n, *input_spatial)``.

    ``centres[a][i]`` is the input coordinate of unit ``i`` along spatial axis
    ``a``; values beyond the first/last centre are held constant.
    """
    out = np.asarray(maps, dtype=np.float64)
    for ax, (c, L) in enumerate(zip(centres, input_spatial)):
        out = _interp_axis(out, ax + 1, c, int(L))
    return out.astype(np.float32)


def _cam_fn(model, layer, elementwise: bool = False):
    key = getattr(model, _CAM_ATTR, None)
    if key is None:
        key = {}
        object.__setattr__(model, _CAM_ATTR, key)
    fn = key.get((layer.name, elementwise))
    if fn is None:
        sub = _sub_model(model, [layer], with_output=True)

        @tf.function(input_signature=_signature(model))
        def fn(x, idx):
            with tf.GradientTape() as tape:
                acts, out = sub(x, training=False)
                out = _as_2d(out)
                sel = tf.gather(out, idx[:, None], axis=1, batch_dims=1)[:, 0]
            g = tape.gradient(sel, acts)
            if elementwise:  # HiResCAM: each position's own gradient
                return tf.reduce_sum(acts * g, axis=-1)
            spatial_axes = list(range(1, len(acts.shape) - 1))
            w = tf.reduce_mean(g, axis=spatial_axes, keepdims=True)
            return tf.reduce_sum(acts * w, axis=-1)

        key[(layer.name, elementwise)] = fn
    return fn


def hires_cam(
    model,
    X,
    layer_name: str | None = None,
    output_index=None,
    batch_size: int = 128,
    upsample: bool = True,
    relu: bool = True,
) -> np.ndarray:
    """HiResCAM map (Draelos and Carin 2020) of the selected output on a convolutional layer.

    Grad-CAM (:func:`grad_cam`) weighs each filter by its gradient *averaged over positions*;
    HiResCAM multiplies each position's activations by that position's own gradient,
    ``sum_k A_ik dY/dA_ik``.  Where the layer feeds a flatten + dense head (the default's
    screened windows, ``deepgs``, ``dnngp``), that head has a weight per position, and
    Grad-CAM's average removes it: its map finds the active positions but not their order.
    HiResCAM keeps it: with a linear head after the layer, position ``i``'s score is exactly
    its contribution to the output.  Parameters and result as for :func:`grad_cam`.
    """
    return _cam_map(model, X, layer_name, output_index, batch_size, upsample, relu, True)


def grad_cam(
    model,
    X,
    layer_name: str | None = None,
    output_index=None,
    batch_size: int = 128,
    upsample: bool = True,
    relu: bool = True,
) -> np.ndarray:
    """Grad-CAM map of the selected output on a convolutional layer.

    Parameters
    ----------
    model : keras.Model
        Functional or Sequential.
    X : array, shape (n, *spatial, channels)
    layer_name : str, optional
        A layer whose output keeps the input's spatial rank (a convolution,
        usually the last one: the default).
    output_index : None, int or array of int
    batch_size : int
    upsample : bool
        Resample to input resolution (SNPs for rank 1, pixels for rank 2) by
        linear interpolation between receptive-field centres; False returns
        the map at the layer's resolution.
    relu : bool
        Keep only positive evidence (the published definition).

    Returns
    -------
    float32 array, shape (n, *input_spatial) (no channel axis: Grad-CAM is one
    score per position), or (n, *layer_spatial) with ``upsample=False``.
    """
    return _cam_map(model, X, layer_name, output_index, batch_size, upsample, relu, False)


def _cam_map(model, X, layer_name, output_index, batch_size, upsample, relu, elementwise):
    """Grad-CAM (``elementwise=False``) or HiResCAM map: see :func:`grad_cam`."""
    X = _input_array(model, X)
    batch_size = _check_batch(batch_size)
    layer = _get_layer(model, layer_name)
    out_sp = _spatial(layer.output.shape)
    if len(out_sp) != X.ndim - 2:
        raise InputError(
            f"layer '{layer.name}' output has shape {tuple(layer.output.shape)}; Grad-CAM needs a "
            f"layer with the input's {X.ndim - 2} spatial axes (a convolution or pooling layer)"
        )
    t = _targets(model, X, output_index, batch_size)
    fn = _cam_fn(model, layer, elementwise)
    cams = np.concatenate(
        [
            fn(tf.constant(X[s : s + batch_size]), tf.constant(t[s : s + batch_size])).numpy()
            for s in range(0, len(X), batch_size)
        ],
        axis=0,
    )
    if relu:
        cams = np.maximum(cams, 0.0)
    if not upsample:
        return cams.astype(np.float32)
    screen = _window_gather(model)
    if screen is not None and X.ndim == 3:
        return _scatter_windows(cams, screen, X.shape[1]).astype(np.float32)
    centres = receptive_field_centres(model, layer.name)
    return resample_to_input(cams, centres, X.shape[1:-1])


def _window_gather(model):
    """The model's ``WindowGather`` layer (the default's ``screen``), or None."""
    from snpcnn.models.layers import WindowGather

    for layer in model.layers:
        if isinstance(layer, WindowGather):
            return layer
    return None


def _scatter_windows(cams: np.ndarray, screen, n_snps: int) -> np.ndarray:
    """Map a rank-1 Grad-CAM map computed behind a ``WindowGather`` back to SNPs.

    The layer's units are spread evenly over the gathered sequence (windows laid end to
    end; with kernel = stride = window width, as in ``snpcnn_default``, unit k is window
    k); each gathered position takes its unit's value and is written to the SNP it came
    from (where windows overlap, the value of largest magnitude, with its sign: the
    largest signed value let a small positive value hide a large negative one, as relu=False
    keeps signs; a checking helper, session 39).  SNPs in no window get 0: the
    convolutions never see them.
    """
    pos = screen.positions()
    n, n_units = cams.shape[0], cams.shape[1]
    unit = np.minimum((np.arange(len(pos)) * n_units) // len(pos), n_units - 1)
    per = cams.reshape(n, n_units)[:, unit]
    out = np.zeros((n, n_snps), dtype=np.float64)
    for j in np.unique(pos):
        vals = per[:, pos == j]
        out[:, j] = vals[np.arange(n), np.argmax(np.abs(vals), axis=1)]
    return out


def _conv_members(model) -> list:
    """Sub-models that hold convolutions, for a model that averages networks (the default
    with kept convolutions, seed ensembles); empty when the model has its own."""
    import keras

    if conv_layer_names(model):
        return []
    return [
        layer
        for layer in model.layers
        if isinstance(layer, keras.Model) and conv_layer_names(layer)
    ]


def grad_cam_status(model) -> str | None:
    """Why Grad-CAM has nothing to show for ``model`` (None when it has).

    Convolutions whose contribution to the output is exactly zero (the default where its
    correction was dropped: the output layer's weights on them are 0) give a flat map.
    """
    members = _conv_members(model) or [model]
    if not any(conv_layer_names(m) for m in members):
        return "the model has no convolutional layer"
    for m in members:
        try:
            out = m.get_layer("output")
        except ValueError:
            return None
        w = out.get_weights()[0]
        n_lin = 1 if any(layer.name == "linear" for layer in m.layers) else 0
        n_out = w.shape[1]
        conv_rows = w[: w.shape[0] - n_lin * n_out] if n_lin else w
        if np.any(conv_rows != 0):
            return None
    return (
        f"the convolutions' correction was dropped (the model predicts its start, "
        f"{_start_of(model)}), so their Grad-CAM map is flat"
    )


def hybrid_parts(model) -> dict | None:
    """For the default's hybrid (a start plus a convolutional correction): which start it
    predicts and whether the correction was kept; None for other networks. explain says
    which model it explains (it said neither: a checking helper, session 39)."""
    members = _conv_members(model) or [model]
    names = {layer.name for m in members for layer in m.layers}
    if "linear" not in names and "screen" not in names:
        return None
    why = grad_cam_status(model)
    return {"start": _start_of(model), "convolutions_kept": why is None}


def grad_cam_caveat(model) -> str | None:
    """A note where Grad-CAM's map is not to be trusted although it is not flat: convolutions
    that feed a flatten + dense head, which weighs every position separately (``deepgs``,
    ``dnngp``, and the default's screened windows, one unit per window).  Grad-CAM weighs
    each filter by its gradient averaged over positions, which suits networks that pool
    globally; averaging the dense layer's per-position weights away left the top 20 SNPs of
    plain CNNs at chance on simulated traits where saliency put 90% next to a causal SNP (a
    checking helper, session 34; deepgs and dnngp, 800 x 1,000, 10 causal SNPs).  On the
    default it finds the screened windows but not their order: Spearman 0.06-0.52 between a
    window's Grad-CAM score and its contribution through the head, 0.92-0.95 for HiResCAM
    (a checking helper, session 42; 800 x 1,200, 5 pairs)."""
    import keras

    members = _conv_members(model) or [model]
    layers = [layer for m in members for layer in m.layers]
    if any(layer.name == "screen" for layer in layers):
        return (
            "the output weighs each screened window separately, and Grad-CAM averages those "
            "weights away: its map shows which windows the convolutions use, not how much "
            "each matters; HiResCAM (each window's own gradient) ranks them by their "
            "contribution (docs/explain.md)"
        )
    if not any(isinstance(layer, keras.layers.Flatten) for layer in layers):
        return None
    return (
        "this network flattens its convolutions into a dense layer, which weighs every "
        "position separately; Grad-CAM averages them away, and its map ranked simulated causal "
        "SNPs at chance for such networks (docs/explain.md): rank SNPs by saliency, "
        "gradient x input or HiResCAM"
    )


def _start_of(model) -> str:
    """The start a wide & deep model predicts, from its layers' names (the layers that
    training adds for a start other than the ridge: ``cnn_gp_start``, ``gblup_ad_start``,
    ``lasso_start``, ``mt_cnn_gp_start``)."""
    names = set()
    stack = [model]
    while stack:
        m = stack.pop()
        for layer in getattr(m, "layers", []):
            names.add(layer.name)
            stack.append(layer)
    for layer, label in (
        ("mt_cnn_gp_start", "the multi-trait CNN-GP"),
        ("cnn_gp_start", "the CNN-GP"),
        ("gblup_ad_start", "GBLUP-AD"),
        ("lasso_start", "the LASSO"),
    ):
        if layer in names:
            return label
    try:
        n_out = int(model.outputs[0].shape[-1])
    except (AttributeError, IndexError, TypeError, ValueError):
        n_out = 1
    if n_out > 1:  # several traits: the linear path holds either start (session 34)
        return "RR-BLUP per trait or the multi-trait GBLUP; run.json's refit_start says which"
    return "RR-BLUP"


# ------------------------------------------------------------------------ reductions
def reduce_channels(attributions, how: str = "sum") -> np.ndarray:
    """Per-position scores from attributions of shape (n, *spatial, channels).

    ``how``: ``sum`` (signed sum over channels: keeps IG completeness per
    position), ``abs_sum``, ``max_abs`` (Simonyan's saliency) or ``l2``.
    """
    a = np.asarray(attributions)
    if how == "sum":
        return a.sum(axis=-1)
    if how == "abs_sum":
        return np.abs(a).sum(axis=-1)
    if how == "max_abs":
        return np.abs(a).max(axis=-1)
    if how == "l2":
        return np.sqrt((a.astype(np.float64) ** 2).sum(axis=-1)).astype(a.dtype)
    raise InputError(f"unknown channel reduction '{how}'; choose sum, abs_sum, max_abs or l2")


def aggregate(scores, how: str = "mean_abs") -> np.ndarray:
    """Aggregate per-sample scores (n, *spatial) over samples: ``mean_abs`` or ``mean``."""
    s = np.asarray(scores, dtype=np.float64)
    if how == "mean_abs":
        return np.abs(s).mean(axis=0)
    if how == "mean":
        return s.mean(axis=0)
    raise InputError(f"unknown aggregation '{how}'; choose mean_abs or mean")


_CHANNEL_REDUCTION = {"saliency": "max_abs", "gradxinput": "sum", "integrated_gradients": "sum"}


def snp_importance(
    model,
    X,
    variants: pd.DataFrame,
    methods: Sequence[str] = METHODS,
    layer_name: str | None = None,
    output_index=None,
    baseline=None,
    steps: int = 64,
    batch_size: int = 128,
    return_arrays: bool = False,
    cam_relu: bool = False,
    progress=None,
):
    """Per-SNP importance along the genome, one column per method.

    Per sample and SNP the score is: saliency, the largest absolute gradient
    over the encoding channels; gradient x input and integrated gradients, the
    sum over channels (so IG scores still add up to ``f(x) - f(x0)``); Grad-CAM,
    the upsampled map, by default *without* the final ReLU (``cam_relu=False``)
    so that regions pushing a regression prediction down count as much as those
    pushing it up.  Each column is the mean absolute score over the samples in
    ``X``.

    Parameters
    ----------
    model : keras.Model
        A rank-1 model on input (n, n_snps, channels).
    X : array, shape (n, n_snps, channels)
        Encoded genotypes, encoded exactly as for training.
    variants : DataFrame
        One row per SNP column of ``X`` with ``chrom, pos, id``.
    methods : sequence of str
        Any of ``saliency, gradxinput, integrated_gradients, grad_cam, hirescam``.
    layer_name : str, optional
        Grad-CAM layer (default: the last convolution).
    output_index, baseline, steps, batch_size
        As in the individual methods.
    return_arrays : bool
        Also return ``{method: (n, n_snps) per-sample scores}``.
    cam_relu : bool
        Apply Grad-CAM's ReLU (positive evidence only) before aggregating.
    progress : callable, optional
        Called as ``progress("step_start" | "step_done", name=, index=, total=)``
        around each method (see :mod:`snpcnn.progress`); ``step_done`` also gets
        ``work_done`` and ``work_total``, the methods' costs in passes over ``X`` (the
        ETA: integrated gradients takes ``steps + 1`` of them, gradxinput reuses
        saliency's).

    Returns
    -------
    DataFrame (``chrom, pos, id`` + one column per method), and the dict of
    per-sample arrays with ``return_arrays=True``.  Where the model's convolutions
    contribute nothing to its output (the default whose correction was dropped: it
    predicts its start), ``grad_cam`` and ``hirescam`` have no map: their column and
    arrays are NaN and a ``UserWarning`` says why (:func:`grad_cam_status`), not a flat
    map of zeros that sorts the SNPs in file order.
    """
    model = keras_model_of(model)
    X = _input_array(model, X)
    if X.ndim != 3:
        raise InputError(
            f"snp_importance needs rank-1 SNP input (samples, SNPs, channels); got shape {X.shape}"
        )
    variants = pd.DataFrame(variants).reset_index(drop=True)
    if len(variants) != X.shape[1]:
        raise InputError(
            f"the variant table has {len(variants)} rows but X has {X.shape[1]} SNP columns; "
            "pass the variants the input was encoded from"
        )
    if isinstance(methods, str):  # one name: "unknown method 's'" (a checking helper)
        methods = [methods]
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InputError(
            f"unknown method '{unknown[0] if unknown else ''}'; choose from {', '.join(METHODS)}"
        )
    cols = [c for c in ("chrom", "pos", "id") if c in variants]
    out = variants[cols].copy()
    arrays: dict[str, np.ndarray] = {}
    t = _targets(model, X, output_index, _check_batch(batch_size))
    grads = None
    dropped = None
    if {"grad_cam", "hirescam"} & set(methods):
        why = grad_cam_status(model)
        if why is not None and why.startswith("the convolutions' correction was dropped"):
            dropped = why
    # each method's cost in gradient passes over X: saliency and gradxinput share one
    costs = []
    for m in methods:
        shared = m in ("saliency", "gradxinput") and {"saliency", "gradxinput"} & set(
            methods[: len(costs)]
        )
        costs.append(0 if shared else int(steps) + 1 if m == "integrated_gradients" else 1)
    for i, m in enumerate(methods, 1):
        if progress:
            progress("step_start", name=m, index=i, total=len(methods))
        if m in ("saliency", "gradxinput"):
            if grads is None:
                grads = _gradients(model, X, t, batch_size)[0]
            attr = grads if m == "saliency" else X * grads
            per = reduce_channels(attr, _CHANNEL_REDUCTION[m])
        elif m == "integrated_gradients":
            attr = integrated_gradients(model, X, baseline, steps, t, batch_size)
            per = reduce_channels(attr, "sum")
        elif dropped is not None:
            # the convolutions contribute nothing (weights 0): no map, not a flat one (the
            # Python API returned zeros without a word, the CLI skips them: session 47)
            per = np.full(X.shape[:2], np.nan, dtype=np.float32)
            warnings.warn(f"{m}: {dropped}; its column is NaN", UserWarning, stacklevel=2)
        else:
            members = _conv_members(model)
            if layer_name is not None and not all(
                layer_name in {lay.name for lay in sub.layers} for sub in members
            ):
                members = []  # a layer of the model itself (or a clear error below)
            cam = grad_cam if m == "grad_cam" else hires_cam
            if members:  # an average of networks: the average of their maps (on one layer)
                per = np.mean(
                    [cam(sub, X, layer_name, t, batch_size, relu=cam_relu) for sub in members],
                    axis=0,
                )
            else:
                per = cam(model, X, layer_name, t, batch_size, relu=cam_relu)
        arrays[m] = per.astype(np.float32)
        out[m] = aggregate(per)
        if progress:
            progress(
                "step_done",
                name=m,
                index=i,
                total=len(methods),
                work_done=sum(costs[:i]),
                work_total=sum(costs),
            )
    return (out, arrays) if return_arrays else out


# ------------------------------------------------------------------ activation maps
def activation_maps(model, X, layer_names, batch_size: int = 128) -> dict[str, np.ndarray]:
    """Outputs of the named layers for every sample of ``X``.

    Returns
    -------
    dict
        ``name -> array (n, *layer_spatial, channels)``.
    """
    X = _input_array(model, X)
    batch_size = _check_batch(batch_size)
    if isinstance(layer_names, str):
        layer_names = [layer_names]
    layers = [_get_layer(model, n) for n in layer_names]
    if not layers:
        raise InputError("activation_maps: give at least one layer name")
    sub = _sub_model(model, layers, with_output=False)
    parts: list[list[np.ndarray]] = [[] for _ in layers]
    for s in range(0, len(X), batch_size):
        res = sub(tf.constant(X[s : s + batch_size]), training=False)
        if not isinstance(res, (list, tuple)):
            res = [res]
        for i, r in enumerate(res):
            parts[i].append(np.asarray(r))
    return {layer.name: np.concatenate(p, axis=0) for layer, p in zip(layers, parts)}


def plot_activations(
    maps: dict[str, np.ndarray],
    path,
    sample: int = 0,
    max_channels: int = 16,
    force: bool = False,
) -> Path:
    """Save the activation maps of one sample as a PNG grid.

    Rank-1 maps (n, length, channels) are drawn as heat rows (one row per
    channel, position along the genome on the x axis); rank-2 maps
    (n, H, W, channels) as a row of images, one per channel (at most
    ``max_channels`` per layer).
    """
    from matplotlib.figure import Figure

    if not maps:
        raise InputError("plot_activations: no activation maps given")
    plots.check_writable(path, force)
    names = list(maps)
    ranks = {n: np.asarray(maps[n]).ndim - 2 for n in names}
    if any(r not in (1, 2) for r in ranks.values()):
        raise InputError("plot_activations handles rank-1 (n, L, C) and rank-2 (n, H, W, C) maps")
    ncols = max(
        [min(max_channels, np.asarray(maps[n]).shape[-1]) for n in names if ranks[n] == 2] or [1]
    )
    heights = [
        1.6 if ranks[n] == 2 else 0.9 + 0.12 * min(max_channels, maps[n].shape[-1]) for n in names
    ]
    fig = Figure(figsize=(max(8.0, 1.4 * ncols), sum(heights) + 0.3 * len(names)))
    gs = fig.add_gridspec(len(names), ncols, height_ratios=heights, hspace=0.6)
    for r, name in enumerate(names):
        a = np.asarray(maps[name])
        if not 0 <= sample < len(a):
            raise InputError(f"sample {sample} is out of range (0..{len(a) - 1})")
        a = a[sample]
        k = min(max_channels, a.shape[-1])
        if ranks[name] == 1:
            ax = fig.add_subplot(gs[r, :])
            plots.heat_rows(
                ax,
                a[:, :k].T,
                title=f"{name}: {a.shape[-1]} channels x {a.shape[0]} positions (first {k} shown)",
                xlabel="position in the layer's input order (feature-map units)",
                ylabel="channel",
            )
        else:
            for c in range(k):
                ax = fig.add_subplot(gs[r, c])
                ax.imshow(a[..., c], cmap="magma", interpolation="nearest")
                ax.axis("off")
                ax.set_title(f"{name}:{c}" if c == 0 else str(c), fontsize=6)
    return plots.save_figure(fig, path, force=force)


# ------------------------------------------------------------------- filter patterns
def filter_patterns(
    model,
    layer_name: str,
    filters: Sequence[int] | None = None,
    method: str | None = None,
    steps: int = 60,
    step_size: float = 0.1,
    seed: int = 0,
) -> np.ndarray:
    """What the filters of a convolutional layer respond to.

    Parameters
    ----------
    model : keras.Model
    layer_name : str
    filters : sequence of int, optional
        Filters to show (default: all, at most 64).
    method : {"weights", "ascent"}, optional
        ``weights``: the kernels themselves, shape (n_filters, *kernel_size,
        in_channels) -- for a first layer on SNPs these are weight profiles over
        a window of SNPs (the default for rank 1).  ``ascent``: the input that
        maximizes the filter's mean activation over the spatial axes, found by
        normalized gradient ascent from seeded Gaussian noise, shape
        (n_filters, *input_spatial, channels) (the default for rank 2).  A
        convolution without its own activation is scored through a ReLU (its plain
        mean is linear in the input); with ``ascent`` any layer that keeps the
        input's spatial axes may be named (e.g. a convolution's activation layer).
    steps, step_size : gradient-ascent iterations and step (``ascent`` only).
    seed : int
        Seed of the starting noise.

    Returns
    -------
    float32 array (see ``method``).
    """
    layer = _get_layer(model, layer_name)
    shape = tuple(model.inputs[0].shape[1:])
    spatial = len(layer.output.shape) == len(shape) + 1  # (batch, *spatial, channels)
    if not _is_conv(layer) and not (spatial and method == "ascent"):
        raise InputError(
            f"layer '{layer.name}' is not a convolution; filter patterns need one (or, with "
            "method='ascent', a layer with the input's spatial axes, e.g. its activation)"
        )
    rank = len(layer.kernel_size) if _is_conv(layer) else len(shape) - 1
    method = method or ("weights" if rank == 1 else "ascent")
    n_filters = int(layer.output.shape[-1])
    # a convolution without an activation of its own (snpcnn's blocks put it in a layer of
    # its own, `*_act`): its mean output is linear in the input, so gradient ascent would
    # find only the sign of each kernel's sum, a uniform image (a checking helper, session
    # 34); it is scored through a ReLU instead, what its activation layer usually applies
    rectify = _is_conv(layer) and getattr(getattr(layer, "activation", None), "__name__", "") in (
        "linear",
        "identity",
    )
    idx = np.arange(min(n_filters, 64)) if filters is None else np.asarray(filters, dtype=int)
    if idx.size == 0 or idx.min() < 0 or idx.max() >= n_filters:
        raise InputError(f"filter indices must lie in 0..{n_filters - 1}")
    if method == "weights":
        kernel = np.asarray(layer.kernel)  # (*k, in, out); depthwise kernels differ
        if kernel.shape[-1] != n_filters:
            raise InputError(
                f"layer '{layer.name}' kernel is not (.., in, filters); use method='ascent'"
            )
        return np.moveaxis(kernel, -1, 0)[idx].astype(np.float32)
    if method != "ascent":
        raise InputError(f"unknown method '{method}'; choose 'weights' or 'ascent'")
    if any(s is None for s in shape):
        raise InputError("gradient ascent needs a model with a fully defined input shape")
    sub = _sub_model(model, [layer], with_output=False)
    rng = np.random.default_rng(seed)
    x = tf.Variable(rng.normal(0.0, 0.1, (len(idx),) + shape).astype(np.float32))
    sel = tf.constant(idx.astype(np.int32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            acts = sub(x, training=False)
            if rectify:
                acts = tf.nn.relu(acts)
            acts = tf.reshape(acts, (tf.shape(acts)[0], -1, acts.shape[-1]))
            per = tf.gather(acts, sel[:, None], axis=2, batch_dims=1)[..., 0]
            loss = tf.reduce_sum(tf.reduce_mean(per, axis=1))
        g = tape.gradient(loss, x)
        axes = list(range(1, len(x.shape)))
        g = g / (tf.sqrt(tf.reduce_mean(tf.square(g), axis=axes, keepdims=True)) + 1e-8)
        x.assign_add(step_size * g)

    for _ in range(int(steps)):
        step()
    return x.numpy()


def plot_filter_patterns(patterns, path, titles=None, force: bool = False) -> Path:
    """Save filter patterns as a PNG grid: line profiles for rank 1, images for rank 2.

    ``patterns`` comes from :func:`filter_patterns`: (n, length, channels) is
    drawn as one line plot per filter (one line per input channel), (n, H, W,
    channels) as an image grid (channel mean unless 1 or 3 channels).
    """
    p = np.asarray(patterns, dtype=np.float32)
    titles = titles if titles is not None else [f"filter {i}" for i in range(len(p))]
    if p.ndim == 3:
        labels = None if p.shape[2] == 1 else [f"channel {c}" for c in range(p.shape[2])]
        return plots.line_grid(
            p,
            path,
            titles=titles,
            series_labels=labels,
            xlabel="position in the window (SNPs; the window's own order)",
            force=force,
        )
    if p.ndim == 4:
        if p.shape[-1] not in (1, 3):
            p = p.mean(axis=-1)
        return plots.image_grid(p, path, titles=titles, force=force)
    raise InputError(f"filter patterns of shape {p.shape} are neither rank 1 nor rank 2")


# ------------------------------------------------------------------------- Manhattan
def plot_manhattan(
    importance: pd.DataFrame,
    column: str,
    path,
    assoc: pd.DataFrame | None = None,
    top_k: int = 10,
    assoc_column: str = "neglog10p",
    highlight=None,
    force: bool = False,
) -> dict:
    """Importance along the genome (and, optionally, the marginal association beside it).

    Parameters
    ----------
    importance : DataFrame
        From :func:`snp_importance` (``chrom, pos, id`` and ``column``); with a boolean
        ``imputed`` column (``snpcnn explain``'s importance.csv), those SNPs' labels end in
        "(absent)".
    column : str
        The importance column to draw.
    path : path
        PNG to write.
    assoc : DataFrame, optional
        From :func:`snpcnn.stats.marginal_association`, same SNPs (matched by
        ``id`` when both have one, else by row).  Drawn in a second panel below,
        titled with the Spearman rank correlation between the two columns.
    top_k : int
        Label the ``top_k`` SNPs of each panel.
    assoc_column : str
    highlight : array of int, optional
        Row indices to ring in red (e.g. simulated causal SNPs).
    force : bool

    Returns
    -------
    dict
        ``path``, ``spearman`` and ``spearman_p`` (None without ``assoc``).
    """
    from matplotlib.figure import Figure

    if column not in importance:
        raise InputError(f"importance table has no column '{column}'; columns: {list(importance)}")
    plots.check_writable(path, force)
    imp = importance.reset_index(drop=True)
    chrom = imp["chrom"] if "chrom" in imp else np.zeros(len(imp))
    pos = imp["pos"] if "pos" in imp else np.arange(len(imp))
    labels = imp["id"].astype(str).to_numpy() if "id" in imp else None
    if labels is not None and "imputed" in imp:
        # absent from the genotypes, filled with the training mean: labelled as the console
        # marks them (a top SNP looked like any other in the plot; a checking helper,
        # session 43)
        absent = imp["imputed"].fillna(False).to_numpy(dtype=bool)
        labels = np.where(absent, np.char.add(labels.astype(str), " (absent)"), labels)
    rho = rho_p = None
    a_vals = None
    if assoc is not None:
        if assoc_column not in assoc:
            raise InputError(f"association table has no column '{assoc_column}'")
        if "id" in assoc and "id" in imp:
            a_vals = (
                pd.Series(assoc[assoc_column].to_numpy(), index=assoc["id"].astype(str))
                .groupby(level=0)
                .first()
                .reindex(imp["id"].astype(str))
                .to_numpy(dtype=float)
            )
            if np.isnan(a_vals).all():
                raise InputError("no SNP id of the association table matches the importance table")
        elif len(assoc) == len(imp):
            a_vals = assoc[assoc_column].to_numpy(dtype=float)
        else:
            raise InputError(
                f"association table has {len(assoc)} rows, importance table {len(imp)}; give ids"
            )
        v = imp[column].to_numpy(dtype=float)
        ok = np.isfinite(v) & np.isfinite(a_vals)
        if ok.sum() >= 3 and np.ptp(v[ok]) > 0 and np.ptp(a_vals[ok]) > 0:  # else undefined
            res = sps.spearmanr(v[ok], a_vals[ok])
            rho, rho_p = float(res.statistic), float(res.pvalue)
    n_panels = 1 if a_vals is None else 2
    fig = Figure(figsize=(11, 3.2 * n_panels))
    ax = fig.add_subplot(n_panels, 1, 1)
    plots.manhattan(
        ax,
        chrom,
        pos,
        imp[column].to_numpy(dtype=float),
        labels=labels,
        top_k=top_k,
        ylabel=f"{column} (mean |score|)",
        title=f"SNP importance: {column}",
        highlight=highlight,
    )
    if a_vals is not None:
        ax2 = fig.add_subplot(2, 1, 2)
        rho_txt = "n/a" if rho is None else f"{rho:.3f}"
        plots.manhattan(
            ax2,
            chrom,
            pos,
            a_vals,
            labels=labels,
            top_k=top_k,
            ylabel=f"marginal {assoc_column}",
            title=f"Marginal association; Spearman rank correlation with {column}: rho = {rho_txt}",
            highlight=highlight,
        )
    fig.tight_layout()
    out = plots.save_figure(fig, path, force=force)
    return {"path": out, "spearman": rho, "spearman_p": rho_p}


def grad_cam_overlay(
    image,
    heatmap,
    path,
    alpha: float = 0.45,
    cmap: str = "jet",
    title: str = "",
    force: bool = False,
) -> Path:
    """Save an image, its Grad-CAM heatmap and the heatmap overlaid on the image.

    Parameters
    ----------
    image : array (H, W), (H, W, 1) or (H, W, 3)
    heatmap : array (h, w)
        E.g. one sample of :func:`grad_cam`; resampled proportionally to (H, W)
        if its size differs; scaled to [0, 1] for display.
    path : path
        PNG to write.
    alpha : float
        Opacity of the heatmap over the image.
    """
    from matplotlib.figure import Figure

    img = np.asarray(image, dtype=np.float32)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3):
        raise InputError(f"grad_cam_overlay expects an (H, W) or (H, W, 3) image; got {img.shape}")
    h = np.asarray(heatmap, dtype=np.float32)
    if h.ndim != 2:
        raise InputError(f"grad_cam_overlay expects a 2-D heatmap; got shape {h.shape}")
    plots.check_writable(path, force)
    if h.shape != img.shape[:2]:
        centres = [(np.arange(lo) + 0.5) * li / lo - 0.5 for li, lo in zip(img.shape[:2], h.shape)]
        h = resample_to_input(h[None], centres, img.shape[:2])[0]
    lo, hi = float(h.min()), float(h.max())
    h = (h - lo) / (hi - lo) if hi > lo else np.zeros_like(h)
    ilo, ihi = float(img.min()), float(img.max())
    img = (img - ilo) / (ihi - ilo) if ihi > ilo else np.zeros_like(img)
    fig = Figure(figsize=(7.5, 2.8))
    for i, (what, data) in enumerate((("image", img), ("Grad-CAM", h), ("overlay", None))):
        ax = fig.add_subplot(1, 3, i + 1)
        ax.axis("off")
        ax.set_title(what, fontsize=9)
        if what == "overlay":
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, interpolation="nearest")
            ax.imshow(h, cmap=cmap, alpha=alpha, interpolation="bilinear")
        elif what == "image":
            ax.imshow(data, cmap="gray" if data.ndim == 2 else None, interpolation="nearest")
        else:
            ax.imshow(data, cmap=cmap, interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=10)
    return plots.save_figure(fig, path, force=force)
