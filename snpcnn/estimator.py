"""scikit-learn estimators around the snpcnn CNNs.

:class:`SNPCNNRegressor` and :class:`SNPCNNClassifier` follow the scikit-learn
contract (``__init__`` stores its arguments unchanged; ``fit`` sets trailing-
underscore attributes and returns ``self``; ``predict`` checks that it is fitted),
so ``cross_val_score``, ``GridSearchCV`` and ``Pipeline`` work, and they pickle.

``X`` is a samples x SNPs dosage matrix (0/1/2).  Missing genotypes are NaN or -1 (the
:class:`~snpcnn.genotypes.Genotypes` convention), whatever the dtype (int8, int64, float, a
DataFrame).  Values above 2 or below 0 (other than -1: a scaled or centred matrix) are no
dosages: they are used with a warning, as is -1 in a matrix with no value above 1 (-1/0/1
coding, where -1 stays a missing call).
Everything data-dependent (means for imputation, centring/scaling, the inner
validation split for early stopping) is fitted on the ``X`` given to ``fit``.

Inputs with fewer features than ``min_length`` are zero-padded on the right (after
centring, zero is the mean genotype) so that the strided presets still apply.

Examples
--------
>>> from sklearn.model_selection import cross_val_score
>>> est = SNPCNNRegressor(epochs=20)                                  # doctest: +SKIP
>>> cross_val_score(est, X, y, cv=5, scoring="r2")                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from snpcnn.backend import predict_array
from snpcnn.bundle import MissingSnpWarning
from snpcnn.config import PreprocessConfig, TrainingConfig
from snpcnn.cv import TRAIN_DEFAULTS, cnn_head
from snpcnn.errors import InputError, warn_at_caller
from snpcnn.genotypes import encode
from snpcnn.training import TrainConfig, train_cnn

__all__ = ["SNPCNNRegressor", "SNPCNNClassifier"]


def _seed(random_state) -> int:
    """The training seed of ``random_state``: an int as given, a NumPy ``RandomState`` or
    ``Generator`` one draw, None 0 (fits reproduce by default, unlike scikit-learn's
    None)."""
    if random_state is None:
        return 0
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(np.iinfo(np.int32).max))
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise InputError(
            f"random_state must be an int, a numpy RandomState or Generator, or None; got "
            f"{random_state!r}"
        )
    return int(random_state)


_warn = warn_at_caller


class _SNPCNNBase(BaseEstimator):
    def __init__(
        self,
        model: Any = "snpcnn_default",
        encoding: str = TRAIN_DEFAULTS["encoding"],
        scaling: str = TRAIN_DEFAULTS["scaling"],
        epochs: int = TRAIN_DEFAULTS["epochs"],
        batch_size: int = TRAIN_DEFAULTS["batch_size"],
        learning_rate: float = TRAIN_DEFAULTS["learning_rate"],
        patience: int = TRAIN_DEFAULTS["patience"],
        val_fraction: float = TRAIN_DEFAULTS["val_fraction"],
        n_seeds: int = TRAIN_DEFAULTS["n_seeds"],
        min_length: int = 32,
        random_state: Any = 0,
        model_overrides: dict | None = None,
        conv_folds: int = TRAIN_DEFAULTS["conv_folds"],
        conv_gate: float = TRAIN_DEFAULTS["conv_gate"],
    ):
        self.model = model
        self.encoding = encoding
        self.scaling = scaling
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.val_fraction = val_fraction
        self.n_seeds = n_seeds
        self.min_length = min_length
        self.random_state = random_state
        self.model_overrides = model_overrides
        self.conv_folds = conv_folds
        self.conv_gate = conv_gate

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.non_deterministic = False
        return tags

    # ------------------------------------------------------------ features
    def _check_values(self, X: np.ndarray, fitting: bool = True) -> np.ndarray:
        """The missing calls of ``X`` (NaN or -1), after a warning where values are no dosages:
        a warning, not an error, as scikit-learn's estimator checks feed any real numbers,
        negative ones included (a ``positive_only`` tag would make them refuse -1 too)."""
        miss = np.isnan(X) | (X == -1)
        # encoding="onehot" rounds every call and clips it to 0..2; otherwise values enter as given
        used = (
            "rounded into 0..2 by encoding='onehot'"
            if self.encoding == "onehot"
            else "used as they are"
        )
        low = (X < 0) & ~miss
        high = X > 2  # NaN compares False
        if low.any():
            # a centred or scaled matrix (a StandardScaler before this estimator): every
            # negative value was a missing call before, half of such a matrix
            r, c = np.argwhere(low)[0]
            _warn(
                f"X holds negative values other than -1, e.g. row {r}, column {c} = "
                f"{X[r, c]:g} ({int(low.sum())} such values), {used}: X looks scaled "
                "or centred; give unscaled dosages 0/1/2, missing calls as NaN or -1"
            )
        elif high.any():
            # a 9 enters the model as a huge dosage
            r, c = np.argwhere(high)[0]
            _warn(
                f"X holds values above 2, e.g. row {r}, column {c} = {X[r, c]:g} "
                f"({int(high.sum())} such values), {used}: give dosages 0/1/2, "
                "missing calls as NaN or -1"
            )
        elif (
            (X == -1).any()
            and not (X > 1).any()
            and (fitting or not getattr(self, "saw_two_", False))
        ):
            # rrBLUP's convention (X - 1): a third of such a matrix would be missing calls.
            # At predict only where the training X had no 2 either: a small batch without
            # one is common, and the advice to add 1 would corrupt valid dosages (a checking
            # helper, session 47)
            _warn(
                "X holds -1 but no value above 1: if it is coded -1/0/1, -1 means a missing "
                "call here, not a dosage, so add 1 to give dosages 0/1/2"
            )
        return miss

    def _fit_features(self, X, y, multi_output: bool = False) -> tuple[np.ndarray, np.ndarray]:
        with _one_line_messages():
            X, y = validate_data(
                self,
                X,
                y,
                dtype=np.float64,
                ensure_all_finite="allow-nan",
                multi_output=multi_output,
                y_numeric=multi_output,
                reset=True,
            )
        if len(X) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 samples to fit; got 1 sample "
                "(n_samples = 1)"
            )
        PreprocessConfig(encoding=self.encoding, scaling=self.scaling)  # one-line InputError
        from snpcnn.config import _integer

        _integer(self.min_length, "min_length", 0)  # -5 and 2.5 passed without a word
        if self.encoding == "onehot" and self.scaling != TRAIN_DEFAULTS["scaling"]:
            # onehot feeds 0/1 indicators, never scaled: the setting was ignored without a
            # word (a grid over scaling tied), where snpcnn fit refuses it (session 47)
            raise InputError(
                f"scaling={self.scaling!r} applies to encoding='dosage'; encoding='onehot' "
                "feeds 0/1 genotype indicators, which are not scaled: leave scaling at its "
                f"default ({TRAIN_DEFAULTS['scaling']!r})"
            )
        miss = self._check_values(X)
        self.saw_two_ = bool((X[~miss] > 1).any())
        Xm = np.where(miss, np.nan, X)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-missing column: mean 0
            mean = np.nanmean(Xm, axis=0)
        mean = np.where(np.isfinite(mean), mean, 0.0)
        self.fill_ = mean.astype(np.float32)
        self.center_ = self.fill_ if self.scaling in ("center", "standardize") else None
        self.scale_ = None
        if self.scaling == "standardize":
            filled = np.where(miss, mean, X)
            sd = filled.std(axis=0)
            self.scale_ = np.where(sd > 1e-12, sd, 1.0).astype(np.float32)
        return self._transform(X, miss), y

    def _transform(self, X, miss) -> np.ndarray:
        if self.encoding == "onehot":
            block = np.where(miss, -1, np.clip(np.rint(X), 0, 2)).astype(np.int8)
            x = encode(block, "onehot")
        else:
            x = np.where(miss, self.fill_, X).astype(np.float32)
            if self.center_ is not None:
                x = x - self.center_
            if self.scale_ is not None:
                x = x / self.scale_
            x = x[..., None]
        if x.shape[1] < self.min_length:
            pad = np.zeros((x.shape[0], self.min_length - x.shape[1], x.shape[2]), np.float32)
            x = np.concatenate([x, pad], axis=1)
        return x.astype(np.float32)

    def _features(self, X) -> np.ndarray:
        check_is_fitted(self, "model_")
        with _one_line_messages():
            X = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan", reset=False)
        miss = self._check_values(X, fitting=False)
        return self._transform(X, miss), miss.all(axis=1)

    def _config(self) -> TrainConfig:
        return TrainingConfig(
            model=self.model,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience,
            val_fraction=self.val_fraction,
            n_seeds=self.n_seeds,
            model_overrides=self.model_overrides,
            conv_folds=self.conv_folds,
            conv_gate=self.conv_gate,
        ).train_config()  # the values checked there (one-line InputErrors)

    def _train(self, x, y, head, n_outputs=None):
        n = len(x)
        cfg = self._config()
        if n < 10 or cfg.val_fraction <= 0:
            cfg.val_fraction = 0.0  # too few samples for an inner split: train on all
        seed = _seed(self.random_state)
        if cfg.val_fraction == 0.0:
            res = train_cnn(
                x, y, cfg, head=head, seed=seed, fixed_epochs=cfg.epochs, n_outputs=n_outputs
            )
        else:
            res = train_cnn(x, y, cfg, head=head, seed=seed, n_outputs=n_outputs)
        self.model_ = res.model
        self.best_epochs_ = res.best_epochs
        self.history_ = res.histories
        return self

    def _raw_predict(self, X) -> np.ndarray:
        x, uncalled = self._features(X)
        z = np.asarray(predict_array(self.model_, x, 256), dtype=np.float64)
        if uncalled.any():
            # every call filled with the training mean: a linear model predicts the training
            # average, but the default's CNN-GP start gave such a row of the wheat data the
            # 92nd percentile; no prediction is the honest answer, as in ModelBundle.predict
            rows = np.flatnonzero(uncalled)
            _warn(
                f"{len(rows)} sample(s) of X have no call at any SNP (e.g. row {rows[0]}): "
                f"{self._uncalled_result()}; genotype them, or leave them out",
                MissingSnpWarning,
            )
            z[rows] = np.nan
        return z

    def _uncalled_result(self) -> str:
        return "their predictions are left empty (NaN)"

    # ------------------------------------------------------------- pickle
    def __getstate__(self):
        state = self.__dict__.copy()
        if "model_" in state:
            import os
            import tempfile

            fd, tmp = tempfile.mkstemp(suffix=".keras")
            os.close(fd)
            try:
                state["model_"].save(tmp)
                with open(tmp, "rb") as fh:
                    state["model_"] = ("__keras_bytes__", fh.read())
            finally:
                os.unlink(tmp)
        return state

    def __setstate__(self, state):
        m = state.get("model_")
        if isinstance(m, tuple) and m and m[0] == "__keras_bytes__":
            import os
            import tempfile

            from snpcnn.models import load_model

            fd, tmp = tempfile.mkstemp(suffix=".keras")
            os.close(fd)
            try:
                with open(tmp, "wb") as fh:
                    fh.write(m[1])
                state["model_"] = load_model(tmp)
            finally:
                os.unlink(tmp)
        self.__dict__.update(state)


@contextlib.contextmanager
def _one_line_messages():
    """Two of scikit-learn's input checks with their messages on one line: a 1-D X printed
    the whole array between "Expected 2D array" and "Reshape your data", a complex X the
    whole matrix (a checking helper, session 50).  Their first line and the "Reshape" advice
    are kept, the array dropped; the type too (a ValueError becomes an InputError, which is
    one).  Other messages, such as the feature-name checks whose column lists scikit-learn's
    own estimator checks look for, pass unchanged."""
    try:
        yield
    except (ValueError, TypeError) as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        if not lines:
            raise
        if lines[0].startswith("Expected 2D array"):
            reshape = next((ln for ln in lines if ln.startswith("Reshape")), "")
            clean = f"{lines[0].rstrip(':')}. {reshape}".strip()
        elif lines[0].startswith("Complex data not supported"):
            clean = f"{lines[0]}: pass real dosages (X.real)"
        else:
            raise
        if isinstance(exc, ValueError):
            raise InputError(clean) from None
        raise type(exc)(clean) from None


def _keep_state_on_failure(fit):
    """A fit that raises leaves the estimator as it was: validate_data sets
    ``n_features_in_``/``feature_names_in_`` before the later checks (NaN in y, a bad
    ``encoding``), so a failed refit of a fitted estimator mixed the new data's shape and
    column names with the old network and predict refused the old data (a session 43
    note).  scikit-learn leaves that to each estimator; ours restore their attributes."""

    @functools.wraps(fit)
    def wrapper(self, X, y):
        before = dict(self.__dict__)
        try:
            return fit(self, X, y)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    return wrapper


class SNPCNNRegressor(RegressorMixin, _SNPCNNBase):
    """A CNN regressor on SNP dosages (one trait, or several as columns of ``y``).

    Targets are standardised on the training data and predictions transformed
    back.  Parameters are those of :func:`snpcnn.cross_validate` that concern the
    network: ``model`` (preset, dict or TOML path), ``encoding``, ``scaling``,
    ``epochs``, ``batch_size``, ``learning_rate``, ``patience`` (early stopping on
    an inner ``val_fraction`` split), ``n_seeds`` (seed averaging; models without
    cross-fitted convolutions), ``conv_folds`` and ``conv_gate`` (the default's cross-fitted
    convolutions: ``--conv-folds``, ``--conv-gate``), ``random_state`` (an int, a NumPy
    RandomState or Generator; None means 0, so fits reproduce by default).
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags.poor_score = True
        tags.target_tags.multi_output = True
        return tags

    @_keep_state_on_failure
    def fit(self, X, y):
        x, y = self._fit_features(X, y, multi_output=True)
        y = np.asarray(y, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            self._y_2d = True
        else:
            self._y_2d = y.ndim == 2
        if y.ndim == 1:
            y = y[:, None]
        if len(y) != len(x):
            raise ValueError(f"X has {len(x)} samples but y has {len(y)}")
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity")
        with np.errstate(over="ignore", invalid="ignore"):
            self.y_mean_ = y.mean(axis=0)
            sd = y.std(axis=0)
        if not (np.isfinite(self.y_mean_).all() and np.isfinite(sd).all()):
            # y * 1e300 overflowed to NaN predictions with only a RuntimeWarning (a checking
            # helper, session 50)
            raise InputError(
                f"y's values are too large to standardise in float64 (largest |y| "
                f"{float(np.abs(y).max()):.3g}); rescale y (e.g. to other units) and fit again"
            )
        self.y_sd_ = np.where(sd > 0, sd, 1.0)
        z = ((y - self.y_mean_) / self.y_sd_).astype(np.float32)
        return self._train(x, z, "regression")

    def predict(self, X):
        z = self._raw_predict(X)
        y = z * self.y_sd_ + self.y_mean_
        return y if self._y_2d else y[:, 0]


def _one_class_message(only) -> str:
    only = only.item() if isinstance(only, np.generic) else only  # not np.float64(0.0)
    return f"SNPCNNClassifier needs at least 2 classes in y; got 1 class ({only!r})"


class SNPCNNClassifier(ClassifierMixin, _SNPCNNBase):
    """A CNN classifier on SNP dosages.  Two classes with the default model (a hybrid with a
    ridge start): a linear probability model on the 0/1 codes, as ``snpcnn fit`` fits a
    binary trait, its expected value clipped to 0..1 as the probability (``lpm_`` holds the
    codes' mean and SD); other models: a sigmoid output.  Multi-class: softmax."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.poor_score = True
        return tags

    @_keep_state_on_failure
    def fit(self, X, y):
        # refused before anything is set (validate_data sets n_features_in_ too): a failed
        # refit on one class left the old network with the new classes_, and predict
        # answered that one class for every sample (a checking helper, session 43)
        self._refuse_one_class(y)
        x, y = self._fit_features(X, y)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        if len(encoder.classes_) < 2:  # what _refuse_one_class left to validate_data
            raise ValueError(_one_class_message(encoder.classes_[0]))
        self.label_encoder_ = encoder
        self.classes_ = self.label_encoder_.classes_
        codes = self.label_encoder_.transform(y)
        # predict's answer for a sample with no call (its probabilities are NaN)
        self.most_frequent_class_ = self.classes_[np.argmax(np.bincount(codes))]
        self.lpm_ = None
        if len(self.classes_) == 2:
            cfg = self._config()
            if cnn_head("binary", cfg.model, cfg.linear_init) == "regression":
                # the default (a hybrid with a ridge start): a linear probability model on
                # the 0/1 codes, as snpcnn fit trains it (a sigmoid network from zero ranked
                # far below a logistic regression); predict_proba clips it to 0..1
                mean = float(codes.mean())
                sd = float(codes.std()) or 1.0
                self.lpm_ = (mean, sd)
                z = ((codes - mean) / sd).astype(np.float32)[:, None]
                return self._train(x, z, "regression")
            return self._train(x, codes.astype(np.float32)[:, None], "binary")
        labels = codes.astype(np.float32)[:, None]
        return self._train(x, labels, "multiclass", n_outputs=len(self.classes_))

    @staticmethod
    def _refuse_one_class(y) -> None:
        """A y of a single class, refused in scikit-learn's words; other bad targets (None,
        one sample, NaN, labels of mixed types) are left to validate_data and
        check_classification_targets, whose messages scikit-learn's checks look for."""
        if y is None:
            return
        try:
            y = np.asarray(y).ravel()
            labels = np.unique(y)
        except (TypeError, ValueError):  # e.g. str and int labels mixed
            return
        if len(y) < 2:  # "got 1 sample" (check_fit2d_1sample)
            return
        if len(labels) != 1:
            return
        only = labels[0]
        if isinstance(only, (float, np.floating)) and np.isnan(only):
            return  # "Input y contains NaN"
        raise ValueError(_one_class_message(only))

    def predict_proba(self, X):
        p = self._raw_predict(X)
        if len(self.classes_) == 2:
            lpm = getattr(self, "lpm_", None)
            p1 = p[:, 0] if lpm is None else p[:, 0] * lpm[1] + lpm[0]
            p1 = np.clip(p1, 0.0, 1.0)
            return np.column_stack([1.0 - p1, p1])
        p = np.clip(p, 0.0, None)
        return p / np.maximum(p.sum(axis=1, keepdims=True), 1e-12)

    def _uncalled_result(self) -> str:
        # predict must answer with one of classes_ (scikit-learn's contract; a NaN is none, and
        # no string label can hold one): the guess a model without genotypes makes
        return (
            "their probabilities are left empty (NaN), and predict gives them the most "
            f"frequent training class, '{self._fallback_class()}'"
        )

    def predict(self, X):
        check_is_fitted(self, "model_")
        p = self.predict_proba(X)
        uncalled = np.isnan(p).any(axis=1)
        labels = self.classes_[np.argmax(np.where(uncalled[:, None], 0.0, p), axis=1)]
        labels[uncalled] = self._fallback_class()
        return labels

    def _fallback_class(self):
        # a classifier pickled before session 36 has no most_frequent_class_
        return getattr(self, "most_frequent_class_", self.classes_[0])
