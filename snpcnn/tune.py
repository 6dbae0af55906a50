"""``snpcnn tune``: nested hyperparameter search, honest by construction.

Outer folds give the reported accuracy.  For each outer split, the search sees
only its **training part**: the phenotypes of the outer test samples are removed
before anything else happens (they are not masked, they are not there).  Inside,
an inner K-fold CV (:func:`snpcnn.cv.cross_validate` on inner folds drawn from
the training samples) scores Optuna trials: a seeded TPE sampler proposes a
configuration, each inner fold's Pearson r (AUC for a binary trait) is reported
as it finishes and a median pruner stops trials that are worse than the median
of the finished ones at the same inner fold.  The configuration with the best
mean inner score is then refitted on the whole outer training part and scored
once on the outer test fold, beside the default configuration and GBLUP on the
same outer folds.

Search spaces are TOML files (:func:`load_space`); the package ships
``snpcnn/presets/snpcnn_default.space.toml``.  Optuna's trials are stored in a
journal file in the run's work directory, so an interrupted tune resumes.

Trials run one after another, or ``workers`` at a time as Ray tasks (plain Ray
tasks through :mod:`snpcnn.executor` with Optuna's ask/tell; docs/tune.md says why).
The outer splits' searches run side by side, one trial of each in flight, so every
split's sequence of trials is the serial one and no worker waits for another split.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import logging
import math
import numbers
import os
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn import __version__
from snpcnn.errors import InputError, opt
from snpcnn.folds import MIN_TEST_FOLD, TINY_FOLD_WHY

__all__ = [
    "Param",
    "SearchSpace",
    "TuneResults",
    "load_space",
    "default_space_path",
    "tune",
    "TRAINING_KEYS",
]

log = logging.getLogger("snpcnn.tune")

#: training settings a space may search (cross_validate keywords) and their types
TRAINING_KEYS: dict[str, type] = {
    "learning_rate": float,
    "batch_size": int,
    "epochs": int,
    "patience": int,
    "val_fraction": float,
    "n_seeds": int,
    "encoding": str,
    "scaling": str,
    "linear_init": str,
    "conv_gate": float,
    "conv_folds": int,
}
#: architecture sections a space may set with a dotted key ("linear.l2", "screen.width")
SECTION_KEYS = {"linear": {"l2"}, "screen": {"windows", "width"}}
#: model names of the tuned configuration, its default, and the baseline beside them
TUNED, DEFAULT, GBLUP = "CNN (tuned)", "CNN (default)", "GBLUP"
_SPACE_TOP = {"model", "n_trials", "description", "params", "fixed"}
_PARAM_KEYS = {"low", "high", "log", "step", "choices"}


# ------------------------------------------------------------------ spaces
@dataclass(frozen=True)
class Param:
    """One searched setting: a float/int range (``log`` scale, ``step``) or choices."""

    name: str
    kind: str  # "float", "int" or "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple = ()

    def suggest(self, trial) -> Any:
        if self.kind == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log
            )
        return trial.suggest_float(
            self.name, float(self.low), float(self.high), step=self.step, log=self.log
        )

    def values(self) -> list[Any]:
        """A few values of the range (its ends) or every choice: what load_space checks."""
        return list(self.choices) if self.kind == "categorical" else [self.low, self.high]

    def to_dict(self) -> dict[str, Any]:
        if self.kind == "categorical":
            return {"choices": list(self.choices)}
        d: dict[str, Any] = {"low": self.low, "high": self.high}
        if self.log:
            d["log"] = True
        if self.step is not None:
            d["step"] = self.step
        return d


@dataclass(frozen=True)
class SearchSpace:
    """A search space: a base model and the settings to search (:func:`load_space`)."""

    model: str | dict = "snpcnn_default"
    params: tuple[Param, ...] = ()
    n_trials: int | None = None
    source: str | None = None
    fixed: tuple[tuple[str, Any], ...] = ()  # settings of every trial and of the default

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_trials": self.n_trials,
            "fixed": dict(self.fixed),
            "params": {p.name: p.to_dict() for p in self.params},
            "source": self.source,
        }

    def configure(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The ``cross_validate`` keywords of one configuration (``model`` resolved)."""
        from snpcnn.models import load_architecture
        from snpcnn.models.spec import apply_overrides

        values = {**dict(self.fixed), **values}
        base = values.get("model", self.model)
        arch = copy.deepcopy(load_architecture(base))
        kwargs: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for key, value in values.items():
            if key == "model":
                continue
            if key in TRAINING_KEYS:
                kwargs[key] = value
            elif key == "kernel_stride":
                overrides["kernel_size"] = overrides["strides"] = value
                if isinstance(arch.get("screen"), dict):
                    arch["screen"]["width"] = value
            elif "." in key:
                section, sub = key.split(".", 1)
                if not isinstance(arch.get(section), dict):
                    raise InputError(
                        f"search key '{key}': architecture '{arch.get('name')}' has no "
                        f"[{section}] section"
                    )
                arch[section][sub] = value
            else:
                overrides[key] = value
        if overrides:
            arch = apply_overrides(arch, **overrides)
        kwargs["model"] = load_architecture(arch)
        return kwargs


def default_space_path() -> Path:
    """The search space shipped with the presets (``snpcnn_default.space.toml``)."""
    from importlib import resources

    return Path(str(resources.files("snpcnn").joinpath("presets/snpcnn_default.space.toml")))


def _param(name: str, spec: Any, where: str) -> Param:
    at = f"{where}: params.{name}"
    if not isinstance(spec, Mapping):
        if isinstance(spec, list):
            spec = {"choices": spec}
        else:
            raise InputError(
                f"{at}: give a range {{ low = .., high = .. }} or {{ choices = [..] }}, "
                f"not {spec!r}"
            )
    unknown = set(spec) - _PARAM_KEYS
    if unknown:
        raise InputError(
            f"{at}: unknown key '{sorted(unknown)[0]}'; use low, high, log, step or choices"
        )
    if "choices" in spec:
        if set(spec) - {"choices"}:
            raise InputError(f"{at}: give either choices or a range (low/high), not both")
        choices = spec["choices"]
        if not isinstance(choices, list) or not choices:
            raise InputError(f"{at}: choices must be a non-empty list")
        if len({json.dumps(c, sort_keys=True) for c in choices}) != len(choices):
            raise InputError(f"{at}: choices repeat a value")
        for c in choices:
            if not isinstance(c, (str, int, float, bool)):
                raise InputError(f"{at}: choice {c!r} is not a number, string or boolean")
        return Param(name, "categorical", choices=tuple(choices))
    if "low" not in spec or "high" not in spec:
        raise InputError(f"{at}: a range needs both low and high (or give choices = [...])")
    low, high = spec["low"], spec["high"]
    for label, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(f"{at}: {label} must be a finite number, got {v!r}")
    if not low < high:
        raise InputError(f"{at}: low ({low}) must be below high ({high})")
    log_scale = spec.get("log", False)
    if not isinstance(log_scale, bool):
        raise InputError(f"{at}: log must be true or false")
    if log_scale and low <= 0:
        raise InputError(f"{at}: a log scale needs low > 0, got {low}")
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float))):
        raise InputError(f"{at}: step must be a number")
    if step is not None and (step <= 0 or log_scale):
        raise InputError(f"{at}: step must be > 0 and cannot go with log = true")
    if step is not None and step > high - low:
        # Optuna could only ever draw `low` (a checking helper, session 47)
        raise InputError(
            f"{at}: step ({step}) is larger than high - low ({high - low}), so only low "
            f"({low}) could be drawn; use a step of at most {high - low}, or fix {name} under [fixed]"
        )
    want = TRAINING_KEYS.get(name)
    is_int = isinstance(low, int) and isinstance(high, int) and want is not float
    if want is int and not is_int:
        raise InputError(f"{at}: '{name}' is a whole number; give integer low and high")
    return Param(name, "int" if is_int else "float", low, high, log_scale, step)


def load_space(path: str | os.PathLike | Mapping | None = None) -> SearchSpace:
    """Read and check a search space TOML (default: the shipped one).

    Format::

        model = "snpcnn_default"   # the base architecture (preset name or TOML path)
        n_trials = 20              # optional default for --trials

        [fixed]                    # optional: set in every trial and in the default
        epochs = 100

        [params]
        learning_rate = { low = 1e-4, high = 1e-2, log = true }
        filters = { choices = [4, 8, 16] }
        kernel_stride = { choices = [3, 5] }   # kernel_size = strides (= screen width)
        "linear.l2" = { low = 1e-5, high = 1e-1, log = true }
        linear_init = { choices = ["ridge_loo", "zeros"] }

    Keys are training settings (:data:`TRAINING_KEYS`), ``model`` (choices of
    architectures), ``kernel_stride``, dotted architecture keys
    (:data:`SECTION_KEYS`), or any block key of the base architecture(s)
    (``filters``, ``kernel_size``, ``strides``, ``dropout``, ``l2``, ``units``, ...:
    set on every block that takes it).  Every error is one line naming the key.
    """
    from snpcnn.models import load_architecture

    if path is None:
        path = default_space_path()
    if isinstance(path, Mapping):
        raw, where, base_dir = dict(path), "search space", Path.cwd()
    else:
        p = Path(path)
        where, base_dir = str(p), p.parent
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{p}: no such search space file; check the path") from None
        except UnicodeDecodeError as exc:  # UTF-16 from a Windows editor: named, with the fix
            from snpcnn.io._checks import not_utf8

            raise InputError(f"search space file {not_utf8(p, exc)}") from None
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{p}: not valid TOML ({' '.join(str(exc).split())})") from None
    unknown = set(raw) - _SPACE_TOP
    if unknown:
        raise InputError(
            f"{where}: unknown key '{sorted(unknown)[0]}'; a space has model, n_trials, "
            "description, [fixed] and [params]"
        )
    model = raw.get("model", "snpcnn_default")
    if isinstance(model, str) and model.endswith((".toml", ".json")):
        model = str((base_dir / model).resolve())
    n_trials = raw.get("n_trials")
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1
    ):
        raise InputError(f"{where}: n_trials must be a whole number >= 1")
    params_raw = raw.get("params", {})
    if not isinstance(params_raw, Mapping) or not params_raw:
        raise InputError(f"{where}: [params] is missing or empty; name at least one setting")
    params = tuple(_param(str(k), v, where) for k, v in params_raw.items())
    fixed_raw = raw.get("fixed", {})
    if not isinstance(fixed_raw, Mapping):
        raise InputError(f"{where}: [fixed] must be a table of key = value")
    for k, v in fixed_raw.items():
        if k == "model":
            raise InputError(f"{where}: fixed.model: set the base model with the top-level model")
        if k in params_raw:
            raise InputError(f"{where}: fixed.{k}: '{k}' is also searched in [params]")
        if not isinstance(v, (str, int, float, bool)):
            raise InputError(f"{where}: fixed.{k}: give a number, string or boolean")
    space = SearchSpace(model, params, n_trials, where, tuple(fixed_raw.items()))
    # every key must mean something for every base architecture it can meet
    bases = [model]
    for p in params:
        if p.name == "model":
            if p.kind != "categorical":
                raise InputError(f"{where}: params.model must be choices = [presets or files]")
            bases = [
                str((base_dir / c).resolve()) if str(c).endswith((".toml", ".json")) else c
                for c in p.choices
            ]
    if any(p.name == "model" for p in params):
        params = tuple(
            dataclasses.replace(p, choices=tuple(bases)) if p.name == "model" else p for p in params
        )
        space = dataclasses.replace(space, params=params)
    # [fixed] first, each key on its own: configure() merges [fixed] into every params
    # check, so a typo there was blamed on the first searched key
    alone = dataclasses.replace(space, fixed=())
    for base in bases:
        try:
            load_architecture(base)
        except InputError as exc:
            raise InputError(f"{where}: model {base!r}: {exc}") from None
        for k, v in space.fixed:
            _check_key(alone, Param(k, "categorical", choices=(v,)), base, where, "fixed")
        for p in params:
            if p.name == "model":
                continue
            _check_key(space, p, base, where)
    return space


def _check_key(space: SearchSpace, p: Param, base, where: str, table: str = "params") -> None:
    at = f"{where}: {table}.{p.name}"
    if p.name in TRAINING_KEYS:
        want = TRAINING_KEYS[p.name]
        for v in p.values():
            if want is str and not isinstance(v, str):
                raise InputError(f"{at}: '{p.name}' takes strings, got {v!r}")
            if want in (int, float) and (isinstance(v, (bool, str))):
                raise InputError(f"{at}: '{p.name}' takes numbers, got {v!r}")
        for label, v in _training_values(p, table):
            _check_training_value(p.name, v, f"{at}: {label}" if label else at)
        return
    if "." in p.name:
        section, sub = p.name.split(".", 1)
        if sub not in SECTION_KEYS.get(section, ()):
            known = ", ".join(f"{s}.{k}" for s, ks in SECTION_KEYS.items() for k in sorted(ks))
            raise InputError(f"{at}: unknown key '{p.name}'; dotted keys are {known}")
    for v in p.values():
        try:
            space.configure({"model": base, p.name: v})
        except InputError as exc:
            msg = " ".join(str(exc).split())
            raise InputError(
                f"{at}: unknown or invalid key '{p.name}' for model {base!r} ({msg}); tunable "
                f"keys are training settings ({', '.join(TRAINING_KEYS)}), model, "
                "kernel_stride, linear.l2, screen.windows, screen.width or a block key of "
                "the model"
            ) from None


def _training_values(p: Param, table: str) -> list[tuple[str, Any]]:
    """The values of a training setting that load_space checks, each with its label.

    A range is checked at its ends; a whole-number range also at each value it can
    draw (conv_folds = 1 is invalid inside the valid 0..4), when there are few enough.
    """
    if table == "fixed":
        return [("", p.choices[0])]
    if p.kind == "categorical":
        return [(f"choice {c!r}", c) for c in p.choices]
    ends = [(f"low {p.low!r}", p.low), (f"high {p.high!r}", p.high)]
    if p.kind == "int" and (p.high - p.low) / int(p.step or 1) <= 10_000:
        inside = range(int(p.low) + int(p.step or 1), int(p.high), int(p.step or 1))
        return ends[:1] + [(f"value {v} of the range", v) for v in inside] + ends[1:]
    return ends


def _check_training_value(name: str, value: Any, at: str) -> None:
    """Check one value of a training setting as the run will (the config objects'
    validation), so that a bad value stops load_space, not every trial."""
    from snpcnn.config import PreprocessConfig, TrainingConfig

    cls = PreprocessConfig if name in ("encoding", "scaling") else TrainingConfig
    try:
        cls(**{name: value})
    except (InputError, TypeError, ValueError) as exc:
        msg = " ".join(str(exc).split())
        raise InputError(f"{at}: {msg}") from None
    if name == "val_fraction" and value > 0.5:
        # as the benchmark's configs: more than half of each training part held out
        # for early stopping leaves too little to train on
        raise InputError(f"{at}: val_fraction must be in [0, 0.5], got {value}")


# --------------------------------------------------------------- results
@dataclass
class TuneResults:
    """What :func:`tune` produced (also written to ``out``)."""

    metrics: pd.DataFrame  # outer-fold metrics: tuned, default and GBLUP, as in fit
    predictions: pd.DataFrame
    trials: pd.DataFrame  # every trial: outer split, number, state, inner scores, params
    chosen: pd.DataFrame  # per outer split: the chosen trial and its parameters
    folds: pd.DataFrame
    trait: str
    head: str
    space: SearchSpace
    config: dict[str, Any]
    execution: dict[str, Any]
    wall_seconds: float
    out: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def headline_metric(self) -> str:
        return "pearson_r" if self.head == "regression" else "auc"

    def summary(self) -> pd.DataFrame:
        """Mean, sd and number of outer folds of the headline metric per model (``count``:
        folds where it is defined), with ``n_collapsed`` (folds of constant predictions,
        whose correlation is undefined and left out of the mean, as in ``snpcnn fit``)
        and ``n_folds``."""
        m = self.metrics[self.metrics["metric"] == self.headline_metric]
        m = m.assign(value=m["value"].where(m["status"].ne("undefined")))
        g = m.groupby("model", sort=False)
        out = g["value"].agg(["mean", "std", "count"]).reset_index()
        out["n_collapsed"] = g["status"].apply(lambda s: int(s.eq("collapsed").sum())).to_numpy()
        out["n_folds"] = g.size().to_numpy()
        return out

    def summary_cells(self) -> list[tuple[str, str, str]]:
        """``(model, "mean ± sd", folds)`` per model as summary.md and the console print
        them: no sd over one fold, "n/a" where no fold is defined, and the collapsed
        folds named (a tuned CNN that collapsed on every fold read ``nan ± 0.000 (0
        folds)``: a checking helper, session 42)."""
        from snpcnn.metrics import format_mean_sd

        cells = []
        for _, row in self.summary().iterrows():
            folds = f"{int(row['count'])}"
            if row["n_collapsed"]:
                folds += f" ({int(row['n_collapsed'])} collapsed)"
            if int(row["count"]) + int(row["n_collapsed"]) < int(row["n_folds"]):
                folds += f" of {int(row['n_folds'])}"
            cells.append((str(row["model"]), format_mean_sd(row["mean"], row["std"]), folds))
        return cells


# -------------------------------------------------------------- machinery
class _Pruned(Exception):
    pass


def _storage(path: str):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return JournalStorage(JournalFileBackend(str(path)))


def _pruner():
    import optuna

    # a trial is stopped after an inner fold where its running mean is below the
    # median of the finished trials' at the same fold (from the 1st fold, 3 trials on).
    # Every trial of a split has the same inner folds, so the comparison is paired.
    return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)


def _fold_score(result: Mapping, metric: str) -> float | None:
    """The CNN's score on one inner test fold: None where the fold is undefined (its
    observed values all equal, e.g. one class of a binary trait: no model has a score
    there, and every trial of the split has the same inner folds, so leaving it out keeps
    the comparison paired); a collapsed fit (constant predictions) counts as no information,
    0 for a correlation and 0.5 for the AUC.  Before session 43 both counted 0.0, an AUC
    that ranks every sample backwards, and the inner score averaged them in (a checking
    helper: inner scores 0.35-0.37 where the defined folds gave 0.53-0.56)."""
    from snpcnn.cv import CNN_NAMES
    from snpcnn.metrics import no_information

    for row in result["metrics"]:
        if row["model"] in CNN_NAMES and row["metric"] == metric:
            status = row.get("status", "ok")
            if status == "undefined":
                return None
            v = float(row["value"])
            return v if status == "ok" and math.isfinite(v) else no_information(metric)
    return no_information(metric)


def _mean_defined(scores: Sequence[float | None]) -> float | None:
    """The mean of the defined inner-fold scores (None where there is none)."""
    defined = [v for v in scores if v is not None]
    return float(np.mean(defined)) if defined else None


def _trial_task(unit, genotypes, phenotypes):
    """One trial: the inner CV of one configuration on one outer training part."""
    import optuna

    from snpcnn.cv import cross_validate

    d = unit.data
    t0 = time.perf_counter()
    trial = None
    if os.path.exists(d["storage"]):
        study = optuna.load_study(
            study_name=d["study"], storage=_storage(d["storage"]), pruner=_pruner()
        )
        trial = optuna.trial.Trial(study, d["trial_id"])
    # else: a Ray node that does not see the run's directory: no pruning, every fold runs
    scores: list[float] = []

    def on_fold(r, f, res):
        scores.append(_fold_score(res, d["metric"]))
        mean = _mean_defined(scores)
        if trial is not None and mean is not None:
            trial.report(mean, step=len(scores) - 1)
            if trial.should_prune():
                raise _Pruned

    state, error = "complete", None
    # a trial's run notes (a binary trait, a covariate) are the outer units' too, which log
    # them; logged here as well they repeated once per trial on the console
    cv_log = logging.getLogger("snpcnn.cv")
    level = cv_log.level
    cv_log.setLevel(logging.ERROR)
    try:
        kwargs = d["space"].configure(d["params"])
        cross_validate(
            genotypes,
            phenotypes,
            d["trait"],
            folds=d["inner"],
            cnn=True,
            baselines=(),
            refit=False,
            ensemble=False,
            on_fold=on_fold,
            **d["common"],
            **kwargs,
        )
    except _Pruned:
        state = "pruned"
    except (InputError, ValueError) as exc:  # this configuration cannot be built or trained
        state, error = "fail", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    finally:
        cv_log.setLevel(level)
    value = _mean_defined(scores) if state == "complete" else None
    if state == "complete" and scores and value is None:
        state = "fail"
        error = (
            "no inner test fold is defined (in each, every sample has the same value of "
            "the trait, e.g. one class only): use fewer inner folds"
        )
    return {
        "state": state,
        "scores": scores,
        "value": value,
        "error": error,
        "seconds": time.perf_counter() - t0,
    }


def _outer_task(unit, genotypes, phenotypes):
    """One outer split: a configuration trained on its training part, scored on its test part."""
    from snpcnn.executor import run_fold

    d = unit.data
    t0 = time.perf_counter()
    res = run_fold(
        genotypes,
        phenotypes,
        unit.trait,
        unit.repeat,
        unit.fold,
        folds=d["folds"],
        ensemble=False,
        **d["common"],
        **d["kwargs"],
    )
    return {
        "metrics": res["metrics"],
        "predictions": res["predictions"],
        "notes": res.get("notes", []),
        "seconds": time.perf_counter() - t0,
    }


def _tune_task(unit, genotypes):
    """A task of a tune: a trial (``unit.trial`` set) or an outer scoring.

    Each unit carries its own phenotypes: a trial only its outer split's training part,
    so no trial task ever receives an outer test phenotype.
    """
    if unit.trial is not None:
        return _trial_task(unit, genotypes, unit.data["phenotypes"])
    return _outer_task(unit, genotypes, unit.data["phenotypes"])


@dataclass
class _Search:
    """The search of one outer split: its study, training part and trials in flight."""

    index: int
    repeat: int
    fold: int
    name: str
    study: Any
    ph_train: Any
    inner: pd.DataFrame
    n_train: int
    n_test: int
    started: bool = False
    done: bool = False
    asked: list = field(default_factory=list)  # the batch of trials being run
    outs: dict = field(default_factory=dict)  # trial number -> its task's output
    chosen: dict | None = None


def _states():
    import optuna

    s = optuna.trial.TrialState
    return {"complete": s.COMPLETE, "pruned": s.PRUNED, "fail": s.FAIL}


def _n_finished(study) -> int:
    """Trials that count toward --trials: finished and not failed."""
    import optuna

    fail = optuna.trial.TrialState.FAIL
    return sum(t.state.is_finished() and t.state != fail for t in study.get_trials(deepcopy=False))


def _check_failures(s: _Search, n_trials: int) -> None:
    import optuna

    trials = s.study.get_trials(deepcopy=False)
    fails = sum(t.state == optuna.trial.TrialState.FAIL for t in trials)
    if fails >= max(n_trials, 5) and not _completed(s.study):
        errs = [t.user_attrs.get("error") for t in trials if t.user_attrs.get("error")]
        raise InputError(
            f"outer repeat {s.repeat} fold {s.fold}: every trial failed; first error: "
            f"{errs[0] if errs else 'unknown'}"
        )


def _json(o):
    from snpcnn.executor import to_json

    return to_json(o)


def _hash(obj) -> str:
    from snpcnn.executor import content_hash

    return content_hash(obj, 16)


def _unit_stamp(key: str, unit) -> str:
    """The stamp of an outer unit's stored result: the tune's inputs and its own settings."""
    return _hash({"key": key, "kwargs": unit.data["kwargs"]})


def _atomic(path: Path, text: str) -> None:
    from snpcnn.report import atomic_write_text

    atomic_write_text(path, text)


def _inner_strata(head: str, y: Sequence[float], k: int) -> np.ndarray | None:
    """The class labels that stratify a binary trait's inner folds, or None: random inner
    folds left a class out of some inner test folds (no AUC there), and ``tune`` has no
    fold file to fix them with (a checking helper, session 43).  None for a quantitative
    trait, and where a class has fewer than ``k`` samples (those folds are then left out
    of the trial's inner score, :func:`_fold_score`)."""
    if head != "binary":
        return None
    y = np.asarray(y, dtype=np.float64)
    _, counts = np.unique(y, return_counts=True)
    return y if len(counts) == 2 and counts.min() >= k else None


def _outer_folds(
    folds, ids: np.ndarray, repeats: int, seed: int, stratify: np.ndarray | None = None
) -> pd.DataFrame:
    from snpcnn.cv import refuse_shaping_given_folds
    from snpcnn.folds import check_fold_frame, make_folds, read_folds

    if stratify is not None:
        refuse_shaping_given_folds(folds, "stratify")
    if isinstance(folds, pd.DataFrame):
        return check_fold_frame(folds, ids, repeats)
    if isinstance(folds, (str, Path)) and not str(folds).isdigit():
        if repeats > 1:
            raise InputError("--repeats needs random folds (--folds K), not a fold file")
        return read_folds(folds, ids)
    k = int(folds)
    if k < 2:
        raise InputError(f"--folds {k}: outer CV needs at least 2 folds")
    return make_folds(ids, k, repeats, seed, stratify=stratify)


def check_filters(min_maf: float, min_call_rate: float) -> None:
    """The SNP filters' ranges, checked before any work (inside the trials a bad value
    failed every trial, then the run)."""
    for name, value, high, why in (
        ("min_maf", min_maf, 0.5, "a minor allele frequency is at most 0.5"),
        ("min_call_rate", min_call_rate, 1.0, "a call rate is a share of the samples"),
    ):
        bad = isinstance(value, bool) or not isinstance(value, numbers.Real)
        if bad or not 0.0 <= value <= high:
            raise InputError(f"{opt(name, value)}: give a value in [0, {high:g}] ({why})")


def _data_stamp(ids, y, covariates, genotypes, read_sums) -> str:
    """The sha256 of what the trials and the outer fits read: the samples, their trait
    values and covariates, and the genotypes (the file's checksum where it was given by
    path, else the dosages).  The stamp that a ``--resume`` must match: before session 42
    it hashed the sample ids only, so a resume with changed trait values kept the trials
    scored on the old ones (a checking helper)."""
    h = hashlib.sha256("\n".join(ids).encode())
    h.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    if covariates is not None and covariates.shape[1]:
        cov = covariates.loc[list(ids)]
        h.update(pd.util.hash_pandas_object(cov, index=True).to_numpy().tobytes())
        h.update("\n".join(map(str, cov.columns)).encode())
    geno = (read_sums or {}).get("genotypes")
    sums = {k: v for k, v in (geno or {}).items() if k != "path"}
    if sums and "not_hashed" not in json.dumps(sums):
        h.update(json.dumps(sums, sort_keys=True).encode())
    else:  # an in-memory matrix, or a pipe: its dosages, by row blocks of about 64 MB
        n, m = genotypes.n_samples, max(genotypes.n_snps, 1)
        step = max(1, (64 << 20) // m)
        for start in range(0, n, step):
            block = np.asarray(genotypes.dosages[start : start + step])
            h.update(np.ascontiguousarray(block).tobytes())
        h.update(pd.util.hash_pandas_object(genotypes.variants, index=False).to_numpy().tobytes())
    return h.hexdigest()


def _check_inner_folds(k: int, outer: pd.DataFrame, ids: np.ndarray, splits) -> None:
    """Inner K-fold must leave >= 2 samples per inner test fold in every outer training part
    (checked before any work; make_folds' own error named ``folds``, the outer option)."""
    n = len(ids)
    for r, f in splits:
        part = outer[outer["repeat"] == r]
        test = set(part.loc[part["fold"] == f, "sample_id"].astype(str))
        n = min(n, sum(s not in test for s in ids))
    if n // k < MIN_TEST_FOLD:
        fix = (
            f"use {opt('inner_folds', n // MIN_TEST_FOLD)} or fewer"
            if n >= 2 * MIN_TEST_FOLD
            else f"no inner K-fold fits it (2 inner folds need {2 * MIN_TEST_FOLD} samples): "
            f"use fewer outer folds ({opt('folds')}) or a trait with more phenotyped samples"
        )
        raise InputError(
            f"{opt('inner_folds', k)} with {n} phenotyped samples in the smallest outer "
            f"training part leaves inner test folds of fewer than {MIN_TEST_FOLD} samples: "
            f"{TINY_FOLD_WHY}; {fix}"
        )


def _check_stamp(partial: Path, key: str, settings: dict) -> None:
    """Check a resumed work folder's ``settings.json`` against this run's ``key`` (one-line
    errors where it differs, is damaged, or is missing beside finished trials), or write it
    into a new folder."""
    stamp = partial / "settings.json"
    if stamp.is_file():
        try:
            old = json.loads(stamp.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:  # a damaged file: one line, no
            # "internal error" (a checking helper, session 49)
            raise InputError(
                f"{stamp} is damaged ({getattr(exc, 'msg', exc)}), so the trials in {partial} "
                f"cannot be checked against these inputs; use {opt('force', True)} without "
                f"{opt('resume', True)} to discard them and start over"
            ) from None
        if not isinstance(old, dict) or old.get("key") != key:
            # name what differs (a checking helper, session 49: the message did not say)
            now = json.loads(json.dumps(settings, default=_json))
            names = sorted(
                k
                for k in set(now) | set(old if isinstance(old, dict) else {})
                if k != "key" and (not isinstance(old, dict) or old.get(k) != now.get(k))
            )
            what = f" (what differs: {', '.join(names[:6])}{', ...' if len(names) > 6 else ''})"
            raise InputError(
                f"{partial} holds a tune with other inputs or settings"
                f"{what if names and isinstance(old, dict) else ''}; rerun with the same "
                f"inputs and settings to resume it, or use {opt('force', True)} without "
                f"{opt('resume', True)} to discard it"
            )
    elif _finished_work(partial):
        # trials without the settings they ran under: resumed, they would be mixed with
        # these inputs' trials unchecked
        raise InputError(
            f"{partial} holds trials but no settings.json to check them against these inputs; "
            f"use {opt('force', True)} without {opt('resume', True)} to discard them and start "
            "over"
        )
    else:
        _atomic(stamp, json.dumps({"key": key, **settings}, indent=2, default=_json))


def _finished_work(partial: Path) -> bool:
    """Whether an unfinished tune's directory holds anything worth resuming: a finished
    (complete or pruned) trial in its journal, or a stored outer score."""
    outer = partial / "outer"
    if outer.is_dir() and any(p.is_file() for p in outer.rglob("*")):
        return True
    journal = partial / "optuna.journal"
    if not journal.is_file() or journal.stat().st_size == 0:
        return False
    import optuna

    try:
        storage = _storage(str(journal))
        done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        return any(
            storage.get_all_trials(st._study_id, deepcopy=False, states=done)
            for st in storage.get_all_studies()
        )
    except Exception:  # an unreadable journal: keep it, the user decides
        return True


class _SaidOnce(logging.Filter):
    """Drops a log record whose text was already said: every outer unit of a tune is its
    own cross-validation, which logs the run's notes (a binary trait, a covariate), so they
    repeated once per outer unit on the console (a checking helper, session 49)."""

    def __init__(self) -> None:
        super().__init__()
        self.said: set[tuple[int, str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.levelno, record.getMessage())
        if key in self.said:
            return False
        self.said.add(key)
        return True


@contextlib.contextmanager
def _said_once(*names: str):
    """Each distinct message of these loggers once while the block runs."""
    f = _SaidOnce()
    loggers = [logging.getLogger(n) for n in names]
    for lg in loggers:
        lg.addFilter(f)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(f)


@contextlib.contextmanager
def _discard_unfinished(partial: Path, temporary: bool):
    """On an error or interruption, remove the work directory unless it holds finished
    work to resume (as the benchmark does): else the corrected command was refused."""
    try:
        yield
    except BaseException:
        if temporary or not _finished_work(partial):
            shutil.rmtree(partial, ignore_errors=True)
        raise


def _sub_seed(seed: int, *parts: int) -> int:
    return int(np.random.SeedSequence([seed, *parts]).generate_state(1)[0] % (2**31 - 1))


# ------------------------------------------------------------------ tune
def import_optuna():
    """Optuna, or a one-line error that says how to install it (``snpcnn[tune]``).  A plain
    ``pip install snpcnn`` has no Optuna: ``snpcnn tune`` read the genotypes, then called
    the missing module an internal error to report (a checking helper, session 40)."""
    try:
        import optuna
    except ImportError:
        raise InputError(
            "tuning needs Optuna, which a plain install of snpcnn does not include: "
            "pip install 'snpcnn[tune]' (with --workers: 'snpcnn[cluster]')"
        ) from None
    return optuna


def tune(
    genotypes,
    phenotypes,
    trait: str | None = None,
    *,
    space: str | os.PathLike | Mapping | SearchSpace | None = None,
    out: str | os.PathLike | None = None,
    folds: int | str | os.PathLike | pd.DataFrame = 5,
    repeats: int = 1,
    inner_folds: int = 5,
    n_trials: int | None = None,
    covariates: Sequence[str] | None = None,
    stratify: bool = False,
    covariates_path: str | os.PathLike | None = None,
    id_column: str | None = None,
    min_maf: float = 0.0,
    min_call_rate: float = 0.0,
    seed: int = 0,
    compare_default: bool = True,
    splits: Sequence[tuple[int, int]] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    threads: int | None = None,
    resume: bool = False,
    force: bool = False,
    progress: Callable[..., None] | None = None,
    argv: Sequence[str] | None = None,
    read_checksums: Mapping[str, dict] | None = None,
) -> TuneResults:
    """Nested hyperparameter search of the CNN; outer-fold accuracy beside the default's and GBLUP's.

    Parameters
    ----------
    genotypes, phenotypes : Genotypes/Phenotypes or paths
        As for :func:`snpcnn.cv.cross_validate`.
    trait : str, optional
        The trait (default: the first).
    space : path, dict or SearchSpace, optional
        The search space (:func:`load_space`; default the shipped
        ``snpcnn_default.space.toml``).
    out : path, optional
        Results directory (work in ``<out>.partial/`` until done, then renamed):
        ``chosen.csv``/``chosen.json``, ``trials.csv``, ``metrics.csv``,
        ``predictions.csv``, ``summary.md``, ``run.json``, ``optuna.journal``.
    folds, repeats : outer folds
        K (random K-fold, ``repeats`` times), a ``sample_id -> fold`` file or a fold table.
    inner_folds : int
        K of the inner CV that scores the trials (inside each outer training part).  For a
        binary trait the inner folds are stratified (both classes in every inner test fold)
        wherever each class has at least K samples in the training part.
    stratify : bool
        Stratified random outer folds for a binary trait (``--stratify``), as in ``fit``.
    n_trials : int, optional
        Trials per outer split (default: the space's ``n_trials``, else 20).
    seed : int
        Seeds the outer and inner folds, the TPE sampler and the networks.
    compare_default : bool
        Also score the base configuration (fit's defaults and the space's ``[fixed]``)
        and GBLUP on the outer folds.
    splits : list of (repeat, fold), optional
        Run only these outer splits (e.g. to spread them over machines).
    workers, ray_address, threads
        Run trials (and the outer scoring) as Ray tasks (:mod:`snpcnn.executor`).
    resume, force
        Continue ``<out>.partial/`` (finished trials and outer scores are kept);
        replace an existing ``out``.
    progress : callable, optional
        ``progress(event, **info)``: "outer_start", "trial", "outer_done", "tasks".
    read_checksums : mapping, optional
        :func:`snpcnn.report.input_checksums` of the input files, taken when the caller
        read them (the command line); by default those of the inputs given by path.

    Returns
    -------
    TuneResults

    Notes
    -----
    The outer test phenotypes are removed before the search of a split starts, so
    nothing the search computes can depend on them (tests/test_tune.py poisons them).
    """
    optuna = import_optuna()

    from snpcnn.cv import CNN_NAME, HYBRID_NAME, _load_inputs, samples_without_calls
    from snpcnn.executor import Executor, Unit, UnitStore
    from snpcnn.folds import make_folds

    t_start = time.perf_counter()
    emit = progress or (lambda *a, **k: None)
    if not isinstance(space, SearchSpace):
        space = load_space(space)
    n_trials = int(space.n_trials or 20) if n_trials is None else n_trials
    if isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1:
        raise InputError(f"{opt('n_trials', n_trials)}: give 1 or more")
    n_trials = int(n_trials)
    if int(inner_folds) < 2:
        raise InputError(f"{opt('inner_folds', inner_folds)}: give 2 or more")
    # the SNP filters are checked here, before any work: inside the trials a bad value
    # failed every trial and left an unfinished tune behind (a checking helper)
    check_filters(min_maf, min_call_rate)
    from snpcnn.config import check_unique_covariates

    check_unique_covariates(covariates)
    g, ph, align = _load_inputs(genotypes, phenotypes, covariates, covariates_path, id_column)
    from snpcnn.report import input_checksums

    # the files as read (run.json; a file replaced during the run is named there): those
    # given by path here, or the checksums the command line took when it read its files
    # (objects carry a source name, which may be a subset's or a relative path: not hashed)
    files = {"genotypes": genotypes, "phenotypes": phenotypes, "covariates": covariates_path}
    read_sums = dict(read_checksums or {}) or input_checksums(
        {k: v for k, v in files.items() if isinstance(v, (str, Path))}
    )
    trait = trait or ph.default_trait()
    al = align(g, ph, traits=[trait])
    y = np.asarray(al.y, dtype=np.float64).reshape(len(al.sample_ids), -1)[:, 0]
    # as in snpcnn fit: a sample without any genotype call is left out, with a note
    no_call, note = samples_without_calls(
        g.call_rate_sample() if g.n_snps else None, al, ~np.isnan(y)
    )
    ids = np.asarray(al.sample_ids).astype(str)[~np.isnan(y) & ~no_call]
    y = np.where(no_call, np.nan, y)
    input_notes = [note] if note else []
    # the checks of snpcnn fit (a constant trait failed every trial first; session 49)
    from snpcnn.cv import check_trait_values

    check_trait_values(y, trait, phenotypes, np.asarray(al.sample_ids).astype(str))
    y_of = dict(zip(np.asarray(al.sample_ids).astype(str), y))  # the trait by sample id
    levels = np.unique(y[~np.isnan(y)])
    head = "binary" if len(levels) == 2 else "regression"
    metric = "pearson_r" if head == "regression" else "auc"
    if stratify and head != "binary":
        raise InputError(f"{opt('stratify')} is for binary traits; this trait is quantitative")
    strat = np.asarray([y_of[s] for s in ids]) if stratify else None
    outer = _outer_folds(folds, ids, repeats, seed, strat)
    splits_all = [
        (int(r), int(f))
        for r, f in outer[["repeat", "fold"]]
        .drop_duplicates()
        .sort_values(["repeat", "fold"])
        .itertuples(index=False)
    ]
    if splits is not None:
        wanted = [(int(a), int(b)) for a, b in splits]
        bad = [s for s in wanted if s not in splits_all]
        if bad:
            raise InputError(
                f"outer split (repeat {bad[0][0]}, fold {bad[0][1]}) does not exist; "
                f"splits are {splits_all}"
            )
        splits = wanted
    else:
        splits = splits_all
    _check_inner_folds(int(inner_folds), outer, ids, splits)
    common = dict(
        covariates=list(covariates or []) or None,
        min_maf=min_maf,
        min_call_rate=min_call_rate,
        seed=seed,
    )
    settings = {
        "snpcnn": __version__,
        "trait": trait,
        "space": space.to_dict(),
        "inner_folds": int(inner_folds),
        # since session 43 a binary trait's inner folds are stratified: a resume of an
        # earlier tune must not mix its trials with these
        "inner_strata": "binary, stratified" if head == "binary" else "random",
        "common": common,
        "folds": hashlib.sha256(outer.to_csv(index=False).encode()).hexdigest(),
        "data": _data_stamp(ids, y[~np.isnan(y)], al.covariates, g, read_sums),
    }
    key = _hash(settings)

    address = ray_address or (os.environ.get("RAY_ADDRESS") if workers else None)
    if address:  # a cluster that cannot be reached leaves no work directory behind
        from snpcnn.executor import _check_reachable

        _check_reachable(address)

    # ------------------------------------------------------------ work dir
    from snpcnn.report import resolve_link

    # a symbolic link: the results go where it points, and the link stays
    final = resolve_link(out) if out is not None else None
    if final is not None:
        from snpcnn.report import check_output_dir, check_partial_dir

        partial = final.with_name(final.name + ".partial")
        check_output_dir(final, force, command="tune")
        check_partial_dir(partial, ("settings.json", "optuna.journal", "outer"))
        if partial.exists() and not _finished_work(partial):
            # a tune that stopped before any trial finished (a bad setting, an early
            # Ctrl-C) has nothing to resume: it does not block the corrected command
            log.info("discarding %s: it holds no finished trial", partial)
            shutil.rmtree(partial)
        if resume and not partial.exists():  # said, as the benchmark says it (a checking
            # helper, session 49: the tune started over without a word)
            log.warning("nothing to resume in %s; starting a new tune", partial)
        if partial.exists() and not resume:
            if not force:
                raise InputError(
                    f"an unfinished tune is in {partial}; use {opt('resume', True)} to continue "
                    f"it or {opt('force', True)} to discard it and start over"
                )
            shutil.rmtree(partial)
    else:
        import tempfile

        partial = Path(tempfile.mkdtemp(prefix="snpcnn-tune-"))
    partial.mkdir(parents=True, exist_ok=True)
    _check_stamp(partial, key, settings)
    # absolute: Ray workers run in the directory where `ray start` ran, not this one (a
    # relative path sent every cluster trial down the no-journal path: no pruning)
    journal = str((partial / "optuna.journal").resolve())
    storage = _storage(journal)

    trial_rows: list[dict[str, Any]] = []
    chosen_rows: list[dict[str, Any]] = []
    notes: list[str] = list(input_notes)
    with (
        _discard_unfinished(partial, temporary=final is None),
        _said_once("snpcnn.cv", "snpcnn.executor"),
        Executor(workers, ray_address, threads=threads) as ex,
    ):
        slots = 1
        if ex.parallel:
            slots = ex.workers or max(1, int(ex._ray.cluster_resources().get("CPU", 1)))
        # The outer splits' searches are independent: they run side by side, one trial
        # batch of each split in flight at a time, so the workers stay busy without a
        # split ever waiting on another.  A split's trials run ``batch`` at a time and are
        # told in trial order after the batch; with at least as many splits as workers the
        # batch is 1: every split's sequence of trials (and pruning) is the serial one.
        batch = max(1, math.ceil(slots / len(splits)))
        searches: list[_Search] = []
        n_stratified = 0  # outer training parts whose inner folds are stratified
        for i_split, (r, f) in enumerate(splits):
            part = outer[outer["repeat"] == r]
            test_ids = set(part.loc[part["fold"] == f, "sample_id"].astype(str))
            train_ids = [s for s in ids if s not in test_ids]
            # the outer test samples' phenotypes are not there at all, not masked
            ph_train = dataclasses.replace(ph, table=ph.table.loc[ph.table.index.isin(train_ids)])
            name = f"outer_r{r}_f{f}"
            study = optuna.create_study(
                study_name=name,
                storage=storage,
                sampler=optuna.samplers.TPESampler(seed=_sub_seed(seed, r, f, 1)),
                pruner=_pruner(),
                direction="maximize",
                load_if_exists=True,
            )
            earlier = study.get_trials(deepcopy=False)
            for t in earlier:
                if not t.state.is_finished():  # asked before an interruption, never told
                    # trials.csv says why it failed (its error column was empty)
                    optuna.trial.Trial(study, t._trial_id).set_user_attr("error", "interrupted")
                    study.tell(t.number, state=optuna.trial.TrialState.FAIL)
            if earlier:
                # --resume: a sampler seeded as at the start would draw the configurations
                # of the first trials again (a checking helper found every resumed trial a
                # repeat); its seed moves on by the trials already there
                study.sampler = optuna.samplers.TPESampler(
                    seed=_sub_seed(seed, r, f, 1, len(earlier))
                )
            strata = _inner_strata(head, [y_of[s] for s in train_ids], int(inner_folds))
            n_stratified += strata is not None
            inner = make_folds(
                np.asarray(train_ids), int(inner_folds), 1, _sub_seed(seed, r, f), stratify=strata
            )
            searches.append(
                _Search(i_split, r, f, name, study, ph_train, inner, len(train_ids), len(test_ids))
            )

        outer_units: list[Unit] = []  # the tuned ones in split order, then the default's
        outer_results: dict[str, Any] = {}
        store = UnitStore(partial / "outer")  # the outer units: benchmark's resume mechanism

        def outer_unit(model, r, f, kw):
            return Unit(
                trait=trait,
                model=model,
                repeat=r,
                fold=f,
                data={"folds": outer, "common": common, "kwargs": kw, "phenotypes": ph},
            )

        def stored(u):
            return store.get(f"{u.model}_r{u.repeat}_f{u.fold}", _unit_stamp(key, u))

        def save(u, res):
            store.put(f"{u.model}_r{u.repeat}_f{u.fold}", res, _unit_stamp(key, u))

        ready: list[Unit] = []  # trials asked and not started, in trial order
        waiting: list[Unit] = []  # outer units to run when no trial can start

        def queue_outer(u):
            outer_units.append(u)
            res = stored(u)
            if res is None:
                waiting.append(u)
            else:
                outer_results[u.key] = res

        def finish(s: _Search) -> None:
            completed = _completed(s.study)
            if not completed:
                raise InputError(
                    f"outer repeat {s.repeat} fold {s.fold}: no trial completed (all pruned); "
                    f"use more trials ({opt('n_trials')})"
                )
            # the best mean inner score; ties go to the earlier trial
            best = max(completed, key=lambda t: (t.value, -t.number))
            tied = [t for t in completed if t.value == best.value]
            if len(tied) > 1 and len({tuple(sorted(t.params.items())) for t in tied}) > 1:
                # nothing chose among them: the earliest is taken, and the user is told
                msg = (
                    f"outer repeat {s.repeat} fold {s.fold}: {len(tied)} of {len(completed)} "
                    f"trials with different settings had the same inner score "
                    f"({best.value:.6g}), so the settings made no difference there (e.g. the "
                    f"convolutions were dropped); the earliest, trial {best.number}, is "
                    "reported as chosen"
                )
                if msg not in notes:
                    notes.append(msg)
            s.done = True
            s.chosen = {
                "repeat": s.repeat,
                "fold": s.fold,
                "trial": best.number,
                "inner_score": best.value,
                "n_train": s.n_train,
                "n_test": s.n_test,
                "params": dict(best.params),
            }
            emit(
                "outer_done",
                repeat=s.repeat,
                fold=s.fold,
                best=best.value,
                params=s.chosen["params"],
            )
            kw = {**space.configure(s.chosen["params"]), "cnn": True, "baselines": ()}
            queue_outer(outer_unit(TUNED, s.repeat, s.fold, kw))

        def ask(s: _Search) -> None:
            if not s.started:
                s.started = True
                emit(
                    "outer_start",
                    repeat=s.repeat,
                    fold=s.fold,
                    index=s.index + 1,
                    total=len(searches),
                )
            want = min(batch, n_trials - _n_finished(s.study))
            s.asked = [s.study.ask() for _ in range(want)]
            for t in s.asked:
                params = {p.name: p.suggest(t) for p in space.params}
                ready.append(
                    Unit(
                        trait=trait,
                        repeat=s.repeat,
                        fold=s.fold,
                        trial=t.number,
                        data={
                            "study": s.name,
                            "storage": journal,
                            "trial_id": t._trial_id,
                            "params": params,
                            "space": space,
                            "inner": s.inner,
                            "trait": trait,
                            "metric": metric,
                            "common": common,
                            "phenotypes": s.ph_train,  # the outer training part only
                        },
                    )
                )

        def feed() -> Unit | None:
            if not ready:
                # the split with the most trials left, so that the splits finish together
                idle = [s for s in searches if not s.done and not s.asked]
                if idle:
                    ask(max(idle, key=lambda s: (n_trials - _n_finished(s.study), -s.index)))
            if ready:
                return ready.pop(0)
            return waiting.pop(0) if waiting else None

        def on_result(u: Unit, out: dict) -> None:
            if u.trial is None:
                save(u, out)
                outer_results[u.key] = out
                emit("outer_scored", model=u.model, repeat=u.repeat, fold=u.fold)
                return
            s = next(x for x in searches if (x.repeat, x.fold) == (u.repeat, u.fold))
            s.outs[u.trial] = out
            if len(s.outs) < len(s.asked):
                return
            for t in s.asked:  # told in trial order, after the whole batch
                o = s.outs[t.number]
                state = _states()[o["state"]]
                if o["error"]:
                    t.set_user_attr("error", o["error"])
                t.set_user_attr("seconds", o["seconds"])
                t.set_user_attr("inner_scores", o["scores"])
                s.study.tell(t, o["value"] if o["state"] == "complete" else None, state=state)
                emit(
                    "trial",
                    repeat=s.repeat,
                    fold=s.fold,
                    trial=t.number,
                    state=o["state"],
                    value=o["value"],
                    best=_best_value(s.study),
                    n_trials=n_trials,
                    metric=metric,
                    folds_run=len(o["scores"]),
                    inner_folds=int(inner_folds),
                    seconds=o["seconds"],  # this trial's own time
                )
            s.asked, s.outs = [], {}
            _check_failures(s, n_trials)
            if _n_finished(s.study) >= n_trials:
                finish(s)

        for s in searches:  # resumed splits whose search is already complete
            _check_failures(s, n_trials)
            if _n_finished(s.study) >= n_trials:
                finish(s)
        if compare_default:  # the default and GBLUP do not depend on the search
            kw = {**space.configure({}), "cnn": True, "baselines": ("gblup",)}
            for r, f in splits:
                queue_outer(outer_unit(DEFAULT, r, f, kw))
        ex.stream(feed, _tune_task, [g], on_result=on_result)
        execution = ex.describe()

    for s in searches:
        for t in sorted(s.study.get_trials(deepcopy=False), key=lambda t: t.number):
            if not t.state.is_finished():
                continue  # asked before an interruption, never told
            scores = t.user_attrs.get("inner_scores", [])
            trial_rows.append(
                {
                    "repeat": s.repeat,
                    "fold": s.fold,
                    "trial": t.number,
                    "state": t.state.name.lower(),
                    "inner_score": t.value,
                    "inner_folds_run": len(scores),
                    **{f"inner_{k}": v for k, v in enumerate(scores)},
                    "seconds": t.user_attrs.get("seconds"),
                    "error": t.user_attrs.get("error"),
                    **{f"param_{k}": v for k, v in t.params.items()},
                }
            )
        chosen_rows.append(s.chosen)
    tuned = {(u.repeat, u.fold): u for u in outer_units if u.model == TUNED}
    outer_units = [tuned[(s.repeat, s.fold)] for s in searches] + [
        u for u in outer_units if u.model != TUNED
    ]
    results = [outer_results[u.key] for u in outer_units]

    rename = {
        TUNED: {CNN_NAME: TUNED, HYBRID_NAME: TUNED},
        DEFAULT: {CNN_NAME: DEFAULT, HYBRID_NAME: DEFAULT, "GBLUP": GBLUP},
    }
    mframes, pframes = [], []
    for u, res in zip(outer_units, results):
        keep = rename[u.model]
        m = pd.DataFrame(res["metrics"])
        p = pd.DataFrame(res["predictions"])
        if not m.empty:
            m = m[m["model"].isin(keep)].copy()
            m["model"] = m["model"].map(keep)
            mframes.append(m)
        if not p.empty:
            p = p[p["model"].isin(keep)].copy()
            p["model"] = p["model"].map(keep)
            pframes.append(p)
        notes.extend(n for n in res.get("notes", []) if n not in notes)
    order = {TUNED: 0, DEFAULT: 1, GBLUP: 2}
    metrics = pd.concat(mframes, ignore_index=True) if mframes else pd.DataFrame()
    predictions = pd.concat(pframes, ignore_index=True) if pframes else pd.DataFrame()
    if not metrics.empty:
        metrics = _by_model(metrics, order)
    if not predictions.empty:
        predictions = _by_model(predictions, order)
    trials = pd.DataFrame(trial_rows)
    chosen = pd.DataFrame(
        [
            {k: v for k, v in c.items() if k != "params"}
            | {f"param_{k}": v for k, v in c["params"].items()}
            for c in chosen_rows
        ]
    )
    config = {
        "trait": trait,
        "head": head,
        "metric": metric,
        "n_trials": n_trials,
        "inner_folds": int(inner_folds),
        "outer_folds": folds
        if isinstance(folds, int)
        else str(folds)
        if not isinstance(folds, pd.DataFrame)
        else "table",
        # a fold file's own repeats (a repeat column) where given, else --repeats
        "repeats": int(outer["repeat"].nunique()) if "repeat" in outer else repeats,
        "stratify": bool(stratify),
        # outer training parts whose inner folds are stratified (binary traits)
        "inner_folds_stratified": int(n_stratified),
        "seed": seed,
        "covariates": list(covariates or []),
        # the covariates read as categorical (text, or --categorical number codes)
        "categorical": [c for c in getattr(ph, "categorical", []) if c in (covariates or [])],
        "min_maf": min_maf,
        "min_call_rate": min_call_rate,
        "compare_default": compare_default,
        "sampler": "TPE (seeded per outer split)",
        "pruner": "median (from the 1st inner fold, after 3 trials)",
    }
    res = TuneResults(
        metrics=metrics,
        predictions=predictions,
        trials=trials,
        chosen=chosen,
        folds=outer,
        trait=trait,
        head=head,
        space=space,
        config=config,
        execution=execution,
        wall_seconds=time.perf_counter() - t_start,
        notes=notes,
    )
    _write(res, chosen_rows, partial, argv, g, ph, read_sums)
    if final is not None:
        from snpcnn.io.output import replace_folder

        # (it removed the old folder first: an interrupt there lost part of the old results)
        replace_folder(partial, final)
        res.out = final
    else:
        shutil.rmtree(partial, ignore_errors=True)
    return res


def _by_model(df: pd.DataFrame, order: Mapping[str, int]) -> pd.DataFrame:
    rank = df["model"].map(order)
    idx = pd.DataFrame({"r": df["repeat"], "f": df["fold"], "m": rank}).sort_values(
        ["m", "r", "f"], kind="stable"
    )
    return df.loc[idx.index].reset_index(drop=True)


def _completed(study):
    import optuna

    return [
        t for t in study.get_trials(deepcopy=False) if t.state == optuna.trial.TrialState.COMPLETE
    ]


def _best_value(study) -> float | None:
    done = _completed(study)
    return max(t.value for t in done) if done else None


def summary_markdown(res: TuneResults) -> str:
    """summary.md: outer accuracy of the tuned, default and GBLUP models, and the choices."""
    from snpcnn.metrics import paired_difference  # noqa: F401 - same module as fit's table

    metric = res.headline_metric
    lines = [
        f"# snpcnn tune: {res.trait}",
        "",
        f"Nested CV: {len(res.chosen)} outer split(s); in each, {res.config['n_trials']} "
        f"Optuna trials (TPE, median pruning) scored by {res.config['inner_folds']}-fold inner "
        f"CV on the outer training part only, the best refitted on that whole part and scored "
        f"once on the outer test fold. Metric: {metric} on the outer test folds.",
        "",
        f"| model | {metric} (mean ± sd over the folds where it is defined) | outer folds |",
        "|---|---|---|",
    ]
    for model, value, folds in res.summary_cells():
        lines.append(f"| {model} | {value} | {folds} |")
    lines += ["", "## Chosen configuration per outer split", ""]
    cols = [c for c in res.chosen.columns if c not in ("n_train", "n_test")]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for _, row in res.chosen.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]) for c in cols) + " |")
    states = res.trials["state"].value_counts().to_dict() if not res.trials.empty else {}
    lines += [
        "",
        "Trials: " + ", ".join(f"{v} {k}" for k, v in states.items()) + " (trials.csv).",
        "",
    ]
    if res.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in res.notes] + [""]
    return "\n".join(lines)


def _cell(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _write(res: TuneResults, chosen_rows, directory: Path, argv, g, ph, read_sums=None) -> None:
    from snpcnn.report import checked_inputs, library_versions, note_changed_inputs

    inputs: dict[str, Any] = {
        "genotypes": getattr(g, "source", None),
        "phenotypes": getattr(ph, "source", None),
    }
    if read_sums:  # files given by path: their checksums when read (since session 40)
        files = {k: v["path"] for k, v in read_sums.items()}
        checked, changed = checked_inputs(files, read_sums)
        inputs = {**inputs, **checked}
        note_changed_inputs(res.notes, [files[k] for k in changed])

    _atomic(directory / "metrics.csv", res.metrics.to_csv(index=False))
    _atomic(directory / "predictions.csv", res.predictions.to_csv(index=False))
    _atomic(directory / "trials.csv", res.trials.to_csv(index=False))
    _atomic(directory / "chosen.csv", res.chosen.to_csv(index=False))
    _atomic(directory / "chosen.json", json.dumps(chosen_rows, indent=2, default=_json))
    _atomic(directory / "folds.csv", res.folds.to_csv(index=False))
    _atomic(directory / "summary.md", summary_markdown(res))
    record = {
        "snpcnn_version": __version__,
        "written_by": "snpcnn tune",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": list(argv) if argv is not None else sys.argv,
        "config": res.config,
        "space": res.space.to_dict(),
        "inputs": inputs,
        "execution": res.execution,
        "wall_seconds": res.wall_seconds,
        "libraries": library_versions(),
        "optuna_storage": "optuna.journal",
        "notes": res.notes,
    }
    _atomic(directory / "run.json", json.dumps(record, indent=2, default=_json))
