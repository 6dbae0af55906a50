"""The settings of a cross-validation, grouped: data, preprocessing, training, baselines, execution.

:func:`snpcnn.cv.cross_validate` takes about 35 keyword arguments.  They fall into
five groups, each a frozen, validated dataclass:

========================  ===================================================================
:class:`DataConfig`       traits, covariates, folds (K, file or table), repeats, CV scheme,
                          groups, the seed
:class:`PreprocessConfig` encoding, scaling, SNP filters, SNP preselection
:class:`TrainingConfig`   the CNN: architecture, epochs, batch size, learning rate, early
                          stopping, seeds, its ridge start, and whether it runs at all
:class:`BaselineConfig`   the baselines on the same folds, and the CNN+GBLUP average
:class:`ExecutionConfig`  refit, progress, resume hooks (``skip``, ``on_fold``), and
                          ``workers``/``ray_address``/``threads`` (folds as executor tasks)
========================  ===================================================================

Pass them as ``cross_validate(g, p, data=..., preprocessing=..., training=...,
baselines=..., execution=...)``, or pass the keywords as before: the keywords are
folded into these objects (:func:`from_keywords`).  Both may be mixed: a keyword
left at its default defers to the object, and a keyword that sets a field the
object also sets to another value is an :class:`~snpcnn.errors.InputError`.

Every default is the one of :data:`snpcnn.training.TRAIN_DEFAULTS` (training
settings) or of :func:`~snpcnn.cv.cross_validate`.  ``to_dict()`` gives the
settings for provenance (``run.json``); ``Config(**c.to_dict())`` rebuilds the
object, except for what is not plain data (a fold table, a model given as a
Python function, callables).

Examples
--------
>>> from snpcnn.config import DataConfig, TrainingConfig
>>> DataConfig(traits="GY_E1", folds=10, repeats=5).traits
('GY_E1',)
>>> TrainingConfig(epochs=50).to_dict()["epochs"]
50
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snpcnn.errors import InputError, opt
from snpcnn.training import TRAIN_DEFAULTS, TrainConfig

__all__ = [
    "DataConfig",
    "PreprocessConfig",
    "TrainingConfig",
    "BaselineConfig",
    "ExecutionConfig",
    "GROUPS",
    "from_keywords",
]

_D = TRAIN_DEFAULTS


def _names(value: Any, what: str) -> tuple[str, ...] | None:
    """``None``, one name, or a sequence of names -> a tuple of str (``None`` if empty)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    try:
        out = tuple(str(v) for v in value)
    except TypeError:
        raise InputError(f"{what} must be a name or a list of names, got {value!r}") from None
    return out or None


def check_unique_covariates(covariates) -> None:
    """Refuse a covariate listed twice: the fitted model then refused every covariate file
    at predict time (a checking helper, session 49)."""
    covs = [covariates] if isinstance(covariates, str) else list(covariates or ())
    twice = [c for i, c in enumerate(covs) if c in covs[:i]]
    if twice:
        raise InputError(
            f"{opt('covariates')}: '{twice[0]}' is listed twice; give each column once"
        )


def _integer(value: Any, what: str, low: int) -> int:
    what = opt(what) if what.isidentifier() else what  # --repeats from the CLI
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not (isinstance(value, numbers.Integral) or math.isfinite(value))
        # (int(nan) raised ValueError, int(inf) OverflowError; math.isfinite(10**400) too)
        or int(value) != value
    ):
        raise InputError(f"{what} must be an integer, got {value!r}")
    if value < low:
        raise InputError(f"{what} must be at least {low}, got {value}")
    return int(value)


def _set(obj: Any, name: str, value: Any) -> None:
    object.__setattr__(obj, name, value)


class _Config:
    """What the five groups share: ``to_dict`` and ``replace``."""

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain data (lists, str, numbers), for run.json."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def replace(self, **changes: Any):
        """A copy with ``changes`` (validated again)."""
        return dataclasses.replace(self, **changes)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Path):
        return str(value)
    return value


@dataclass(frozen=True)
class DataConfig(_Config):
    """What is predicted, from what, on which folds.

    Parameters
    ----------
    traits : str or list of str, optional
        Trait column(s); default the only or first numeric trait.
    covariates : list of str, optional
        Covariate columns, fitted as fixed effects inside each training part.
    covariates_path : path, optional
        A table with the covariate columns, if they are not in the phenotype file.
    id_column : str, optional
        The sample-id column of the phenotype (and covariate) file.
    folds : int, path or DataFrame
        K of random K-fold (>= 2), a ``sample_id -> fold`` file, or a fold table.
    repeats : int
        Repeats of random K-fold (each with other folds).
    stratify : bool
        Stratify random folds by the (binary) trait.
    cv_scheme : {"cv1", "cv2"}
        cv1: predict new lines; cv2: predict lines in the environments (traits)
        where they were not observed.
    groups : str, optional
        A phenotype column; random folds keep each group together.
    seed : int
        One seed for folds, inner splits and network initialisation.
    """

    traits: tuple[str, ...] | None = None
    covariates: tuple[str, ...] | None = None
    covariates_path: str | Path | None = None
    id_column: str | None = None
    folds: Any = 5
    repeats: int = 1
    stratify: bool = False
    cv_scheme: str = "cv1"
    groups: str | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        from snpcnn.cv import CV_SCHEMES

        _set(self, "traits", _names(self.traits, "traits"))
        _set(self, "covariates", _names(self.covariates, "covariates"))
        check_unique_covariates(self.covariates)
        folds = self.folds
        if isinstance(folds, bool):
            raise InputError(f"folds must be a number of folds, a fold file or table, got {folds}")
        if isinstance(folds, numbers.Real):
            _set(self, "folds", _integer(folds, f"{opt('folds')} (K of K-fold)", 2))
        elif not (isinstance(folds, (str, Path)) or hasattr(folds, "columns")):
            raise InputError(
                f"folds must be K, a fold file or a fold table (DataFrame), got {type(folds)}"
            )
        _set(self, "repeats", _integer(self.repeats, "repeats", 1))
        _set(self, "seed", _integer(self.seed, "seed", 0))
        _set(self, "stratify", bool(self.stratify))
        scheme = str(self.cv_scheme).strip().lower()
        if scheme not in CV_SCHEMES:
            raise InputError(
                f"{opt('cv_scheme')} must be one of {', '.join(CV_SCHEMES)}; got {self.cv_scheme!r}"
            )
        _set(self, "cv_scheme", scheme)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if hasattr(self.folds, "columns"):
            d["folds"] = "table"
        return d


@dataclass(frozen=True)
class PreprocessConfig(_Config):
    """How genotypes become model input; fitted on each training part only.

    Parameters
    ----------
    encoding : {"dosage", "onehot"}
    scaling : {"none", "center", "standardize"}
    min_maf, min_call_rate : float
        SNP filters, on the training samples of each fold.
    preselect_top_k : int, optional
        Keep the k SNPs most associated with the trait (training part only).
    preselect_p : float, optional
        Keep the SNPs with a marginal p-value below this (training part only).
    """

    encoding: str = _D["encoding"]
    scaling: str = _D["scaling"]
    min_maf: float = 0.0
    min_call_rate: float = 0.0
    preselect_top_k: int | None = None
    preselect_p: float | None = None

    def __post_init__(self) -> None:
        from snpcnn.preprocess import GenotypePreprocessor

        GenotypePreprocessor(**self.settings())  # the one validation of these values

    def settings(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~snpcnn.preprocess.GenotypePreprocessor`."""
        return dict(
            min_maf=self.min_maf,
            min_call_rate=self.min_call_rate,
            preselect_top_k=self.preselect_top_k,
            preselect_p=self.preselect_p,
            encoding=self.encoding,
            scaling=self.scaling,
        )

    @property
    def preselects(self) -> bool:
        return bool(self.preselect_top_k or self.preselect_p)


@dataclass(frozen=True)
class TrainingConfig(_Config):
    """The CNN and how it is trained (see :class:`snpcnn.training.TrainConfig`).

    Parameters
    ----------
    model : preset name, dict, TOML path or callable
        The architecture (:func:`snpcnn.models.build_model`).
    epochs, batch_size, learning_rate, patience, val_fraction, n_seeds
        Training with early stopping on ``val_fraction`` of each training part;
        ``n_seeds`` networks averaged.
    jit_compile : bool
        XLA-compile the training step.
    linear_init, conv_gate, conv_folds
        The ridge start of the linear SNP path and the test that keeps the
        convolutions' correction (:func:`snpcnn.cv.cross_validate`).
    model_overrides : dict
        Architecture keys to override (:func:`snpcnn.models.spec.apply_overrides`).
    cnn : bool
        Fit the CNN at all (``False``: baselines only).
    """

    model: Any = "snpcnn_default"
    epochs: int = _D["epochs"]
    batch_size: int = _D["batch_size"]
    learning_rate: float = _D["learning_rate"]
    patience: int = _D["patience"]
    val_fraction: float = _D["val_fraction"]
    n_seeds: int = _D["n_seeds"]
    jit_compile: bool = False
    linear_init: str = _D["linear_init"]
    conv_gate: float = _D["conv_gate"]
    conv_folds: int = _D["conv_folds"]
    model_overrides: dict[str, Any] = field(default_factory=dict)
    cnn: bool = True

    def __post_init__(self) -> None:
        for name, low in (("epochs", 1), ("batch_size", 1), ("patience", 0), ("n_seeds", 1)):
            _set(self, name, _integer(getattr(self, name), name, low))
        for name in ("learning_rate", "val_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InputError(f"{name} must be a number, got {value!r}")
            _set(self, name, float(value))
        if not 0 < self.learning_rate < float("inf"):  # inf failed inside Keras (session 43)
            raise InputError(
                f"{opt('learning_rate')} must be positive and finite, got {self.learning_rate}"
            )
        if not 0.0 <= self.val_fraction < 1.0:
            raise InputError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        _set(self, "model_overrides", dict(self.model_overrides or {}))
        self.train_config()  # linear_init, conv_gate and conv_folds are validated there

    def train_config(self) -> TrainConfig:
        """The :class:`~snpcnn.training.TrainConfig` of one CNN fit."""
        return TrainConfig(
            model=self.model,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            patience=self.patience,
            val_fraction=self.val_fraction,
            n_seeds=self.n_seeds,
            jit_compile=self.jit_compile,
            linear_init=self.linear_init,
            conv_gate=self.conv_gate,
            conv_folds=self.conv_folds,
            model_overrides=dict(self.model_overrides),
        )

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if not isinstance(self.model, (str, dict)):
            d["model"] = getattr(self.model, "__name__", str(self.model))
        return d


#: the baselines run when none are named
DEFAULT_BASELINE_NAMES = ("gblup", "ridge", "rkhs")


@dataclass(frozen=True)
class BaselineConfig(_Config):
    """The baselines fitted on the same folds, with the same SNPs and imputation.

    Parameters
    ----------
    names : list of str
        Any of ``snpcnn.baselines.BASELINES`` ("gblup", "ridge", "rkhs", "gblup_ad",
        "egblup") and "mtgblup" (multi-trait GBLUP); case and spaces are ignored,
        "none" is dropped.  Empty: no baseline.
    ensemble : bool
        Also score the average of the CNN's and GBLUP's predictions ("CNN+GBLUP").
    """

    names: tuple[str, ...] = DEFAULT_BASELINE_NAMES
    ensemble: bool = True

    def __post_init__(self) -> None:
        from snpcnn.baselines import canonical_baseline, make_baseline
        from snpcnn.cv import MT_BASELINE

        names = _names(self.names, "baselines") or ()
        names = [n.strip().lower() for n in names if n and n.strip().lower() != "none"]
        # one spelling per baseline ("eg_blup" -> "egblup"), each once
        names = tuple(dict.fromkeys(canonical_baseline(n) for n in names))
        for n in names:
            if n != MT_BASELINE:
                make_baseline(n)  # raises InputError on an unknown name
        _set(self, "names", names)
        _set(self, "ensemble", bool(self.ensemble))


@dataclass(frozen=True)
class ExecutionConfig(_Config):
    """How the cross-validation runs and reports; nothing here changes a result.

    Parameters
    ----------
    refit : bool
        Refit the CNN on all phenotyped samples afterwards (``results.final_bundle``).
    progress : callable, optional
        ``progress(kind, **info)`` (see :func:`snpcnn.cv.cross_validate`).
    skip, on_fold : callables, optional
        Resume: ``skip(repeat, fold)`` may return a stored fold result;
        ``on_fold(repeat, fold, result)`` receives each finished fold.
    workers : int, optional
        Run the folds as tasks on a local Ray with this many CPUs
        (:class:`snpcnn.executor.Executor`; default: serially, in this process).
    ray_address : str, optional
        ``HOST:PORT`` of an existing Ray cluster to run the folds on.
    threads : int, optional
        BLAS/TensorFlow threads per task (with ``workers`` or ``ray_address``).
    """

    refit: bool = True
    progress: Callable[..., None] | None = None
    skip: Callable[[int, int], dict | None] | None = None
    on_fold: Callable[[int, int, dict], None] | None = None
    workers: int | None = None
    ray_address: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        _set(self, "refit", bool(self.refit))
        for name in ("workers", "threads"):
            if getattr(self, name) is not None:
                _set(self, name, _integer(getattr(self, name), name, 1))
        for name in ("progress", "skip", "on_fold"):
            hook = getattr(self, name)
            # progress=3 failed mid-run as "'int' object is not callable" (a checking
            # helper, session 50); None and False are no hook
            if hook is not None and hook is not False and not callable(hook):
                raise InputError(f"{name} must be a function (or None), got {type(hook).__name__}")
        if self.parallel and (self.skip or self.on_fold):
            raise InputError("skip/on_fold (resume hooks) do not combine with workers/ray_address")

    @property
    def parallel(self) -> bool:
        """Whether the folds run as executor tasks (``workers`` or ``ray_address`` given)."""
        return self.workers is not None or self.ray_address is not None

    def to_dict(self) -> dict[str, Any]:
        """The settings (the callables are left out)."""
        return {
            "refit": self.refit,
            "workers": self.workers,
            "ray_address": self.ray_address,
            "threads": self.threads,
        }


#: the keyword groups of :func:`snpcnn.cv.cross_validate`: parameter name -> class
GROUPS: dict[str, type] = {
    "data": DataConfig,
    "preprocessing": PreprocessConfig,
    "training": TrainingConfig,
    "baselines": BaselineConfig,
    "execution": ExecutionConfig,
}
# keyword -> (group, field); the field has the keyword's name except the baselines' names
_KEYWORDS: dict[str, tuple[str, str]] = {
    ("baselines" if (g, f.name) == ("baselines", "names") else f.name): (g, f.name)
    for g, cls in GROUPS.items()
    for f in dataclasses.fields(cls)
}


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if hasattr(a, "columns") or hasattr(b, "columns"):  # a fold table
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def keyword_names() -> list[str]:
    """Every keyword that :func:`from_keywords` folds into a group."""
    return list(_KEYWORDS)


def from_keywords(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, _Config]:
    """Fold keyword arguments into the five config objects.

    ``values`` holds the keywords (and any of the five objects under their group
    name: ``data``, ``preprocessing``, ``training``, ``baselines``, ``execution``;
    ``baselines`` may also be a list of names); ``defaults`` the keywords' defaults.
    A keyword at its default defers to the object; one that differs sets the field,
    unless the object sets it to another value: then an :class:`InputError`.
    """
    unknown = set(values) - set(_KEYWORDS) - set(GROUPS) - {"genotypes", "phenotypes"}
    if unknown:
        raise TypeError(f"unexpected keyword argument {sorted(unknown)[0]!r}")
    objects: dict[str, Any] = {g: values.get(g) for g in GROUPS}
    if not isinstance(objects["baselines"], BaselineConfig):
        objects["baselines"] = None  # a list of names (or None): the keyword
    else:
        values = {k: v for k, v in values.items() if k != "baselines"}
    for g, cls in GROUPS.items():
        obj = objects[g]
        if obj is not None and not isinstance(obj, cls):
            raise InputError(f"{g}= must be a snpcnn.config.{cls.__name__}, got {type(obj)}")
    given = {
        name: values[name]
        for name in _KEYWORDS
        if name in values and not _same(values[name], defaults[name])
    }
    out: dict[str, _Config] = {}
    for g, cls in GROUPS.items():
        mine = {f: given[k] for k, (grp, f) in _KEYWORDS.items() if grp == g and k in given}
        obj = objects[g]
        if obj is None:
            out[g] = cls(**mine)
            continue
        default = cls()
        for f, value in mine.items():
            current = getattr(obj, f)
            if _same(current, getattr(default, f)):
                continue
            if not _same(getattr(obj.replace(**{f: value}), f), current):
                kw = "baselines" if f == "names" else f
                raise InputError(
                    f"{kw}={value!r} and {g}.{f}={current!r} disagree: set {kw} in one "
                    f"place (the keyword or {cls.__name__})"
                )
        out[g] = obj.replace(**mine) if mine else obj
    return out
