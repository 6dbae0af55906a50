"""The ``snpcnn`` command line: a thin click layer over the Python API.

Every command lives in a submodule of this package and is registered on
:data:`main` below.  Errors that users can fix (:class:`snpcnn.errors.SnpcnnError`,
missing files, bad arguments) print one line and exit with status 1 (2 for
usage errors); nothing prints a traceback unless ``-vv`` was given.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import traceback
import warnings

import click

from snpcnn import __version__
from snpcnn.errors import CLI_MODE, InputWarning, SnpcnnError

__all__ = ["main", "verbose_option", "force_option"]

log = logging.getLogger("snpcnn")


class _Group(click.Group):
    """A click group that turns user errors into one clear line."""

    def invoke(self, ctx: click.Context):
        from snpcnn import _signals

        token = CLI_MODE.set(True)  # errors name --options, not Python arguments
        restore = _signals.install()  # SIGTERM takes Ctrl-C's clean-up path
        try:
            return self._invoke_warned(ctx)
        finally:
            restore()
            CLI_MODE.reset(token)

    def _invoke_warned(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("always", InputWarning)
            previous = warnings.showwarning
            warnings.showwarning = _show_warning(previous)
            try:
                return self._invoke(ctx)
            finally:
                warnings.showwarning = previous

    def _invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, _OneLineUsage):
                raise
            raise _OneLineUsage(exc) from None
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except SystemExit:
            raise
        except BrokenPipeError:
            # the reader of stdout went away (`snpcnn info FILE | head -1`): stop quietly, as
            # command-line tools do; stdout is pointed at /dev/null so that flushing it at
            # exit raises nothing more
            try:
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            except (OSError, ValueError):  # no real file descriptor (a test's capture)
                pass
            sys.exit(0)
        except BaseException as exc:  # noqa: BLE001 - last line of defence: never a traceback
            # click turns an escaping EOFError or KeyboardInterrupt into a bare "Aborted!",
            # so nothing is re-raised: -vv prints the traceback, then the same one line.
            if _debug():
                traceback.print_exception(exc, file=sys.stderr)
            _fail(_message(exc), _exit_status(exc))


class _OneLineUsage(click.UsageError):
    """A usage error (a missing argument, an invalid value) as one ``Error:`` line that names
    the command's help, instead of click's three lines; exit status 2 as before."""

    def __init__(self, exc: click.UsageError) -> None:
        super().__init__(exc.format_message(), exc.ctx)

    def show(self, file=None) -> None:
        hint = f" (see `{self.ctx.command_path} --help`)" if self.ctx is not None else ""
        click.echo(f"Error: {' '.join(self.format_message().split())}{hint}", err=True)


def _debug() -> bool:
    return bool(os.environ.get("SNPCNN_TRACEBACK")) or log.getEffectiveLevel() <= logging.DEBUG


def _message(exc: BaseException) -> str:
    """The one line printed for ``exc``."""
    if isinstance(exc, SnpcnnError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        name = exc.filename or str(exc)
        return f"{name}: no such file; check the path"
    if isinstance(exc, PermissionError):
        return f"{exc.filename}: permission denied; check the file's permissions or choose another path"
    if isinstance(exc, MemoryError):
        # (not every command trains: simulate has no --batch-size; a reviewer, session 44)
        return (
            "out of memory; use less: a smaller --batch-size where the command trains, a "
            "genotype cache (`snpcnn convert`) for a large file, or smaller data"
        )
    from snpcnn._signals import Terminated

    if isinstance(exc, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        where = f"{exc.filename}: " if exc.filename else ""
        return (
            f"{where}cannot write ({os.strerror(exc.errno)}); free space or choose a writable "
            "output location"
        )
    text = " ".join(str(exc).split())
    return (
        f"internal error ({type(exc).__name__}: {text}); rerun with -vv for the traceback "
        "and report it"
    )


_WRITE_ERRNOS = {errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EFBIG}


def _show_warning(fallback):
    """``warnings.showwarning`` that prints snpcnn's input warnings as one ``Warning:`` line."""

    def show(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, InputWarning):
            click.echo(f"Warning: {message}", err=True)
        else:
            fallback(message, category, filename, lineno, file, line)

    return show


def _exit_status(exc: BaseException) -> int:
    """128 + the signal for Ctrl-C (130) and SIGTERM (143), as shells report a process a
    signal ended, so that a script tells an interrupted run from a failed one (every stop
    was 1: a checking helper, session 44); 1 for every error."""
    from snpcnn._signals import Terminated
    from snpcnn.errors import Interrupted

    if isinstance(exc, Interrupted):
        exc = exc.cause if exc.cause is not None else KeyboardInterrupt()
    if isinstance(exc, Terminated):
        return 128 + signal.SIGTERM
    if isinstance(exc, KeyboardInterrupt):
        return 128 + signal.SIGINT
    return 1


def _fail(message: str, status: int = 1) -> None:
    click.echo(f"Error: {' '.join(message.splitlines())}", err=True)
    sys.exit(status)


def _set_verbosity(ctx: click.Context, param: click.Parameter, value: int) -> int:
    level = logging.WARNING
    if value == 1:
        level = logging.INFO
    elif value >= 2:
        level = logging.DEBUG
    if value:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        log.setLevel(level)
    return value


verbose_option = click.option(
    "-v",
    "--verbose",
    count=True,
    expose_value=False,
    is_eager=True,
    callback=_set_verbosity,
    help="More output: -v for progress details, -vv for debugging (tracebacks).",
)

force_option = click.option(
    "--force", is_flag=True, help="Overwrite an existing output file or directory."
)


def coding_option(flag: str = "--coding", dest: str = "coding"):
    """``--coding``: how a CSV/TSV genotype matrix codes its values (every command; simulate
    names it ``--genotypes-coding``)."""
    return click.option(
        flag,
        dest,
        type=click.Choice(["auto", "012", "01", "-101"]),
        default="auto",
        show_default=True,
        help="CSV/TSV matrices: 012 dosages, 01 presence/absence (1 -> dosage 2), or -101 "
        "(rrBLUP's -1/0/1 -> 0/1/2); auto: 01 where no value is 2.",
    )


def categorical_option():
    """``--categorical``: covariates with number codes to one-hot (fit and tune)."""
    return click.option(
        "--categorical",
        default=None,
        help="Comma-separated covariates whose values are codes, not amounts (herd, cage, "
        "year, litter as numbers): one-hot encoded like text covariates. Text covariates "
        "are categorical anyway.",
    )


def covariate_lists(covariates, covariates_file, categorical) -> tuple[list[str], list[str]]:
    """The ``--covariates`` and ``--categorical`` column lists, checked against each other."""
    from snpcnn.errors import InputError

    def split(value):
        return [v.strip() for v in (value or "").split(",") if v.strip()]

    cov_list, cat_list = split(covariates), list(dict.fromkeys(split(categorical)))
    twice = [c for i, c in enumerate(cov_list) if c in cov_list[:i]]
    if twice:  # the fit ran, and its model then refused every covariate file (a checking
        # helper, session 49: "encode to columns ['sex[M]', 'sex[M]', 'age']")
        raise InputError(f"--covariates: '{twice[0]}' is listed twice; give each column once")
    # --covariates-file alone: every column of the file but its id (and a --groups column)
    # is a covariate, as the Python read_phenotypes(covariates_path=...) reads it; the
    # console names them as read
    bad = [c for c in cat_list if c not in cov_list] if cov_list or not covariates_file else []
    if bad:
        raise InputError(
            f"--categorical {bad[0]}: not one of the --covariates "
            f"({', '.join(cov_list) or 'none given'}); list it in --covariates too"
        )
    return cov_list, cat_list


def describe_covariates(pheno, sample_ids=None) -> str | None:
    """One line naming each covariate's kind as read: numeric, or categorical with its
    number of levels (a user reads here whether codes became amounts), counted over
    ``sample_ids`` (the samples the fit uses) where given, else over the whole file."""
    if not pheno.covariates:
        return None
    table = pheno.table
    if sample_ids is not None:
        table = table.loc[table.index.isin([str(s) for s in sample_ids])]
    parts = []
    for c in pheno.covariates:
        if c in pheno.categorical:
            k = int(table[c].nunique())
            parts.append(
                f"{c} (categorical, {k} level{'s' if k != 1 else ''}"
                + ("; one level: it contributes nothing" if k == 1 else "")
                + (
                    f"; {k} levels for {len(table)} samples: is it a measurement?"
                    if k > len(table) / 2
                    else ""
                )
                + ")"
            )
        else:
            k = int(table[c].nunique())
            parts.append(f"{c} (numeric, {k} distinct value{'s' if k != 1 else ''})")
    hint = ""
    # only numeric covariates that look like codes (a few distinct whole numbers) are
    # suggested: every numeric one was, so copying the hint one-hot coded an age into
    # dozens of levels (a checking helper, session 39)
    coded = [c for c in pheno.covariates if c not in pheno.categorical and _looks_coded(table[c])]
    if coded:
        hint = "; numbers that are codes (herd, cage, year): --categorical " + ",".join(coded)
    return "covariates: " + ", ".join(parts) + hint


def _looks_coded(values) -> bool:
    """Whether a numeric covariate looks like codes: whole numbers with at most 20 distinct
    values (a year, a herd number, sex 1/2), not a measurement (an age, a weight)."""
    import numpy as np
    import pandas as pd

    v = pd.to_numeric(pd.Series(values), errors="coerce").dropna().to_numpy(dtype=float)
    return bool(len(v)) and bool(np.all(v == np.round(v))) and len(np.unique(v)) <= 20


def read_cli_genotypes(path, geno_format, coding: str = "auto", by_id: bool = False):
    """:func:`snpcnn.io.read_genotypes` for a command, with a note on stderr where PLINK
    sample ids became FID_IID.
    ``by_id`` (predict, explain): the SNPs are matched to a saved model by id, so the file's
    SNP order does not matter and the warning that it feeds the convolutions is left out."""
    import warnings

    from snpcnn.errors import InputWarning
    from snpcnn.io import read_genotypes

    with warnings.catch_warnings():
        if by_id:
            warnings.filterwarnings(
                "ignore", message=r".*feeds the convolutions", category=InputWarning
            )
        geno = read_genotypes(path, format=geno_format, coding=coding, verify=True)
    if str(geno.report.get("sample_ids", "")).startswith("FID_IID"):
        # PLINK IIDs that repeat across families: every id became FID_IID, which the
        # outputs show without a word otherwise (a checking helper, session 35)
        click.echo(
            f"Note: {path}: some IIDs repeat across families, so every sample id is "
            f"FID_IID (e.g. '{geno.samples[0]}'); phenotype and covariate files must use "
            "the same ids",
            err=True,
        )
    # a table that --coding auto read as 0/1 presence/absence: read_genotypes warns (one
    # "Warning:" line, on every command)
    return geno


def coding_for_model(path, geno_format, coding: str, bundle) -> str:
    """The ``--coding`` to read a table given to predict or explain with: the coding the
    model's training table was read with (its bundle records it) where the user left
    ``auto``, with a note (where the user chose another, the bundle warns). Files other
    than tables, and models trained on other formats, keep ``coding`` as given."""
    from snpcnn.io import _normalize_format, detect_format

    trained = (getattr(bundle, "config", None) or {}).get("genotype_coding")
    if trained not in ("012", "01", "-101"):
        return coding
    try:
        fmt = _normalize_format(geno_format) or detect_format(path)
    except SnpcnnError:
        return coding  # the reader says what is wrong with the path
    if fmt != "table":
        return coding
    if coding == "auto":
        click.echo(
            f"Note: {path}: read with --coding {trained}, as the model's training table was "
            "(give --coding to read it otherwise)",
            err=True,
        )
        return trained
    return coding  # another coding than the model's: ModelBundle.predict warns


def format_option(dest: str = "geno_format"):
    """``--format``: the same genotype format names and help in every command."""
    from snpcnn.io import FORMAT_HELP, FORMAT_NAMES

    return click.option(
        "--format",
        dest,
        type=click.Choice(FORMAT_NAMES, case_sensitive=False),
        default=None,
        help=f"Genotype format: {FORMAT_HELP} (default: detected from the path).",
    )


# commands that never need TensorFlow (they stay fast and quiet)
_NO_TF = {"info", "convert", "docs", "simulate"}
#: the Keras backends snpcnn runs on (KERAS_BACKEND)
KERAS_BACKENDS = ("tensorflow", "jax")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="snpcnn")
@verbose_option
@click.pass_context
def main(ctx: click.Context) -> None:
    """snpcnn: predict complex traits from SNP genotypes with CNNs, side by side with GBLUP.

    The documents that help texts and messages name (docs/NAME.md) ship with the package:
    `snpcnn docs` lists them, `snpcnn docs NAME` prints one.
    """
    if ctx.invoked_subcommand and ctx.invoked_subcommand not in _NO_TF:
        if "--help" not in sys.argv and "-h" not in sys.argv:
            backend = os.environ.get("KERAS_BACKEND")
            # as Keras reads it: exact, an empty value the default (Keras's own ValueError
            # was an "internal error": a checking helper and a review, session 43)
            if backend is not None and backend not in ("", *KERAS_BACKENDS):
                raise SnpcnnError(
                    f"KERAS_BACKEND={backend}: not a Keras backend snpcnn runs on; unset it "
                    "(TensorFlow) or set KERAS_BACKEND=jax (lowercase)"
                )
            from snpcnn._tf import import_tensorflow

            if import_tensorflow() is None:
                _check_keras_backend()


def _check_keras_backend() -> None:
    """Without TensorFlow, Keras must be told to use another backend: say so in one line."""
    try:
        import keras  # noqa: F401
    except ImportError as exc:
        if getattr(exc, "name", None) != "tensorflow" and "tensorflow" not in str(exc):
            raise
        raise SnpcnnError(
            "TensorFlow is not installed and Keras has no other backend chosen: install "
            "snpcnn's dependencies (pip install -e .), or run on JAX with KERAS_BACKEND=jax "
            "(`snpcnn docs models`)"
        ) from None


def _register() -> None:
    import importlib

    for mod in ("data", "images", "fit", "explain", "bench", "models", "tune", "docs", "simulate"):
        try:
            module = importlib.import_module(f"snpcnn.cli.{mod}")
        except ModuleNotFoundError as exc:
            if exc.name == f"snpcnn.cli.{mod}":
                continue  # that command family is not built yet
            raise
        for cmd in getattr(module, "COMMANDS", []):
            main.add_command(cmd)


_register()
