"""Benchmarks: every dataset x trait x model x seed, cross-validated on identical folds.

A benchmark is described by a TOML file (see ``docs/benchmark-command.md``)::

    baselines = ["gblup", "ridge"]
    seeds = [0]
    ensemble = true

    [[datasets]]
    name = "wheat"
    genotypes = "../../example_data/wheat.bed"
    phenotypes = "../../example_data/wheat_phenotypes.csv"
    traits = ["GY_E1"]
    folds = "../../example_data/wheat_cv_folds.csv"

    [[models]]
    name = "snpcnn_default"
    preset = "snpcnn_default"
    epochs = 60

:func:`run_benchmark` runs it on top of :func:`snpcnn.cv.cross_validate`:

* The fold table of a dataset depends only on the dataset and the seed; every model
  (CNNs and baselines) of every trait is cross-validated on that same table.
* The baselines run once per dataset x trait x seed (``cnn=False``), each CNN model
  once more with ``baselines=()``; the CNN+GBLUP average is scored here from the
  stored out-of-fold predictions, joined on sample id, repeat and fold.
* Every finished fold is written to ``DIR.partial/units/...`` (keyed by a hash of
  everything that determines it), so an interrupted run resumes without
  recomputing finished folds; the results appear in ``DIR`` in one rename at the end.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import math
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn import __version__
from snpcnn.baselines import BASELINE_LABELS, BASELINES, DEFAULT_BASELINES, canonical_baseline
from snpcnn.cv import FIXED_NAME, GENOMIC_METRIC, TRAIN_DEFAULTS
from snpcnn.errors import CLI_MODE, InputError, opt
from snpcnn.executor import UnitStore, content_hash, serial_execution, to_json
from snpcnn.io.output import replace_folder
from snpcnn.metrics import format_mean_sd, paired_difference
from snpcnn.report import atomic_write_text, safe_name
from snpcnn.training import LINEAR_INITS

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResults",
    "DatasetSpec",
    "ModelSpec",
    "BASELINES",
    "load_config",
    "run_benchmark",
    "summarize",
    "paired",
    "headline_table",
    "results_markdown",
    "RESULT_COLUMNS",
    "PREDICTION_COLUMNS",
]

log = logging.getLogger("snpcnn.bench")

BASELINE_UNIT = "baselines"
RESULT_COLUMNS = [
    "dataset",
    "trait",
    "seed",
    "repeat",
    "fold",
    "model",
    "metric",
    "value",
    "status",
    "n_train",
    "n_test",
]
PREDICTION_COLUMNS = [
    "dataset",
    "trait",
    "seed",
    "repeat",
    "fold",
    "model",
    "sample_id",
    "observed",
    "predicted",
]
HEADLINE = {"regression": "pearson_r", "binary": "auc"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_TOP_KEYS = {
    "name",
    "description",
    "datasets",
    "models",
    "baselines",
    "seeds",
    "ensemble",
    "defaults",
}
_DATASET_KEYS = {
    "name",
    "genotypes",
    "phenotypes",
    "covariates_file",
    "traits",
    "covariates",
    "categorical",
    "folds",
    "repeats",
    "id_column",
    "format",
    "min_maf",
    "min_call_rate",
    "simulate",
}
#: keys of a dataset's ``simulate`` table (snpcnn.simulate.simulate_genotypes arguments)
_SIM_GENO_KEYS = {
    "n_samples",
    "n_snps",
    "n_chrom",
    "maf_range",
    "ld",
    "block_length",
    "spacing",
    "missing_rate",
    "inbreeding",
    "seed",
    "traits",
    # a seed: the SNP columns shuffled after the traits are drawn (snpcnn.simulate.unmap), a
    # panel without a genetic map
    "shuffle_snps",
    # a genotype file (and its format) to draw the traits on instead of simulated genotypes
    # (`snpcnn simulate --genotypes`); then the keys above that shape genotypes do not apply
    "genotypes",
    "format",
}
#: the keys a ``simulate`` table with ``genotypes`` (a file) may hold
_SIM_FILE_KEYS = {"genotypes", "format", "traits", "shuffle_snps"}
#: keys of one ``[[datasets.simulate.traits]]`` entry (snpcnn.simulate.simulate_trait)
_SIM_TRAIT_KEYS = {
    "name",
    "architecture",
    "h2",
    "n_loci",
    "order",
    "max_gap",
    "pair_ld",
    "placement",
    "pure",
    "epistatic_share",
    "effect_dist",
    "seed",
}
# a [[models]] key left out (and not in [defaults]) takes fit's default: one place,
# snpcnn.cv.TRAIN_DEFAULTS, so `preset = "snpcnn_default"` alone reproduces `snpcnn fit`
_HYPER_DEFAULTS: dict[str, Any] = {
    **{
        k: TRAIN_DEFAULTS[k]
        for k in (
            "epochs",
            "batch_size",
            "learning_rate",
            "patience",
            "val_fraction",
            "n_seeds",
            "encoding",
            "scaling",
            "linear_init",
            "conv_gate",
            "conv_folds",
        )
    },
    "model_overrides": {},
}
_MODEL_KEYS = {"name", "preset", "architecture", *_HYPER_DEFAULTS}


# ---------------------------------------------------------------------- config
@dataclass(frozen=True)
class DatasetSpec:
    """One ``[[datasets]]`` entry with its paths resolved (see :func:`load_config`)."""

    name: str
    genotypes: Path
    phenotypes: Path
    traits: tuple[str, ...]
    covariates: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    covariates_file: Path | None = None
    folds: int | Path = 5
    repeats: int = 1
    id_column: str | None = None
    format: str | None = None
    min_maf: float = 0.0
    min_call_rate: float = 0.0
    # a simulated data set (``simulate`` table): genotypes and traits made in memory by
    # snpcnn.simulate; genotypes/phenotypes are then None
    simulate: dict[str, Any] | None = None
    # run only these (0-based) repeats of the ``repeats`` random repeats (None: all); set
    # by ``BenchmarkConfig.select(repeats=...)`` (``snpcnn benchmark --repeats``).  A
    # repeat's folds and network seeds depend only on (seed, repeat, fold), so runs split
    # by repeat give exactly the numbers of one run over all repeats.
    run_repeats: tuple[int, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in d.items()} | {
            "traits": list(self.traits),
            "covariates": list(self.covariates),
            "categorical": list(self.categorical),
            "run_repeats": None if self.run_repeats is None else list(self.run_repeats),
        }

    def repeats_text(self) -> str:
        """'K-fold x R repeat(s)', naming the repeats run when only some are."""
        text = f"{self.folds}-fold x {self.repeats} repeat(s)"
        if self.run_repeats is not None:
            shown = ", ".join(str(r) for r in self.run_repeats)
            text += f", of which only repeat(s) {shown} (0-based) ran here"
        return text


@dataclass(frozen=True)
class ModelSpec:
    """One ``[[models]]`` entry: an architecture and its training hyperparameters."""

    name: str
    architecture: str  # a preset name or an absolute architecture-file path
    epochs: int = TRAIN_DEFAULTS["epochs"]
    batch_size: int = TRAIN_DEFAULTS["batch_size"]
    learning_rate: float = TRAIN_DEFAULTS["learning_rate"]
    patience: int = TRAIN_DEFAULTS["patience"]
    val_fraction: float = TRAIN_DEFAULTS["val_fraction"]
    n_seeds: int = TRAIN_DEFAULTS["n_seeds"]
    encoding: str = TRAIN_DEFAULTS["encoding"]
    scaling: str = TRAIN_DEFAULTS["scaling"]
    linear_init: str = TRAIN_DEFAULTS["linear_init"]
    conv_gate: float = TRAIN_DEFAULTS["conv_gate"]
    conv_folds: int = TRAIN_DEFAULTS["conv_folds"]
    model_overrides: Mapping[str, Any] = field(default_factory=dict)

    def resolved_architecture(self) -> dict:
        """The validated architecture dict (preset or file, with the overrides applied)."""
        from snpcnn.models.spec import load_architecture

        return load_architecture(self.architecture, **dict(self.model_overrides))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_overrides"] = dict(self.model_overrides)
        return d


@dataclass
class BenchmarkConfig:
    """A validated benchmark configuration (what :func:`load_config` returns).

    Attributes
    ----------
    path : Path
        The configuration file; relative paths in it resolve against its directory.
    checksum : str
        sha256 of the configuration file's bytes.
    """

    path: Path
    name: str
    datasets: list[DatasetSpec]
    models: list[ModelSpec]
    baselines: list[str]
    seeds: list[int]
    ensemble: bool
    checksum: str
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The configuration as resolved (absolute paths, every default filled in)."""
        return {
            "path": str(self.path),
            "name": self.name,
            "description": self.description,
            "baselines": list(self.baselines),
            "seeds": list(self.seeds),
            "ensemble": self.ensemble,
            "datasets": [d.to_dict() for d in self.datasets],
            "models": [m.to_dict() for m in self.models],
        }

    def select(
        self,
        datasets: Sequence[str] | None = None,
        models: Sequence[str] | None = None,
        repeats: Sequence[int] | None = None,
        seeds: Sequence[int] | None = None,
    ) -> BenchmarkConfig:
        """A copy restricted to the named datasets and CNN models (baselines always run).

        ``None`` keeps all; an empty ``models`` list keeps no CNN model (baselines only).
        ``repeats`` (0-based) runs only those random-fold repeats of every dataset kept:
        their folds and network seeds are the same as in a run over all repeats, so a long
        run can be split by repeat and the parts combined.  ``seeds`` runs only those of the
        config's seeds (each seed's units are those of a run over all seeds).
        """
        out = self
        if datasets is not None and not list(datasets):
            raise InputError(f"{self.path}: the dataset selection is empty; name at least one")
        if datasets:
            _check_names(datasets, [d.name for d in self.datasets], "dataset", self.path)
            out = replace(out, datasets=[d for d in out.datasets if d.name in set(datasets)])
        if models is not None:
            _check_names(models, [m.name for m in self.models], "model", self.path)
            out = replace(out, models=[m for m in out.models if m.name in set(models)])
        if repeats is not None:
            wanted = tuple(sorted({int(r) for r in repeats}))
            if not wanted:
                raise InputError(f"{self.path}: --repeats lists no repeat")
            chosen = []
            for d in out.datasets:
                if isinstance(d.folds, Path):
                    raise InputError(
                        f"{self.path}: dataset '{d.name}' uses the fold file {d.folds.name}, "
                        "whose folds (and repeats, where it has a repeat column) all run "
                        "together; drop --repeats or select other --datasets"
                    )
                bad = [r for r in wanted if not 0 <= r < d.repeats]
                if bad:
                    raise InputError(
                        f"{self.path}: dataset '{d.name}' has repeats 0..{d.repeats - 1} "
                        f"(0-based), not {bad[0]}; fix --repeats"
                    )
                chosen.append(replace(d, run_repeats=wanted))
            out = replace(out, datasets=chosen)
        if seeds is not None:
            wanted_seeds = {int(s) for s in seeds}
            bad = sorted(wanted_seeds - set(self.seeds))
            if bad or not wanted_seeds:
                raise InputError(
                    f"{self.path}: the config's seeds are {list(self.seeds)}, not "
                    f"{bad[0] if bad else 'none'}; fix --seeds"
                )
            out = replace(out, seeds=[s for s in self.seeds if s in wanted_seeds])
        return out

    def model_labels(self) -> list[str]:
        """Every model name the results hold, in table order."""
        labels = [BASELINE_LABELS[b] for b in self.baselines]
        if self.baselines and any(d.covariates for d in self.datasets):
            labels.append(FIXED_NAME)
        from snpcnn.cv import start_name_for
        from snpcnn.models.spec import kernel_starts

        for m in self.models:
            labels.append(m.name)
            arch = m.resolved_architecture()
            if m.linear_init == "ridge_loo" and "linear" in arch:
                # the CNN without convolutions: its start's row, named as the run names it
                row = start_name_for(kernel_starts(arch.get("linear", {})))
                labels.append(unit_start_row(row, m.name))
        if self.ensemble:
            labels += [f"{m.name}+GBLUP" for m in self.models]
        return labels


def unit_start_row(row: str, unit_name: str) -> str:
    """A benchmark's name for the start row ``row`` of ``snpcnn fit`` (e.g. ``CNN start
    (RR-BLUP, CNN-GP, GBLUP-AD or LASSO, by REML or inner CV)``) of the model ``unit_name``:
    the model's name, without the "by ..." clause (``NAME start (RR-BLUP, CNN-GP, GBLUP-AD or
    LASSO)``), so that two CNNs of a config never share a row."""
    return re.sub(r", by [^)]*\)$", ")", row.replace("CNN start", f"{unit_name} start"))


def _check_names(wanted, valid, what, path) -> None:
    bad = [w for w in wanted if w not in valid]
    if bad:
        raise InputError(
            f"{path}: no {what} named '{bad[0]}'; the config has: {', '.join(valid) or 'none'}"
        )


class _Where:
    """Builds one-line errors that name the config file, the section entry and the key."""

    def __init__(self, path: Path, section: str, index: int | None = None, name: Any = None):
        self.path = path
        self.section = section
        self.index = index
        self.name = name

    def error(self, key: str | None, message: str) -> InputError:
        where = f"{self.path}: {self.section}"
        if self.index is not None:
            where += f" entry {self.index + 1}"
            if isinstance(self.name, str):
                where += f" ('{self.name}')"
        if key:
            where += f", key '{key}'"
        return InputError(f"{where}: {message}")


def _get_str(d, key, where, required=False, default=None) -> str | None:
    if key not in d:
        if required:
            raise where.error(key, "is required")
        return default
    v = d[key]
    if not isinstance(v, str) or not v.strip():
        raise where.error(key, f"must be a non-empty string, got {v!r}")
    return v


def _get_str_list(d, key, where, required=False) -> list[str]:
    if key not in d:
        if required:
            raise where.error(key, 'is required (a list of strings, e.g. ["GY_E1"])')
        return []
    v = d[key]
    if isinstance(v, str):
        v = [v]
    if not isinstance(v, list) or not all(isinstance(x, str) and x.strip() for x in v):
        raise where.error(key, f"must be a list of strings, got {v!r}")
    if len(set(v)) != len(v):
        dup = next(x for x in v if v.count(x) > 1)
        raise where.error(key, f"lists '{dup}' twice")
    if required and not v:
        raise where.error(key, "must not be empty")
    return list(v)


def _get_int(d, key, where, default, minimum) -> int:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int):
        raise where.error(key, f"must be an integer, got {v!r}")
    if v < minimum:
        raise where.error(key, f"must be at least {minimum}, got {v}")
    return v


def _get_float(d, key, where, default, lo, hi, lo_open=False) -> float:
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise where.error(key, f"must be a number, got {v!r}")
    if v < lo or v > hi or (lo_open and v == lo):
        interval = f"({lo}, {hi}]" if lo_open else f"[{lo}, {hi}]"
        raise where.error(key, f"must be in {interval}, got {v}")
    return float(v)


def _path(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def _genotype_exists(p: Path) -> bool:
    return p.exists() or Path(str(p) + ".bed").exists()


def _check_unknown(d: Mapping, allowed: set[str], where: _Where) -> None:
    for key in d:
        if key not in allowed:
            raise where.error(key, f"unknown key; valid keys are: {', '.join(sorted(allowed))}")


def _entry(d: Any, i: int, path: Path, section: str, allowed: set) -> tuple[_Where, str]:
    """Check that entry ``i`` of ``section`` is a table with known keys and a valid name."""
    where = _Where(path, section, i, d.get("name") if isinstance(d, dict) else None)
    if not isinstance(d, dict):
        raise where.error(None, f"must be a table ({section} with key = value lines)")
    _check_unknown(d, allowed, where)
    name = _get_str(d, "name", where, required=True)
    if not _NAME_RE.match(name):
        raise where.error("name", f"'{name}' must be letters, digits, '_', '-' or '.' only")
    return where, name


def _parse_simulation(d: Mapping, where: _Where, base: Path) -> dict[str, Any]:
    """Check a dataset's ``simulate`` table; returns it as plain data (all keys named; a
    genotype file's path resolved against the config's folder)."""

    sim = d["simulate"]
    if not isinstance(sim, Mapping):
        raise where.error("simulate", "must be a table of simulate_genotypes arguments")
    bad = sorted(set(sim) - _SIM_GENO_KEYS)
    if bad:
        raise where.error(
            "simulate", f"unknown key '{bad[0]}'; valid keys: {', '.join(sorted(_SIM_GENO_KEYS))}"
        )
    traits = sim.get("traits")
    if not isinstance(traits, list) or not traits:
        raise where.error("simulate", "needs [[datasets.simulate.traits]] entries (one per trait)")
    clean_traits = []
    for k, t in enumerate(traits):
        if not isinstance(t, Mapping) or "name" not in t or "architecture" not in t:
            raise where.error("simulate", f"traits[{k}] needs a name and an architecture")
        bad = sorted(set(t) - _SIM_TRAIT_KEYS)
        if bad:
            raise where.error(
                "simulate",
                f"traits[{k}]: unknown key '{bad[0]}'; valid keys: "
                + ", ".join(sorted(_SIM_TRAIT_KEYS)),
            )
        clean_traits.append(dict(t))
    geno = {k: v for k, v in sim.items() if k not in ("traits", "shuffle_snps")}
    shuffle = sim.get("shuffle_snps")
    if shuffle is not None and (isinstance(shuffle, bool) or not isinstance(shuffle, int)):
        raise where.error("simulate", f"shuffle_snps must be an integer seed, got {shuffle!r}")
    if "genotypes" in sim:
        other = sorted(set(sim) - _SIM_FILE_KEYS)
        if other:
            raise where.error(
                "simulate",
                f"'{other[0]}' shapes simulated genotypes, and this table draws its traits on "
                f"the file in `genotypes`; leave it out (keys with a file: "
                f"{', '.join(sorted(_SIM_FILE_KEYS))})",
            )
        from snpcnn.io import FORMAT_HELP, FORMAT_NAMES, detect_format

        file = _get_str(sim, "genotypes", where, required=True)
        fmt = _get_str(sim, "format", where)
        path = _path(base, file).resolve()
        geno = {"genotypes": str(path), **({"format": fmt} if fmt else {})}
        if not _genotype_exists(path):
            raise where.error("simulate", f"genotypes: {path}: no such file or PLINK prefix")
        # checked now, not when the dataset loads after others have run (a reviewer)
        if fmt is not None and fmt.lower() not in FORMAT_NAMES:
            raise where.error("simulate", f"format must be one of {FORMAT_HELP}, got '{fmt}'")
        if fmt is None:
            try:
                detect_format(path)
            except InputError as exc:
                raise where.error("simulate", f"genotypes: {exc}") from None
    elif "format" in sim:
        raise where.error("simulate", "format applies to a genotype file (`genotypes`); drop it")
    else:
        for key in ("n_samples", "n_snps"):
            if key not in geno:
                raise where.error("simulate", f"needs {key}")
    # fail now on what can be checked without simulating (the number of causal loci
    # against the polymorphic SNPs fails when the data are drawn, with the trait named)
    from snpcnn.simulate import check_genotype_arguments, check_trait_arguments

    seen: set[str] = set()
    for k, t in enumerate(clean_traits):
        if not isinstance(t["name"], str) or not t["name"].strip():
            raise where.error(
                "simulate", f"traits[{k}]: name must be a non-empty text, got {t['name']!r}"
            )
        if t["name"] in seen:
            raise where.error(
                "simulate", f"traits[{k}]: the name '{t['name']}' is used twice; give each a name"
            )
        seen.add(t["name"])
        try:
            check_trait_arguments(**{a: v for a, v in t.items() if a != "name"})
        except (InputError, TypeError) as exc:
            raise where.error("simulate", f"traits[{k}] ('{t['name']}'): {exc}") from None
    if "genotypes" not in geno:
        try:  # the genotype settings as given: nothing is drawn here
            check_genotype_arguments(**geno)
        except (InputError, TypeError) as exc:
            raise where.error("simulate", str(exc)) from None
        n = geno["n_samples"]
        if n < 10:
            raise where.error(
                "simulate", f"n_samples {n} is too few to cross-validate; simulate at least 10"
            )
    out = {**geno, "traits": clean_traits}
    if shuffle is not None:
        out["shuffle_snps"] = shuffle
    return out


def _check_trait_folders(traits, where: _Where, key: str) -> None:
    """Each trait's stored folds live in a folder named after it (``safe_name``): two
    names that give one folder would overwrite each other's folds."""
    folders: dict[str, str] = {}
    for t in traits:
        folder = safe_name(t)
        if folder in folders:
            raise where.error(
                key,
                f"traits '{folders[folder]}' and '{t}' would share the results folder "
                f"'{folder}'; rename one (letters, digits, '-', '_' and '.' are kept as they "
                "are, anything else becomes '_')",
            )
        folders[folder] = t


def _simulated_dataset(d: Mapping, name: str, where: _Where, base: Path) -> DatasetSpec:
    sim = _parse_simulation(d, where, base)
    for key in (
        "genotypes",
        "phenotypes",
        "covariates_file",
        "covariates",
        "traits",
        "categorical",
        "id_column",
        "format",
        "min_maf",
        "min_call_rate",
    ):
        if key in d:
            raise where.error(key, "cannot be combined with a `simulate` table")
    _check_trait_folders([t["name"] for t in sim["traits"]], where, "simulate")
    folds = d.get("folds", 5)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise where.error(
            "folds", f"must be a number of folds >= 2 for simulated data, got {folds!r}"
        )
    return DatasetSpec(
        name=name,
        genotypes=None,
        phenotypes=None,
        traits=tuple(t["name"] for t in sim["traits"]),
        folds=folds,
        repeats=_get_int(d, "repeats", where, 1, 1),
        simulate=sim,
    )


def _parse_dataset(d: Any, i: int, base: Path, path: Path) -> DatasetSpec:
    where, name = _entry(d, i, path, "[[datasets]]", _DATASET_KEYS)
    if "simulate" in d:
        return _simulated_dataset(d, name, where, base)
    geno = _path(base, _get_str(d, "genotypes", where, required=True))
    if not _genotype_exists(geno):
        raise where.error("genotypes", f"{geno}: no such file or PLINK prefix; check the path")
    pheno = _path(base, _get_str(d, "phenotypes", where, required=True))
    if not pheno.is_file():
        raise where.error("phenotypes", f"{pheno}: no such file; check the path")
    cov_file = _get_str(d, "covariates_file", where)
    cov_path = None
    if cov_file is not None:
        cov_path = _path(base, cov_file)
        if not cov_path.is_file():
            raise where.error("covariates_file", f"{cov_path}: no such file; check the path")
    traits = _get_str_list(d, "traits", where, required=True)
    _check_trait_folders(traits, where, "traits")
    covariates = _get_str_list(d, "covariates", where)
    if cov_path is not None and not covariates:
        raise where.error("covariates", "is required with covariates_file (which columns?)")
    categorical = _get_str_list(d, "categorical", where)
    bad = [c for c in categorical if c not in covariates]
    if bad:
        raise where.error("categorical", f"'{bad[0]}' is not listed in 'covariates'")
    clash = [t for t in traits if t in covariates]
    if clash:
        raise where.error("covariates", f"'{clash[0]}' is also a trait")
    repeats = _get_int(d, "repeats", where, 1, 1)
    folds_raw = d.get("folds", 5)
    if isinstance(folds_raw, bool):
        raise where.error(
            "folds", f"must be a number of folds or a fold-file path, got {folds_raw}"
        )
    if isinstance(folds_raw, int):
        if folds_raw < 2:
            raise where.error("folds", f"must be at least 2, got {folds_raw}")
        folds: int | Path = folds_raw
    elif isinstance(folds_raw, str) and folds_raw.strip():
        folds = _path(base, folds_raw)
        if not folds.is_file():
            raise where.error("folds", f"{folds}: no such fold file; check the path")
        if repeats != 1:
            raise where.error(
                "repeats", f"must be 1 with a fold file (got {repeats}); use folds = K to repeat"
            )
    else:
        raise where.error(
            "folds", f"must be a number of folds or a fold-file path, got {folds_raw!r}"
        )
    fmt = _get_str(d, "format", where)
    from snpcnn.io import FORMAT_HELP, FORMAT_NAMES

    if fmt is not None and fmt.lower() not in FORMAT_NAMES:
        raise where.error("format", f"must be one of {FORMAT_HELP}, got '{fmt}'")
    return DatasetSpec(
        name=name,
        genotypes=geno.resolve(),
        phenotypes=pheno.resolve(),
        traits=tuple(traits),
        covariates=tuple(covariates),
        categorical=tuple(categorical),
        covariates_file=None if cov_path is None else cov_path.resolve(),
        folds=folds if isinstance(folds, int) else folds.resolve(),
        repeats=repeats,
        id_column=_get_str(d, "id_column", where),
        format=fmt,
        min_maf=_get_float(d, "min_maf", where, 0.0, 0.0, 0.5),
        min_call_rate=_get_float(d, "min_call_rate", where, 0.0, 0.0, 1.0),
    )


def _hyper(d: Mapping, defaults: Mapping, where: _Where) -> dict[str, Any]:
    from snpcnn.preprocess import GenotypePreprocessor

    merged = {**_HYPER_DEFAULTS, **defaults, **{k: v for k, v in d.items() if k in _HYPER_DEFAULTS}}
    out = {
        "epochs": _get_int(merged, "epochs", where, TRAIN_DEFAULTS["epochs"], 1),
        "batch_size": _get_int(merged, "batch_size", where, TRAIN_DEFAULTS["batch_size"], 1),
        "learning_rate": _get_float(
            merged, "learning_rate", where, TRAIN_DEFAULTS["learning_rate"], 0.0, 10.0, lo_open=True
        ),
        "patience": _get_int(merged, "patience", where, TRAIN_DEFAULTS["patience"], 1),
        "val_fraction": _get_float(
            merged, "val_fraction", where, TRAIN_DEFAULTS["val_fraction"], 0.0, 0.5, lo_open=True
        ),
        "n_seeds": _get_int(merged, "n_seeds", where, TRAIN_DEFAULTS["n_seeds"], 1),
        "encoding": _get_str(merged, "encoding", where, default=TRAIN_DEFAULTS["encoding"]),
        "scaling": _get_str(merged, "scaling", where, default=TRAIN_DEFAULTS["scaling"]),
        "linear_init": _get_str(
            merged, "linear_init", where, default=TRAIN_DEFAULTS["linear_init"]
        ),
        "conv_gate": _get_float(merged, "conv_gate", where, TRAIN_DEFAULTS["conv_gate"], 0.0, 1.0),
        "conv_folds": _get_int(merged, "conv_folds", where, TRAIN_DEFAULTS["conv_folds"], 0),
    }
    if out["conv_folds"] == 1:
        raise where.error("conv_folds", "must be 0 (one inner split) or at least 2, got 1")
    if out["linear_init"] not in LINEAR_INITS:
        raise where.error(
            "linear_init", f"must be one of {', '.join(LINEAR_INITS)}, got {out['linear_init']!r}"
        )
    overrides = merged.get("model_overrides", {})
    if not isinstance(overrides, dict):
        raise where.error("model_overrides", f"must be a table, got {overrides!r}")
    out["model_overrides"] = dict(overrides)
    try:
        GenotypePreprocessor(encoding=out["encoding"], scaling=out["scaling"])
    except InputError as exc:
        raise where.error("encoding/scaling", str(exc)) from None
    return out


def _parse_model(d: Any, i: int, base: Path, path: Path, defaults: Mapping) -> ModelSpec:
    from snpcnn.models import list_presets

    where, name = _entry(d, i, path, "[[models]]", _MODEL_KEYS)
    if name in BASELINE_LABELS.values() or name in BASELINES or name in (BASELINE_UNIT, "none"):
        raise where.error("name", f"'{name}' is reserved for a baseline; choose another name")
    preset = _get_str(d, "preset", where)
    arch = _get_str(d, "architecture", where)
    if (preset is None) == (arch is None):
        raise where.error(
            "preset", "give exactly one of 'preset' (a built-in name) or 'architecture' (a file)"
        )
    if preset is not None:
        if preset not in list_presets():
            raise where.error(
                "preset", f"unknown preset '{preset}'; valid: {', '.join(list_presets())}"
            )
        source = preset
    else:
        p = _path(base, arch)
        if not p.is_file():
            raise where.error("architecture", f"{p}: no such architecture file; check the path")
        source = str(p.resolve())
    spec = ModelSpec(name=name, architecture=source, **_hyper(d, defaults, where))
    try:
        spec.resolved_architecture()
    except InputError as exc:
        raise where.error("preset" if preset else "architecture", str(exc)) from None
    return spec


def load_config(path: str | os.PathLike) -> BenchmarkConfig:
    """Read and validate a benchmark TOML file.

    Every entry is checked before anything runs: paths exist (relative paths resolve
    against the config file's directory), names are unique, architectures build,
    hyperparameters are in range.  An error is one line naming the file, the
    section entry and the key.

    Parameters
    ----------
    path : path-like
        The ``.toml`` file.

    Returns
    -------
    BenchmarkConfig

    Raises
    ------
    InputError
        On any invalid or missing value.

    Examples
    --------
    >>> cfg = load_config("benchmarks/configs/smoke.toml")  # doctest: +SKIP
    >>> [m.name for m in cfg.models]  # doctest: +SKIP
    ['tiny']
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such benchmark config file; check the path")
    raw = path.read_bytes()
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file; a config is TOML text") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    base = path.resolve().parent
    top = _Where(path, "top level")
    _check_unknown(data, _TOP_KEYS, top)
    datasets_raw = data.get("datasets")
    if not isinstance(datasets_raw, list) or not datasets_raw:
        raise top.error("datasets", "add at least one [[datasets]] table")
    models_raw = data.get("models", [])
    if not isinstance(models_raw, list):
        raise top.error("models", "must be [[models]] tables")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise top.error("defaults", "must be a table of model hyperparameters")
    dwhere = _Where(path, "[defaults]")
    _check_unknown(defaults, set(_HYPER_DEFAULTS), dwhere)
    _hyper({}, defaults, dwhere)
    datasets = [_parse_dataset(d, i, base, path) for i, d in enumerate(datasets_raw)]
    models = [_parse_model(d, i, base, path, defaults) for i, d in enumerate(models_raw)]
    for what, items in (("[[datasets]]", datasets), ("[[models]]", models)):
        names = [x.name for x in items]
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            i = len(names) - 1 - names[::-1].index(dup)
            raise _Where(path, what, i, dup).error("name", f"'{dup}' is used twice")
    baselines = data.get("baselines", list(DEFAULT_BASELINES))
    if isinstance(baselines, str):
        baselines = [baselines]
    if not isinstance(baselines, list) or not all(isinstance(b, str) for b in baselines):
        raise top.error(
            "baselines", f'must be a list such as ["gblup", "ridge", "rkhs"], got {baselines!r}'
        )
    # any spelling fit accepts ("eg_blup", "GBLUP-AD"), stored as the canonical key
    baselines = [canonical_baseline(b) for b in baselines]
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise top.error("baselines", f"unknown baseline '{bad[0]}'; valid: {', '.join(BASELINES)}")
    if len(set(baselines)) != len(baselines):
        raise top.error("baselines", "lists a baseline twice")
    seeds = data.get("seeds", [0])
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        seeds = [seeds]
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)
    ):
        raise top.error("seeds", f"must be a non-empty list of integers >= 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise top.error("seeds", "lists a seed twice")
    ensemble = data.get("ensemble", False)
    if not isinstance(ensemble, bool):
        raise top.error("ensemble", f"must be true or false, got {ensemble!r}")
    if ensemble and "gblup" not in baselines:
        raise top.error("ensemble", 'needs "gblup" in baselines (it averages CNN and GBLUP)')
    if not models and not baselines:
        raise top.error("models", "nothing to run: add [[models]] or baselines")
    name = data.get("name", path.stem)
    if not isinstance(name, str):
        raise top.error("name", f"must be a string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        raise top.error("description", f"must be a string, got {description!r}")
    return BenchmarkConfig(
        path=path.resolve(),
        name=name,
        description=description,
        datasets=datasets,
        models=models,
        baselines=baselines,
        seeds=list(seeds),
        ensemble=ensemble,
        checksum=hashlib.sha256(raw).hexdigest(),
    )


# --------------------------------------------------------------------- results
@dataclass
class BenchmarkResults:
    """Everything a benchmark produced.

    Attributes
    ----------
    results : DataFrame
        One row per dataset, trait, seed, repeat, fold, model and metric
        (:data:`RESULT_COLUMNS`).
    predictions : DataFrame
        Out-of-fold predictions (:data:`PREDICTION_COLUMNS`).
    units : list of dict
        One record per dataset x trait x seed x model run (wall time, folds computed
        and resumed, the unit's hash key, notes).
    heads : dict
        ``(dataset, trait) -> "regression" | "binary"``.
    data : dict
        Per dataset: samples, SNPs, samples per trait, inputs and their checksums.
    """

    config: BenchmarkConfig
    results: pd.DataFrame
    predictions: pd.DataFrame
    units: list[dict[str, Any]]
    heads: dict[tuple[str, str], str]
    data: dict[str, Any]
    device: str
    wall_seconds: float
    out: Path | None = None

    def summary(self) -> pd.DataFrame:
        """Mean ± sd per dataset, trait, model and metric (see :func:`summarize`)."""
        return summarize(self.results, self.config.model_labels())

    def paired(self, reference: str = "GBLUP") -> pd.DataFrame:
        """Paired fold-by-fold difference of every model vs ``reference`` (headline metric)."""
        known = set(self.results["model"])
        if reference not in known:
            raise InputError(
                f"no model '{reference}' in these results; models: {', '.join(sorted(known))}"
            )
        return paired(self.results, self.heads, reference, self.config.model_labels())


def summarize(results: pd.DataFrame, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean, sd and count over all test folds (seeds x repeats x folds).

    Collapsed folds (constant predictions) have no correlation; they are excluded
    from ``mean``/``sd``/``count`` and counted in ``n_collapsed``.

    Returns
    -------
    DataFrame
        Columns ``dataset, trait, model, metric, mean, sd, count, n_collapsed, n_folds``.
    """
    keys = ["dataset", "trait", "model", "metric"]
    # an undefined fold (its observed values all equal) scores no model: left out of every
    # mean, its accuracy too (which has a value there: the share of one class)
    results = results.assign(value=results["value"].where(results["status"].ne("undefined")))
    g = results.groupby(keys, sort=False)
    out = g["value"].agg(mean="mean", sd="std", count="count").reset_index()
    out["n_collapsed"] = (
        (results.assign(c=results["status"].eq("collapsed")).groupby(keys, sort=False)["c"].sum())
        .to_numpy()
        .astype(int)
    )
    out["n_folds"] = g.size().to_numpy()
    if order is not None:
        rank = {m: i for i, m in enumerate(order)}
        out = out.assign(_o=out["model"].map(rank)).sort_values(
            ["dataset", "trait", "_o"], kind="stable"
        )
        out = out.drop(columns="_o").reset_index(drop=True)
    return out


def paired(
    results: pd.DataFrame,
    heads: Mapping[tuple[str, str], str],
    reference: str = "GBLUP",
    order: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Fold-by-fold difference (model - reference) of the headline metric.

    Pairs are the same (seed, repeat, fold) test sets.  A fold where the model
    collapsed counts as a loss and enters the mean difference with its no-information
    value (r 0, AUC 0.5) or the reference's, whichever is lower (never a gain); a
    collapsed reference enters with the no-information value.

    Returns
    -------
    DataFrame
        Columns ``dataset, trait, model, reference, metric, mean_difference,
        sd_difference, wins, n_folds, n_collapsed``.
    """
    rows = []
    split = ["seed", "repeat", "fold"]
    for (ds, trait), grp in results.groupby(["dataset", "trait"], sort=False):
        metric = HEADLINE[heads.get((ds, trait), "regression")]
        m = grp[grp["metric"] == metric]
        ref = m[m["model"] == reference]
        if ref.empty:
            continue
        models = list(dict.fromkeys(m["model"]))
        if order is not None:
            models = [x for x in order if x in set(models)]
        for model in models:
            if model == reference:
                continue
            j = m[m["model"] == model].merge(ref, on=split, suffixes=("", "_ref"))
            if j.empty:
                continue
            rows.append(
                {
                    "dataset": ds,
                    "trait": trait,
                    "model": model,
                    "reference": reference,
                    "metric": metric,
                    **paired_difference(j),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "trait",
            "model",
            "reference",
            "metric",
            "mean_difference",
            "sd_difference",
            "wins",
            "ties",
            "n_folds",
            "n_collapsed",
        ],
    )


# ------------------------------------------------------------------ persistence
_jsonable = to_json
_hash = content_hash


def _atomic_write(path: Path, text: str) -> None:
    atomic_write_text(path, text)


_safe = safe_name


class _UnitStore(UnitStore):
    """Per-fold results of one unit under ``units/<dataset>/<trait>/<model>/seed<k>/``
    (:class:`snpcnn.executor.UnitStore`, one file ``r<repeat>_f<fold>.json`` per fold),
    counting the folds computed by this run and those resumed.
    """

    def __init__(self, directory: Path, key: str, fresh: Mapping | None = None):
        super().__init__(directory, key)
        self.computed = 0
        self.resumed = 0
        # folds computed by this run's parallel pass ((repeat, fold) -> task seconds):
        # read back from their files, but counted as computed, not resumed
        self.fresh = dict(fresh or {})
        self.fresh_seconds = 0.0

    def skip(self, r: int, f: int) -> dict | None:
        result = self.get(f"r{r}_f{f}")
        if result is None:
            return None
        if (r, f) in self.fresh:
            self.computed += 1
            self.fresh_seconds += self.fresh[(r, f)]
        else:
            self.resumed += 1
        return result

    def on_fold(self, r: int, f: int, result: dict) -> None:
        self.put(f"r{r}_f{f}", result)
        self.computed += 1


# ----------------------------------------------------------------------- engine
@dataclass
class _Dataset:
    spec: DatasetSpec
    genotypes: Any
    phenotypes: Any
    sample_ids: np.ndarray  # genotyped (some call) and phenotyped, with a trait observed
    checksums: dict[str, Any]
    n_per_trait: dict[str, int]
    #: what a trait's units depend on, per trait (see :func:`_unit_inputs`)
    unit_inputs: dict[str, Any] = field(default_factory=dict)


def _simulate_dataset(spec: DatasetSpec):
    """Genotypes, a phenotype CSV in a temp folder, and per trait its ceiling and causal SNPs."""

    from snpcnn.simulate import simulate_genotypes, simulate_trait

    sim = dict(spec.simulate)
    traits = sim.pop("traits")
    shuffle = sim.pop("shuffle_snps", None)
    if "maf_range" in sim:
        sim["maf_range"] = tuple(sim["maf_range"])
    # missing calls after the traits are drawn (as `snpcnn simulate`, seed + 2): drawn on
    # masked calls, the true genetic values were those of the mean-imputed data (session 45)
    missing_rate = sim.pop("missing_rate", 0.0)
    if "genotypes" in sim:  # the traits drawn on a genotype file's own samples and SNPs
        from snpcnn.io import read_genotypes

        g = read_genotypes(sim["genotypes"], format=sim.get("format"), verify=True)
        if g.n_samples < 10:
            raise InputError(
                f"dataset '{spec.name}': {sim['genotypes']} has {g.n_samples} samples, too few "
                "to cross-validate a simulated trait; give a file with at least 10"
            )
    else:
        g = simulate_genotypes(**sim)
    where = np.arange(g.n_snps)  # column of each simulated SNP in the data the models see
    if shuffle is not None:
        from snpcnn.simulate import unmap

        g_map = g
        g, perm = unmap(g_map, seed=int(shuffle))
        where = np.argsort(perm)
    cols, truth = {}, {}
    for t in traits:
        kw = {k: v for k, v in t.items() if k != "name"}
        # traits are drawn on the map order (local = linked), then the columns may move
        try:
            y, causal = simulate_trait(g_map if shuffle is not None else g, name=t["name"], **kw)
        except InputError as exc:
            raise InputError(f"[[datasets.simulate.traits]] '{t['name']}': {exc}") from None
        cols[t["name"]] = y
        truth[t["name"]] = {
            "ceiling": y.attrs["ceiling"],
            "h2_realised": y.attrs["h2_realised"],
            "causal_snps": where[causal["index"].astype(int)].tolist(),
        }
    if missing_rate:
        from snpcnn.simulate import mask_calls

        seed = sim.get("seed", 0)  # checked when the config was read
        mask_calls(g, missing_rate, seed=None if seed is None else int(seed) + 2)
    folder = Path(tempfile.mkdtemp(prefix="snpcnn-sim-"))
    csv = folder / "phenotypes.csv"
    pd.DataFrame(cols).to_csv(csv, index_label="sample_id")
    return g, csv, truth


def _load_dataset(spec: DatasetSpec) -> _Dataset:
    import shutil
    import warnings

    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import align, read_phenotypes
    from snpcnn.report import file_checksum

    truth = None
    if spec.simulate is not None:
        g, pheno_path, truth = _simulate_dataset(spec)
    else:
        g = read_genotypes(spec.genotypes, format=spec.format, verify=True)
        pheno_path = spec.phenotypes
    try:
        ph = read_phenotypes(
            pheno_path,
            id_column=spec.id_column,
            traits=list(spec.traits),
            covariates=list(spec.covariates) or None,
            covariates_path=spec.covariates_file,
            categorical=list(spec.categorical) or None,
        )
    finally:
        if truth is not None:
            shutil.rmtree(Path(pheno_path).parent, ignore_errors=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        al = align(g, ph, traits=list(spec.traits))
    for w in caught:
        log.warning("%s: %s", spec.name, w.message)
    y = np.asarray(al.y, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    keep = ~np.all(np.isnan(y), axis=1)
    # a sample without any genotype call is left out, as snpcnn fit leaves it out: the
    # benchmark's folds are then fit's folds
    from snpcnn.cv import samples_without_calls

    keep &= ~samples_without_calls(g.call_rate_sample() if g.n_snps else None, al, keep)[0]
    ids = np.asarray(al.sample_ids).astype(str)[keep]
    if truth is not None:
        digest = hashlib.sha256(np.ascontiguousarray(g.dosages).tobytes())
        digest.update(np.ascontiguousarray(y).tobytes())
        checksums = {
            "simulated": {"sha256": digest.hexdigest(), "parameters": spec.simulate},
            "truth": truth,
        }
    else:
        checksums = {
            "genotypes": {"path": str(spec.genotypes), **file_checksum(spec.genotypes)},
            "phenotypes": {"path": str(spec.phenotypes), **file_checksum(spec.phenotypes)},
        }
    if spec.covariates_file is not None:
        checksums["covariates_file"] = {
            "path": str(spec.covariates_file),
            **file_checksum(spec.covariates_file),
        }
    if isinstance(spec.folds, Path):
        checksums["folds"] = {"path": str(spec.folds), **file_checksum(spec.folds)}
    n_per_trait = {t: int(np.sum(~np.isnan(y[keep, j]))) for j, t in enumerate(spec.traits)}
    ds = _Dataset(spec, g, ph, ids, checksums, n_per_trait)
    ds.unit_inputs = _unit_inputs(ds, truth)
    return ds


def _unit_inputs(ds: _Dataset, truth: dict | None) -> dict[str, Any]:
    """Per trait, the checksums its units depend on: the genotypes (file, or the simulated
    dosages and their parameters), the covariates file and the fold file, and only this
    trait's own column (with the covariates) of the phenotypes, so that changing one
    trait (a column of the file, a simulated trait's parameters) recomputes that trait's
    units on resume, not every trait's."""
    common = {
        k: v
        for k, v in _checksum_only(ds.checksums).items()
        if k not in ("phenotypes", "simulated", "truth")
    }
    if truth is not None:
        sim = {k: v for k, v in ds.spec.simulate.items() if k != "traits"}
        digest = hashlib.sha256(np.ascontiguousarray(ds.genotypes.dosages).tobytes())
        common["simulated_genotypes"] = {"sha256": digest.hexdigest(), "parameters": sim}
    table = ds.phenotypes.table
    covariates = list(ds.phenotypes.covariates)
    out = {}
    for trait in ds.spec.traits:
        part = table[[trait, *covariates]]
        part = part.loc[sorted(part.index, key=str)]
        own = {"sha256": hashlib.sha256(part.to_csv().encode()).hexdigest()}
        if truth is not None:
            own["parameters"] = next(
                (t for t in ds.spec.simulate["traits"] if t["name"] == trait), None
            )
            own["truth"] = truth.get(trait)
        out[trait] = {**common, "trait_data": own}
    return out


def _fold_table(ds: _Dataset, seed: int) -> pd.DataFrame:
    """The folds of a dataset for one seed: the same for every trait and model.  Errors
    name the dataset and its config keys (``folds = 5``, not fit's ``--folds 5``)."""
    token = CLI_MODE.set(False)
    try:
        return _fold_table_of(ds, seed)
    except InputError as exc:
        raise InputError(f"dataset '{ds.spec.name}': {exc}") from None
    finally:
        CLI_MODE.reset(token)


def _fold_table_of(ds: _Dataset, seed: int) -> pd.DataFrame:
    from snpcnn.folds import DRAWN_FOR_DATASET, make_folds, read_folds

    if isinstance(ds.spec.folds, Path):
        table = read_folds(ds.spec.folds, ds.sample_ids)
    else:
        table = make_folds(ds.sample_ids, int(ds.spec.folds), ds.spec.repeats, seed)
        if ds.spec.run_repeats is not None:
            keep = table["repeat"].isin(ds.spec.run_repeats)
            table = table[keep].reset_index(drop=True)
    # checked here over the dataset's samples; each trait's run takes it as it is
    table.attrs[DRAWN_FOR_DATASET] = True
    return table


def _checksum_only(c: Mapping) -> Any:
    """Checksums without paths: moving the data does not invalidate stored folds."""
    if not isinstance(c, Mapping):
        return c
    return {k: _checksum_only(v) for k, v in c.items() if k != "path"}


def _unit_key(
    ds: _Dataset, trait: str, seed: int, folds: pd.DataFrame, what: dict[str, Any]
) -> str:
    s = ds.spec
    return _hash(
        {
            "snpcnn": __version__,
            "inputs": ds.unit_inputs[trait],
            "dataset": {
                "format": s.format,
                "id_column": s.id_column,
                "covariates": list(s.covariates),
                "categorical": list(s.categorical),
                "min_maf": s.min_maf,
                "min_call_rate": s.min_call_rate,
            },
            "trait": trait,
            "seed": seed,
            "folds": hashlib.sha256(folds.to_csv(index=False).encode()).hexdigest(),
            "unit": what,
        }
    )


def _frames(res, ds_name: str, seed: int, rename: dict[str, str]):
    m = res.metrics.copy()
    p = res.predictions.copy()
    for df in (m, p):
        if df.empty:
            continue
        df["dataset"] = ds_name
        df["seed"] = seed
        df["model"] = df["model"].map(lambda x: rename.get(x, x))
    m = m.reindex(columns=RESULT_COLUMNS)
    p = p.reindex(columns=PREDICTION_COLUMNS)
    return m, p


def _ensemble(
    cnn_pred, gblup_pred, gblup_metrics, label, head, fixed_pred=None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the average of a CNN's and GBLUP's out-of-fold predictions, fold by fold (with
    ``fixed_pred``, the covariates-only predictions, also its genomic r, as for the other
    models)."""
    from snpcnn.cv import genomic_r, genomic_status
    from snpcnn.metrics import binary_metrics, regression_metrics

    on = ["dataset", "trait", "seed", "repeat", "fold", "sample_id"]
    j = cnn_pred.merge(gblup_pred, on=on, suffixes=("", "_gblup"), validate="one_to_one")
    if len(j) != len(cnn_pred) or len(j) != len(gblup_pred):
        raise RuntimeError(f"{label}: CNN and GBLUP predictions are not on the same samples")
    if not np.array_equal(j["observed"].to_numpy(), j["observed_gblup"].to_numpy()):
        raise RuntimeError(f"{label}: CNN and GBLUP disagree on observed values")
    j["predicted"] = 0.5 * (j["predicted"].to_numpy() + j["predicted_gblup"].to_numpy())
    j["model"] = label
    preds = j.reindex(columns=PREDICTION_COLUMNS)
    n_train = gblup_metrics.drop_duplicates(["repeat", "fold"]).set_index(["repeat", "fold"])[
        "n_train"
    ]
    score = regression_metrics if head == "regression" else binary_metrics
    fixed = None
    if fixed_pred is not None and len(fixed_pred) and head == "regression":
        fixed = preds.merge(
            fixed_pred[on + ["predicted"]].rename(columns={"predicted": "fixed"}),
            on=on,
            how="left",
        )["fixed"].to_numpy()
    rows = []
    for (ds, trait, seed, r, f), g in preds.groupby(
        ["dataset", "trait", "seed", "repeat", "fold"], sort=False
    ):
        if len(g) < 2:
            continue
        vals, status = score(g["observed"].to_numpy(), g["predicted"].to_numpy())
        if fixed is not None and np.isfinite(fixed[g.index]).all():
            g_r = genomic_r(g["observed"].to_numpy(), g["predicted"].to_numpy(), fixed[g.index])
            vals = {**vals, GENOMIC_METRIC: g_r}
        for metric, value in vals.items():
            rows.append(
                {
                    "dataset": ds,
                    "trait": trait,
                    "seed": seed,
                    "repeat": r,
                    "fold": f,
                    "model": label,
                    "metric": metric,
                    "value": value,
                    "status": genomic_status(status, value) if metric == GENOMIC_METRIC else status,
                    "n_train": int(n_train.loc[(r, f)]),
                    "n_test": int(len(g)),
                }
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS), preds


def _partial_dir(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def run_benchmark(
    config: BenchmarkConfig | str | os.PathLike,
    out: str | os.PathLike,
    *,
    resume: bool = False,
    force: bool = False,
    progress: Callable[..., None] | None = None,
    argv: Sequence[str] | None = None,
    workers: int | None = None,
    ray_address: str | None = None,
    threads: int | None = None,
    executor: Any = None,
) -> BenchmarkResults:
    """Run every dataset x trait x model x seed and write the results to ``out``.

    Parameters
    ----------
    config : BenchmarkConfig or path
        A config from :func:`load_config`, or the path of its TOML file.
    out : path-like
        The results directory.  While running, everything lives in
        ``<out>.partial/``; it is renamed to ``out`` when complete.
    resume : bool
        Continue the run stored in ``<out>.partial/``: folds already finished with
        the same inputs and settings are read back, not recomputed.
    force : bool
        Replace an existing ``out`` (and, without ``resume``, discard an existing
        ``<out>.partial/``).
    progress : callable, optional
        Called as ``progress(event, **info)``; events ``"plan"`` (``units``: the
        ``(dataset, model)`` of every unit in run order), ``"dataset"``, ``"unit_start"``,
        ``"cv"`` (a cross-validation event of the unit, its kind in ``event``),
        ``"fold"``, ``"unit_done"``, ``"writing"`` (see :mod:`snpcnn.progress`).
    argv : sequence of str, optional
        The command line recorded in ``run.json``.
    workers, ray_address : optional
        Run the folds as Ray tasks (:mod:`snpcnn.executor`): ``workers`` at once on
        a local Ray started for the run, or on the cluster at ``ray_address``
        (``RAY_ADDRESS``); progress then also gets ``"tasks"`` events (units done,
        running, queued, ETA).  The results are those of the serial run.
    threads : int, optional
        TensorFlow/BLAS threads of each Ray task (:func:`snpcnn.threads.apply_threads`;
        default 1).  A serial run uses the setting of this process.
    executor : snpcnn.executor.Executor, optional
        Run the units on this executor (from :func:`bench_executor`, perhaps started
        already, so that Ray starts while the caller loads the config) instead of one
        made from ``workers``, ``ray_address`` and ``threads``; closed at the end.

    Returns
    -------
    BenchmarkResults

    Raises
    ------
    InputError
        If ``out`` exists without ``force``, or a partial run exists and neither
        ``resume`` nor ``force`` was given, or an input is invalid.

    ``out`` is claimed for the run (:func:`snpcnn.io.output.claim`, as ``snpcnn
    benchmark`` does): a second run to the same ``out``, from Python or the command line,
    is refused while this one computes (before session 42 only the command line claimed
    it).
    """
    from snpcnn.io.output import claim
    from snpcnn.report import resolve_link

    release = claim(resolve_link(out), "benchmark", option="out")
    try:
        t_start = time.perf_counter()
        if not isinstance(config, BenchmarkConfig):
            config = load_config(config)
        from snpcnn.report import check_output_dir, check_partial_dir

        # a symbolic link: the results go where it points, and the link stays
        out = check_output_dir(resolve_link(out), force, command="benchmark")
        partial = _partial_dir(out)
        check_partial_dir(partial, ("units",))
        if partial.exists():
            if not resume and not force:
                raise InputError(
                    f"an unfinished run is in {partial}; use {opt('resume', True)} to continue it "
                    f"or {opt('force', True)} to discard it and start over"
                )
            if not resume:
                shutil.rmtree(partial)
        elif resume:
            log.warning("nothing to resume in %s; starting a new run", partial)
        created = not partial.exists()
        partial.mkdir(parents=True, exist_ok=True)
        emit = progress or (lambda *a, **k: None)
        if executor is None:
            executor = bench_executor(workers, ray_address, threads)
        try:
            with executor:
                metric_frames, pred_frames, units, heads, data = _run_units(
                    config, partial, emit, executor
                )
                execution = executor.describe()
                # on Ray a worker, which has TensorFlow loaded, names the device: no TensorFlow
                # start in this process after the last task
                device = executor.device_description() if config.models else "CPU"
        except BaseException:
            # keep a partial run only if it holds finished folds worth resuming
            if created and not any(partial.rglob("*.json")):
                shutil.rmtree(partial, ignore_errors=True)
            raise

        results = _concat(metric_frames, RESULT_COLUMNS)
        predictions = _concat(pred_frames, PREDICTION_COLUMNS)
        order = {m: i for i, m in enumerate(config.model_labels())}
        results = _order(results, config, order)
        predictions = _order(predictions, config, order)
        bench = BenchmarkResults(
            config=config,
            results=results,
            predictions=predictions,
            units=units,
            heads=heads,
            data=data,
            device=device,
            wall_seconds=time.perf_counter() - t_start,
        )
        bench.execution = execution  # serial, or Ray tasks (workers, address): run.json
        emit("writing", out=str(out))
        _write_outputs(bench, partial, argv)
        _finish(partial, out, force)
        bench.out = out
        return bench
    finally:
        release()


#: what a fold task imports (Keras and TensorFlow above all): each Ray worker imports them
#: as soon as Ray is up, while the driver still loads the config and data
WORKER_MODULES = ("snpcnn.bench", "snpcnn.models")


def bench_executor(workers=None, ray_address=None, threads=None):
    """The :class:`~snpcnn.executor.Executor` of :func:`run_benchmark` (serial without
    ``workers`` and ``ray_address``); its workers import :data:`WORKER_MODULES` first."""
    from snpcnn.executor import Executor

    return Executor(workers, ray_address, threads=threads, warm=WORKER_MODULES)


def _unit_jobs(config, spec, seed, folds, architectures, backend):
    """``cross_validate`` arguments shared by a trait's units, and its units.

    Each unit is ``(name, what, kwargs)``: the baselines together, then each CNN
    model; ``what`` is what its resume key hashes.
    """
    common = dict(
        covariates=list(spec.covariates) or None,
        folds=folds,
        seed=seed,
        refit=False,
        min_maf=spec.min_maf,
        min_call_rate=spec.min_call_rate,
        ensemble=False,
    )
    jobs: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    if config.baselines:
        jobs.append(
            (
                BASELINE_UNIT,
                {"baselines": list(config.baselines)},
                dict(cnn=False, baselines=list(config.baselines)),
            )
        )
    for m in config.models:
        hyper = {k: v for k, v in m.to_dict().items() if k in _HYPER_DEFAULTS}
        hyper.pop("model_overrides")
        what = {"architecture": architectures[m.name], **hyper}
        if backend != "tensorflow":
            # another backend draws other weights: its folds are not resumable
            # as TensorFlow ones (TensorFlow keys stay as they always were)
            what["keras_backend"] = backend
        jobs.append(
            (
                m.name,
                what,
                dict(cnn=True, baselines=(), model=architectures[m.name], **hyper),
            )
        )
    return common, jobs


def _fold_task(unit, genotypes, phenotypes):
    """One fold of one unit (a Ray task): its result dict and the seconds it took."""
    from snpcnn.executor import run_fold

    t0 = time.perf_counter()
    result = run_fold(genotypes, phenotypes, unit.trait, unit.repeat, unit.fold, **unit.data)
    return result, time.perf_counter() - t0


def _run_folds(config, ds, partial, architectures, backend, executor, emit):
    """Every fold of every unit of a dataset, as executor tasks, stored as they finish.

    The serial loop of :func:`_run_units` then reads them back (``fresh``) and
    assembles each unit exactly as a serial run does.
    """
    from snpcnn.executor import Unit

    spec = ds.spec
    units, stores, where = [], {}, {}
    for seed in config.seeds:
        folds = _fold_table(ds, seed)
        splits = folds[["repeat", "fold"]].drop_duplicates().sort_values(["repeat", "fold"])
        for trait in spec.traits:
            common, jobs = _unit_jobs(config, spec, seed, folds, architectures, backend)
            for unit_name, what, kwargs in jobs:
                directory = partial / "units" / spec.name / _safe(trait) / unit_name / f"seed{seed}"
                stores[directory] = _UnitStore(directory, _unit_key(ds, trait, seed, folds, what))
                for r, f in splits.itertuples(index=False):
                    u = Unit(
                        dataset=spec.name,
                        trait=trait,
                        model=unit_name,
                        seed=seed,
                        repeat=int(r),
                        fold=int(f),
                        data={**common, **kwargs},
                    )
                    units.append(u)
                    where[u.key] = directory
    fresh: dict[Path, dict[tuple[int, int], float]] = {d: {} for d in stores}

    def done(u):
        stored = stores[where[u.key]].skip(u.repeat, u.fold)
        return None if stored is None else (stored, 0.0)

    def on_result(u, out):
        result, seconds = out
        stores[where[u.key]].on_fold(u.repeat, u.fold, result)
        fresh[where[u.key]][(u.repeat, u.fold)] = seconds

    executor.map(
        units,
        _fold_task,
        [ds.genotypes, ds.phenotypes],
        done=done,
        on_result=on_result,
        progress=lambda event, **info: emit(event, dataset=spec.name, **info),
    )
    return fresh


def _check_phenotype_tables(config: BenchmarkConfig) -> None:
    """Every real dataset's phenotype table (traits, covariates, id column) read before any
    dataset trains: a wrong column in the second dataset used to stop the run after the
    first had trained (a checking helper, session 37)."""
    from snpcnn.io.phenotypes import read_phenotypes

    if len(config.datasets) < 2:
        return  # the one dataset is read before its training anyway
    for spec in config.datasets:
        if spec.simulate is not None:
            continue
        try:
            read_phenotypes(
                spec.phenotypes,
                id_column=spec.id_column,
                traits=list(spec.traits),
                covariates=list(spec.covariates) or None,
                covariates_path=spec.covariates_file,
                categorical=list(spec.categorical) or None,
            )
        except InputError as exc:
            raise InputError(f"{config.path}: dataset '{spec.name}': {exc}") from None


def _run_units(config: BenchmarkConfig, partial: Path, emit: Callable[..., None], executor=None):
    """Run every unit, storing each finished fold under ``partial/units``."""
    from snpcnn.cv import CNN_NAME, HYBRID_NAME, cross_validate, is_start_row

    n_units = sum(
        len(config.seeds) * len(d.traits) * ((1 if config.baselines else 0) + len(config.models))
        for d in config.datasets
    )
    # the units in run order, for the ETA (a baseline unit and a CNN unit differ in cost)
    kinds = ([BASELINE_UNIT] if config.baselines else []) + [m.name for m in config.models]
    emit(
        "plan",
        units=[
            (d.name, kind)
            for d in config.datasets
            for _seed in config.seeds
            for _trait in d.traits
            for kind in kinds
        ],
    )
    architectures = {m.name: m.resolved_architecture() for m in config.models}
    backend = "tensorflow"
    if config.models:
        from snpcnn.backend import backend_name

        backend = backend_name()
    metric_frames: list[pd.DataFrame] = []
    pred_frames: list[pd.DataFrame] = []
    units: list[dict[str, Any]] = []
    heads: dict[tuple[str, str], str] = {}
    data: dict[str, Any] = {}
    i_unit = 0
    _check_phenotype_tables(config)
    for spec in config.datasets:
        t0 = time.perf_counter()
        emit("step_start", name=f"loading dataset '{spec.name}'")
        try:
            ds = _load_dataset(spec)
        except InputError as exc:
            raise InputError(f"{config.path}: dataset '{spec.name}': {exc}") from None
        data[spec.name] = {
            "n_samples_genotyped": int(ds.genotypes.n_samples),
            "n_snps": int(ds.genotypes.n_snps),
            "n_samples_used": int(len(ds.sample_ids)),
            "n_per_trait": ds.n_per_trait,
            "inputs": ds.checksums,
            "load_seconds": time.perf_counter() - t0,
        }
        emit(
            "dataset",
            dataset=spec.name,
            n_samples=len(ds.sample_ids),
            n_snps=int(ds.genotypes.n_snps),
        )
        fresh = {}
        if executor is not None and executor.parallel:
            fresh = _run_folds(config, ds, partial, architectures, backend, executor, emit)
        for seed in config.seeds:
            folds = _fold_table(ds, seed)
            n_splits = int(folds[["repeat", "fold"]].drop_duplicates().shape[0])
            for trait in spec.traits:
                common, jobs = _unit_jobs(config, spec, seed, folds, architectures, backend)
                frames: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
                for unit_name, what, kwargs in jobs:
                    i_unit += 1
                    key = _unit_key(ds, trait, seed, folds, what)
                    store = _UnitStore(
                        partial / "units" / spec.name / _safe(trait) / unit_name / f"seed{seed}",
                        key,
                    )
                    store.fresh = fresh.get(store.directory, {})
                    info = dict(
                        index=i_unit,
                        total=n_units,
                        dataset=spec.name,
                        trait=trait,
                        seed=seed,
                        model=unit_name,
                    )
                    emit("unit_start", n_splits=n_splits, **info)

                    def fold_progress(kind, _info=info, **k):
                        if kind == "fold_done":
                            emit("fold", repeat=k["repeat"], fold=k["fold"], **_info)
                        else:  # the unit's epochs, baseline fits, refit: event "cv"
                            emit("cv", event=kind, **k)

                    tu = time.perf_counter()
                    try:
                        res = cross_validate(
                            ds.genotypes,
                            ds.phenotypes,
                            trait,
                            skip=store.skip,
                            on_fold=store.on_fold,
                            progress=fold_progress,
                            **common,
                            **kwargs,
                        )
                    except InputError as exc:
                        raise InputError(
                            f"{config.path}: dataset '{spec.name}', trait '{trait}', "
                            f"{unit_name}: {exc}"
                        ) from None
                    wall = time.perf_counter() - tu + store.fresh_seconds
                    heads[(spec.name, trait)] = res.head
                    # the CNN's RR-BLUP start (ridge_loo-started models) gets the model's
                    # name too, so that two CNNs of a config never share a row
                    rename = {CNN_NAME: unit_name, HYBRID_NAME: unit_name}
                    rename.update(
                        {
                            row: unit_start_row(row, unit_name)
                            for row in res.models
                            if is_start_row(row)
                        }
                    )
                    mf, pf = _frames(res, spec.name, seed, rename)
                    frames[unit_name] = (mf, pf)
                    metric_frames.append(mf)
                    pred_frames.append(pf)
                    headline = HEADLINE[res.head]
                    hm = mf[mf["metric"] == headline]
                    unit_record = {
                        **info,
                        "key": key,
                        "n_splits": n_splits,
                        "folds_computed": store.computed,
                        "folds_resumed": store.resumed,
                        "wall_seconds": wall,
                        "fit_seconds": res.timings["cnn_seconds"] + res.timings["baseline_seconds"],
                        "cnn_train_samples_per_second": res.timings["cnn_train_samples_per_second"],
                        # (fits whose convolutions were kept, fits) for a CNN started at a
                        # ridge fit, else None (see CVResults.conv_kept)
                        "conv_kept": res.conv_kept(),
                        # {"RR-BLUP": k, "CNN-GP": j}: the starts REML chose (default v5)
                        "start_counts": res.start_counts(),
                        # LASSO starts that also took heterozygote indicators (None: never
                        # fitted with them; [linear] lasso_dominance)
                        "lasso_dominance": res.lasso_dominance_count(),
                        # the SNP order of the convolutions' windows ([screen] order)
                        "screen_orders": res.screen_orders(),
                        # [triple_stage]: fits where the second stage ran / was kept
                        "triple_stages": res.triple_stages(),
                        # [linear] backfit: fits with kept convolutions on a ridge start /
                        # where the start was refitted around them
                        "backfits": res.backfits(),
                        "notes": list(res.notes),
                    }
                    units.append(unit_record)
                    emit(
                        "unit_done",
                        **info,
                        seconds=wall,
                        computed=store.computed,
                        resumed=store.resumed,
                        metric=headline,
                        summary={
                            mod: (float(g["value"].mean()), float(g["value"].std()))
                            for mod, g in hm.groupby("model", sort=False)
                        },
                    )
                if config.ensemble:
                    head = heads[(spec.name, trait)]
                    bm, bp = frames[BASELINE_UNIT]
                    gm = bm[(bm["model"] == "GBLUP") & (bm["metric"] == HEADLINE[head])]
                    gp = bp[bp["model"] == "GBLUP"]
                    fp = bp[bp["model"] == FIXED_NAME]
                    for m in config.models:
                        cp = frames[m.name][1]
                        cp = cp[cp["model"] == m.name]  # not its RR-BLUP start's rows
                        em, ep = _ensemble(cp, gp, gm, f"{m.name}+GBLUP", head, fp)
                        metric_frames.append(em)
                        pred_frames.append(ep)
        del ds

    return metric_frames, pred_frames, units, heads, data


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _order(df: pd.DataFrame, config: BenchmarkConfig, order: dict[str, int]) -> pd.DataFrame:
    """Rows sorted by dataset, trait and seed (config order), then model, repeat, fold."""
    if df.empty:
        return df
    ds_rank = {d.name: i for i, d in enumerate(config.datasets)}
    tr_rank = {(d.name, t): i for d in config.datasets for i, t in enumerate(d.traits)}
    key = pd.DataFrame(
        {
            "d": df["dataset"].map(ds_rank),
            "t": [tr_rank[(a, b)] for a, b in zip(df["dataset"], df["trait"])],
            "s": df["seed"],
            "m": df["model"].map(order),
            "r": df["repeat"],
            "f": df["fold"],
        }
    )
    idx = key.sort_values(list(key.columns), kind="stable").index
    return df.loc[idx].reset_index(drop=True)


def _finish(partial: Path, out: Path, force: bool) -> None:
    """Move the completed work directory into place in one rename."""
    if out.exists() and not force:
        raise InputError(f"output directory {out} exists; use {opt('force', True)} to replace it")
    replace_folder(partial, out)


# ---------------------------------------------------------------------- outputs
def _md_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def headline_table(bench: BenchmarkResults, dataset: str, trait: str) -> list[dict[str, str]]:
    """Rows of the per dataset x trait headline table (used by results.md and the CLI)."""
    from snpcnn.metrics import METRIC_LABELS

    head = bench.heads.get((dataset, trait), "regression")
    metric = HEADLINE[head]
    label = METRIC_LABELS[metric]
    s = bench.summary()
    s = s[(s["dataset"] == dataset) & (s["trait"] == trait) & (s["metric"] == metric)]
    # a benchmark without GBLUP (`baselines = []`, or ridge only) has no "vs GBLUP"
    # columns: it failed at its very end, after every unit had run (a checking helper,
    # session 41)
    if "GBLUP" in set(bench.results["model"]):
        pr = bench.paired("GBLUP")
        pr = pr[(pr["dataset"] == dataset) & (pr["trait"] == trait)].set_index("model")
    else:
        pr = pd.DataFrame(columns=["model"]).set_index("model")
    gs = bench.summary()
    gs = gs[(gs["dataset"] == dataset) & (gs["trait"] == trait)]
    gs = gs[gs["metric"] == GENOMIC_METRIC].set_index("model")
    rows = []
    for x in s.itertuples():
        row = {
            "model": x.model,
            f"{label} (mean ± sd)" + (", total" if len(gs) else ""): format_mean_sd(x.mean, x.sd),
        }
        if len(gs):
            row["genomic r (mean ± sd)"] = (
                format_mean_sd(gs.loc[x.model, "mean"], gs.loc[x.model, "sd"])
                if x.model in gs.index
                else ""
            )
        row.update({"folds": str(x.n_folds), "collapsed": str(x.n_collapsed)})
        if len(pr) or x.model == "GBLUP":
            if x.model in pr.index:
                p = pr.loc[x.model]
                d = f"{p.mean_difference:+.3f}"
                if np.isfinite(p.sd_difference):
                    d += f" ± {p.sd_difference:.3f}"
                row["difference vs GBLUP"] = d
                row["folds won vs GBLUP"] = f"{p.wins} of {p.n_folds}" + (
                    f" ({p.ties} tied)" if getattr(p, "ties", 0) else ""
                )
            else:
                row["difference vs GBLUP"] = "(reference)" if x.model == "GBLUP" else ""
                row["folds won vs GBLUP"] = ""
        rows.append(row)
    return rows


def _ceiling_text(info: Mapping, trait: str) -> str:
    """For a simulated trait: its ceiling corr(g, y) and causal SNPs (else '')."""
    truth = info.get("inputs", {}).get("truth", {}).get(trait)
    if not truth:
        return ""
    return (
        f" Simulated: ceiling corr(true genetic value, y) = {truth['ceiling']:.3f} (the "
        f"Pearson r of a perfect predictor), {len(truth['causal_snps'])} causal SNPs."
    )


def _plot_metrics(heads: Mapping[tuple[str, str], str]) -> str:
    """What the plots show: the mean headline metric of the traits' heads (a binary trait's
    plot is the ROC AUC: results.md said Pearson r there; a checking helper, session 43)."""
    kinds = set(heads.values())
    if kinds == {"binary"}:
        return "mean ROC AUC"
    return "mean Pearson r (binary traits: mean ROC AUC)" if "binary" in kinds else "mean Pearson r"


def results_markdown(bench: BenchmarkResults) -> str:
    """The human-readable ``results.md``."""
    from snpcnn.metrics import BINARY_METRICS, METRIC_LABELS, REGRESSION_METRICS

    c = bench.config
    lines = [
        f"# snpcnn benchmark: {c.name}",
        "",
    ]
    if c.description:
        lines += [c.description, ""]
    lines += [
        f"- config: `{c.path}` (sha256 {c.checksum[:16]}...)",
        f"- snpcnn {__version__}, {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}, "
        f"device {bench.device}, wall time {bench.wall_seconds:.1f} s",
        f"- seeds {c.seeds} (each a full replicate: new random folds where folds = K, new "
        "network initialisations and inner validation splits)",
        f"- baselines: {', '.join(BASELINE_LABELS[b] for b in c.baselines) or 'none'}"
        + ("; `MODEL+GBLUP` = mean of that CNN's and GBLUP's predictions" if c.ensemble else ""),
        "- every model of a dataset is cross-validated on the same folds; preprocessing, "
        "covariate fixed effects and early stopping are fitted inside each training part "
        "(a CNN with a sigmoid output on a binary trait does not use the covariates)",
        "- Pearson r (quantitative traits) is the Pearson correlation between observed and "
        "predicted values within each test fold, ROC AUC (binary traits) the area under the "
        "ROC curve of the predictions; mean ± sd are over all test folds (seeds x repeats x "
        "folds). A collapsed fold (constant predictions) has no correlation or AUC: it is left "
        "out of the mean and counted; in the paired comparison it counts as a loss with r = 0 "
        "(AUC 0.5) or the reference's value, whichever is lower (never a gain).",
        "",
    ]
    for d in c.datasets:
        info = bench.data.get(d.name, {})
        for trait in d.traits:
            head = bench.heads.get((d.name, trait), "regression")
            metric = HEADLINE[head]
            folds_txt = (
                f"folds from `{Path(d.folds).name}`"
                if isinstance(d.folds, Path)
                else d.repeats_text()
            )
            lines += [
                f"## {d.name}: {trait}",
                "",
                f"{info.get('n_per_trait', {}).get(trait, '?')} samples with a value, "
                f"{info.get('n_snps', '?')} SNPs, {folds_txt}"
                + (f", covariates {', '.join(d.covariates)}" if d.covariates else "")
                + "."
                + _ceiling_text(info, trait),
                "",
                f"{METRIC_LABELS[metric]} per model"
                + (
                    f" (total, covariates included; '{FIXED_NAME}' is the covariates alone, "
                    "and genomic r is the Pearson r between the covariate-adjusted phenotype "
                    "and the covariate-adjusted prediction, both minus that row's prediction of "
                    "the fold: docs/outputs.md)"
                    if d.covariates and head == "regression"
                    else ""
                )
                + ":",
                "",
                _md_table(headline_table(bench, d.name, trait)),
                "",
            ]
            others = [
                m
                for m in (REGRESSION_METRICS if head == "regression" else BINARY_METRICS)
                if m != metric
            ]
            s = bench.summary()
            s = s[(s["dataset"] == d.name) & (s["trait"] == trait)]
            rows = []
            for model in c.model_labels():
                sm = s[s["model"] == model].set_index("metric")
                if sm.empty:
                    continue
                row = {"model": model}
                for m in others:
                    row[METRIC_LABELS[m]] = (
                        format_mean_sd(sm.loc[m, "mean"], sm.loc[m, "sd"], m)
                        if m in sm.index
                        else ""
                    )
                rows.append(row)
            if rows:
                lines += ["Other metrics (mean ± sd over folds):", "", _md_table(rows), ""]
    lines += ["## Timing", ""]
    lines += [
        "Seconds of fitting per test fold (training + prediction; for `baselines`, all the "
        "baselines together), from the stored fold results, so resumed folds keep their original "
        "time. Wall = this run's wall time for the unit (small for resumed units).",
        "",
    ]
    rows = []
    for u in _timing_rows(bench):
        rows.append(u)
    lines += [_md_table(rows), ""]
    kept = _conv_kept_rows(bench)
    if kept:
        lines += [
            "## What the convolutions added",
            "",
            "For CNNs whose linear SNP path starts at a fitted model (the default): in how "
            "many fits (folds x network seeds) the convolutions' correction was kept, and "
            "which start each fit took (RR-BLUP = GBLUP on the CNN's input; the default may "
            "choose the CNN-GP, GBLUP-AD or the LASSO per training part). In the fits where "
            "the correction was dropped the model's predictions are its start's (to float32 "
            "rounding), so "
            "its comparison with GBLUP there is the start's, not the convolutions'.",
            "",
            _md_table(kept),
            "",
        ]
    notes = _unit_notes(bench.units)
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    lines += [
        "## Files",
        "",
        "- `results.csv`: every metric per dataset, trait, seed, repeat, fold and model "
        "(`status` = ok, collapsed, or undefined where the test fold's observed values are "
        "all equal).",
        "- `predictions.csv`: out-of-fold predictions of every model.",
        f"- `plots/`: {_plot_metrics(bench.heads)} ± sd per model and trait, one figure per "
        "dataset and metric.",
        "- `run.json`: versions, resolved config, checksums of the config and inputs, "
        "library versions, device, wall time per unit.",
        "- `units/`: the stored result of every fold (what `--resume` reads).",
        "",
    ]
    return "\n".join(lines)


def _unit_notes(units: Sequence[Mapping]) -> list[str]:
    """Every unit's notes, each said once: a note that several seeds of the same dataset,
    trait and model gave word for word is listed once with those seeds."""
    seeds: dict[tuple, list] = {}
    for u in units:
        for n in u["notes"]:
            seeds.setdefault((u["dataset"], u["trait"], u["model"], n), []).append(u["seed"])
    out = []
    for (ds, trait, model, n), ks in seeds.items():
        which = f"seed {ks[0]}" if len(ks) == 1 else "seeds " + ", ".join(map(str, ks))
        out.append(f"{ds} {trait} {which} {model}: {n}")
    return out


def _conv_kept_rows(bench: BenchmarkResults) -> list[dict[str, str]]:
    agg: dict[tuple, list[int]] = {}
    starts: dict[tuple, dict[str, int]] = {}
    dominance: dict[tuple, int] = {}  # LASSO starts that also took heterozygote indicators
    ordered = any(u.get("screen_orders") for u in bench.units)
    staged = any(u.get("triple_stages") for u in bench.units)
    refitted = any(u.get("backfits") for u in bench.units)
    refits: dict[tuple, list[int]] = {}  # [linear] backfit: (refitted, fits)
    for u in bench.units:
        if u.get("conv_kept") is None:
            continue
        a = agg.setdefault((u["dataset"], u["trait"], u["model"]), [0] * 7)
        counts = starts.setdefault((u["dataset"], u["trait"], u["model"]), {})
        for label, k in (u.get("start_counts") or {}).items():
            counts[label] = counts.get(label, 0) + int(k)
        if u.get("lasso_dominance") is not None:
            key = (u["dataset"], u["trait"], u["model"])
            dominance[key] = dominance.get(key, 0) + int(u["lasso_dominance"])
        a[0] += u["conv_kept"][0]
        a[1] += u["conv_kept"][1]
        so = u.get("screen_orders") or {}
        a[2] += so.get("ld", 0)
        a[3] += so.get("fits", 0)
        ts = u.get("triple_stages") or {}
        a[4] += ts.get("ran", 0)
        a[5] += ts.get("kept", 0)
        a[6] += ts.get("fits", 0)
        bf = u.get("backfits") or {}
        rf = refits.setdefault((u["dataset"], u["trait"], u["model"]), [0, 0])
        rf[0] += bf.get("refitted", 0)
        rf[1] += bf.get("fits", 0)
    rows = []
    for (ds, t, m), (k, n, k_ld, n_ord, t_ran, t_kept, t_fits) in agg.items():
        row = {"dataset": ds, "trait": t, "model": m, "convolutions kept": f"{k} of {n} fits"}
        counts = {lb: c for lb, c in starts.get((ds, t, m), {}).items() if c}
        row["starts"] = (
            ", ".join(
                f"{lb} {c}"
                + (
                    f" ({dominance[(ds, t, m)]} with heterozygote indicators)"
                    if lb == "LASSO" and dominance.get((ds, t, m))
                    else ""
                )
                for lb, c in counts.items()
            )
            or "RR-BLUP"
        )
        if ordered:  # [screen] order: fits whose windows ran along an LD order of the SNPs
            row["windows in LD order"] = f"{k_ld} of {n_ord} fits" if n_ord else "-"
        if staged:  # [triple_stage]: the second stage over SNP triples (counted in "kept")
            row["triple stage ran / kept"] = (
                f"{t_ran} / {t_kept} of {t_fits} fits" if t_fits else "-"
            )
        if refitted:  # [linear] backfit: the start refitted around kept convolutions
            rf = refits[(ds, t, m)]
            row["start refitted"] = f"{rf[0]} of {rf[1]} fits" if rf[1] else "-"
        rows.append(row)
    return rows


def _timing_rows(bench: BenchmarkResults) -> list[dict[str, str]]:
    agg: dict[tuple, dict[str, float]] = {}
    for u in bench.units:
        k = (u["dataset"], u["trait"], u["model"])
        a = agg.setdefault(k, {"folds": 0, "fit": 0.0, "wall": 0.0, "rates": []})
        a["folds"] += u["n_splits"]
        a["fit"] += u["fit_seconds"]
        a["wall"] += u["wall_seconds"]
        if u["model"] != BASELINE_UNIT and u["cnn_train_samples_per_second"]:
            a["rates"].append(u["cnn_train_samples_per_second"])
    rows = []
    for (ds, trait, model), a in agg.items():
        rows.append(
            {
                "dataset": ds,
                "trait": trait,
                "model": model,
                "folds": str(a["folds"]),
                "s per fold": f"{a['fit'] / max(a['folds'], 1):.2f}",
                "total s": f"{a['fit']:.1f}",
                "wall s": f"{a['wall']:.1f}",
                "CNN training samples/s": f"{np.median(a['rates']):.0f}" if a["rates"] else "",
            }
        )
    return rows


def _plot_groups(bench: BenchmarkResults, s: pd.DataFrame):
    """(dataset, its traits of one head, that head's metric): a figure each.  A dataset of
    binary and quantitative traits plotted every trait's Pearson r, which a binary trait
    lacks, so its traits were missing from the figure (a review, session 43)."""
    for d in bench.config.datasets:
        seen = set(s.loc[s["dataset"] == d.name, "trait"])
        traits = [t for t in d.traits if t in seen]
        for head in ("regression", "binary"):
            these = [t for t in traits if bench.heads.get((d.name, t), "regression") == head]
            if these:
                yield d, these, HEADLINE[head]


def _plots(bench: BenchmarkResults, directory: Path) -> list[str]:
    from matplotlib.figure import Figure

    from snpcnn.metrics import METRIC_LABELS
    from snpcnn.plots import save_figure

    written = []
    s = bench.summary()
    if s.empty:
        return written
    for d, traits, metric in _plot_groups(bench, s):
        sd = s[(s["dataset"] == d.name) & (s["metric"] == metric) & s["trait"].isin(traits)]
        models = [m for m in bench.config.model_labels() if m in set(sd["model"])]
        fig = Figure(figsize=(max(5.0, 1.2 + 1.3 * len(traits) * max(1, len(models)) / 3), 4.2))
        ax = fig.add_subplot()
        width = 0.8 / max(len(models), 1)
        for i, model in enumerate(models):
            sm = sd[sd["model"] == model].set_index("trait")
            x = np.arange(len(traits)) - 0.4 + width * (i + 0.5)
            mean = [sm.loc[t, "mean"] if t in sm.index else np.nan for t in traits]
            err = [sm.loc[t, "sd"] if t in sm.index else np.nan for t in traits]
            ax.errorbar(x, mean, yerr=err, fmt="o", capsize=3, label=model)
        ax.set_xticks(np.arange(len(traits)))
        ax.set_xticklabels(traits, rotation=20 if len(traits) > 3 else 0)
        label = METRIC_LABELS[metric]
        ax.set_ylabel(f"{label} (mean ± sd over test folds)")
        ax.set_title(f"{d.name}: {label} per model and trait")
        ax.axhline(0, color="grey", lw=0.5)
        ax.legend(fontsize=7, loc="best", ncol=2 if len(models) > 5 else 1)
        fig.tight_layout()
        name = directory / f"{_safe(d.name)}_{metric}.png"
        save_figure(fig, name, force=True)
        written.append(name.name)
    return written


def _write_outputs(bench: BenchmarkResults, directory: Path, argv) -> None:
    from snpcnn.report import file_checksum, library_versions

    c = bench.config
    _atomic_write(directory / "results.csv", bench.results.to_csv(index=False))
    _atomic_write(directory / "predictions.csv", bench.predictions.to_csv(index=False))
    _atomic_write(directory / "results.md", results_markdown(bench))
    (directory / "plots").mkdir(exist_ok=True)
    plots = _plots(bench, directory / "plots")
    record = {
        "snpcnn_version": __version__,
        "written_by": "snpcnn benchmark",
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": list(argv) if argv is not None else sys.argv,
        "config_file": {"path": str(c.path), **file_checksum(c.path)},
        "config": c.to_dict(),
        "data": bench.data,
        "libraries": library_versions(),
        "platform": {
            "system": platform.platform(),
            "machine": platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "device": bench.device,
        "wall_seconds": bench.wall_seconds,
        "execution": getattr(bench, "execution", None) or serial_execution(),
        "units": bench.units,
        "plots": plots,
    }
    _atomic_write(directory / "run.json", json.dumps(record, indent=2, default=_jsonable))
