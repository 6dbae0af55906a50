"""Output heads, losses and compilation.

Heads
-----
``"regression"``
    ``n_outputs`` linear units (one per trait).  Missing trait values (NaN in
    ``y``) are masked out of the loss (:class:`MaskedMSE`) and of the metrics
    (:class:`MaskedMeanSquaredError`, :class:`MaskedMeanAbsoluteError`), so
    several traits with different missing samples train together.
``"binary"``
    ``n_outputs`` sigmoid units, binary cross-entropy (labels 0/1).
``"multiclass"``
    ``n_outputs`` softmax units (one per class), sparse categorical cross-entropy
    (integer labels 0 .. n_outputs-1).

The output layer is called ``output`` and always computes in float32, also under
the ``mixed_float16`` policy (see :func:`set_mixed_precision`).
"""

from __future__ import annotations

import logging
import warnings

import keras
from keras import ops

from snpcnn.errors import InputError, InputWarning
from snpcnn.models.core import check_choice, check_nonnegative_float, check_positive_int

log = logging.getLogger(__name__)
_XLA_REFUSAL_SAID = False

__all__ = [
    "HEADS",
    "OUTPUT_ACTIVATIONS",
    "OPTIMIZERS",
    "MaskedMSE",
    "MaskedMeanSquaredError",
    "MaskedMeanAbsoluteError",
    "output_layer",
    "head_of",
    "compile_model",
    "set_mixed_precision",
    "MaskedMAE",
    "attach_training",
    "training_spec",
]

HEADS = ("regression", "binary", "multiclass")
OUTPUT_ACTIVATIONS = {"regression": "linear", "binary": "sigmoid", "multiclass": "softmax"}
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")


def _align(y_true, y_pred):
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    if len(y_true.shape) == len(y_pred.shape) - 1:
        y_true = ops.expand_dims(y_true, -1)
    return y_true, y_pred


def _masked_errors(y_true, y_pred, power: int):
    """(per-element error with 0 where y_true is NaN, mask as float)."""
    y_true, y_pred = _align(y_true, y_pred)
    observed = ops.logical_not(ops.isnan(y_true))
    mask = ops.cast(observed, "float32")
    # replace NaN targets *before* subtracting, so no NaN reaches the gradient
    y_true = ops.where(observed, y_true, ops.zeros_like(y_true))
    diff = (y_pred - y_true) * mask
    err = ops.square(diff) if power == 2 else ops.abs(diff)
    return err, mask


@keras.saving.register_keras_serializable(package="snpcnn")
class MaskedMSE(keras.losses.Loss):
    """Mean squared error over the observed (non-NaN) targets only.

    With ``y`` of shape (batch, n_traits) and NaN where a trait is missing, the
    loss is ``sum((y_pred - y)^2 over observed) / n_observed`` for the batch, so a
    missing value contributes neither error nor gradient, and the loss is on the
    same scale as a plain MSE.  A batch with nothing observed has loss 0.

    Examples
    --------
    >>> import numpy as np
    >>> loss = MaskedMSE()
    >>> float(loss(np.array([[1.0], [np.nan]]), np.array([[3.0], [100.0]])))
    4.0
    """

    def __init__(self, name: str = "masked_mse", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)

    _power = 2

    def call(self, y_true, y_pred):
        err, mask = _masked_errors(y_true, y_pred, self._power)
        n_obs = ops.maximum(ops.sum(mask), 1.0)
        batch = ops.cast(ops.shape(err)[0], "float32")
        # per-sample values whose mean over the batch is sum(err) / n_observed
        return ops.sum(ops.reshape(err, (ops.shape(err)[0], -1)), axis=-1) * (batch / n_obs)

    def get_config(self):
        return super().get_config()


@keras.saving.register_keras_serializable(package="snpcnn")
class MaskedMAE(MaskedMSE):
    """Mean absolute error (an L1 loss) over the observed (non-NaN) targets only, scaled
    like :class:`MaskedMSE`.

    Examples
    --------
    >>> import numpy as np
    >>> float(MaskedMAE()(np.array([[1.0], [np.nan]]), np.array([[3.0], [100.0]])))
    2.0
    """

    _power = 1

    def __init__(self, name: str = "masked_mae", reduction: str = "sum_over_batch_size", **kwargs):
        super().__init__(name=name, reduction=reduction, **kwargs)


class _MaskedMean(keras.metrics.Metric):
    _power = 2

    def __init__(self, name: str, dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        err, mask = _masked_errors(y_true, y_pred, self._power)
        if sample_weight is not None:
            w = ops.cast(sample_weight, "float32")
            w = ops.reshape(w, (-1,) + (1,) * (len(err.shape) - 1))
            err, mask = err * w, mask * w
        self.total.assign(self.total + ops.sum(err))
        self.count.assign(self.count + ops.sum(mask))

    def result(self):
        return self.total / ops.maximum(self.count, 1e-12)

    def reset_state(self):
        self.total.assign(0.0)
        self.count.assign(0.0)


@keras.saving.register_keras_serializable(package="snpcnn")
class MaskedMeanSquaredError(_MaskedMean):
    """Mean squared error over observed (non-NaN) targets, accumulated over batches."""

    _power = 2

    def __init__(self, name: str = "masked_mse", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)


@keras.saving.register_keras_serializable(package="snpcnn")
class MaskedMeanAbsoluteError(_MaskedMean):
    """Mean absolute error over observed (non-NaN) targets, accumulated over batches."""

    _power = 1

    def __init__(self, name: str = "masked_mae", dtype=None, **kwargs):
        super().__init__(name=name, dtype=dtype, **kwargs)


def output_layer(head: str, n_outputs: int) -> keras.layers.Dense:
    """The float32 ``Dense`` output layer (named ``output``) of ``head``."""
    head = check_choice(head, "head", HEADS)
    n_outputs = check_positive_int(n_outputs, "n_outputs")
    if head == "multiclass" and n_outputs < 2:
        raise InputError(
            "Invalid value for argument `n_outputs`. Expected the number of classes (>= 2) "
            f"for head='multiclass'. Received n_outputs={n_outputs}."
        )
    return keras.layers.Dense(
        n_outputs,
        activation=OUTPUT_ACTIVATIONS[head],
        kernel_initializer="glorot_uniform",
        dtype="float32",
        name="output",
    )


def head_of(model: keras.Model) -> str:
    """The head of a model built by :func:`snpcnn.models.build_model` (from its output layer)."""
    try:
        layer = model.get_layer("output")
    except ValueError:
        raise InputError(
            f"model '{model.name}' has no layer named 'output'; build it with "
            "snpcnn.models.build_model or pass the head explicitly"
        ) from None
    act = keras.activations.serialize(layer.activation)
    act = act if isinstance(act, str) else act.get("config", {}).get("name", str(act))
    for head, name in OUTPUT_ACTIVATIONS.items():
        if act == name:
            return head
    raise InputError(f"model '{model.name}': output activation '{act}' matches no head")


def _make_optimizer(optimizer, learning_rate, weight_decay, clipnorm, momentum=0.9):
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if weight_decay is not None or clipnorm is not None:
            raise InputError(
                "weight_decay/clipnorm apply only when `optimizer` is a name; set them on "
                "the optimizer object instead"
            )
        return optimizer
    optimizer = check_choice(optimizer, "optimizer", OPTIMIZERS)
    lr = check_nonnegative_float(learning_rate, "learning_rate")
    if lr == 0:
        raise InputError(
            "Invalid value for argument `learning_rate`. Expected a strictly positive number. "
            "Received learning_rate=0."
        )
    kw = {"learning_rate": lr}
    if weight_decay is not None:
        kw["weight_decay"] = check_nonnegative_float(weight_decay, "weight_decay")
    if clipnorm is not None:
        kw["clipnorm"] = check_nonnegative_float(clipnorm, "clipnorm")
    cls = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "sgd": keras.optimizers.SGD,
        "rmsprop": keras.optimizers.RMSprop,
    }[optimizer]
    if optimizer == "sgd":
        kw["momentum"] = float(momentum)
    return cls(**kw)


#: models already warned that their ``[training] loss`` does not apply (one warning each)
_LOSS_WARNED: set[str] = set()


def _warn_loss_unused(name: str, loss: str, head: str) -> None:
    """One warning per model name: ``[training] loss`` is a regression loss."""
    if name in _LOSS_WARNED:
        return
    _LOSS_WARNED.add(name)
    entropy = "binary" if head == "binary" else "sparse categorical"
    warnings.warn(
        f"model '{name}': [training] loss = {loss!r} applies to quantitative traits (the "
        f"regression head); this {head} head trains with {entropy} cross-entropy",
        InputWarning,
        stacklevel=3,
    )


def compile_model(
    model: keras.Model,
    head: str,
    learning_rate: float = 1e-3,
    optimizer: str | keras.optimizers.Optimizer | None = None,
    jit_compile: bool = False,
    weight_decay: float | None = None,
    clipnorm: float | None = None,
) -> keras.Model:
    """Compile ``model`` with the loss and metrics of ``head``; returns the model.

    Parameters
    ----------
    model : keras.Model
        Built by :func:`snpcnn.models.build_model` (its output layer is checked
        against ``head``).
    head : {"regression", "binary", "multiclass"}
        ``regression``: :class:`MaskedMSE` loss, masked MSE and MAE metrics.
        ``binary``: binary cross-entropy, accuracy and AUC.
        ``multiclass``: sparse categorical cross-entropy (integer labels), accuracy.
    learning_rate : float
    optimizer : {"adam", "adamw", "sgd", "rmsprop"} or a Keras optimizer, optional
        Default: the architecture's ``[training] optimizer`` (``"adam"`` if it has none).
        ``"sgd"`` uses the architecture's ``[training] momentum`` (default 0.9).  A
        regression model's loss is the architecture's ``[training] loss``: ``"mse"``
        (:class:`MaskedMSE`, the default) or ``"mae"`` (:class:`MaskedMAE`).
    jit_compile : bool
        XLA compilation of TensorFlow's steps (often faster on GPU; off by default because
        TensorFlow's op determinism refuses XLA).  On Keras's JAX backend the steps are
        always compiled (Keras's own default there): without it JAX runs every op of every
        step one by one, 78 times slower on 2 CPU cores and slower still on a GPU
        (docs/bench/full_runs.md, "GPU").
    weight_decay, clipnorm : float, optional
        Decoupled weight decay and gradient-norm clipping of the optimizer.
    """
    head = check_choice(head, "head", HEADS)
    try:
        actual = head_of(model)
    except InputError:
        actual = None
    if actual is not None and actual != head:
        raise InputError(
            f"model '{model.name}' was built with a '{actual}' output layer but compile_model "
            f"got head='{head}'; build it with head='{head}' or compile with head='{actual}'"
        )
    training = training_spec(model)
    if head != "regression" and training.get("loss", "mse") != "mse":
        _warn_loss_unused(model.name, training["loss"], head)
    if optimizer is None:
        optimizer = training.get("optimizer", "adam")
    if head == "regression":
        loss = MaskedMAE() if training.get("loss") == "mae" else MaskedMSE()
        metrics = [MaskedMeanSquaredError(), MaskedMeanAbsoluteError()]
    elif head == "binary":
        loss = keras.losses.BinaryCrossentropy()
        metrics = [keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")]
    else:
        loss = keras.losses.SparseCategoricalCrossentropy()
        metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    model.compile(
        optimizer=_make_optimizer(
            optimizer, learning_rate, weight_decay, clipnorm, training.get("momentum", 0.9)
        ),
        loss=loss,
        metrics=metrics,
        jit_compile=_xla(model, jit_compile),
    )
    return model


def _keras_compiles_with_xla(model: keras.Model) -> bool:
    """Whether Keras's own trainer would honour ``jit_compile=True`` for ``model``.

    Keras refuses XLA for a model with a layer that does not support it and, on TensorFlow,
    whenever op determinism is on (every seeded snpcnn run).  It then warns with a raw
    ``UserWarning`` once per compiled model; :func:`compile_model` asks this first instead.
    """
    if not all(getattr(layer, "supports_jit", True) for layer in model._flatten_layers()):
        return False
    if keras.backend.backend() == "tensorflow":
        from tensorflow.python.framework.config import is_op_determinism_enabled

        return not is_op_determinism_enabled()
    return True


def _xla(model: keras.Model, requested) -> bool:
    """The ``jit_compile`` to give Keras: always on JAX, on request elsewhere where Keras
    honours it; where it would not, one note per process replaces Keras's raw warning."""
    global _XLA_REFUSAL_SAID
    if keras.backend.backend() == "jax":
        return True
    if not requested:
        return False
    if _keras_compiles_with_xla(model):
        return True
    if not _XLA_REFUSAL_SAID:
        _XLA_REFUSAL_SAID = True
        no_jit = sorted(
            {
                type(layer).__name__
                for layer in model._flatten_layers()
                if not getattr(layer, "supports_jit", True)
            }
        )
        determinism = False
        if keras.backend.backend() == "tensorflow":
            from tensorflow.python.framework.config import is_op_determinism_enabled

            determinism = bool(is_op_determinism_enabled())
        if no_jit:  # a layer (e.g. --augment's RandomShear), and perhaps determinism too
            log.warning(
                "--xla: '%s' runs without XLA: its layer(s) %s do not support XLA "
                "compilation (e.g. --augment's random transforms)%s; its results are unchanged",
                model.name,
                ", ".join(no_jit),
                ", and TensorFlow's op determinism (every seeded run) is on" if determinism else "",
            )
        else:
            log.warning(
                "--xla: networks that Keras trains itself (here '%s') run without XLA while "
                "TensorFlow's op determinism is on (every seeded run); the default model's own "
                "training steps do use it",
                model.name,
            )
    return False


def attach_training(model: keras.Model, training: dict | None) -> keras.Model:
    """Remember the architecture's ``[training]`` table on ``model`` for :func:`compile_model`
    (an attribute: not saved with the model)."""
    if training:
        model._snpcnn_training = dict(training)
    return model


def training_spec(model: keras.Model) -> dict:
    """The ``[training]`` table of the architecture ``model`` was built from (``{}`` if none)."""
    return dict(getattr(model, "_snpcnn_training", None) or {})


def set_mixed_precision(enabled: bool) -> str:
    """Turn the ``mixed_float16`` policy on (GPU only) or off; returns the policy name.

    On a machine without a GPU, ``enabled=True`` keeps ``float32`` with a warning
    (float16 is slower on CPU).  Models built afterwards compute in float16 with
    float32 weights; their output layer stays float32.  Call before
    :func:`snpcnn.models.build_model`.
    """
    if not isinstance(enabled, bool):
        raise InputError(
            f"Invalid value for argument `enabled`. Expected true or false. Received enabled={enabled!r}."
        )
    policy = "float32"
    if enabled:
        from snpcnn.backend import gpu_available

        if gpu_available():
            policy = "mixed_float16"
        else:
            warnings.warn(
                "mixed precision requested but no GPU found; keeping float32",
                RuntimeWarning,
                stacklevel=2,
            )
    keras.mixed_precision.set_global_policy(policy)
    return policy
