"""Rendering and saving cross-validation results: tables, summary.md, run.json, plots.

Everything in an output directory is written into a temporary sibling directory
first and moved into place only when complete (:func:`atomic_directory`), so an
interrupted run never leaves a half-written result behind, and an existing
directory is only replaced with ``force=True``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import glob
import json
import os
import platform
import shutil
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn import __version__
from snpcnn.errors import CLI_MODE, InputError, InputWarning, opt
from snpcnn.io.output import ready_to_replace, reap_stale, replace_folder, temp_sibling
from snpcnn.metrics import METRIC_LABELS, WIN_TOLERANCE, format_mean_sd, no_information

__all__ = [
    "atomic_directory",
    "check_output_dir",
    "check_partial_dir",
    "EXPLAIN_MARKER",
    "OUTPUT_MARKER",
    "file_checksum",
    "library_versions",
    "fold_table",
    "summary_markdown",
    "save_results",
    "atomic_write_text",
    "console_report",
]

LIBRARIES = (
    "numpy",
    "pandas",
    "scipy",
    "tensorflow",
    "keras",
    "scikit-learn",
    "scikit-allel",
    "bed-reader",
    "click",
    "matplotlib",
)


#: a folder snpcnn may replace with --force holds this file (fit, benchmark and tune write it)
OUTPUT_MARKER = "run.json"
#: ``snpcnn explain``'s folders hold this one instead (and never a run.json)
EXPLAIN_MARKER = "explain.json"
#: ``snpcnn simulate``'s folders hold this one (the data set's truth and settings)
SIMULATE_MARKER = "simulation.json"
#: every marker, with the commands that write it; a folder holding several is the first's
#: (a fit folder that an older explain wrote into holds both: it stays a fit's)
_MARKER_COMMANDS = {
    OUTPUT_MARKER: "snpcnn fit, benchmark or tune",
    EXPLAIN_MARKER: "snpcnn explain",
    SIMULATE_MARKER: "snpcnn simulate",
}


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both resolved)."""
    try:
        path.resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def _is_input(path: Path) -> bool:
    """Whether ``path`` names an existing file or folder, or a prefix of some (PLINK)."""
    return path.exists() or any(path.parent.glob(glob.escape(path.name) + ".*"))


def check_output_dir(
    out: str | Path,
    force: bool,
    inputs=(),
    marker: str = OUTPUT_MARKER,
    command: str | None = None,
) -> Path:
    """Fail early (before any work) where the results folder ``out`` cannot be written:
    it exists and ``force`` is not set; it is not a folder; it is the current folder or
    holds it; it holds one of ``inputs`` (paths); it holds another snpcnn command's results
    (another command's marker, see :data:`EXPLAIN_MARKER`, or, for ``command`` ``"fit"``,
    ``"benchmark"`` or ``"tune"``, a run.json another of them wrote), even with ``force``;
    or, with ``force``, it exists but is not a folder this command wrote (no ``marker``, by
    default :data:`OUTPUT_MARKER`, and not empty): ``--force`` replaces earlier results of
    the same command, never a folder of the user's files."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory; choose {_another_out()}")
    if _inside(Path.cwd(), out):
        raise InputError(
            f"{out} is the current folder (or holds it) and cannot be replaced; choose a new "
            f"folder name, e.g. {'--out results' if CLI_MODE.get() else repr('results')}"
        )
    for item in inputs:
        if item and _is_input(Path(str(item))) and _inside(Path(str(item)), out):
            raise InputError(
                f"{out} holds the input {item}, which replacing it would delete; choose "
                f"{_another_out()}"
            )
    owner = _owner(out) if out.is_dir() else None
    if owner is not None and owner != marker:
        raise InputError(
            f"{out} holds the results of {_MARKER_COMMANDS[owner]} (it has {owner}), which "
            f"{_MARKER_COMMANDS[marker]} never writes into, even with {opt('force', True)}; "
            f"choose {_another_out()}"
        )
    if owner == OUTPUT_MARKER and command is not None:
        other = run_command(out / OUTPUT_MARKER)
        if other is not None and other != command:
            raise InputError(
                f"{out} holds the results of snpcnn {other} (its run.json), which snpcnn "
                f"{command} never replaces, even with {opt('force', True)}; choose "
                f"{_another_out()}, or delete {out} yourself if you no longer need it"
            )
    if out.exists() and not force:
        raise InputError(f"output directory {out} exists; use {opt('force', True)} to replace it")
    if out.exists():
        names = sorted(p.name for p in out.iterdir())
        if names and not _written_by_snpcnn(out / marker):
            raise InputError(
                f"{out} exists and is not a snpcnn results folder (no {marker} written "
                f"by snpcnn; it has {_shown(names)}): {opt('force', True)} only replaces a "
                f"folder snpcnn wrote; choose {_another_out()}"
            )
        nested = _nested_results(out)
        if nested is not None:
            sub, owner = nested
            raise InputError(
                f"{out} holds the results of {_MARKER_COMMANDS[owner]} in {sub}, written "
                f"there later, which replacing {out} would delete, even with "
                f"{opt('force', True)}; move {sub} out of {out} (or delete it yourself), or "
                f"choose {_another_out()}"
            )
        _refuse_later_files(out, marker, command)
    return out


def results_folder_owner(folder: Path) -> str | None:
    """Which snpcnn command's results ``folder`` holds (``"snpcnn fit"``, ``"snpcnn
    explain"``, ...), from the marker snpcnn wrote there, or None."""
    folder = Path(folder)
    if (folder / EXPLAIN_MARKER).is_file():
        return "snpcnn explain"
    if _written_by_snpcnn(folder / OUTPUT_MARKER):
        command = run_command(folder / OUTPUT_MARKER)
        return f"snpcnn {command}" if command else "snpcnn fit, benchmark or tune"
    if _written_by_snpcnn(folder / SIMULATE_MARKER):
        return "snpcnn simulate"
    from snpcnn.io.cache import is_cache

    if is_cache(folder):  # `snpcnn convert`'s folder, or an automatic cache (session 56)
        return "snpcnn convert"
    if _images_metrics(folder / "metrics.json"):
        return IMAGES_OWNER
    return None


#: what :func:`results_folder_owner` calls a folder of ``snpcnn images fit`` or ``transfer``
IMAGES_OWNER = "snpcnn images"


def _images_metrics(path: Path) -> bool:
    """Whether ``path`` is a metrics.json that ``snpcnn images fit`` or ``transfer`` wrote:
    it says so (``written_by``), or, written before it did, it holds a test accuracy
    beside a model.keras (predict --force replaced them: an adversarial tester, session 56)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    if str(record.get("written_by", "")).startswith(IMAGES_OWNER):
        return True
    return "test_accuracy" in record and (path.parent / "model.keras").is_file()


def _nested_results(out: Path, depth: int = 2) -> tuple[Path, str] | None:
    """The first folder inside ``out`` (down to ``depth`` levels) that holds another snpcnn
    command's results (an explain.json, or a run.json snpcnn wrote), with its marker."""
    try:
        subs = sorted(p for p in out.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return None
    for sub in subs:
        if (sub / EXPLAIN_MARKER).is_file():
            return sub, EXPLAIN_MARKER
        if _written_by_snpcnn(sub / OUTPUT_MARKER):
            return sub, OUTPUT_MARKER
        if _written_by_snpcnn(sub / SIMULATE_MARKER):
            return sub, SIMULATE_MARKER
        if depth > 1:
            found = _nested_results(sub, depth - 1)
            if found is not None:
                return found
    return None


def _shown(names: list[str]) -> str:
    return ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")


def _written_by_snpcnn(path: Path) -> bool:
    """Whether ``path`` is a run.json that snpcnn wrote (a JSON object with its version)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "snpcnn_version" in record


def run_command(path: Path) -> str | None:
    """Which snpcnn command (``"fit"``, ``"benchmark"`` or ``"tune"``) wrote the run.json
    ``path``: its ``written_by`` entry, or for a run.json written before that entry existed
    (session 37 and earlier), the entries only that command writes (None: not known)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    written_by = record.get("written_by")
    if isinstance(written_by, str) and written_by.startswith("snpcnn "):
        return written_by.split(" ", 1)[1]
    if "units" in record and "config_file" in record:
        return "benchmark"
    if "space" in record and "optuna_storage" in record:
        return "tune"
    if "cnn_folds" in record:
        return "fit"
    return None


def _owner(out: Path) -> str | None:
    """The marker of the snpcnn command whose results folder ``out`` is (None: none)."""
    return next((m for m in _MARKER_COMMANDS if _written_by_snpcnn(out / m)), None)


def _another_out() -> str:
    return "another --out" if CLI_MODE.get() else "another output folder"


def check_partial_dir(partial: str | Path, markers: tuple[str, ...]) -> None:
    """Refuse to discard (``--force``) or adopt (``--resume``) ``partial`` unless it is an
    unfinished snpcnn run: empty, or holding one of ``markers`` (what the command writes
    there first)."""
    partial = Path(partial)
    if not partial.exists():
        return
    if not partial.is_dir():
        raise InputError(
            f"{partial} exists and is not a folder; move it or choose {_another_out()}"
        )
    names = sorted(p.name for p in partial.iterdir())
    if names and not any(m in names for m in markers):
        raise InputError(
            f"{partial} exists and is not an unfinished snpcnn run (it has {_shown(names)}): "
            f"{opt('force', True)} and {opt('resume', True)} only take a folder snpcnn wrote; "
            f"move it or choose {_another_out()}"
        )


@contextlib.contextmanager
def atomic_directory(
    out: str | Path, force: bool = False, marker: str = OUTPUT_MARKER, command: str | None = None
) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``out`` only if the block succeeds (an
    exception or an interrupt inside it removes it, and leaves ``out`` as it was); ``out``
    is checked by :func:`check_output_dir` with ``marker``, the file the block writes, and
    ``command``, the command that writes it.  A symbolic link is followed: the results go
    where it points and the link stays (with ``--force`` the link itself was replaced by a
    folder beside it, and the results missed the disk it pointed to: a checking helper)."""
    out = resolve_link(out)
    out = check_output_dir(out, force, marker=marker, command=command)
    out.parent.mkdir(parents=True, exist_ok=True)
    reap_stale(out)
    tmp = temp_sibling(out)
    try:
        yield tmp
        _record_folder_files(tmp / marker)
        ready_to_replace(tmp)
        later = _later_files(out, marker) if out.is_dir() else []
        if later:
            # a file written into OUT while this command ran: neither it nor the finished
            # results are deleted (a reviewer: the results were thrown away); they go
            # beside OUT
            keep = out.with_name(f"{out.name}.new")
            k = 2
            while keep.exists():
                keep, k = out.with_name(f"{out.name}.new{k}"), k + 1
            tmp.rename(keep)
            them = "it" if len(later) == 1 else "them"
            raise InputError(
                f"{out} got {_shown(later)} while this command ran, which replacing {out} "
                f"would delete; the new results are in {keep} instead: move {them} out of "
                f"{out}, then replace {out} with {keep} yourself"
            )
        replace_folder(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


#: key of a results folder's marker (run.json, explain.json, simulation.json) that lists the
#: other files and folders the command wrote there (since session 45)
FOLDER_FILES = "folder_files"


#: files an operating system or a notebook drops into any folder it shows; ``--force``
#: deletes them with the folder
_CLUTTER = (".DS_Store", "Thumbs.db", "desktop.ini", ".ipynb_checkpoints")


def _folder_files(folder: Path, marker: str) -> list[str]:
    """Every file under ``folder`` (subfolders too) as a relative POSIX path, but the marker
    and OS/notebook clutter (:data:`_CLUTTER`, macOS's ``._*`` files)."""
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if rel.as_posix() == marker or p.is_dir():
            continue
        if any(part in _CLUTTER or part.startswith("._") for part in rel.parts):
            continue
        out.append(rel.as_posix())
    return sorted(out)


def _record_folder_files(marker: Path) -> None:
    """Add to the marker JSON every file its command wrote beside it (subfolders too), so
    that ``--force`` can tell a file written there later (a ``predict --out`` into a
    simulate folder was deleted without a word: a checking helper, session 45)."""
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not isinstance(record, dict):
        return
    record[FOLDER_FILES] = _folder_files(marker.parent, marker.name)
    marker.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def _later_files(out: Path, marker: str) -> list[str]:
    """The files in results folder ``out`` that its command did not write (not in its
    marker's :data:`FOLDER_FILES`; none where the marker predates that key)."""
    try:
        record = json.loads((out / marker).read_text(encoding="utf-8"))
        own = record.get(FOLDER_FILES) if isinstance(record, dict) else None
        if not isinstance(own, list):
            return []
        own_set = set(own)
        return [f for f in _folder_files(out, marker) if f not in own_set]
    except (OSError, ValueError):
        return []


def _refuse_later_files(out: Path, marker: str, command: str | None) -> None:
    later = _later_files(out, marker)
    if later:
        them = "it" if len(later) == 1 else "them"
        raise InputError(
            f"{out} holds {_shown(later)}, written there after "
            f"{f'snpcnn {command}' if command else _MARKER_COMMANDS[marker]} wrote the "
            f"folder, which replacing {out} would delete, even with {opt('force', True)}; "
            f"move {them} out of {out} (or delete {them} yourself), or choose {_another_out()}"
        )


def resolve_link(out: str | Path) -> Path:
    """``out``, or where it points if it is a symbolic link: results go there and the link
    stays (fit, explain, benchmark and tune replaced the link itself, so the results missed
    the disk it pointed to: a checking helper, session 40).  A link to a place whose folder
    does not exist is refused rather than creating that path."""
    out = Path(out)
    if not out.is_symlink():
        return out
    target = Path(os.path.realpath(out))
    if not target.parent.is_dir():
        raise InputError(
            f"{out}: a link to {target}, whose folder {target.parent} does not exist; "
            "create it, or give the folder itself"
        )
    return target


def file_checksum(path: str | Path) -> dict[str, Any]:
    """sha256 and size of a file (for a PLINK prefix, of each of .bed/.bim/.fam)."""
    from snpcnn.io.plink import plink_paths

    path = Path(path)
    if not path.exists():
        parts = list(plink_paths(path))
        if all(p.exists() for p in parts):
            return {p.name: file_checksum(p) for p in parts}
        return {"missing": str(path)}
    if path.is_dir():
        return {p.name: file_checksum(p) for p in sorted(path.iterdir()) if p.is_file()}
    if not path.is_file():  # a pipe (/dev/stdin, a FIFO) or a device: reading it would consume
        # or block it, and its bytes are gone once the run read them
        return {"not_hashed": "not a regular file (a pipe or a device)"}
    from snpcnn.io.cache import _sha256  # remembers files already hashed in this process

    out = {"sha256": _sha256(path), "bytes": path.stat().st_size}
    if path.suffix.lower() == ".bed":
        for side in plink_paths(path)[1:]:
            if side.exists():
                out[side.name] = file_checksum(side)
    return out


def cpu_model() -> str:
    """The CPU's model name (Linux ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def library_versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0], "snpcnn": __version__}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - optional
            out[name] = "not installed"
    if "keras" in sys.modules:  # the backend that ran the networks
        backend = sys.modules["keras"].backend.backend()
        out["keras_backend"] = backend
        if backend == "jax":
            for name in ("jax", "jaxlib"):
                with contextlib.suppress(metadata.PackageNotFoundError):
                    out[name] = metadata.version(name)
    return out


# ------------------------------------------------------------------ tables
def _fmt(v: float, status: str = "ok") -> str:
    if status in ("collapsed", "undefined"):
        return status
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.3f}"


def fold_table(results, trait: str, metric: str | None = None) -> pd.DataFrame:
    """Fold-by-fold headline metric (rows) for every model (columns), as strings."""
    metric = metric or results.headline_metric
    m = results.metrics
    m = m[(m["trait"] == trait) & (m["metric"] == metric)]
    rows = []
    for (r, f), g in m.groupby(["repeat", "fold"], sort=True):
        row = {"repeat": r, "fold": f, "n_test": int(g["n_test"].iloc[0])}
        for model in results.models:
            gm = g[g["model"] == model]
            row[model] = _fmt(gm["value"].iloc[0], gm["status"].iloc[0]) if len(gm) else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    if results.config.get("repeats", 1) == 1 and "repeat" in table:
        table = table.drop(columns="repeat")
    return table


#: the metrics a collapsed fold leaves undefined
CORRELATION_METRICS = ("pearson_r", "spearman_rho", "auc", "genomic_pearson_r")


def _mean_sd_row(results, trait: str, metric: str) -> dict[str, str]:
    s = results.summary()
    s = s[(s["trait"] == trait) & (s["metric"] == metric)].set_index("model")
    row = {}
    for model in results.models:
        if model not in s.index:
            row[model] = ""
            continue
        mean, sd, nc = s.loc[model, "mean"], s.loc[model, "std"], int(s.loc[model, "n_collapsed"])
        count, n_folds = int(s.loc[model, "count"]), int(s.loc[model, "n_folds"])
        txt = format_mean_sd(mean, sd, metric)  # one fold: no SD
        if nc and metric in CORRELATION_METRICS:
            # correlations are undefined on constant predictions (left out of the mean);
            # R^2, RMSE and MAE are defined there and included
            txt += f" ({nc} collapsed)"
        elif nc:
            nc = 0
        if np.isfinite(mean) and count < n_folds - nc:
            txt += f" ({count} of {n_folds} folds defined)"
        row[model] = txt
    return row


def _span(values) -> str:
    """``1,031`` or ``1,031 to 1,038``."""
    v = np.asarray(values)
    lo, hi = int(v.min()), int(v.max())
    return f"{lo:,}" if lo == hi else f"{lo:,} to {hi:,}"


def _snp_lines(config: Mapping, counts: list | None) -> list[str]:
    """summary.md's line on the SNPs the models saw: the filters and the preselection (fitted
    on each training part) and how many SNPs each fold kept."""
    if not counts:  # results of an older version (run.json without snps_per_fold)
        return []
    qc = ["monomorphic SNPs dropped"]
    if config.get("min_maf"):
        qc.append(f"MAF >= {config['min_maf']:g}")
    if config.get("min_call_rate"):
        qc.append(f"call rate >= {config['min_call_rate']:g}")
    rules = ", ".join(qc)
    k, p = config.get("preselect_top_k"), config.get("preselect_p")
    if k or p:
        left = _span([c.get("snps_after_qc", c["snps_used"]) for c in counts])
        rules += (
            f" ({left} left); then the SNPs most associated with the trait (marginal test)"
            + (f" with p < {p:g}" if p else "")
            + (f", at most {k:,}" if k else "")
        )
    used = [c["snps_used"] for c in counts]
    n_in = max(c["snps_in"] for c in counts)
    varies = min(used) != max(used)
    return [
        f"- SNPs used: {_span(used)} of {n_in:,}"
        + (" in every fold" if len(counts) > 1 and not varies else "")
        + (" (per fold: run.json, data.snps_per_fold)" if varies else "")
        + f"; on each training part: {rules}"
    ]


def _join_lines(al: Mapping | None) -> list[str]:
    """summary.md's line on the samples that the join by id left out (none: no line)."""
    if not isinstance(al, Mapping):
        return []
    only_p = al.get("only_in_phenotypes") or {}
    only_g = al.get("only_in_genotypes") or {}
    if not only_p.get("n") and not only_g.get("n"):
        return []

    def shown(side: Mapping) -> str:
        examples = ", ".join(f"`{e}`" for e in side.get("examples", [])[:3])
        return f"{side['n']:,}" + (f" (e.g. {examples})" if examples else "")

    return [
        f"- joined by sample id: {al.get('n_both', 0):,} of {al.get('n_phenotyped', 0):,} "
        f"phenotyped and {al.get('n_genotyped', 0):,} genotyped samples; left out: "
        f"{shown(only_p) if only_p.get('n') else 0} phenotyped but not genotyped, "
        f"{shown(only_g) if only_g.get('n') else 0} genotyped but not phenotyped"
    ]


def _md_table(df: pd.DataFrame) -> str:
    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(str(v) for v in row.to_numpy()) + " |")
    return "\n".join(lines)


def trait_sections(results) -> list[tuple[str, str]]:
    """(title, markdown) per trait: fold table, mean ± sd of every metric, paired comparison;
    with covariates, the genomic accuracy apart from them beside the total."""
    from snpcnn.cv import FIXED_NAME, GENOMIC_METRIC

    out = []
    head = results.headline_metric
    label = METRIC_LABELS[head]
    metrics = (
        ("pearson_r", "spearman_rho", "r2", "rmse", "mae")
        if results.head == "regression"
        else ("auc", "accuracy")
    )
    for trait in results.traits:
        parts = []
        ft = _fold_table_with_mean(results, trait, head)
        genomic = _has_metric(results, trait, GENOMIC_METRIC)
        if genomic:
            parts.append(
                f"**Total accuracy**: {label} between observed and predicted values, covariates "
                "included, per test fold. The covariates alone (fitted on each training part, "
                f"the '{FIXED_NAME}' column) account for part of it; the genomic accuracy is in "
                "the next table.\n"
            )
        else:
            parts.append(f"{label} between observed and predicted values, per test fold:\n")
        parts.append(_md_table(ft))
        if genomic:
            gt = _fold_table_with_mean(results, trait, GENOMIC_METRIC)
            parts.append(
                "\n**Genomic accuracy** apart from the covariates: Pearson r between the "
                "covariate-adjusted phenotype and the covariate-adjusted prediction (both minus "
                f"the '{FIXED_NAME}' prediction of the fold), per test fold:\n"
            )
            parts.append(_md_table(gt.drop(columns=FIXED_NAME, errors="ignore")))
        allm = []
        for metric in metrics + ((GENOMIC_METRIC,) if genomic else ()):
            row = {"metric": METRIC_LABELS[metric]}
            row.update(_mean_sd_row(results, trait, metric))
            allm.append(row)
        parts.append("\nAll metrics, mean ± sd over folds:\n")
        parts.append(_md_table(pd.DataFrame(allm)))
        if "GBLUP" in results.models:
            pr = results.paired("GBLUP", head)
            if len(pr):
                pr = pr[(pr["trait"] == trait) & (pr["model"] != FIXED_NAME)]
            if len(pr):
                rows = [
                    {
                        "model": p.model,
                        f"mean difference in {label} vs GBLUP": _signed(p.mean_difference)
                        + (f" ± {p.sd_difference:.3f}" if np.isfinite(p.sd_difference) else ""),
                        "folds won": f"{p.wins} of {p.n_folds}"
                        + (f" ({p.ties} tied)" if getattr(p, "ties", 0) else ""),
                        "collapsed folds": str(p.n_collapsed),
                    }
                    for p in pr.itertuples()
                ]
                parts.append(
                    "\nPaired comparison with GBLUP on the same folds (a fold is won by a "
                    f"difference above {WIN_TOLERANCE:g}, tied within it):\n"
                )
                parts.append(_md_table(pd.DataFrame(rows)))
                if pr["n_collapsed"].sum():
                    parts.append(
                        "\nA collapsed fold (constant predictions, correlation undefined) counts "
                        f"as a loss and enters the mean difference with {label} = "
                        f"{no_information(head):g} or GBLUP's {label}, whichever is lower (never "
                        "a gain)."
                    )
                attribution = attribution_text(results, trait)
                if attribution:
                    parts.append("\n" + attribution)
        out.append((trait, "\n".join(parts)))
    return out


def _fold_table_with_mean(results, trait: str, metric: str) -> pd.DataFrame:
    """:func:`fold_table` plus a last row with each model's mean ± sd over the folds."""
    ft = fold_table(results, trait, metric)
    mean_row = {"fold": "mean ± sd"}
    if "repeat" in ft:
        mean_row["repeat"] = ""
    mean_row["n_test"] = ""
    mean_row.update(_mean_sd_row(results, trait, metric))
    return pd.concat([ft, pd.DataFrame([mean_row])], ignore_index=True)


def _has_metric(results, trait: str, metric: str) -> bool:
    m = results.metrics
    return bool(len(m)) and bool(((m["trait"] == trait) & (m["metric"] == metric)).any())


def _crossfitted(config: dict) -> bool:
    """Whether a ridge-started CNN of this run's config was cross-fitted (conv_folds >= 2)."""
    return config.get("linear_init") == "ridge_loo" and int(config.get("conv_folds") or 0) >= 2


def conv_kept_text(results, short: bool = False) -> str | None:
    """What the CNN's convolutions contributed, for a CNN started at a ridge fit (else None),
    and along which SNP order their windows ran where it was not the file's."""
    text = _conv_kept_core(results, short)
    if text is None:
        return None
    orders = results.screen_orders() if hasattr(results, "screen_orders") else None
    stages = results.triple_stages() if hasattr(results, "triple_stages") else None
    refits = results.backfits() if hasattr(results, "backfits") else None
    return (
        text
        + _order_text(orders, short)
        + _triple_stage_text(stages, short)
        + _backfit_text(refits, short)
    )


def _backfit_text(refits: dict | None, short: bool) -> str:
    """In how many fits the ridge start was refitted around the kept convolutions
    (``[linear] backfit``): their gain over the start then includes the refit."""
    if not refits or not refits["refitted"]:
        return ""
    starts = " or ".join(refits.get("starts") or ["RR-BLUP"])
    text = (
        f"in {refits['refitted']} of the {refits['fits']} fits with convolutions kept on the "
        f"{starts} start, that start was refitted around them (on the targets minus their "
        "out-of-fold correction; kept where the out-of-fold errors fell significantly); the "
        "start's row is the start fitted alone, and the hybrid's gain over it counts as the "
        "convolutions'"
    )
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


#: why the triple stage could not run in a fit (training.py's record), as reports say it
_NO_STAGE = {
    "streamed genotypes (no triple screen)": "streamed folds: the triple screen needs the "
    "fold's genotypes in memory",
    "several outputs": "several traits fitted at once",
}


def _triple_stage_text(stages: dict | None, short: bool) -> str:
    """How often the second stage over SNP triples (``[triple_stage]``) ran and was kept."""
    if not stages:
        return ""
    skipped = stages.get("not_offered") or {}
    text = (
        f"the second stage over SNP triples (cube filters) ran in {stages['ran']} of "
        f"{stages['fits']} fits (where a triple was significant in the first stage's "
        f"out-of-fold residuals) and was kept in {stages['kept']}; the fits where it was kept "
        "count as convolutions kept"
        + "".join(
            f"; it could not run in {n} of the {stages['fits']} fits ({_NO_STAGE.get(why, why)})"
            for why, n in sorted(skipped.items())
        )
    )
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


def _far_text(orders: dict, short: bool) -> str:
    """Where pairs beyond the screen's reach (``[screen] all_pairs``) took windows."""
    k = orders.get("far_fits") or 0
    if not k:
        return ""
    reach, on_map = orders["far_reach"], orders.get("far_on_map") or 0
    if on_map == k:
        apart = (
            f"{reach} or more SNPs apart in the file's (map) order, on one chromosome or "
            "across chromosomes"
        )
    elif not on_map:
        apart = f"{reach} or more positions apart in the LD order"
    else:
        apart = f"{reach} or more apart in the file's (map) order or in the LD order"
    text = (
        f"in {k} of {orders['fits']} fits a pair of SNPs {apart} was significant after "
        f"Bonferroni over every such pair; {orders['far_windows']} window(s) of the "
        "cross-fitted networks held such a pair (run.json: conv.screen_order)"
    )
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


def _order_text(orders: dict | None, short: bool) -> str:
    """Where the screen read the SNPs in an LD order (``[screen] order``), how often and why."""
    if not orders:
        return ""
    blind = ""
    if orders.get("unseriated"):
        blind = (
            f"in {orders['unseriated']} of {orders['fits']} fits the file's order carried no "
            f"LD but the SNPs were not seriated ({orders['unseriated_why']}): there the "
            "convolutions' windows grouped unlinked SNPs"
        )
        blind = f"; {blind}" if short else f" Note: {blind[0].upper()}{blind[1:]}."
    blind += _far_text(orders, short)
    if not orders.get("ld"):
        return blind
    k, n = orders["ld"], orders["fits"]
    stats = ""
    if orders.get("file_adjacent_r2") is not None:
        stats = (
            f" (in the file's order adjacent SNPs' mean r^2 was {orders['file_adjacent_r2']:.3f}"
            f" vs {orders['random_r2']:.3f} for random pairs: no map order; median over fits)"
        )
    text = (
        f"the convolutions' windows ran along an LD order of the SNPs (seriated on each "
        f"training part, snpcnn.ldorder) in {k} of {n} fits{stats}"
    )
    return (f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}.") + blind


def _conv_kept_core(results, short: bool = False) -> str | None:
    """conv_kept_text without the SNP-order note.

    With ``linear_init`` "ridge"/"ridge_loo" the default CNN is a ridge (RR-BLUP) fit plus a
    convolutional correction that is kept only if it earns its place on held-out training
    rows; where it is not, the "CNN" predictions are exactly the ridge fit's.  Users
    comparing "CNN" with GBLUP need to know how often that happened.
    """
    kept = results.conv_kept()
    if kept is None:
        return None
    k, n = kept
    c = results.config
    crossfit = _crossfitted(c)
    starts = results.start_counts() if hasattr(results, "start_counts") else None
    if starts is not None:
        skips = results.start_skips() if hasattr(results, "start_skips") else {}
        absent = results.starts_not_offered() if hasattr(results, "starts_not_offered") else {}
        if "MT-GBLUP" in starts:
            own = results.trait_own_starts() if hasattr(results, "trait_own_starts") else None
            row = next(
                (m for m in getattr(results, "models", []) if str(m).startswith("CNN start")),
                None,
            )
            return (
                _multitrait_start_text(k, n, starts, c, short, row)
                + _own_trait_text(own, short)
                + _skipped_text(skips, short)
            )
        dominance = (
            results.lasso_dominance_count() if hasattr(results, "lasso_dominance_count") else None
        )
        return (
            _kernel_start_text(k, n, starts, c, short, dominance)
            + _skipped_text(skips, short)
            + _not_offered_text(absent, short)
        )
    if short:
        how = f" (cross-fitted in {c['conv_folds']} parts of each training set)" if crossfit else ""
        return (
            f"CNN hybrid: the convolutions' correction of its RR-BLUP start was kept in {k} of "
            f"{n} fits{how}; in the other {n - k} it predicted its RR-BLUP start (to "
            "float32 rounding; the 'CNN start (RR-BLUP)' row where shown; summary.md)"
        )
    gate = float(c["conv_gate"])
    if crossfit:
        test = _gate_text(c)
        return (
            "CNN hybrid = RR-BLUP start + convolutional correction. The linear SNP path started at "
            "the ridge (RR-BLUP) fit of each training part, on the CNN's input (by default "
            "standardised dosages; its predictions alone are the 'CNN start (RR-BLUP)' row), "
            f"and the convolutions were cross-fitted on its leave-one-out residuals in "
            f"{c['conv_folds']} parts of the training rows, so that every training row got an "
            "out-of-fold correction. The correction was kept, with a weight fitted on those "
            f"rows, if it lowered their squared error {test}: in **{k} of {n}** fits "
            f"(folds x seeds). In the other {n - k} the hybrid's predictions are its "
            "RR-BLUP start's (to float32 rounding), so there its comparison with GBLUP is RR-BLUP's (docs/models.md)."
        )
    how = (
        "if it lowered the inner-validation squared error significantly (one-sided paired "
        f"t-test, p < {gate:g})"
        if gate > 0
        else "if it lowered the inner-validation loss"
    )
    rows = (
        "the inner training rows"
        if c["linear_init"] == "ridge"
        else "each training part (the convolutions then fit its leave-one-out residuals)"
    )
    return (
        f"CNN hybrid = ridge start + convolutional correction: the linear SNP path started at the "
        f"ridge (RR-BLUP) fit of {rows}, and the convolutions' correction was kept {how} in "
        f"**{k} of {n}** fits (folds x seeds). In the other {n - k}, the hybrid's predictions are "
        "exactly that ridge fit's, so there its comparison with GBLUP is RR-BLUP's "
        "(docs/models.md)."
    )


def _gate_text(c: dict) -> str:
    """How the convolutions' correction had to lower the training rows' squared error."""
    gate = float(c["conv_gate"])
    if gate > 0:
        return f"significantly (one-sided paired t-test over the training rows, p < {gate:g})"
    return "at all"


def _multitrait_start_text(
    k: int, n: int, starts: dict[str, int], c: dict, short: bool, row: str | None = None
) -> str:
    """conv_kept_text for a network fitted on several traits whose start was chosen per
    fold between RR-BLUP per trait, the multi-trait GBLUP and, where offered
    (``[linear] multitrait_cnn_gp``), the multi-trait CNN-GP (``[linear] multitrait``)."""
    from snpcnn.cv import MT_KERNEL_START_NAME, MT_START_NAME

    n_mt, n_rr = starts.get("MT-GBLUP", 0), starts.get("RR-BLUP", 0)
    kernel = "MT-CNN-GP" in starts
    n_k = starts.get("MT-CNN-GP", 0)
    total = n_mt + n_rr + n_k
    name = row or (MT_KERNEL_START_NAME if kernel else MT_START_NAME)
    if short:
        k_part = (
            f", the multi-trait CNN-GP (a kernel model, not trained convolutions) in {n_k}"
            if kernel
            else ""
        )
        how = (
            "a likelihood-ratio test of the genetic and residual correlations, and for the "
            "CNN-GP's kernel its likelihood gain"
            if kernel
            else "a likelihood-ratio test of the genetic and residual correlations"
        )
        return (
            f"CNN hybrid: its start was the multi-trait GBLUP (a linear model, not convolutional) in "
            f"{n_mt} of {total} fits{k_part} and RR-BLUP (= GBLUP) per trait in {n_rr}, "
            f"chosen on each training part by {how}; the trained convolutions' correction was "
            f"kept in {k} of {n} fits; in the other {n - k} it predicted its start (to float32 "
            f"rounding; the '{name}' row; summary.md)"
        )
    test = _gate_text(c)
    k_text = (
        " The multi-trait CNN-GP (the same model with the CNN-GP's kernel, the infinite-width "
        "CNN, in place of G; its depth by the traits' summed REML log-likelihoods) was the "
        "start instead where its maximised log-likelihood beat both GBLUP models' by more than "
        "`[linear] kernel_threshold` (1.92 in the default: a heuristic threshold, as for the "
        "one-trait CNN-GP; the models are not nested) and its correlations passed the same "
        "likelihood-ratio test; it is a kernel model, not trained convolutions."
        if kernel
        else ""
    )
    counts = (
        f"MT-GBLUP in **{n_mt} of {total}** fits, the multi-trait CNN-GP in **{n_k}**, RR-BLUP "
        f"in {n_rr}"
        if kernel
        else f"MT-GBLUP in **{n_mt} of {total}** fits"
    )
    return (
        "CNN hybrid = start + convolutional correction, one network for every trait. On each "
        "training part the start was the multi-trait GBLUP on the CNN's input (genetic and "
        "residual covariances by ML on every observed cell; a line's prediction in one trait "
        "borrows from its other observed traits) where a likelihood-ratio test preferred it to "
        "independent traits (p < 0.05, T(T-1) degrees of freedom), else RR-BLUP (= GBLUP) per "
        f"trait.{k_text} Starts: {counts}. Its predictions alone are the "
        f"'{name}' row. The trained convolutions were then cross-fitted on the start's "
        f"leave-one-line-out residuals in {c['conv_folds']} parts of the training rows; their "
        f"correction was kept if it lowered their squared error {test}: in **{k} of {n}** fits. "
        "Where it was not kept the hybrid's predictions are its start's, to float32 rounding "
        "(docs/models.md)."
    )


def _own_trait_text(own: dict | None, short: bool) -> str:
    """In how many multi-trait CNN-GP fits each trait was predicted by its own one-trait
    CNN-GP (``[linear] multitrait_trait_choice``)."""
    if not own:
        return ""
    counts = ", ".join(f"{t} in {k}" for t, k in own["own"].items())
    text = (
        f"of the {own['fits']} fits started at the multi-trait CNN-GP, a trait was predicted "
        "by its own one-trait CNN-GP (REML on its lines, its own depth; a kernel model, not "
        "trained convolutions) where that had the lower exact leave-one-out error than the "
        f"joint fit's prediction of it: {counts}"
    )
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


def _skipped_text(skips: dict[str, int], short: bool) -> str:
    """Where REML made no start choice, how often and why (those fits started at RR-BLUP)."""
    if not skips:
        return ""
    total = sum(skips.values())
    why = "; ".join(f"{reason} ({k})" for reason, k in skips.items())
    text = f"no start choice was made in {total} of those fits, which started at RR-BLUP: {why}"
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


def _not_offered_text(absent: dict[str, int], short: bool) -> str:
    """Starts the choice could not offer (streamed genotypes), and in how many fits."""
    if not absent:
        return ""
    what = ", ".join(f"the {label} in {k}" for label, k in absent.items())
    text = f"on streamed genotypes (large data) these starts were not offered: {what} fits"
    return f"; {text}" if short else f" Note: {text[0].upper()}{text[1:]}."


#: how each start is described where its count is given
_START_WHAT = {
    "CNN-GP": "the CNN-GP (infinite-width CNN, a kernel model: no trained convolutions)",
    "GBLUP-AD": (
        "GBLUP-AD (additive + dominance GBLUP on the CNN's input: no trained convolutions)"
    ),
    "LASSO": "the LASSO (sparse linear model on the CNN's input: no trained convolutions)",
}


def _lasso_what(dominance: int | None, n_lasso: int) -> str:
    """How the LASSO start is described: with the number of its ``n_lasso`` fits that also
    took heterozygote indicators (``[linear] lasso_dominance``; a SNP with three genotypes
    in the training rows gets one) where some fit kept them."""
    if not dominance:  # never fitted with them, or never kept: v16's words
        return _START_WHAT["LASSO"]
    return (
        "the LASSO (sparse linear model on the CNN's input; in "
        f"{dominance} of these {n_lasso} fits also on heterozygote indicators: no trained "
        "convolutions)"
    )


def _kernel_start_text(
    k: int, n: int, starts: dict[str, int], c: dict, short: bool, dominance: int | None = None
) -> str:
    """conv_kept_text for a CNN whose start REML chose per fold (RR-BLUP, the CNN-GP and,
    where the architecture offers it, GBLUP-AD); ``dominance``: fits whose LASSO start took
    heterozygote indicators (None where none was offered them)."""
    from snpcnn.cv import start_name_for

    what = {**_START_WHAT, "LASSO": _lasso_what(dominance, starts.get("LASSO", 0))}

    if "GBLUP-AD" not in starts and "LASSO" not in starts:
        return _cnn_gp_start_text(k, n, starts, c, short)
    n_rr, total = starts.get("RR-BLUP", 0), sum(starts.values())
    alts = [lab for lab in starts if lab != "RR-BLUP"]
    kinds = [{"CNN-GP": "cnn_gp", "GBLUP-AD": "gblup_ad", "LASSO": "lasso"}[lab] for lab in alts]
    how = "REML or inner CV" if "LASSO" in starts else "REML"
    lasso_rule = (
        "; the LASSO, whose penalty was chosen by 5-fold CV inside the training part, was "
        "proposed instead where its inner-CV squared error was below the leave-one-out error of "
        "RR-BLUP and of REML's proposal"
        if "LASSO" in starts
        else ""
    )
    start_name = start_name_for(kinds)
    mix = ", ".join(f"{what[lab]} in {starts[lab]}" for lab in alts)
    if short:
        return (
            f"CNN hybrid: of {total} fits, its start was {mix} and RR-BLUP (= GBLUP) in {n_rr}, "
            f"chosen on each training part ({how}, then out-of-fold error); the trained "
            f"convolutions' correction was kept in {k} of {n} fits (cross-fitted in "
            f"{c['conv_folds']} parts of each training set); in the other {n - k} it predicted "
            f"its start (to float32 rounding; the '{start_name}' row where shown; summary.md)"
        )
    test = _gate_text(c)
    mix_bold = ", ".join(f"{what[lab]} in **{starts[lab]} of {total}**" for lab in alts)
    return (
        f"CNN hybrid = start + convolutional correction. On each training part {how} chose the "
        "start between RR-BLUP on the CNN's input (= GBLUP) and the alternatives (the one with the "
        "highest REML log-likelihood, proposed only if it was higher than RR-BLUP's by more "
        f"than the threshold, a likelihood-ratio test{lasso_rule}; kept only if start + "
        "convolutional correction lowered the out-of-fold squared error on the training rows "
        f"{test}): "
        f"{mix_bold} fits, "
        f"RR-BLUP in {n_rr}. Its predictions alone are the "
        f"'{start_name}' row. The trained convolutions were then cross-fitted on the start's "
        f"{'leave-one-out (LASSO: 5-fold cross-fitted)' if lasso_rule else 'leave-one-out'} "
        f"residuals in {c['conv_folds']} parts of the training rows; their "
        f"correction was kept, with a weight fitted on those rows, if it lowered their squared "
        f"error {test}: in **{k} of {n}** fits. Where it was not kept the hybrid's predictions "
        "are its start's, to float32 rounding (docs/models.md)."
    )


def _cnn_gp_start_text(k: int, n: int, starts: dict[str, int], c: dict, short: bool) -> str:
    """conv_kept_text for a CNN whose start REML chose per fold (RR-BLUP or CNN-GP)."""
    n_gp, n_rr = starts.get("CNN-GP", 0), starts.get("RR-BLUP", 0)
    start_name = "CNN start (RR-BLUP or CNN-GP, by REML)"
    if short:
        return (
            f"CNN hybrid: its start was the CNN-GP (infinite-width CNN, a kernel model: no trained "
            f"convolutions) in {n_gp} of {n_gp + n_rr} fits and RR-BLUP (= GBLUP) in {n_rr}, "
            f"chosen on each training part (REML, then out-of-fold error); the trained "
            f"convolutions' correction was "
            f"kept in {k} of {n} fits (cross-fitted in {c['conv_folds']} parts of each "
            f"training set); in the other {n - k} it predicted its start (to"
            f" float32 rounding; the '{start_name}' row where shown; summary.md)"
        )
    test = _gate_text(c)
    return (
        "CNN hybrid = start + convolutional correction. On each training part REML chose the start "
        "between RR-BLUP on the CNN's input (= GBLUP) and the CNN-GP, the infinite-width limit "
        "of a convolutional network over windows of SNPs (a kernel model, nothing trained; "
        "proposed only if its REML log-likelihood was higher by more than "
        "the threshold, a likelihood-ratio test, and kept only if start + convolutional "
        f"correction lowered the out-of-fold squared error on the training rows {test}): the "
        "CNN-GP in "
        f"**{n_gp} of {n_gp + n_rr}** fits, RR-BLUP in {n_rr}. Its predictions alone are the "
        f"'{start_name}' row. The trained convolutions were then cross-fitted on the start's "
        f"leave-one-out residuals in {c['conv_folds']} parts of the training rows; their "
        f"correction was kept, with a weight fitted on those rows, if it lowered their squared "
        f"error {test}: in **{k} of {n}** fits. Where it was not kept the hybrid's predictions "
        "are its start's, to float32 rounding (docs/models.md)."
    )


def _json_safe(value):
    """Floats NaN -> None, numpy scalars -> Python, recursively (for run.json)."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return None if value != value else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def attribution_text(results, trait: str) -> str | None:
    """'CNN - GBLUP = d: its RR-BLUP start contributes a, the convolutions b' (mean over folds
    of the headline metric), where the CNN's start was scored beside it; else None."""
    from snpcnn.cv import START_NAME, cnn_row, is_start_row

    START = next((s for s in results.models if is_start_row(s)), None)
    CNN = cnn_row(results.models)
    if START is None or CNN is None or "GBLUP" not in results.models:
        return None
    metric = results.headline_metric
    m = results.metrics
    m = m[(m["metric"] == metric) & (m["trait"] == trait)]
    if "status" in m.columns:  # undefined folds (no case in a test fold) are out of every
        # mean and comparison; counted as no information they dragged the difference toward
        # 0 (+0.087 for +0.131: a checking helper, session 39)
        undefined = m.loc[m["status"] == "undefined", ["repeat", "fold"]].drop_duplicates()
        key = pd.MultiIndex.from_frame(m[["repeat", "fold"]])
        m = m[~key.isin(pd.MultiIndex.from_frame(undefined))]
    wide = m.pivot_table(index=["repeat", "fold"], columns="model", values="value", dropna=False)
    need = [CNN, START, "GBLUP"]
    if not set(need) <= set(wide.columns):
        return None
    # a collapsed fold counts as no information (r 0, AUC 0.5), as in the paired table
    wide = wide[need].fillna(no_information(metric))
    total = float((wide[CNN] - wide["GBLUP"]).mean())
    start = float((wide[START] - wide["GBLUP"]).mean())
    conv = float((wide[CNN] - wide[START]).mean())
    label = METRIC_LABELS[metric]
    total, start, conv = (0.0 if abs(v) < 5e-4 else v for v in (total, start, conv))
    if START != START_NAME:
        counts = results.start_counts() or {}
        dominance = (
            results.lasso_dominance_count() if hasattr(results, "lasso_dominance_count") else None
        )
        what = {
            "CNN-GP": "an untrained infinite-width CNN kernel",
            "GBLUP-AD": "additive + dominance GBLUP",
            "LASSO": "a sparse linear model",
            "MT-GBLUP": "the multi-trait GBLUP, which borrows from a line's other traits",
            "MT-CNN-GP": (
                "the multi-trait CNN-GP (the untrained infinite-width CNN kernel in the "
                "multi-trait model)"
            ),
        }
        mix = ", ".join(
            f"{'the ' if lab == 'CNN-GP' else ''}{lab}, {what[lab]}, in {counts.get(lab, 0)} fits"
            + (
                f" ({dominance} of them also on heterozygote indicators)"
                if lab == "LASSO" and dominance
                else ""
            )
            for lab in counts
            if lab != "RR-BLUP"
        )
        if not counts:
            # no start was chosen (--conv-folds 0: the choice needs cross-fitted convolutions)
            return (
                f"Where the CNN hybrid's difference from GBLUP comes from ({label}, mean over "
                f"folds): CNN hybrid - GBLUP = {total:+.3f} = {start:+.3f} from its start "
                f"('{START}': RR-BLUP in every fit, as no start is chosen without cross-fitted "
                f"convolutions) and {conv:+.3f} from its trained convolutions."
            )
        return (
            f"Where the CNN hybrid's difference from GBLUP comes from ({label}, mean over folds): "
            f"CNN hybrid - GBLUP = {total:+.3f} = {start:+.3f} from its start ('{START}': "
            f"{mix}, RR-BLUP in {counts.get('RR-BLUP', 0)}) and {conv:+.3f} from its trained "
            "convolutions."
        )
    return (
        f"Where the CNN hybrid's difference from GBLUP comes from ({label}, mean over folds): "
        f"CNN hybrid - GBLUP = {total:+.3f} = {start:+.3f} from its RR-BLUP start (ridge on the "
        f"CNN's input, 'CNN start (RR-BLUP)') and {conv:+.3f} from its convolutions."
    )


def _signed(value: float) -> str:
    """``+0.012`` / ``-0.012``; a difference that rounds to zero is ``+0.000``, never
    ``-0.000`` (the attribution line below the table printed +0.000 for the same value)."""
    text = f"{value:+.3f}"
    return "+0.000" if text == "-0.000" else text


def _folds_from_file(config: dict) -> bool:
    """Whether the folds came from a fold table (the config's ``folds`` is not a number)."""
    return not str(config.get("folds", "")).strip().isdigit()


def summary_markdown(results, inputs: dict[str, str] | None = None) -> str:
    """The human-readable ``summary.md``."""
    from snpcnn.cv import cnn_row

    c = results.config
    dr = results.data_report
    t = results.timings
    lines = [
        "# snpcnn cross-validation summary",
        "",
        f"- snpcnn {__version__}, {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
    ]
    for k, v in (inputs or {}).items():
        lines.append(f"- {k}: `{v}`")
    lines += [
        f"- genotypes: {dr['genotypes']['n_samples']:,} samples x {dr['genotypes']['n_snps']:,} "
        f"SNPs; {dr['n_samples_used']:,} samples genotyped with a value of at least one trait",
        *_join_lines(dr.get("alignment")),
        *_snp_lines(c, dr.get("snps_per_fold")),
        "- traits: "
        + ", ".join(f"{k} (n = {v})" for k, v in dr["n_per_trait"].items())
        + (f"; covariates: {', '.join(c['covariates'])}" if c["covariates"] else ""),
        f"- {cnn_row(results.models) or 'CNN'}: `{c['model']}`, {c['encoding']} encoding, "
        f"up to {c['epochs']} epochs "
        + (
            (
                f"(stopped when the out-of-fold error of its {c['conv_folds']} cross-fitted "
                f"networks had not improved for {c['patience']} epochs), "
                if c["patience"] < c["epochs"]
                else f"(the out-of-fold error of its {c['conv_folds']} cross-fitted networks "
                f"picked the best epoch; patience {c['patience']} >= epochs: no early stop), "
            )
            if _crossfitted(c) and results.conv_kept() is not None
            else f"(early stopping, patience {c['patience']}, on an inner "
            f"{c['val_fraction']:.0%} validation split of each training part), "
            if c["patience"] < c["epochs"]
            else f"(best epoch on an inner {c['val_fraction']:.0%} validation split of each "
            f"training part; patience {c['patience']} >= epochs: no early stop), "
        )
        + f"batch {c['batch_size']}, learning rate {c['learning_rate']:g}, "
        f"{c['n_seeds']} seed(s)",
        *([f"- {conv}"] if (conv := conv_kept_text(results)) else []),
        f"- folds: {c['n_folds']}-fold ({c['folds']}"
        + (
            f"; group K-fold by '{c['groups']}': a group never spans training and test"
            if c.get("groups")
            else ""
        )
        + (
            "; stratified: each fold holds the classes in the trait's proportions"
            if c.get("stratify") and not _folds_from_file(c)
            else ""
        )
        + f"), {c['repeats']} repeat(s), seed {c['seed']}"
        + (
            "; scheme CV2: folds of (line, trait) cells, each test cell predicted with the "
            "line's other traits (environments) in training"
            if c.get("cv_scheme") == "cv2"
            else (
                "; scheme CV1: a test line is hidden in every trait"
                if len(c.get("traits", [])) > 1
                else ""
            )
        ),
        f"- device: {results.device}; wall time {t['total_seconds']:.1f} s "
        f"(CNN {t['cnn_seconds']:.1f} s, baselines {t['baseline_seconds']:.1f} s"
        f"{_task_time_text(results.config)}, "
        f"{_refit_text(results.config, t, 'final refit')})",
        "",
    ]
    for trait, md in trait_sections(results):
        lines += [f"## {trait}", "", md, ""]
    if results.notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in results.notes] + [""]
    lines += [
        "## Files",
        "",
        "- `metrics.csv`: every metric per repeat, fold, model and trait (`status` = ok, "
        "collapsed, or for the genomic r undefined).",
        "- `predictions.csv`: out-of-fold predictions for every sample, model and trait.",
        *(
            [
                "- `model.keras`: the CNN refitted on all phenotyped samples, with its "
                f"preprocessing{_saved_model_text(results.config)}."
            ]
            if results.final_bundle is not None
            else []
        ),
        "- `run.json`: version, resolved config, seed, input checksums, library versions, device, "
        "timings.",
        "- `plots/`: observed vs predicted, per-fold accuracy CNN vs GBLUP, learning curves.",
        "",
    ]
    return "\n".join(lines)


def _task_time_text(config: dict) -> str:
    """With ``--workers``/``--ray-address`` the CNN and baseline seconds are the folds' task
    times added up (folds ran side by side, so the sum can exceed the wall time)."""
    ex = config.get("execution")
    if not isinstance(ex, Mapping) or ex.get("executor") in (None, "serial"):
        return ""
    workers = ex.get("workers")
    by = (f"{workers} workers" if workers != 1 else "1 worker") if workers else "the Ray cluster"
    return f": the folds' task times added up, run side by side by {by}"


def _refit_text(config: dict, timings: dict, word: str) -> str:
    """The refit's time, or that there was none (run.json's ``refit`` False)."""
    if config.get("refit", True) is False:
        return f"no {word}: {opt('refit', False)}"
    return f"{word} {timings['refit_seconds']:.1f} s"


def _saved_model_text(config: dict) -> str:
    """The saved model's start and whether its convolutions were kept (the refit's own
    choice, which may differ from the folds')."""
    start = config.get("refit_start")
    if start is None:
        return ""
    conv = "kept" if config.get("refit_conv_kept") else "dropped"
    if config.get("refit_backfit"):
        conv += f", and its {start} start refitted around it"
    return f" (its start: {start}; its convolutions' correction {conv})"


def console_report(results) -> str:
    """What ``snpcnn fit`` prints at the end."""
    parts = []
    for trait, md in trait_sections(results):
        parts.append(f"== {trait} ==\n{md}")
    t = results.timings
    parts.append(
        f"wall time {t['total_seconds']:.1f} s on {results.device} "
        f"(CNN {t['cnn_seconds']:.1f} s, baselines {t['baseline_seconds']:.1f} s"
        f"{_task_time_text(results.config)}, "
        f"{_refit_text(results.config, t, 'refit')})"
    )
    conv = conv_kept_text(results, short=True)
    if conv:
        parts.append(conv)
    if results.notes:
        parts.append("notes:\n" + "\n".join(f"  - {n}" for n in results.notes))
    return "\n\n".join(parts)


# ------------------------------------------------------------------- plots
def _learning_curves(ax, histories: list) -> bool:
    """Draw each fold's training losses (solid) and its inner-validation or out-of-fold loss
    (dashed) on ``ax``, one colour per fold; return whether a curve has a label."""
    import matplotlib.pyplot as plt

    from snpcnn.training import CHECK_EVERY

    labelled = False
    # one colour per fold, for all its networks and its dashed curve: the colour cycle
    # gave the default's five cross-fitted networks per fold five colours, so the folds'
    # dashed curves shared two (a checking helper, session 42)
    n = len(histories)
    if n <= 20:
        palette = plt.get_cmap("tab20" if n > 10 else "tab10")
        colours = [palette(i) for i in range(n)]
    else:  # more folds than a qualitative palette has colours: spread over a sequential one
        colours = [plt.get_cmap("viridis")(i / (n - 1)) for i in range(n)]
    for i, h in enumerate(histories):
        conv = h.get("conv")
        colour = colours[i]
        for s, hist in enumerate(h["histories"]):
            lab = f"r{h['repeat']} f{h['fold']}" + (f" s{s}" if len(h["histories"]) > 1 else "")
            if "loss" in hist:
                ax.plot(hist["loss"], lw=0.8, alpha=0.7, color=colour)
                if "val_loss" in hist:
                    ax.plot(hist["val_loss"], lw=0.8, ls="--", color=colour, label=lab)
                    labelled = True
            if conv and s == 0:  # cross-fitted: the out-of-fold loss of all training rows
                curve = conv.get("oof_loss", [])
                ax.plot(
                    np.arange(len(curve)) * CHECK_EVERY,
                    curve,
                    lw=1.2,
                    ls="--",
                    color=colour,
                    label=f"r{h['repeat']} f{h['fold']}",
                )
                labelled = True
    return labelled


def _plots(results, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snpcnn.cv import cnn_row

    written = []
    pred = results.predictions
    if pred.empty:
        return written
    out.mkdir(exist_ok=True)
    for trait in results.traits:
        p = pred[(pred["trait"] == trait) & (pred["repeat"] == pred["repeat"].min())]
        models = [m for m in results.models if m in set(p["model"])]
        fig, axes = plt.subplots(1, len(models), figsize=(4 * len(models), 4), squeeze=False)
        for ax, model in zip(axes[0], models):
            pm = p[p["model"] == model]
            ax.scatter(pm["predicted"], pm["observed"], s=8, alpha=0.6)
            r = (
                np.corrcoef(pm["observed"], pm["predicted"])[0, 1]
                if pm["predicted"].std() > 0
                else np.nan
            )
            # a long name (the default's start row) is wrapped to the panel's width: in one
            # line the titles of neighbouring panels ran into each other
            said = f"pooled Pearson r = {r:.3f}" if np.isfinite(r) else "constant"
            ax.set_title(f"{textwrap.fill(model, 36)}\n{said}", fontsize=10)
            ax.set_xlabel("predicted (out of fold)")
            ax.set_ylabel(f"observed {trait}")
        fig.tight_layout()
        name = out / f"observed_vs_predicted_{_safe(trait)}.png"
        fig.savefig(name, dpi=100)
        plt.close(fig)
        written.append(name.name)
        cnn = cnn_row(results.models)
        if "GBLUP" in results.models and cnn is not None:
            m = results.metrics
            m = m[(m["trait"] == trait) & (m["metric"] == results.headline_metric)]
            a = m[m["model"] == cnn]
            b = m[m["model"] == "GBLUP"]
            j = a.merge(b, on=["repeat", "fold"], suffixes=("", "_gblup"))
            fig, ax = plt.subplots(figsize=(4.5, 4.5))
            ok = j["status"].eq("ok")
            ax.scatter(j.loc[ok, "value_gblup"], j.loc[ok, "value"], label="fold")
            if (~ok).any():
                ax.scatter(
                    j.loc[~ok, "value_gblup"],
                    np.zeros((~ok).sum()),
                    marker="x",
                    c="red",
                    label=f"{cnn} collapsed (plotted at 0)",
                )
            lo = float(np.nanmin([j["value"].min(), j["value_gblup"].min(), 0]))
            hi = float(np.nanmax([j["value"].max(), j["value_gblup"].max()]))
            ax.plot([lo, hi], [lo, hi], "k--", lw=1)
            label = METRIC_LABELS[results.headline_metric]
            ax.set_xlabel(f"GBLUP {label}")
            ax.set_ylabel(f"{cnn} {label}")
            ax.set_title(f"{trait}: per-fold {label}")
            ax.legend(loc="best", fontsize=8)
            fig.tight_layout()
            name = out / f"per_fold_cnn_vs_gblup_{_safe(trait)}.png"
            fig.savefig(name, dpi=100)
            plt.close(fig)
            written.append(name.name)
    if results.histories:
        fig, ax = plt.subplots(figsize=(6, 4))
        labelled = _learning_curves(ax, results.histories)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (standardised trait scale)")
        ax.set_title(
            "CNN learning curves (solid: training, dashed: inner validation or out-of-fold)",
            fontsize=9,
        )
        if labelled and len(results.histories) <= 12:
            ax.legend(fontsize=6, ncol=2)
        fig.tight_layout()
        name = out / "learning_curves.png"
        fig.savefig(name, dpi=100)
        plt.close(fig)
        written.append(name.name)
    return written


def safe_name(name: str) -> str:
    """``name`` as a file name: letters, digits, ``-``, ``_`` and ``.`` kept, anything else ``_``."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in str(name))


_safe = safe_name


def input_checksums(inputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {"path", "sha256", "bytes", ...}}`` for the input files of a run, taken when
    they are read (what run.json records: see :func:`checked_inputs`)."""
    return {k: {"path": str(v), **file_checksum(v)} for k, v in inputs.items() if v}


def checked_inputs(
    inputs: Mapping[str, Any], read: Mapping[str, dict] | None
) -> tuple[dict[str, dict], list[str]]:
    """run.json's ``inputs``: the checksums taken when the run read its files (``read``, from
    :func:`input_checksums`), and the names of those that changed on disk since; a changed
    file's entry keeps the checksum of what was read, with ``changed_during_run`` and
    ``now``.  Before session 40 run.json hashed the files when it was written, so a file
    replaced during a run was recorded as if the run had read it (a checking helper)."""
    now = input_checksums(inputs)
    if not read:
        return now, []
    out, changed = {}, []
    for k, entry in now.items():
        then = read.get(k)
        if then is None or then == entry:
            out[k] = entry
        else:
            out[k] = {**then, "changed_during_run": True, "now": entry}
            changed.append(k)
    return out, changed


def note_changed_inputs(notes: list[str], paths: list[str]) -> None:
    """Add the note on input files replaced during a run (:func:`checked_inputs`) to a run's
    ``notes`` (summary.md, run.json and the console's notes); from Python also a warning."""
    if not paths:
        return
    import warnings

    msg = (
        f"{', '.join(paths)} changed on disk during the run: the results are those of the "
        "file(s) as they were read; run.json records their checksums then "
        "(changed_during_run, now)"
    )
    if not CLI_MODE.get():  # the CLI prints the notes at the end
        warnings.warn(msg, InputWarning, stacklevel=3)
    if msg not in notes:
        notes.append(msg)


def run_record(
    results,
    inputs: dict[str, str],
    argv: list[str] | None = None,
    checked: dict[str, dict] | None = None,
) -> dict[str, Any]:
    return {
        "snpcnn_version": __version__,
        "written_by": "snpcnn fit",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": argv if argv is not None else sys.argv,
        "config": results.config,
        "seed": results.config.get("seed"),
        "inputs": checked if checked is not None else input_checksums(inputs),
        "data": results.data_report,
        "libraries": library_versions(),
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "device": results.device,
        "timings": results.timings,
        # per CV fold: epochs the CNN trained (0 = a ridge start kept, see docs/models.md),
        # learning rate used, and the inner-validation Pearson r per seed and trait
        "cnn_folds": [
            {
                "repeat": h["repeat"],
                "fold": h["fold"],
                "best_epochs": h["best_epochs"],
                "ridge_start": h.get("ridge_start"),
                "learning_rates": h["learning_rates"],
                "inner_val_r": _json_safe(h["inner_val_r"]),
                # cross-fitted convolutions (conv_folds >= 2): per trait the correction's
                # weight (0 = dropped), p-value, out-of-fold r of the start and of start +
                # correction on the training rows, best epoch, out-of-fold loss curve
                **({"conv": _json_safe(h["conv"])} if h.get("conv") else {}),
            }
            for h in results.histories
        ],
        "notes": results.notes,
    }


def save_results(
    results,
    out: str | Path,
    inputs: dict[str, str] | None = None,
    force: bool = False,
    argv: list[str] | None = None,
    read_checksums: Mapping[str, dict] | None = None,
) -> Path:
    """Write every output file of a run into ``out`` atomically.

    ``read_checksums`` (:func:`input_checksums` when the inputs were read): run.json records
    them, and a file changed on disk since is named in a warning and the notes."""
    inputs = inputs or {}
    checked, changed = checked_inputs(inputs, read_checksums)
    note_changed_inputs(results.notes, [str(inputs[k]) for k in changed])
    with atomic_directory(out, force, command="fit") as tmp:
        results.metrics.to_csv(tmp / "metrics.csv", index=False)
        results.predictions.to_csv(tmp / "predictions.csv", index=False)
        (tmp / "summary.md").write_text(summary_markdown(results, inputs))
        if results.final_bundle is not None:
            results.final_bundle.save(tmp / "model.keras")
        _plots(results, tmp / "plots")
        record = run_record(results, inputs, argv, checked)
        (tmp / "run.json").write_text(json.dumps(record, indent=2, default=_json_default))
    return Path(out)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same directory."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        ready_to_replace(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
