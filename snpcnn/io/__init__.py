"""Genotype input: VCF, BCF, PLINK 1 and 2, numeric CSV/TSV matrices and the converted cache.

Every reader returns one :class:`~snpcnn.genotypes.Genotypes` (int8 samples x
SNPs, -1 = missing, ``variants.alt`` = counted allele).  :func:`read_genotypes`
picks the reader from the path and reuses a fresh converted cache when there
is one (see :mod:`snpcnn.io.cache`).  Rules for every format: ``docs/io.md``.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

from snpcnn.errors import InputError, InputWarning, opt
from snpcnn.genotypes import Genotypes

__all__ = [
    "read_genotypes",
    "detect_format",
    "read_options_for",
    "FORMATS",
    "FORMAT_ALIASES",
    "FORMAT_NAMES",
    "FORMAT_HELP",
    "AUTO_CACHE_MIN_BYTES",
    "LARGE_GENOTYPES",
    "NO_CACHE_ENV",
    "caching_disabled",
    "input_files",
]

log = logging.getLogger(__name__)

FORMATS = ("vcf", "bcf", "plink", "pgen", "table", "cache")
# Other accepted spellings of the format names, everywhere a format is named
# (``format=``, every command's ``--format``).
FORMAT_ALIASES = {
    "csv": "table",
    "tsv": "table",
    "bed": "plink",
    "plink1": "plink",
    "plink2": "pgen",
    "snpcnn": "cache",
}
_ALIASES = FORMAT_ALIASES
# Every accepted name, for click.Choice and error messages.
FORMAT_NAMES = FORMATS + tuple(FORMAT_ALIASES)
FORMAT_HELP = (
    "vcf, bcf, plink (also bed, plink1), pgen (also plink2), table (also csv, tsv) or "
    "cache (also snpcnn)"
)
# cache=True writes an automatic cache after parsing text sources (VCF, tables)
# at least this big; smaller ones parse in well under a second.
AUTO_CACHE_MIN_BYTES = 1 << 20
#: a parsed VCF, BCF, PLINK, PGEN or table with more genotypes than this (samples x SNPs;
#: 2**28 = 256 MiB of int8) is written to a cache on disk and returned memory-mapped, so
#: that the int8 matrix is not held in memory for the rest of the run (see read_genotypes)
LARGE_GENOTYPES = 1 << 28
_CACHE_MODES = (True, False, "auto", "always", "read", "off")
#: set to 1 (any value but "" or "0") to turn automatic caches off: the default
#: ``cache=True`` then neither reuses nor writes one (like ``info --no-cache``)
NO_CACHE_ENV = "SNPCNN_NO_CACHE"


def caching_disabled() -> bool:
    """True when ``$SNPCNN_NO_CACHE`` turns automatic caches off."""
    return os.environ.get(NO_CACHE_ENV, "") not in ("", "0")


def _notice(message: str) -> None:
    """One line on stderr (what the console shows whatever the log level)."""
    print(f"snpcnn: {message}", file=sys.stderr, flush=True)


def _content_format(path: Path) -> str | None:
    """The genotype format ``path``'s first bytes name (BCF, VCF, PLINK 1 .bed, PLINK 2
    .pgen), else None (a table, or no readable file)."""
    from snpcnn.io._checks import file_head

    head = file_head(path, 64)
    if head.startswith(b"BCF\x02"):  # BCF2's magic (a table's header 'BCF...' is no BCF)
        return "bcf"
    if head.startswith((b"##fileformat=VCF", b"#CHROM")):
        return "vcf"
    if head[:2] == b"\x6c\x1b":  # PLINK 1 .bed: mode byte 0 or 1; PLINK 2 .pgen: others
        return "plink" if head[2:3] in (b"\x00", b"\x01") else "pgen"
    return None


#: what a format's first bytes are called in messages
_CONTENT_NAMES = {
    "bcf": "a BCF",
    "vcf": "a VCF",
    "plink": "a PLINK .bed",
    "pgen": "a PLINK 2 .pgen",
}


def _refuse_wrong_format(path: Path, given: str, fmt: str) -> None:
    """A format given (``--format``, a benchmark's ``format``) that the file's first bytes
    contradict: a .bed read with ``format = "table"`` was "not UTF-8 text (byte 0xc3)" (a
    checking helper, session 44).  VCF and BCF pass either way (htslib reads both)."""
    if not path.is_file():
        return
    found = _content_format(path)
    if found is None or found == fmt or {found, fmt} <= {"vcf", "bcf"}:
        return
    raise InputError(
        f"{path}: read as {opt('format', given)}, but its first bytes are those of "
        f"{_CONTENT_NAMES[found]}; give {opt('format', found)}, or leave {opt('format')} out "
        "to have it detected"
    )


def detect_format(path: str | os.PathLike) -> str:
    """The format of ``path``: one of :data:`FORMATS`.

    Decided from the name (``.vcf``, ``.vcf.gz``, ``.vcf.bgz``; ``.bcf``;
    ``.bed``/``.bim``/``.fam`` or a prefix with a ``.bed`` next to it;
    ``.pgen``/``.pvar``/``.psam`` or a prefix with a ``.pgen`` next to it;
    ``.csv``, ``.tsv``, ``.txt`` optionally ``.gz``; a cache directory), then
    from the first bytes for other names.  A file named ``.vcf.gz`` that holds
    BCF is read as BCF.

    Examples
    --------
    >>> detect_format("example_data/wheat.vcf.gz")
    'vcf'
    """
    p = Path(path)
    name = p.name.lower()
    if p.is_dir():
        from snpcnn.io.cache import is_cache

        if is_cache(p):
            return "cache"
        raise InputError(f"{p}: a directory that is not a snpcnn cache (no meta.json/dosages.npy)")
    if name.endswith(".bcf"):
        return "bcf"
    if name.endswith((".vcf", ".vcf.gz", ".vcf.bgz")):
        from snpcnn.io.bcf import is_bcf

        return "bcf" if p.exists() and is_bcf(p) else "vcf"
    if name.endswith((".bed", ".bim", ".fam")):
        return "plink"
    if name.endswith((".pgen", ".pvar", ".psam", ".pvar.zst")):
        return "pgen"
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith((".csv", ".tsv", ".txt", ".raw")):
        # .raw: PLINK's --recode A export, which the table reader names with the fix (it was
        # refused as an unknown format first; session 45)
        return "table"
    if not p.exists():
        from snpcnn.io.plink import fileset_path

        if fileset_path(p, ".bed").exists():  # a prefix; UP names UP.BED too
            return "plink"
        if fileset_path(p, ".pgen").exists():
            return "pgen"
        raise InputError(f"{p}: no such file (nor {p.name}.bed or {p.name}.pgen); check the path")
    found = _content_format(p)
    if found:
        return found
    from snpcnn.io._checks import _zip_kind

    if _zip_kind(p) == "a saved Keras model (model.keras)":  # `snpcnn info model.keras`, or
        # the model given where the genotypes go (session 49: it asked for --format)
        raise InputError(
            f"{p} is a saved model (model.keras), not a genotype file: a model goes to "
            "`snpcnn predict MODEL GENOTYPES` or `snpcnn explain MODEL GENOTYPES`"
        )
    raise InputError(
        f"{p}: cannot tell the genotype format from the name '{p.name}'; give "
        f"{opt('format')} ({FORMAT_HELP})"
    )


def read_options_for(fmt: str, **kwargs: Any) -> dict[str, Any]:
    """The read options that change the result for ``fmt`` (what a cache is keyed on)."""
    keys = {
        "vcf": ("snps_only", "multiallelic"),
        "bcf": ("snps_only", "multiallelic"),
        "plink": ("snps_only",),
        "pgen": ("snps_only",),
        "table": ("coding",),
    }.get(fmt, ())
    defaults = {"snps_only": False, "multiallelic": "drop", "coding": "auto"}
    return {k: kwargs.get(k, defaults[k]) for k in keys}


_FORMAT_NAMES = {
    "vcf": "a VCF",
    "bcf": "a BCF",
    "plink": "a PLINK 1 fileset",
    "pgen": "a PLINK 2 fileset",
    "table": "a numeric table",
    "cache": "a snpcnn cache (read as it was made; its meta.json names how)",
}


def _write_failure(exc: BaseException) -> str:
    """Why a cache could not be written, in words: numpy's "3200000 requested and 2097024
    written" on a full disk was all the automatic caches said (`snpcnn convert` named the
    full disk: a checking helper, session 44)."""
    if isinstance(exc, OSError):
        from snpcnn.io.output import _reason

        return _reason(exc)
    return " ".join(str(exc).split())


#: sample ids that pandas and R read back as a missing value
_NA_LIKE_IDS = ("na", "nan", "n/a", "null", "none", "-nan", "#n/a", "<na>", "#na", "1.#qnan")


def _warn_na_like_ids(g, path) -> None:
    """Warn where a genotype file names a sample ``NA``/``nan``: the phenotype readers refuse
    such an id, and predictions.csv gives it back to pandas and R as a missing value (a
    checking helper, session 45; numeric tables already refuse it)."""
    bad = [str(s) for s in g.samples if str(s).strip().lower() in _NA_LIKE_IDS]
    if bad:
        warnings.warn(
            f"{path}: sample id{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad[:3]))} "
            "read back as a missing value in pandas and R (predictions.csv would lose "
            f"{'them' if len(bad) > 1 else 'it'}), and a phenotype file cannot name "
            f"{'them' if len(bad) > 1 else 'it'}; rename the sample (bcftools reheader, or the "
            ".fam file)",
            InputWarning,
            stacklevel=3,
        )


def _warn_unused_options(path, fmt: str, **given: Any) -> None:
    """A warning for a read option the format has no use for (``info --multiallelic split``
    on a CSV was ignored without a word: session 43); a cache was read with the options it
    was made with, which its meta.json names."""
    import warnings

    from snpcnn.errors import InputWarning

    used = set(read_options_for(fmt, **given))
    defaults = {"multiallelic": "drop", "coding": "auto", "snps_only": False}
    unused = [k for k, v in given.items() if k not in used and v != defaults[k]]
    for key in unused:
        what = _FORMAT_NAMES.get(fmt, fmt)
        needs = {
            "multiallelic": "VCF/BCF",
            "coding": "a numeric table (CSV/TSV)",
            "snps_only": "VCF/BCF and PLINK files",
        }[key]
        warnings.warn(
            f"{path}: {opt(key, given[key])} is for {needs} and does nothing for {what}; "
            f"leave it out",
            InputWarning,
            stacklevel=3,
        )


def input_files(path: str | os.PathLike, format: str | None = None) -> list[Path]:  # noqa: A002
    """Every file that reading ``path`` opens or that belongs to it: a PLINK 1 prefix's
    .bed/.bim/.fam, a PLINK 2 prefix's .pgen/.pvar/.psam, a VCF/BCF with its ``.tbi`` and
    ``.csi`` index beside it, a cache folder's files, and the files of the cache next to
    the source (``IN.snpcnn``, which reading may use); existing or not. ``predict --out``
    refuses them all, even with ``--force`` (an adversarial tester, session 56: ``--out
    wheat.fam`` replaced the .fam of the input ``wheat``)."""
    from snpcnn.io.cache import CACHE_FILES, CACHE_SUFFIX, source_files

    p = Path(path)
    try:
        fmt = _normalize_format(format) or detect_format(p)
    except (InputError, OSError):
        return [p]
    if fmt == "cache" or p.is_dir():
        names = set(CACHE_FILES)
        if p.is_dir():
            names |= {e.name for e in p.iterdir()}
        return [p / n for n in sorted(names)]
    files = [Path(f) for f in source_files(p, fmt)]
    if fmt in ("vcf", "bcf"):
        files += [p.with_name(p.name + s) for s in (".tbi", ".csi", ".TBI", ".CSI")]
    stem = files[0].with_suffix("") if fmt in ("plink", "pgen") else p
    cache = stem.with_name(stem.name + CACHE_SUFFIX)
    files += [cache / n for n in sorted(CACHE_FILES)]
    return [p, *files]


def _normalize_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    if not isinstance(fmt, str):
        raise InputError(f"invalid value for `format`: {fmt!r}; choose one of {FORMAT_HELP}")
    f = _ALIASES.get(fmt.lower(), fmt.lower())
    if f not in FORMATS:
        raise InputError(f"invalid value for `format`: {fmt!r}; choose one of {FORMAT_HELP}")
    return f


def _snps_only_plink(g: Genotypes) -> Genotypes:
    bases = {"A", "C", "G", "T"}
    ok = g.variants["ref"].str.upper().isin(bases) & g.variants["alt"].str.upper().isin(bases)
    dropped = int((~ok).sum())
    out = g.subset(variants=ok.to_numpy()) if dropped else g
    out.report["indels_dropped"] = dropped
    return out


def _refuse_pipe(path: str | os.PathLike) -> None:
    """A pipe (``<(zcat x.csv.gz)``) is read once: the readers read a file more than once
    (sniff, then parse), so a table from a pipe was refused as ragged at a wrong line (a
    checking helper, session 43)."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except (OSError, TypeError, ValueError):  # absent, or not a path: the readers say so
        return
    if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode):
        raise InputError(
            f"{path}: a pipe or device, which can be read only once; snpcnn reads a genotype "
            "file more than once: save it to a file first (gzip-compressed files are read "
            "as they are)"
        )


def read_genotypes(
    path: str | os.PathLike,
    format: str | None = None,  # noqa: A002 - the natural name, mirrors --format
    *,
    snps_only: bool = False,
    multiallelic: str = "drop",
    coding: str = "auto",
    cache: bool | str = True,
    bim: str | os.PathLike | None = None,
    fam: str | os.PathLike | None = None,
    convert_large: bool = True,
    verify: bool = False,
) -> Genotypes:
    """Read genotypes from any supported file into an int8 samples x SNPs container.

    Parameters
    ----------
    path : path-like
        A ``.vcf``/``.vcf.gz``, a ``.bcf``, a PLINK 1 prefix or ``.bed``, a
        PLINK 2 prefix or ``.pgen``, a ``.csv``/``.tsv`` matrix (optionally
        ``.gz``) or a ``.snpcnn`` cache directory.
    format : {"vcf", "bcf", "plink", "pgen", "table", "cache"}, optional
        Force the format instead of detecting it from the path (aliases:
        ``csv``/``tsv`` = ``table``, ``bed``/``plink1`` = ``plink``,
        ``plink2`` = ``pgen``, ``snpcnn`` = ``cache``).
    snps_only : bool
        VCF/BCF/PLINK 1 and 2: drop sites whose alleles are not single bases A/C/G/T.
    multiallelic : {"drop", "alt1"}
        VCF/BCF: drop multi-allelic sites, or count their first ALT (see
        :func:`snpcnn.io.vcf.read_vcf`).
    coding : {"auto", "012", "01", "-101"}
        Tables: value coding (see :func:`snpcnn.io.table.read_table`).
    cache : bool or str
        ``True`` (default, same as ``"auto"``): use a fresh converted cache of
        this source if one exists; after parsing a VCF, BCF or table of at
        least 1 MiB, write one to the cache directory (best effort) and say so
        in one line on stderr.  ``"always"``: also write one after parsing any
        source.  ``"read"``: use, never write.  ``False``: ignore caches.
        With ``$SNPCNN_NO_CACHE=1`` the default behaves as ``False``.
    bim, fam : path-like, optional
        PLINK sidecar files with non-matching names.
    convert_large : bool
        A parsed file with more than :data:`LARGE_GENOTYPES` genotypes is
        written to a cache (the automatic one when caching is on, else a
        temporary one removed at exit) and returned memory-mapped from it,
        with one line on stderr saying so.  ``False`` returns the in-memory
        matrix (what ``snpcnn convert`` uses).
    verify : bool
        Before reusing a cache found for ``path``, compare every source file's full sha256
        with the one recorded when the cache was made (reuse otherwise checks the size, time
        stamp and first and last MiB only).  Where one differs (an edit that restored the
        time stamp), an automatic cache is rebuilt and one made by ``snpcnn convert`` is
        bypassed, with one line on stderr.  This reads the whole source once per process
        (the checksum is remembered); every snpcnn command passes True.

    Returns
    -------
    Genotypes

    Examples
    --------
    >>> g = read_genotypes("example_data/wheat.vcf.gz", cache=False)
    >>> g.shape
    (599, 1279)
    """
    _refuse_pipe(path)
    if cache not in _CACHE_MODES:
        raise InputError(
            f"invalid value for `cache`: {cache!r}; choose True, False, 'auto', 'always' or 'read'"
        )
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"the genotype path must be a str or a path, got {type(path).__name__}")
    if not isinstance(snps_only, bool):
        raise InputError(f"snps_only must be True or False, got {snps_only!r}")
    from snpcnn.io.table import CODINGS

    if coding not in CODINGS:
        raise InputError(
            f"invalid value for `coding`: {coding!r}; choose one of {', '.join(CODINGS)}"
        )
    if not str(path).strip():
        raise InputError("the genotype path is empty; give a VCF, PLINK, PGEN, CSV or cache path")
    if cache in (True, "auto") and caching_disabled():
        cache = False
    fmt = _normalize_format(format) or detect_format(path)
    if format is not None:
        _refuse_wrong_format(Path(path), format, fmt)
    _warn_unused_options(
        path,
        fmt,
        multiallelic=multiallelic,
        coding=coding,
        # a table refuses --snps-only itself, below
        **({"snps_only": snps_only} if fmt != "table" else {}),
    )
    if fmt == "cache":
        from snpcnn.io.cache import load_cache

        g = load_cache(path)
        _warn_na_like_ids(g, path)
        return g
    if fmt == "table" and snps_only:
        raise InputError(
            f"{path}: {opt('snps_only')} needs allele information, which a numeric table does "
            "not have"
        )
    opts = read_options_for(fmt, snps_only=snps_only, multiallelic=multiallelic, coding=coding)
    use_cache = cache not in (False, "off")
    if use_cache and bim is None and fam is None:
        from snpcnn.io.cache import find_cache, load_cache

        found = find_cache(path, fmt, opts)
        if found is not None and verify:
            found, cache = _unless_changed(found, path, cache)
        if found is not None:
            log.info("using the converted cache %s", found)
            try:
                g = load_cache(found)
            except InputError as exc:  # a damaged cache: the source is still good
                _notice(
                    f"the cache {found} of {path} is damaged "
                    f"({' '.join(str(exc).split())[:200]}); reading {path} itself instead"
                )
            else:
                if str(g.report.get("coding", "")).startswith("01 (auto"):
                    from snpcnn.io.table import warn_auto_01

                    warn_auto_01(path)  # as when the table itself is read
                # the file as given now: the cache recorded the path as typed when it was
                # made, perhaps from another folder (run.json and predict's warnings named
                # a path that did not exist from here: a checking helper, session 41)
                g.source = str(path)
                _warn_na_like_ids(g, path)
                return g

    t0 = time.perf_counter()
    if fmt == "vcf":
        from snpcnn.io.vcf import read_vcf

        g = read_vcf(path, snps_only=snps_only, multiallelic=multiallelic)
    elif fmt == "bcf":
        from snpcnn.io.bcf import read_bcf

        g = read_bcf(path, snps_only=snps_only, multiallelic=multiallelic)
    elif fmt == "pgen":
        from snpcnn.io.pgen import read_pgen

        g = read_pgen(path)
        if snps_only:
            g = _snps_only_plink(g)
    elif fmt == "plink":
        from snpcnn.io.plink import read_plink

        g = read_plink(path, bim=bim, fam=fam)
        if snps_only:
            g = _snps_only_plink(g)
    else:
        from snpcnn.io.table import read_table

        g = read_table(path, coding=coding)
    seconds = time.perf_counter() - t0
    _warn_na_like_ids(g, path)

    if convert_large and g.n_samples * g.n_snps > LARGE_GENOTYPES:
        keep = cache in (True, "auto", "always") and bim is None and fam is None
        return _convert_large(g, path, fmt, opts, keep=keep)
    if cache in (True, "auto", "always") and bim is None and fam is None:
        _write_auto_cache(g, path, fmt, opts, always=cache == "always", seconds=seconds)
    return g


def _unless_changed(found: Path, path, cache):
    """``(found, cache)``, or ``(None, cache)`` where the source of the cache ``found`` has
    changed since it was made (full sha256): an automatic cache is removed (the read that
    follows rebuilds it), one made by ``snpcnn convert`` is left alone and the read
    bypasses caches (``cache=False``)."""
    from snpcnn.io.cache import cache_dir, changed_source

    changed = changed_source(found)
    if changed is None:
        return found, cache
    auto = Path(found).resolve().parent == cache_dir().resolve()
    _notice(
        f"the cache {found} was made from an earlier version of {changed} (same size and "
        "time stamp, other content); "
        + ("rebuilding it" if auto else f"reading the file itself (rebuild the cache: "
           f"snpcnn convert {path} --force)")
    )  # fmt: skip
    if auto:
        shutil.rmtree(found, ignore_errors=True)
        return None, cache
    return None, False


def _auto_cache_target(path, fmt: str, opts: dict[str, Any]) -> tuple[list[Path], Path]:
    """The source files of ``path`` and the automatic cache they are written to."""
    from snpcnn.io.cache import auto_cache_path, source_files

    files = source_files(path, fmt)
    stem = files[0].with_suffix("") if fmt in ("plink", "pgen") else Path(path)
    return files, auto_cache_path(stem, opts)


def _write_auto_cache(
    g: Genotypes, path, fmt: str, opts: dict[str, Any], always: bool, seconds: float
) -> None:
    from snpcnn.io.cache import write_cache

    files, dst = _auto_cache_target(path, fmt, opts)
    size = sum(f.stat().st_size for f in files)
    if not always and (fmt in ("plink", "pgen") or size < AUTO_CACHE_MIN_BYTES):
        return
    try:
        write_cache(g, dst, files=files, fmt=fmt, read_options=opts, force=True)
    except (OSError, InputError) as exc:
        _notice(
            f"could not write a cache of {path} at {dst} ({_write_failure(exc)}); "
            f"continuing without; set {NO_CACHE_ENV}=1 to stop trying, or SNPCNN_CACHE_DIR to a "
            "writable folder"
        )
        return
    log.info("parsed %s in %.1f s; wrote the cache %s", path, seconds, dst)
    mb = sum(f.stat().st_size for f in dst.iterdir()) / 1e6
    _notice(
        f"cached {Path(path).name} as {dst} ({mb:.1f} MB, reused while the file keeps its size, time stamp and ends, or its content: docs/io.md); "
        f"turn off with {NO_CACHE_ENV}=1 (info: --no-cache), move with SNPCNN_CACHE_DIR=DIR"
    )


def _remove_at_exit(folder: Path) -> None:
    pid = os.getpid()

    def remove() -> None:
        if os.getpid() == pid:  # not in a forked child
            shutil.rmtree(folder, ignore_errors=True)

    atexit.register(remove)


def _convert_large(g: Genotypes, path, fmt: str, opts: dict[str, Any], keep: bool) -> Genotypes:
    """Write the parsed ``g`` to a cache and return that cache memory-mapped.

    ``keep``: the automatic cache (reused by later runs), falling back to a temporary
    cache when that cannot be written; else a temporary cache removed at exit.  When
    no cache can be written: one-line InputError, nothing left behind.
    """
    from snpcnn.io.cache import load_cache, write_cache

    name = Path(path).name
    size = f"{g.n_samples:,} samples x {g.n_snps:,} SNPs, {g.n_samples * g.n_snps / 1e6:,.0f} MB"
    failed: list[str] = []
    if keep:
        files, dst = _auto_cache_target(path, fmt, opts)
        _notice(
            f"converting {name} ({size}) to a cache at {dst} first and reading it from there "
            f"memory-mapped; later runs reuse it (move with SNPCNN_CACHE_DIR=DIR, turn off with "
            f"{NO_CACHE_ENV}=1)"
        )
        try:
            write_cache(g, dst, files=files, fmt=fmt, read_options=opts, force=True)
        except (OSError, InputError) as exc:
            failed.append(f"{dst}: {_write_failure(exc)}")
        else:
            return load_cache(dst)
    try:
        tmp = Path(tempfile.mkdtemp(prefix="snpcnn-"))
    except OSError as exc:
        failed.append(f"{tempfile.gettempdir()}: {' '.join(str(exc).split())}")
    else:
        stem = name.removesuffix({"plink": ".bed", "pgen": ".pgen"}.get(fmt, ".snpcnn"))
        dst = tmp / f"{stem}.snpcnn"
        _notice(
            f"{'could not write that cache; ' if failed else ''}converting {name} ({size}) to a "
            f"temporary cache at {dst} first and reading it from there memory-mapped; it is "
            "removed at exit (keep one with `snpcnn convert`)"
        )
        try:
            write_cache(g, dst, fmt=fmt, read_options=opts)
        except (OSError, InputError) as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            failed.append(f"{dst}: {' '.join(str(exc).split())}")
        else:
            _remove_at_exit(tmp)
            return load_cache(dst)
    raise InputError(
        f"{path}: could not write a cache of this large file ({size}) to read it "
        f"memory-mapped ({'; '.join(failed)}); point SNPCNN_CACHE_DIR or TMPDIR to a writable "
        f"folder with room for it, or convert it yourself: `snpcnn convert {path} --out "
        "DIR/NAME.snpcnn`"
    )
