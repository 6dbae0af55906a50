"""Errors that the CLI turns into one clear line (never a traceback)."""

from __future__ import annotations

import contextvars
import math
import numbers
import os
import sys
import warnings
from typing import Any

__all__ = [
    "SnpcnnError",
    "InputError",
    "InputWarning",
    "Interrupted",
    "warn_at_caller",
    "opt",
    "CLI_MODE",
]


class SnpcnnError(Exception):
    """Base class for errors that carry a user-facing, one-line message.

    The message should name the file (and line or sample where known), say what
    was wrong, and say how to fix it.
    """


class InputError(SnpcnnError, ValueError):
    """A user's input file or argument is malformed or inconsistent."""


class Interrupted(SnpcnnError):
    """Ctrl-C (or SIGTERM) stopped a run, with a message on what was kept: the CLI exits
    130 (143 for SIGTERM), as for an interrupt it did not catch.  ``cause`` is the
    KeyboardInterrupt (or ``snpcnn._signals.Terminated``) that stopped it."""

    def __init__(self, message: str, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class InputWarning(UserWarning):
    """An input was read, but something in it deserves a look (the CLI prints one line)."""


# the packages whose frames a warning skips: the line it names is the user's call of fit or
# predict, or of the Pipeline, GridSearchCV or cross_val_score that made it
_SKIPPED_PACKAGES = ("snpcnn", "sklearn", "joblib")


def _internal_dirs() -> tuple[str, ...]:
    dirs = []
    for name in _SKIPPED_PACKAGES:
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None):
            dirs.append(os.path.dirname(module.__file__) + os.sep)
    return tuple(dirs)


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` naming the first frame outside snpcnn, scikit-learn and joblib."""
    internal = _internal_dirs()
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


#: True while a ``snpcnn`` command runs (set by the CLI): error messages then name the
#: command-line options (``--folds 600``), else the Python arguments (``folds=600``)
CLI_MODE: contextvars.ContextVar[bool] = contextvars.ContextVar("snpcnn_cli_mode", default=False)

# Python argument -> command-line option, where the option is not "--" + the name with "-"
_CLI_FLAGS = {
    "n_seeds": "--seeds",
    "traits": "--trait",
    "n_trials": "--trials",
    "n_loci": "--loci",  # snpcnn simulate
    "n_samples": "--samples",  # snpcnn simulate
}
_UNSET = object()
#: per command: Python argument -> its option in this command where it differs from the
#: usual one (``snpcnn simulate --genotypes`` reads the file with ``--genotypes-format`` and
#: ``--genotypes-coding``: the reader's advice named ``--format`` and ``--coding``, which
#: simulate refuses or lacks; a checking helper, session 55)
CLI_FLAG_RENAMES: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "snpcnn_cli_flag_renames", default=None
)


def opt(name: str, value: Any = _UNSET, *, placeholder: bool = False) -> str:
    """An option as the user set it, for error messages: ``opt("folds", 600)`` is
    ``--folds 600`` under the CLI and ``folds=600`` from Python; ``opt("force", True)`` is
    ``--force`` / ``force=True``; without a value just the name (``--cv-scheme`` /
    ``cv_scheme``); ``placeholder=True`` writes the value as it is (``folds=K``)."""
    if CLI_MODE.get():
        flag = (CLI_FLAG_RENAMES.get() or {}).get(name) or _CLI_FLAGS.get(
            name, "--" + name.replace("_", "-")
        )
        if value is _UNSET or value is True:
            return flag
        if value is False:  # a switch turned off: --no-refit
            return "--no-" + flag[2:]
        return f"{flag} {value}"
    if value is _UNSET:
        return name
    quoted = isinstance(value, str) and not placeholder
    return f"{name}={value!r}" if quoted else f"{name}={value}"


def check_real(
    name: str, value: Any, low: float, high: float = math.inf, open_low: bool = False
) -> float:
    """A finite real setting in ``[low, high]`` (``(low, high]`` with ``open_low``), or a
    one-line error naming it: ``jitter='x'`` gave "'<' not supported", ``cg_tol=0`` a
    ZeroDivisionError deep in the solver, ``qc_mask(min_maf=0.9)`` kept no SNP without a word
    (checking helpers, session 50).  numpy's numbers are Reals; a bool is not a number here."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    try:
        v = float(value) if ok else math.nan
    except OverflowError:  # an int beyond float's range (10**400)
        v = math.nan
    if not (ok and math.isfinite(v) and (v > low if open_low else v >= low) and v <= high):
        bound = f"{'>' if open_low else '>='} {low:g}" + (
            f" and <= {high:g}" if math.isfinite(high) else ""
        )
        raise InputError(f"{name} must be a finite number {bound}, got {value!r}")
    return v
