"""Transfer learning for any rank: feature extraction, fine-tuning, pretrained bases.

Everything here works on a trained convolutional *base*, whatever its rank: a 2-D
image network (LeNet-5 trained on MNIST, a Keras application with ImageNet weights)
or a 1-D SNP network trained on one trait or population and reused for another.

Two recipes (Chollet, *Deep Learning with Python*, ch. 8; the Keras transfer-learning
guide):

* **Feature extraction** -- run the frozen base over the data once
  (:func:`extract_features`, optionally saved with ``np.save``), then fit a small dense
  head or any scikit-learn model on the features (:func:`fit_on_features`).  Cheap:
  the base runs once, not once per epoch.
* **Fine-tuning** -- put a new head on the frozen base (:func:`build_transfer_model`),
  train the head, then unfreeze the last N layers of the base and train on at a low
  learning rate (:func:`unfreeze_last`).  BatchNormalization layers stay frozen by
  default, and in Keras 3 a frozen BatchNormalization layer runs in inference mode
  (moving statistics used and never updated).  Note that Keras 3 propagates the outer
  ``training`` flag into nested models, so ``base(x, training=False)`` would *not*
  pin them; freezing them is what does.

Pretrained Keras applications are loaded from a **local** weights file only
(:func:`load_application`); snpcnn never downloads.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from snpcnn.errors import InputError

__all__ = [
    "APPLICATIONS",
    "HEADS",
    "application_preprocess",
    "application_weights_filename",
    "application_weights_url",
    "build_transfer_model",
    "conv_base",
    "extract_features",
    "fine_tune",
    "fit_on_features",
    "freeze",
    "infer_head",
    "keras_models_dir",
    "load_application",
    "transfer_snp_model",
    "unfreeze_last",
]

HEADS = ("regression", "binary", "multiclass")

_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"

#: canonical name -> (keras.applications constructor, weights file stem, URL folder, min size)
APPLICATIONS: dict[str, tuple[str, str, str, int]] = {
    "VGG16": ("VGG16", "vgg16", "vgg16", 32),
    "VGG19": ("VGG19", "vgg19", "vgg19", 32),
    "ResNet50": ("ResNet50", "resnet50", "resnet", 32),
    "MobileNet": ("MobileNet", "mobilenet", "mobilenet", 32),
    "Xception": ("Xception", "xception", "xception", 71),
    "InceptionV3": ("InceptionV3", "inception_v3", "inception_v3", 75),
}


# --------------------------------------------------------------------------- helpers


def _keras():
    import keras

    return keras


def _check_head(head: str) -> str:
    if head not in HEADS:
        raise InputError(
            f"Invalid value for argument `head`. Expected one of {', '.join(HEADS)}. "
            f"Received head={head!r}."
        )
    return head


def infer_head(model) -> str:
    """Guess the head of a model from the activation of its last layer.

    ``softmax`` -> ``"multiclass"``, ``sigmoid`` -> ``"binary"``, anything else ->
    ``"regression"``.
    """
    from snpcnn.models import head_of

    try:
        return head_of(model)
    except InputError:
        pass
    layer = model.layers[-1]
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", str(act) if act is not None else "linear")
    if layer.__class__.__name__ == "Softmax" or name == "softmax":
        return "multiclass"
    if name == "sigmoid":
        return "binary"
    return "regression"


def _atomic_npy(path: Path, array: np.ndarray, *, force: bool) -> None:
    if path.exists() and not force:
        raise InputError(f"{path}: already exists; pass --force (force=True) to overwrite")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, array)
        from snpcnn.io.output import ready_to_replace

        ready_to_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _load(model_or_path):
    """A keras.Model, or one loaded from a ``.keras`` file."""
    keras = _keras()
    if isinstance(model_or_path, keras.Model):
        return model_or_path
    path = Path(model_or_path)
    if not path.is_file():
        raise InputError(f"{path}: no such model file; pass a saved .keras model")
    try:
        from snpcnn.models import load_model
    except ImportError:  # pragma: no cover - models package not importable
        load_model = keras.models.load_model
    try:
        return load_model(path)
    except InputError:
        raise
    except Exception as exc:
        raise InputError(
            f"{path}: could not load a Keras model ({type(exc).__name__}: {exc})"
        ) from None


# --------------------------------------------------------------------------- bases


_BASE_END = (
    "Flatten",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
)


def conv_base(model, layer: str | int | None = None, *, name: str = "base"):
    """The convolutional base of a trained model: everything up to its feature layer.

    Parameters
    ----------
    model : keras.Model or path
        A trained functional or sequential model (or a saved ``.keras`` file).
    layer : str or int, optional
        Name or index of the last layer to keep.  By default the last ``Flatten`` or
        global pooling layer (where the convolutional part ends and the dense head
        begins); failing that, the last layer whose output has a spatial axis.
    name : str, default "base"
        Name of the returned model.

    Returns
    -------
    keras.Model
        Shares its layers (and weights) with ``model``; where ``model`` begins with an
        ``augment`` layer (:func:`snpcnn.images.add_augmentation`), that layer is left out
        and the base is a copy with the same weights.

    Examples
    --------
    >>> base = conv_base(trained_lenet)  # doctest: +SKIP
    >>> base.output_shape  # doctest: +SKIP
    (None, 400)
    """
    keras = _keras()
    model = _load(model)
    if not model.built or not getattr(model, "inputs", None):
        raise InputError("conv_base: the model has no defined inputs; build or call it first")
    layers = model.layers
    if layer is None:
        chosen = None
        for lyr in reversed(layers):
            if lyr.__class__.__name__ in _BASE_END:
                chosen = lyr
                break
        if chosen is None:
            for lyr in reversed(layers):
                shape = getattr(lyr, "output", None)
                if shape is not None and len(lyr.output.shape) >= 3:
                    chosen = lyr
                    break
        if chosen is None:
            raise InputError(
                f"conv_base: model {model.name!r} has no Flatten, global pooling or spatial layer; "
                "pass layer= to say where the base ends"
            )
    elif isinstance(layer, int):
        try:
            chosen = layers[layer]
        except IndexError:
            raise InputError(
                f"conv_base: layer index {layer} out of range (model has {len(layers)} layers)"
            ) from None
    else:
        try:
            chosen = model.get_layer(layer)
        except ValueError:
            names = ", ".join(lyr.name for lyr in layers)
            raise InputError(f"conv_base: no layer named {layer!r}; layers are: {names}") from None
    # a single input as a tensor, not a one-element list: callers pass one array
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    aug = _leading_augmentation(model)
    if aug is not None and aug is not chosen and chosen.__class__.__name__ != "InputLayer":
        # the base model's own augmentation (snpcnn.images.add_augmentation) is left out:
        # it changed every image of the new data while the head trained (Keras runs random
        # layers with training=True, frozen or not; a checking helper, session 40).  The
        # part after it is rebuilt as a graph of its own (same weights, new layers): a model
        # cut from an intermediate tensor shares layers whose outputs belong to the old
        # graph, so cutting it again or explaining it failed (a reviewer, session 41)
        cut = keras.Model(aug.output, chosen.output)
        config = cut.get_config()
        config["name"] = name
        base = keras.Model.from_config(config)
        base.set_weights(cut.get_weights())
    else:
        base = keras.Model(inputs, chosen.output, name=name)
    if layer is None and not base.weights:
        # nothing trained up to where the base would end: it would be the raw input (the
        # default snpcnn hybrid keeps its convolutions in averaged sub-networks beside a
        # fitted start, with no convolutional base of its own)
        raise InputError(
            f"conv_base: model {model.name!r} has no trained convolutional base to reuse (no "
            f"weights up to its layer {chosen.name!r}; the default snpcnn model is a fitted "
            "start plus averaged convolutional corrections); transfer from a plain CNN such as "
            "`snpcnn fit --model deepgs`, or pass layer= to say where the base ends"
        )
    return base


def _leading_augmentation(model):
    """The ``augment`` layer that :func:`snpcnn.images.add_augmentation` put right after a
    one-input model's input (its only reader), or None."""
    from snpcnn.images import input_readers

    if len(getattr(model, "inputs", None) or ()) != 1:
        return None
    readers = input_readers(model)
    if len(readers) == 1 and readers[0].name == "augment":
        return readers[0]
    return None


def freeze(model, trainable: bool = False):
    """Set ``trainable`` on a model and all its layers (recursively); return the model."""
    model.trainable = trainable
    return model


def extract_features(
    base,
    x: np.ndarray,
    *,
    batch_size: int = 256,
    out: str | os.PathLike | None = None,
    force: bool = False,
) -> np.ndarray:
    """Run a (frozen) base over the data once and return its features.

    Parameters
    ----------
    base : keras.Model
        E.g. from :func:`conv_base` or :func:`load_application`; run in inference mode.
    x : numpy.ndarray
        Inputs with the shape the base expects (images, or encoded genotypes).
    batch_size : int, default 256
    out : path, optional
        Also save the features with ``np.save`` (atomically) to this ``.npy`` file.
    force : bool, default False
        Overwrite an existing ``out``.

    Returns
    -------
    numpy.ndarray
        ``(n_samples, *base.output_shape[1:])`` float32.
    """
    if out is not None:
        out = Path(out)
        if out.suffix != ".npy":
            out = out.with_name(out.name + ".npy")
        if out.exists() and not force:
            raise InputError(f"{out}: already exists; pass --force (force=True) to overwrite")
    if np.asarray(x).dtype.kind in "uib":  # raw 0-255 images: features 255x too large
        raise InputError(
            f"x holds {np.asarray(x).dtype} values, not the base's float input: prepare "
            "images as the base was trained (snpcnn.images.prepare_images(x); an ImageNet "
            "application: application_preprocess(name, prepare_images(x, channels=3) * 255)) "
            "first"
        )
    want = tuple(base.inputs[0].shape[1:])
    got = tuple(np.shape(x)[1:])
    if len(want) != len(got) or any(w is not None and w != g for w, g in zip(want, got)):
        raise InputError(
            f"extract_features: inputs have shape {got} per sample but the base expects {want}"
        )
    feats = np.asarray(base.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)
    if out is not None:
        _atomic_npy(out, feats, force=force)
    return feats


def fit_on_features(
    features: np.ndarray,
    y: np.ndarray,
    model: Any = "dense",
    *,
    head: str = "multiclass",
    n_outputs: int | None = None,
    hidden: Sequence[int] = (64,),
    dropout: float = 0.0,
    epochs: int = 20,
    batch_size: int = 64,
    learning_rate: float = 1e-3,
    validation_split: float = 0.0,
    seed: int | None = 0,
    jit_compile: bool = False,
    verbose: int = 0,
):
    """Fit a dense head or any scikit-learn model on extracted features.

    Parameters
    ----------
    features : numpy.ndarray
        From :func:`extract_features`; flattened to ``(n_samples, -1)``.
    y : numpy.ndarray
        Targets: class indices (multiclass), 0/1 (binary) or values (regression).
    model : "dense" or scikit-learn estimator, default "dense"
        ``"dense"`` builds and trains a small Keras head; an estimator (e.g.
        ``LogisticRegression()``, ``Ridge()``) is fitted with ``fit(X, y)``.
    head : {"regression", "binary", "multiclass"}, default "multiclass"
        For ``"dense"``: output activation and loss.
    n_outputs : int, optional
        For ``"dense"``: output units (default: number of classes for multiclass, 1 else).
    hidden : sequence of int, default (64,)
        Hidden dense layers of the Keras head.
    dropout : float, default 0
        Dropout before the output layer.
    epochs, batch_size, learning_rate, validation_split, seed, verbose
        Training settings of the Keras head (``validation_split`` takes the last
        fraction, as Keras does).
    jit_compile : bool, default False
        For ``"dense"``: compile the train step with XLA (TensorFlow op determinism then
        stays off, as in :func:`fine_tune`).

    Returns
    -------
    keras.Model or estimator
        The fitted head / estimator (``predict`` takes the same features).
    """
    x2 = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    y = np.asarray(y)
    if len(x2) != len(y):
        raise InputError(f"fit_on_features: {len(x2)} feature rows but {len(y)} targets")
    if not isinstance(model, str):
        if not hasattr(model, "fit"):
            raise InputError(
                f"fit_on_features: model must be 'dense' or a scikit-learn estimator, got {model!r}"
            )
        return model.fit(x2, y)
    if model != "dense":
        raise InputError(f"fit_on_features: unknown model {model!r}; use 'dense' or an estimator")
    _check_head(head)
    keras = _keras()
    from snpcnn.images import seeded
    from snpcnn.models import compile_model
    from snpcnn.models.heads import output_layer

    if n_outputs is None:
        n_outputs = int(y.max()) + 1 if head == "multiclass" else 1
    with seeded(seed, deterministic=not jit_compile):  # Keras refuses XLA under determinism
        inputs = keras.Input(x2.shape[1:], name="features")
        h = inputs
        for i, units in enumerate(hidden):
            h = keras.layers.Dense(int(units), activation="relu", name=f"head_dense{i + 1}")(h)
        if dropout:
            h = keras.layers.Dropout(dropout, name="head_dropout")(h)
        outputs = output_layer(head, n_outputs)(h)
        net = keras.Model(inputs, outputs, name="feature_head")
        compile_model(net, head, learning_rate=learning_rate, jit_compile=jit_compile)
        net.fit(
            x2,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_split=validation_split,
            verbose=verbose,
        )
    return net


# --------------------------------------------------------------------------- fine-tuning


def build_transfer_model(
    base,
    n_outputs: int,
    head: str = "multiclass",
    *,
    freeze_base: bool = True,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    pooling: str = "auto",
    name: str = "transfer",
):
    """A new head on a (frozen) base.

    The base is wrapped as one nested layer named ``"base"``, the new output layer is
    named ``"output"`` (as in :func:`snpcnn.models.build_model`).  While frozen, the
    base's BatchNormalization layers run in inference mode (Keras 3 semantics of
    ``trainable=False``); :func:`unfreeze_last` keeps them frozen by default.

    Parameters
    ----------
    base : keras.Model
        From :func:`conv_base` or :func:`load_application`.
    n_outputs : int
        Output units of the new head (classes, or 1 for regression/binary).
    head : {"regression", "binary", "multiclass"}, default "multiclass"
    freeze_base : bool, default True
        Freeze every layer of the base.
    hidden : sequence of int, default ()
        Hidden dense layers of the new head.
    dropout : float, default 0
        Dropout before the output layer.
    pooling : {"auto", "flatten", "avg", "max"}, default "auto"
        How a spatial base output becomes a vector: ``"auto"`` = global average
        pooling (``"flatten"`` keeps positions; large for ImageNet bases).
    name : str, default "transfer"

    Returns
    -------
    keras.Model
        Not compiled (use :func:`snpcnn.models.compile_model` or :func:`fine_tune`).
    """
    keras = _keras()
    from snpcnn.models.heads import output_layer

    _check_head(head)
    if isinstance(n_outputs, bool) or not isinstance(n_outputs, int) or n_outputs < 1:
        raise InputError(
            f"Invalid value for argument `n_outputs`. Expected a strictly positive integer. "
            f"Received n_outputs={n_outputs!r}."
        )
    if pooling not in ("auto", "flatten", "avg", "max"):
        raise InputError(
            f"Invalid value for argument `pooling`. Expected auto, flatten, avg or max. "
            f"Received pooling={pooling!r}."
        )
    if len(base.outputs) != 1:
        raise InputError(
            f"build_transfer_model: base {base.name!r} has {len(base.outputs)} outputs; a base "
            "ends in one feature layer (cut it with conv_base(model, layer=...))"
        )
    if base.name != "base":
        # one input and one output as tensors, not one-element lists: rewrapped with
        # base.outputs, base(inputs) returned a list and every base not already named
        # "base" (load_application, conv_base(name=...)) failed with "'list' object has
        # no attribute 'shape'" (a checking helper, session 43)
        ins = base.inputs[0] if len(base.inputs) == 1 else base.inputs
        base = keras.Model(ins, base.outputs[0], name="base")
    if freeze_base:
        freeze(base)
    inputs = keras.Input(tuple(base.inputs[0].shape[1:]), name="input")
    x = base(inputs)
    if isinstance(x, (list, tuple)):  # a base named "base" built with a list of outputs
        x = x[0]
    rank = len(x.shape) - 2
    if rank >= 1:
        if pooling == "flatten":
            x = keras.layers.Flatten(name="head_flatten")(x)
        elif pooling == "max":
            x = getattr(keras.layers, f"GlobalMaxPooling{rank}D")(name="head_pool")(x)
        else:
            x = getattr(keras.layers, f"GlobalAveragePooling{rank}D")(name="head_pool")(x)
    for i, units in enumerate(hidden):
        x = keras.layers.Dense(int(units), activation="relu", name=f"head_dense{i + 1}")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = output_layer(head, n_outputs)(x)
    return keras.Model(inputs, outputs, name=name)


def _base_of(model):
    keras = _keras()
    try:
        base = model.get_layer("base")
    except ValueError:
        base = None
    if not isinstance(base, keras.Model):
        raise InputError(
            f"model {model.name!r} has no nested base named 'base'; build it with build_transfer_model"
        )
    return base


def unfreeze_last(
    model,
    n_layers: int,
    *,
    learning_rate: float = 1e-5,
    head: str | None = None,
    train_batchnorm: bool = False,
    compile: bool = True,
    jit_compile: bool = False,
):
    """Unfreeze the last ``n_layers`` weighted layers of the base and recompile.

    Parameters
    ----------
    model : keras.Model
        From :func:`build_transfer_model`.
    n_layers : int
        How many of the base's layers *that hold weights* to unfreeze, counted from the
        end (pooling, activation and reshaping layers have nothing to train and are not
        counted, nor are BatchNormalization layers unless ``train_batchnorm``).  ``0``
        keeps the base frozen; a number larger than the base unfreezes all of it, with an
        :class:`~snpcnn.errors.InputWarning` saying how many were unfrozen.
    learning_rate : float, default 1e-5
        Low, so that the pretrained weights move little.
    head : str, optional
        Loss of the recompiled model; inferred from the output activation if omitted.
    train_batchnorm : bool, default False
        Also count and unfreeze BatchNormalization layers.  In Keras 3
        a trainable BatchNormalization layer runs in training mode: it normalizes with
        batch statistics and updates its moving statistics, which small fine-tuning
        sets can wreck; keep the default unless you have a reason.
    compile : bool, default True
        Recompile (needed for the change to take effect in Keras).
    jit_compile : bool, default False
        XLA for the recompiled train step.

    Returns
    -------
    list of str
        Names of the layers made trainable.
    """
    keras = _keras()
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or n_layers < 0:
        raise InputError(
            f"Invalid value for argument `n_layers`. Expected a non-negative integer. "
            f"Received n_layers={n_layers!r}."
        )
    base = _base_of(model)
    # only the layers that will really train are counted: BatchNormalization layers
    # counted toward n_layers but stayed frozen, so on a BN-heavy base --unfreeze 2
    # unfroze nothing, silently (a checking helper, session 43)
    eligible = [
        lyr
        for lyr in base.layers
        if lyr.weights and (train_batchnorm or not isinstance(lyr, keras.layers.BatchNormalization))
    ]
    # max(0, ...): with n_layers between len and 2 len, a negative start took the last few
    # only (4 of 3 layers unfroze 1; a review, session 43)
    chosen = eligible[max(0, len(eligible) - n_layers) :] if n_layers else []
    base.trainable = True  # the container must be trainable for its layers to be
    for lyr in base.layers:
        lyr.trainable = False
    unfrozen = []
    for lyr in chosen:
        lyr.trainable = True
        unfrozen.append(lyr.name)
    if len(chosen) < n_layers:
        from snpcnn.errors import InputWarning, opt, warn_at_caller

        kind = "weighted" if train_batchnorm else "weighted non-BatchNormalization"
        warn_at_caller(
            f"{opt('unfreeze', n_layers)}: the base has only {len(eligible)} {kind} layer(s), so "
            f"{len(chosen)} {'was' if len(chosen) == 1 else 'were'} unfrozen"
            + (
                ""
                if train_batchnorm
                else " (BatchNormalization stays frozen unless train_batchnorm=True)"
            ),
            InputWarning,
        )
    if compile:
        from snpcnn.models import compile_model

        compile_model(
            model,
            _check_head(head) if head else infer_head(model),
            learning_rate=learning_rate,
            jit_compile=jit_compile,
        )
    return unfrozen


def fine_tune(
    base,
    x: np.ndarray,
    y: np.ndarray,
    *,
    head: str = "multiclass",
    n_outputs: int | None = None,
    epochs: int = 5,
    learning_rate: float = 1e-3,
    unfreeze: int = 0,
    fine_tune_epochs: int = 0,
    fine_tune_learning_rate: float = 1e-5,
    batch_size: int = 64,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    pooling: str = "auto",
    validation_split: float = 0.0,
    seed: int | None = 0,
    jit_compile: bool = False,
    verbose: int = 0,
):
    """The two-stage recipe: train a new head on the frozen base, then fine-tune.

    Stage 1 trains only the head for ``epochs`` at ``learning_rate``.  Stage 2 (when
    ``unfreeze > 0`` and ``fine_tune_epochs > 0``) unfreezes the last ``unfreeze``
    weighted layers of the base (:func:`unfreeze_last`) and trains for
    ``fine_tune_epochs`` more at ``fine_tune_learning_rate``.

    Returns
    -------
    model : keras.Model
    history : dict
        ``{"head": {...}, "fine_tune": {...}}`` with Keras' per-epoch metrics.  The base
        layers stage 2 trained are those with trainable weights:
        ``[lyr.name for lyr in model.get_layer("base").layers if lyr.trainable_weights]``.
    """
    from snpcnn.images import seeded
    from snpcnn.models import compile_model

    _check_head(head)
    y = np.asarray(y)
    if n_outputs is None:
        n_outputs = int(y.max()) + 1 if head == "multiclass" else 1
    history: dict[str, dict[str, list[float]]] = {}
    with seeded(seed, deterministic=not jit_compile):
        model = build_transfer_model(
            base, n_outputs, head, hidden=hidden, dropout=dropout, pooling=pooling
        )
        compile_model(model, head, learning_rate=learning_rate, jit_compile=jit_compile)
        h = model.fit(
            x,
            y,
            epochs=epochs,
            batch_size=batch_size,
            validation_split=validation_split,
            verbose=verbose,
        )
        history["head"] = {k: [float(v) for v in vals] for k, vals in h.history.items()}
        if unfreeze and fine_tune_epochs:
            unfreeze_last(
                model,
                unfreeze,
                learning_rate=fine_tune_learning_rate,
                head=head,
                jit_compile=jit_compile,
            )
            h = model.fit(
                x,
                y,
                epochs=fine_tune_epochs,
                batch_size=batch_size,
                validation_split=validation_split,
                verbose=verbose,
            )
            history["fine_tune"] = {k: [float(v) for v in vals] for k, vals in h.history.items()}
    return model, history


def transfer_snp_model(
    base_model,
    new_n_outputs: int = 1,
    head: str = "regression",
    *,
    freeze: bool = True,
    layer: str | int | None = None,
    hidden: Sequence[int] = (),
    dropout: float = 0.0,
    learning_rate: float = 1e-3,
    compile: bool = True,
):
    """Reuse a model trained on one trait or population as the base for another.

    The convolutional base (:func:`conv_base`) of ``base_model`` gets a new head for
    the new trait.  Works for any rank; the new genotypes must be encoded the same way
    and over the same SNPs (same input shape) as those the base was trained on.

    Parameters
    ----------
    base_model : keras.Model or path
        A trained model or its saved ``.keras`` file.
    new_n_outputs : int, default 1
        Outputs of the new head.
    head : {"regression", "binary", "multiclass"}, default "regression"
    freeze : bool, default True
        Freeze the base (train the head only; fine-tune later with :func:`unfreeze_last`).
    layer : str or int, optional
        Where the base ends (default: the Flatten / global pooling layer).
    hidden, dropout
        Hidden dense layers and dropout of the new head.
    learning_rate : float, default 1e-3
    compile : bool, default True

    Returns
    -------
    keras.Model

    Examples
    --------
    >>> model = transfer_snp_model("runs/E1/model.keras", 1, "regression")  # doctest: +SKIP
    >>> model.fit(x_e2, y_e2, epochs=20)  # doctest: +SKIP
    """
    _check_head(head)
    model = _load(base_model)
    base = conv_base(model, layer)
    new = build_transfer_model(
        base,
        new_n_outputs,
        head,
        freeze_base=freeze,
        hidden=hidden,
        dropout=dropout,
        pooling="flatten",
        name=f"{model.name}_transfer",
    )
    if compile:
        from snpcnn.models import compile_model

        compile_model(new, head, learning_rate=learning_rate)
    return new


# --------------------------------------------------------------------------- applications


def _canonical_application(name: str) -> str:
    lookup = {k.lower(): k for k in APPLICATIONS}
    key = str(name).lower().replace("-", "").replace("_", "")
    if key not in lookup:
        raise InputError(
            f"Invalid value for argument `name`. Expected one of {', '.join(APPLICATIONS)}. "
            f"Received name={name!r}."
        )
    return lookup[key]


def _mobilenet_alpha_text(alpha: float) -> str:
    known = {1.0: "1_0", 0.75: "7_5", 0.5: "5_0", 0.25: "2_5"}
    if float(alpha) not in known:
        raise InputError(
            f"--alpha {alpha}: MobileNet's ImageNet weights exist only for alpha 0.25, 0.5, "
            "0.75 and 1.0"
        )
    return known[float(alpha)]


def application_weights_filename(
    name: str,
    include_top: bool = False,
    input_shape: Sequence[int] | None = None,
    alpha: float = 1.0,
) -> str:
    """The file name Keras uses for an application's ImageNet weights.

    Examples
    --------
    >>> application_weights_filename("VGG16")
    'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5'
    >>> application_weights_filename("MobileNet", alpha=0.25, input_shape=(128, 128, 3))
    'mobilenet_2_5_128_tf_no_top.h5'
    """
    app = _canonical_application(name)
    stem = APPLICATIONS[app][1]
    if app == "MobileNet":
        rows = int(input_shape[0]) if input_shape is not None else 224
        if rows not in (128, 160, 192, 224):
            rows = 224  # Keras uses the 224 file for any other size
        suffix = "_tf.h5" if include_top else "_tf_no_top.h5"
        return f"mobilenet_{_mobilenet_alpha_text(alpha)}_{rows}{suffix}"
    return f"{stem}_weights_tf_dim_ordering_tf_kernels{'' if include_top else '_notop'}.h5"


def application_preprocess(name: str, x: np.ndarray) -> np.ndarray:
    """Apply the application's own ImageNet input preprocessing to images in 0..255.

    Parameters
    ----------
    name : str
        An application name (see :data:`APPLICATIONS`).
    x : numpy.ndarray
        ``(n, rows, cols, 3)`` images with pixel values in 0..255.

    Returns
    -------
    numpy.ndarray
        float32, scaled the way the ImageNet weights expect (e.g. BGR mean-centred for
        VGG/ResNet50, -1..1 for MobileNet/Xception/InceptionV3).
    """
    keras = _keras()
    module = {
        "VGG16": "vgg16",
        "VGG19": "vgg19",
        "ResNet50": "resnet50",
        "MobileNet": "mobilenet",
        "Xception": "xception",
        "InceptionV3": "inception_v3",
    }[_canonical_application(name)]
    fn = getattr(keras.applications, module).preprocess_input
    return np.asarray(fn(np.array(x, dtype=np.float32, copy=True)), dtype=np.float32)


def application_weights_url(name: str, filename: str) -> str:
    """Where Keras itself would download ``filename`` from (for the error message)."""
    return _URL + APPLICATIONS[_canonical_application(name)][2] + "/" + filename


def keras_models_dir() -> Path:
    """Keras' weights cache: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "models"


def load_application(
    name: str,
    weights_path: str | os.PathLike | None = None,
    input_shape: Sequence[int] = (224, 224, 3),
    include_top: bool = False,
    **kwargs: Any,
):
    """A keras.applications network with ImageNet weights from a local file (no download).

    Parameters
    ----------
    name : str
        ``VGG16``, ``VGG19``, ``ResNet50``, ``MobileNet``, ``Xception`` or ``InceptionV3``
        (case-insensitive).
    weights_path : path, optional
        The weights file, or a folder holding it under Keras' file name
        (:func:`application_weights_filename`).  Default: Keras' cache
        ``~/.keras/models/`` (``$KERAS_HOME/models``).
    input_shape : (rows, cols, 3), default (224, 224, 3)
        Any size >= 32 (71 for Xception, 75 for InceptionV3) with
        ``include_top=False``; the weights do not depend on it.
    include_top : bool, default False
        Keep the ImageNet classifier (then ``input_shape`` must be the native one).
    **kwargs
        Passed to the constructor, e.g. ``alpha=0.25`` for MobileNet, ``pooling="avg"``.

    Returns
    -------
    keras.Model

    Raises
    ------
    InputError
        The weights file is missing (the message names the file Keras expects, where to
        put it and ``--weights PATH``), or does not match the network.

    Examples
    --------
    >>> base = load_application("VGG16", "~/weights/", input_shape=(32, 32, 3))  # doctest: +SKIP
    """
    keras = _keras()
    app = _canonical_application(name)
    ctor_name, _, _, min_size = APPLICATIONS[app]
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise InputError(f"{app}: input_shape must be (rows, cols, channels), got {input_shape}")
    if input_shape[-1] != 3:
        raise InputError(
            f"{app}: ImageNet weights need 3 input channels, got input_shape={input_shape}; "
            "repeat grey images with prepare_images(x, channels=3)"
        )
    if min(input_shape[:2]) < min_size:
        raise InputError(
            f"{app}: input images must be at least {min_size}x{min_size}, got {input_shape[:2]}; "
            "resize with prepare_images(x, size=(...))"
        )
    filename = application_weights_filename(
        app, include_top, input_shape, alpha=kwargs.get("alpha", 1.0)
    )
    if weights_path is None:
        path = keras_models_dir() / filename
    else:
        path = Path(weights_path).expanduser()
        if path.is_dir():
            path = path / filename
    if not path.is_file():
        raise InputError(
            f"no local weights for {app}: {path} not found; snpcnn never downloads, so copy "
            f"{filename} (from {application_weights_url(app, filename)}) to "
            f"{keras_models_dir()}/ or pass --weights PATH (weights_path=...)"
        )
    ctor = getattr(keras.applications, ctor_name)
    try:
        model = ctor(weights=None, include_top=include_top, input_shape=input_shape, **kwargs)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{app}: cannot build the network ({exc})") from None
    try:
        model.load_weights(str(path))
    except Exception as exc:
        raise InputError(
            f"{path}: could not load into {app} (include_top={include_top}, "
            f"{', '.join(f'{k}={v}' for k, v in kwargs.items()) or 'default options'}): "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}; "
            f"expected Keras' {filename}"
        ) from None
    return model
