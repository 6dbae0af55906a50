"""Training one CNN on one training set: inner validation split, early stopping, collapse guard.

Nothing here sees a test fold.  The caller passes the training part of a fold;
early stopping and the collapse check use an inner validation split of it.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snpcnn.metrics import is_collapsed

__all__ = [
    "TrainConfig",
    "TrainResult",
    "seeded",
    "train_cnn",
    "device_description",
    "inner_split",
]

log = logging.getLogger("snpcnn.training")


@dataclass
class TrainConfig:
    """Hyperparameters of one CNN fit (the architecture is a preset name, dict or file)."""

    model: Any = "snpcnn_default"
    epochs: int = 60
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 10
    val_fraction: float = 0.1
    n_seeds: int = 1
    collapse_retry: bool = True
    jit_compile: bool = False
    mixed_precision: bool = False
    model_overrides: dict[str, Any] = field(default_factory=dict)
    # how a wide & deep model's linear SNP path starts: "ridge" = the RR-BLUP solution on
    # the training rows (closed form, penalty by leave-one-out), frozen, with the output
    # starting at exactly that prediction, so the convolutions learn only what the
    # additive model misses; "zeros" = plain joint training from zero.
    linear_init: str = "ridge"

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        if not isinstance(d["model"], (str, dict)):
            d["model"] = getattr(d["model"], "__name__", str(d["model"]))
        return d


@dataclass
class TrainResult:
    model: Any  # keras.Model (the seed ensemble is one model that averages its members)
    best_epochs: list[int]
    histories: list[dict[str, list[float]]]
    learning_rates: list[float]
    collapsed_on_validation: bool
    retried: int
    # Pearson r between the inner-validation targets and predictions, per seed and output
    # (NaN where constant): a model-selection score that never sees a test fold.
    inner_val_r: list[list[float]]
    seconds: float
    samples_per_second: float


def _enable_determinism() -> None:
    import tensorflow as tf

    with contextlib.suppress(Exception):
        tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and Keras/TensorFlow and make TF ops deterministic.

    NumPy's and Python's global random states are restored on exit.
    """
    import keras

    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - restoring the global state on purpose
    keras.utils.set_random_seed(int(seed) % (2**31 - 1))
    _enable_determinism()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


def device_description() -> str:
    """'GPU (name)' if TensorFlow sees a GPU, else 'CPU (N threads)'."""
    import os

    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        try:
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
        except Exception:  # pragma: no cover
            name = "GPU"
        return f"GPU ({name})" + (f" x{len(gpus)}" if len(gpus) > 1 else "")
    return f"CPU ({os.cpu_count()} cores)"


def inner_split(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (train, validation) of a seeded random inner split of ``n`` samples."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 7919]))
    perm = rng.permutation(n)
    n_val = int(round(n * val_fraction))
    if val_fraction > 0:
        n_val = min(max(n_val, 2), n - 2)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


class _EpochCallback:
    """Adapter that calls ``fn()`` after every epoch (progress bars)."""

    def __new__(cls, fn: Callable[[], None]):
        import keras

        class _CB(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                fn()

        return _CB()


def _build(config: TrainConfig, input_shape, head: str, n_outputs: int, name: str):
    from snpcnn.models import build_model

    if callable(config.model):
        # bring-your-own network: a function (input_shape, head, n_outputs, name) -> keras.Model
        return config.model(tuple(input_shape), head=head, n_outputs=n_outputs, name=name)
    return build_model(
        config.model,
        input_shape,
        head=head,
        n_outputs=n_outputs,
        name=name,
        **config.model_overrides,
    )


def _ridge_start(model, x_tr: np.ndarray, y_tr: np.ndarray, head: str) -> bool:
    """Start a wide & deep regression model at the ridge (RR-BLUP) fit of ``(x_tr, y_tr)``.

    The ``linear`` layer gets the ridge marker effects and is frozen; the ``output``
    layer starts with weight 1 on the linear score, 0 on the convolutional features
    and the ridge intercept as bias.  Returns False (nothing changed) for models
    without a linear path or for classification heads.
    """
    if head != "regression":
        return False
    try:
        lin = model.get_layer("linear")
        out = model.get_layer("output")
    except ValueError:
        return False
    from snpcnn.baselines import RidgeRegression

    x = x_tr.reshape(len(x_tr), -1).astype(np.float64)
    n_out = y_tr.shape[1]
    coef = np.zeros((x.shape[1], n_out))
    bias = np.zeros(n_out)
    for j in range(n_out):
        ok = ~np.isnan(y_tr[:, j])
        ridge = RidgeRegression().fit(x[ok], y_tr[ok, j].astype(np.float64))
        coef[:, j] = ridge.coef_
        bias[j] = ridge.beta_[0]
    lin.set_weights([coef.astype(np.float32)])
    lin.trainable = False
    w, b = out.get_weights()
    w[:] = 0.0
    w[-n_out:, :] = np.eye(n_out, dtype=w.dtype)  # the linear scores are concatenated last
    b[:] = bias
    out.set_weights([w, b])
    return True


def _fit_one(
    config: TrainConfig,
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_val: np.ndarray | None,
    y_val: np.ndarray | None,
    head: str,
    seed: int,
    lr: float,
    on_epoch: Callable[[], None] | None,
    epochs: int | None = None,
    name: str = "cnn",
    n_outputs: int | None = None,
):
    import keras

    from snpcnn.models import compile_model

    with seeded(seed):
        model = _build(config, x_tr.shape[1:], head, n_outputs or y_tr.shape[1], name)
        ridge_start = config.linear_init == "ridge" and _ridge_start(model, x_tr, y_tr, head)
        compile_model(model, head, learning_rate=lr, jit_compile=config.jit_compile)
        start_weights = model.get_weights() if ridge_start else None
        start_val_loss = None
        if ridge_start and x_val is not None and len(x_val):
            start_val_loss = float(
                model.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
            )
        callbacks = []
        if x_val is not None and len(x_val) and config.patience > 0:
            callbacks.append(
                keras.callbacks.EarlyStopping(
                    monitor="val_loss",
                    patience=config.patience,
                    restore_best_weights=True,
                    start_from_epoch=0,
                )
            )
        if on_epoch is not None:
            callbacks.append(_EpochCallback(on_epoch))
        n_epochs = config.epochs if epochs is None else epochs
        history: dict[str, list[float]] = {}
        if n_epochs > 0:
            hist = model.fit(
                x_tr,
                y_tr,
                validation_data=(x_val, y_val) if x_val is not None and len(x_val) else None,
                epochs=n_epochs,
                batch_size=config.batch_size,
                shuffle=True,
                verbose=0,
                callbacks=callbacks,
            )
            history = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    if "val_loss" in history and history["val_loss"]:
        vl = np.asarray(history["val_loss"], dtype=np.float64)
        vl = np.where(np.isfinite(vl), vl, np.inf)
        best = int(np.argmin(vl)) + 1
        if start_val_loss is not None and start_val_loss <= vl.min():
            # the convolutions never beat the ridge start on the inner validation split
            model.set_weights(start_weights)
            best = 0
    else:
        best = len(history.get("loss", [])) if epochs is None else n_epochs
    return model, history, best


def _average(models: list, input_shape) -> Any:
    if len(models) == 1:
        return models[0]
    import keras

    inp = keras.Input(shape=input_shape, name="genotypes")
    outs = []
    for m in models:
        outs.append(m(inp))
    out = keras.layers.Average(name="seed_average")(outs)
    return keras.Model(inp, out, name="seed_ensemble")


def _pearson(y: np.ndarray, p: np.ndarray) -> float:
    ok = ~np.isnan(y)
    if ok.sum() < 3 or is_collapsed(p[ok]) or np.std(y[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(y[ok], p[ok])[0, 1])


def train_cnn(
    x: np.ndarray,
    y: np.ndarray,
    config: TrainConfig,
    head: str = "regression",
    seed: int = 0,
    on_epoch: Callable[[], None] | None = None,
    fixed_epochs: int | None = None,
    n_outputs: int | None = None,
) -> TrainResult:
    """Fit ``config.n_seeds`` CNNs on ``(x, y)`` and average them.

    With ``fixed_epochs`` None, an inner validation split (``val_fraction``) of
    ``x`` drives early stopping (best weights restored).  With ``fixed_epochs``
    set (the final refit on all samples), every sample trains for that many epochs.
    If the model's predictions on the inner validation split are constant (the
    collapse known from CNNs on small genomic data), it is retrained once with a
    10x smaller learning rate.
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim == 1:
        y = y[:, None]
    t0 = time.perf_counter()
    models, bests, hists, lrs, val_r = [], [], [], [], []
    collapsed_any, retried = False, 0
    n_seen = 0
    for s in range(config.n_seeds):
        sseed = int(np.random.SeedSequence([seed, s]).generate_state(1)[0] % (2**31 - 1))
        if fixed_epochs is None and config.val_fraction > 0:
            tr, va = inner_split(len(x), config.val_fraction, sseed)
            x_tr, y_tr, x_val, y_val = x[tr], y[tr], x[va], y[va]
        else:
            x_tr, y_tr, x_val, y_val = x, y, None, None

        def fit(lr: float, x_tr=x_tr, y_tr=y_tr, x_val=x_val, y_val=y_val, s=s, sseed=sseed):
            return _fit_one(
                config,
                x_tr,
                y_tr,
                x_val,
                y_val,
                head,
                sseed,
                lr,
                on_epoch,
                fixed_epochs,
                f"cnn_seed{s}",
                n_outputs,
            )

        lr = config.learning_rate
        model, hist, best = fit(lr)
        n_seen += len(x_tr) * len(hist.get("loss", []))
        if x_val is not None and config.collapse_retry:
            pred = np.asarray(model.predict(x_val, verbose=0, batch_size=256))
            if any(is_collapsed(pred[:, j]) for j in range(pred.shape[1])):
                collapsed_any = True
                retried += 1
                lr = lr / 10.0
                log.info("collapsed on the inner validation split; retrying with lr=%g", lr)
                model, hist, best = fit(lr)
                n_seen += len(x_tr) * len(hist.get("loss", []))
        if x_val is not None and len(x_val):
            pred = np.asarray(model.predict(x_val, verbose=0, batch_size=256))
            val_r.append([_pearson(y_val[:, j], pred[:, j]) for j in range(pred.shape[1])])
        models.append(model)
        bests.append(best)
        hists.append(hist)
        lrs.append(lr)
    seconds = time.perf_counter() - t0
    return TrainResult(
        model=_average(models, x.shape[1:]),
        best_epochs=bests,
        histories=hists,
        learning_rates=lrs,
        collapsed_on_validation=collapsed_any,
        retried=retried,
        inner_val_r=val_r,
        seconds=seconds,
        samples_per_second=n_seen / seconds if seconds > 0 else float("nan"),
    )
