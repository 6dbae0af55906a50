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

from snpcnn.backend import device_description, enable_determinism
from snpcnn.errors import InputError
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


LINEAR_INITS = ("ridge", "ridge_loo", "zeros")


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
    # the inner training rows (closed form, penalty by leave-one-out), frozen, with the
    # output starting at exactly that prediction, so the convolutions learn only what the
    # additive model misses; "ridge_loo" = the RR-BLUP solution on every row (inner
    # validation included), with the convolutions trained on its exact leave-one-out
    # residuals and the output's weight on it held at 1; "zeros" = plain joint training
    # from zero.  Chosen by nested CV (benchmarks/tuning/LOG.md): "ridge_loo".
    linear_init: str = "ridge_loo"
    # with a ridge start: keep the convolutions' correction only if it lowers the
    # squared error on the inner validation rows significantly (one-sided paired t-test
    # at this level); 0 keeps any improvement of the validation loss
    conv_gate: float = 0.05

    def __post_init__(self) -> None:
        if not 0.0 <= float(self.conv_gate) <= 1.0:
            raise InputError(f"conv_gate must be between 0 and 1, got {self.conv_gate!r}")
        if self.linear_init not in LINEAR_INITS:
            raise InputError(
                f"linear_init must be one of {', '.join(LINEAR_INITS)}, got {self.linear_init!r}"
            )

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
    # True if the model's linear path started at a ridge fit ("ridge"/"ridge_loo" with a
    # wide & deep regression model); then a best epoch of 0 means the convolutions'
    # correction was rejected and the network predicts exactly that ridge fit
    ridge_start: bool = False


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and Keras/TensorFlow and make TF ops deterministic.

    NumPy's and Python's global random states are restored on exit.
    """
    import keras

    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - restoring the global state on purpose
    keras.utils.set_random_seed(int(seed) % (2**31 - 1))
    enable_determinism()
    try:
        yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002


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


@dataclass
class _RidgeStart:
    """The ridge (RR-BLUP) fit that a wide & deep model's linear path starts from.

    ``coef`` (m, n_out) and ``bias`` (n_out,) are fitted on every row handed to
    :func:`train_cnn`.  ``shift`` (n, n_out) is ``yhat_i - yhat_(-i)``: the full fit's
    prediction minus the exact leave-one-out prediction for each training row (0 where the
    target is missing).  Training on ``y + shift`` makes the residual the convolutions see
    on row ``i`` the *leave-one-out* residual ``y_i - yhat_(-i)``, not the shrunken in-sample
    one, and ``prediction - shift`` is an honest (leave-one-out) prediction for a row that
    the ridge saw.
    """

    coef: np.ndarray
    bias: np.ndarray
    shift: np.ndarray


def _has_linear_path(config: TrainConfig, input_shape, head: str, n_outputs: int) -> bool:
    if head != "regression" or config.linear_init == "zeros":
        return False
    if callable(config.model):
        model = _build(config, input_shape, head, n_outputs, "probe")
        names = {layer.name for layer in model.layers}
        return {"linear", "output"} <= names
    from snpcnn.models import load_architecture

    return "linear" in load_architecture(config.model)


def _fit_ridge(x: np.ndarray, y: np.ndarray) -> _RidgeStart:
    """Ridge per output column on the rows where that column is observed.

    ``shift`` is filled for the ``"ridge_loo"`` start; the ``"ridge"`` start ignores it.
    """
    from snpcnn.baselines import RidgeRegression

    x2 = x.reshape(len(x), -1).astype(np.float64)
    n_out = y.shape[1]
    coef = np.zeros((x2.shape[1], n_out))
    bias = np.zeros(n_out)
    shift = np.zeros(y.shape, dtype=np.float32)
    for j in range(n_out):
        ok = ~np.isnan(y[:, j])
        yj = y[ok, j].astype(np.float64)
        ridge = RidgeRegression().fit(x2[ok], yj)
        coef[:, j] = ridge.coef_
        bias[j] = ridge.beta_[0]
        resid = yj - ridge.predict(x2[ok])
        shift[ok, j] = ridge.loo_residuals_ - resid
    return _RidgeStart(coef.astype(np.float32), bias.astype(np.float32), shift)


class _KeepLinearWeights:
    """Optimizer constraint: the output layer's weights on the linear scores stay at 1."""

    def __init__(self, n_out: int):
        self.n_out = n_out

    def __call__(self, w):
        import keras

        eye = keras.ops.eye(self.n_out, dtype=w.dtype)
        return keras.ops.concatenate([w[: -self.n_out], eye], axis=0)


def _apply_ridge_start(model, start: _RidgeStart, hold: bool) -> None:
    """Start a wide & deep regression model at the ridge fit ``start``.

    The ``linear`` layer gets the ridge marker effects and is frozen; the ``output``
    layer starts with weight 1 on the linear score (held there during training if
    ``hold``), 0 on the convolutional features and the ridge intercept as bias, so the model
    starts at exactly the ridge prediction and the convolutions learn the residual.
    """
    lin = model.get_layer("linear")
    out = model.get_layer("output")
    n_out = start.coef.shape[1]
    lin.set_weights([start.coef])
    lin.trainable = False
    w, b = out.get_weights()
    w[:] = 0.0
    w[-n_out:, :] = np.eye(n_out, dtype=w.dtype)  # the linear scores are concatenated last
    b[:] = start.bias
    out.set_weights([w, b])
    if hold:
        out.kernel.constraint = _KeepLinearWeights(n_out)


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
    ridge: _RidgeStart | None = None,
):
    import keras

    from snpcnn.models import compile_model

    with seeded(seed):
        model = _build(config, x_tr.shape[1:], head, n_outputs or y_tr.shape[1], name)
        ridge_start = ridge is not None
        if ridge_start:
            _apply_ridge_start(model, ridge, hold=config.linear_init == "ridge_loo")
        compile_model(model, head, learning_rate=lr, jit_compile=config.jit_compile)
        start_weights = model.get_weights() if ridge_start else None
        start_val_loss = None
        start_val_pred = None
        if ridge_start and x_val is not None and len(x_val):
            start_val_loss = float(
                model.evaluate(x_val, y_val, verbose=0, return_dict=True)["loss"]
            )
            if config.conv_gate > 0:
                start_val_pred = np.asarray(model.predict(x_val, verbose=0, batch_size=256))
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
        if ridge_start:
            model.get_layer("output").kernel.constraint = None
    if "val_loss" in history and history["val_loss"]:
        vl = np.asarray(history["val_loss"], dtype=np.float64)
        vl = np.where(np.isfinite(vl), vl, np.inf)
        best = int(np.argmin(vl)) + 1
        if start_val_loss is not None and start_val_loss <= vl.min():
            # the convolutions never beat the ridge start on the inner validation split
            model.set_weights(start_weights)
            best = 0
        elif start_val_pred is not None and config.conv_gate > 0:
            pred = np.asarray(model.predict(x_val, verbose=0, batch_size=256))
            p = _improvement_p(y_val, start_val_pred, pred)
            if not p < config.conv_gate:
                log.info("convolutions' validation gain not significant (p=%.3g); kept ridge", p)
                model.set_weights(start_weights)
                best = 0
    else:
        best = len(history.get("loss", [])) if epochs is None else n_epochs
    return model, history, best


def _improvement_p(y: np.ndarray, before: np.ndarray, after: np.ndarray) -> float:
    """One-sided paired t-test p-value that ``after`` has smaller squared errors."""
    from scipy import stats

    ok = ~np.isnan(y)
    d = ((y - before) ** 2 - (y - after) ** 2)[ok].astype(np.float64)
    if len(d) < 3:
        return 1.0
    sd = float(np.std(d, ddof=1))
    if sd == 0:
        return 0.0 if d.mean() > 0 else 1.0
    t = float(d.mean()) / (sd / np.sqrt(len(d)))
    return float(stats.t.sf(t, len(d) - 1))


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
    n_out = n_outputs or y.shape[1]
    wide = _has_linear_path(config, x.shape[1:], head, n_out)
    ridge = None
    if wide and config.linear_init == "ridge_loo":
        # one ridge fit on every row (inner validation rows included), shared by all seeds;
        # the targets move by the leave-one-out shift (see _RidgeStart)
        ridge = _fit_ridge(x, y)
    y_fit = y if ridge is None else y + ridge.shift
    models, bests, hists, lrs, val_r = [], [], [], [], []
    collapsed_any, retried = False, 0
    n_seen = 0
    for s in range(config.n_seeds):
        sseed = int(np.random.SeedSequence([seed, s]).generate_state(1)[0] % (2**31 - 1))
        va = None
        if fixed_epochs is None and config.val_fraction > 0:
            tr, va = inner_split(len(x), config.val_fraction, sseed)
            x_tr, y_tr, x_val, y_val = x[tr], y_fit[tr], x[va], y_fit[va]
        else:
            x_tr, y_tr, x_val, y_val = x, y_fit, None, None

        start = ridge
        if wide and config.linear_init == "ridge":
            start = _fit_ridge(x_tr, y_tr)  # the inner training rows only

        def fit(
            lr: float,
            x_tr=x_tr,
            y_tr=y_tr,
            x_val=x_val,
            y_val=y_val,
            s=s,
            sseed=sseed,
            start=start,
        ):
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
                start,
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
            y_true = y[va]
            if ridge is not None:
                pred = pred - ridge.shift[va]  # leave-one-out ridge part: an honest score
            val_r.append([_pearson(y_true[:, j], pred[:, j]) for j in range(pred.shape[1])])
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
        ridge_start=bool(wide),
    )
