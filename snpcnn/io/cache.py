"""A converted, sample-major, memory-mappable genotype cache.

A cache is a directory (suffix ``.snpcnn`` by convention) holding

``dosages.npy``
    int8, samples x SNPs, C order, -1 = missing; opened with
    ``np.load(mmap_mode="r")`` so that training reads minibatches of rows
    without loading the matrix.
``samples.txt``
    one sample id per line (UTF-8), in row order.
``variants.tsv``
    the variant table (``chrom, pos, id, ref, alt`` and any extra columns);
    ``alt`` is the counted allele.
``meta.json``
    cache format version, snpcnn version, creation time, the source files
    (absolute path, size, ``mtime_ns``, a fast fingerprint and the full
    sha256), the read options and the load report of the conversion.

Automatic reuse
---------------
``read_genotypes(src)`` looks for a cache of ``src`` made with the same read
options, first next to the source (``<src>.snpcnn``, what ``snpcnn convert IN``
writes by default), then in the cache directory (``$SNPCNN_CACHE_DIR``, else
``$XDG_CACHE_HOME/snpcnn``, else ``~/.cache/snpcnn``).  A cache is used only
when every source file still has the recorded size, ``mtime_ns`` and
fingerprint; a stale cache is ignored (and replaced when a new one is written),
never used.  Automatic caches are written to the cache directory only, so a
read-only data directory is fine; each write says so in one line on stderr,
and ``$SNPCNN_NO_CACHE=1`` turns automatic caches off (see
:func:`snpcnn.io.read_genotypes`).

Writes are atomic: the cache is built in a temporary directory next to the
destination and renamed into place.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, opt
from snpcnn.genotypes import Genotypes
from snpcnn.io.output import ready_to_replace, reap_stale, temp_sibling

__all__ = [
    "CACHE_SUFFIX",
    "CACHE_VERSION",
    "convert",
    "write_cache",
    "load_cache",
    "is_cache",
    "cache_dir",
    "auto_cache_path",
    "find_cache",
    "is_fresh",
    "file_record",
    "fingerprint",
]

log = logging.getLogger(__name__)

CACHE_SUFFIX = ".snpcnn"
CACHE_VERSION = 1
_FP_BYTES = 1 << 20


def fingerprint(path: str | os.PathLike) -> str:
    """Fast content fingerprint: sha256 of the size, the first and the last MiB."""
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(_FP_BYTES))
        if size > _FP_BYTES:
            fh.seek(max(_FP_BYTES, size - _FP_BYTES))
            h.update(fh.read(_FP_BYTES))
    return h.hexdigest()


#: sha256 already computed in this process, by (path, size, mtime_ns, ctime_ns; a write
#: changes ctime even where the time stamp is restored): a command that checks a reused
#: cache's source and then records the inputs' checksums reads the file once
_SHA256_SEEN: dict[tuple[str, int, int, int], str] = {}


def _sha256(path: Path) -> str:
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if key in _SHA256_SEEN:
        return _SHA256_SEEN[key]
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)
    _SHA256_SEEN[key] = h.hexdigest()
    return _SHA256_SEEN[key]


def file_record(path: str | os.PathLike, full_hash: bool = False) -> dict[str, Any]:
    """What the cache records about one source file."""
    path = Path(path).resolve()
    st = path.stat()
    rec = {
        "path": str(path),
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "fingerprint": fingerprint(path),
    }
    if full_hash:
        rec["sha256"] = _sha256(path)
    return rec


def changed_source(cache: str | os.PathLike) -> str | None:
    """The first source file of ``cache`` whose full sha256 differs from the one recorded
    when the cache was made (None: all equal, or no sha256 recorded).  Reuse checks only the
    size, time stamp and first and last MiB (:func:`is_fresh`); this reads every source file
    once (``read_genotypes(verify=True)``, which every snpcnn command uses; the hash is
    remembered, so run.json's checksums reuse it)."""
    try:
        recorded = _read_meta(Path(cache)).get("source", {}).get("files", [])
    except InputError:
        return None
    for rec in recorded:
        p = Path(rec.get("path", ""))
        if rec.get("sha256") and p.is_file() and _sha256(p) != rec["sha256"]:
            return str(p)
    return None


def source_files(src: str | os.PathLike, fmt: str) -> list[Path]:
    """The files a source consists of (three for PLINK 1 and 2)."""
    if fmt == "plink":
        from snpcnn.io.plink import plink_paths

        return list(plink_paths(src))
    if fmt == "pgen":
        from snpcnn.io.pgen import pgen_paths

        return list(pgen_paths(src))
    return [Path(src)]


def is_cache(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory holding a snpcnn cache."""
    p = Path(path)
    return p.is_dir() and (p / "meta.json").is_file() and (p / "dosages.npy").is_file()


#: the files a cache directory holds (``write_cache``)
CACHE_FILES = frozenset({"dosages.npy", "samples.txt", "variants.tsv", "meta.json"})


def _why_not_replaceable(dst: Path, files: list[Path] | None) -> str | None:
    """Why ``--force`` may not replace the cache directory ``dst`` (None: it may): it holds
    a file of its own source, or files that are not a cache's, or its meta.json is not
    snpcnn's."""
    here = dst.resolve()
    for f in files or []:
        try:
            Path(f).resolve().relative_to(here)
        except ValueError:
            continue
        return f"it holds the input {f}"
    other = sorted(e.name for e in dst.iterdir() if e.name not in CACHE_FILES)
    if other:
        shown = ", ".join(other[:3]) + (", ..." if len(other) > 3 else "")
        return f"it holds files that are not the cache's ({shown})"
    try:
        meta = json.loads((dst / "meta.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict) or "snpcnn_cache" not in meta:
        return "its meta.json is not a snpcnn cache's"
    return None


def cache_dir() -> Path:
    """Where automatic caches go: ``$SNPCNN_CACHE_DIR``, ``$XDG_CACHE_HOME/snpcnn`` or ``~/.cache/snpcnn``."""
    env = os.environ.get("SNPCNN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "snpcnn"


def _key(src: str | os.PathLike, read_options: dict[str, Any]) -> str:
    payload = json.dumps(
        {"src": str(Path(src).resolve()), "opts": read_options}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _stem(src: str | os.PathLike) -> str:
    name = Path(src).name
    return name[: -len(".bed")] if name.endswith(".bed") else name


def auto_cache_path(src: str | os.PathLike, read_options: dict[str, Any]) -> Path:
    """The automatic cache path of ``src`` read with ``read_options``."""
    return cache_dir() / f"{_stem(src)}-{_key(src, read_options)}{CACHE_SUFFIX}"


def _read_meta(path: Path) -> dict[str, Any]:
    try:
        with open(path / "meta.json", encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputError(
            f"{path}: unreadable cache metadata meta.json ({exc}); rebuild it with "
            f"`snpcnn convert SOURCE {path} --force`"
        ) from None
    if not isinstance(meta, dict):
        raise InputError(
            f"{path}: cache metadata meta.json is not a JSON object; rebuild it with "
            f"`snpcnn convert SOURCE {path} --force`"
        )
    if meta.get("snpcnn_cache") != CACHE_VERSION:
        raise InputError(
            f"{path}: cache format version {meta.get('snpcnn_cache')!r} is not "
            f"{CACHE_VERSION}; rebuild it with `snpcnn convert SOURCE {path} --force`"
        )
    return meta


def is_fresh(
    cache: str | os.PathLike, files: list[Path], read_options: dict[str, Any] | None = None
) -> tuple[bool, str]:
    """Whether ``cache`` was made from ``files`` as they are now (and with ``read_options``).

    Returns ``(fresh, reason)``; ``reason`` says why not.
    """
    cache = Path(cache)
    if not is_cache(cache):
        return False, "not a cache"
    try:
        meta = _read_meta(cache)
    except InputError as exc:
        return False, str(exc)
    try:
        recorded = meta.get("source", {}).get("files", [])
        paths = [r["path"] for r in recorded]
        for r in recorded:
            int(r["size"]), int(r["mtime_ns"]), str(r["fingerprint"])
    except (AttributeError, TypeError, KeyError, ValueError):
        return False, "damaged source records in meta.json"
    if paths != [str(Path(f).resolve()) for f in files]:
        return False, "made from other files"
    if read_options is not None and meta.get("read_options") != _jsonable(read_options):
        return False, f"made with other read options {meta.get('read_options')}"
    for rec in recorded:
        p = Path(rec["path"])
        if not p.exists():
            return False, f"source {p} is gone"
        st = p.stat()
        if st.st_size != rec["size"]:
            return False, f"source {p} changed (size)"
        if st.st_mtime_ns != rec["mtime_ns"]:
            # a new time stamp alone (touch, a copy, a checkout) is no change where the
            # content is the same: before session 39 the cache was ignored and the file
            # parsed again into a second, automatic cache without a word
            if not rec.get("sha256"):
                return False, f"source {p} changed (modification time; no content hash recorded)"
            if _sha256(p) != rec["sha256"]:
                return False, f"source {p} changed (modification time and content)"
            continue
        if fingerprint(p) != rec["fingerprint"]:
            return False, f"source {p} changed (content fingerprint)"
    return True, "fresh"


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str))


def find_cache(src: str | os.PathLike, fmt: str, read_options: dict[str, Any]) -> Path | None:
    """A fresh cache of ``src`` (next to it, then in :func:`cache_dir`), or None."""
    files = source_files(src, fmt)
    stem_src = files[0].with_suffix("") if fmt in ("plink", "pgen") else Path(src)
    for cand in (
        stem_src.with_name(stem_src.name + CACHE_SUFFIX),
        auto_cache_path(stem_src, read_options),
    ):
        if not cand.exists():
            continue
        fresh, why = is_fresh(cand, files, read_options)
        if fresh:
            return cand
        log.info("ignoring cache %s: %s", cand, why)
    return None


def write_cache(
    g: Genotypes,
    dst: str | os.PathLike,
    *,
    files: list[Path] | None = None,
    fmt: str | None = None,
    read_options: dict[str, Any] | None = None,
    force: bool = False,
) -> Path:
    """Write ``g`` as a cache directory at ``dst``, atomically.

    Parameters
    ----------
    g : Genotypes
    dst : path-like
        The cache directory to create.
    files : list of Path, optional
        Source files to record for staleness checks.
    fmt : str, optional
        The source format, recorded in ``meta.json``.
    read_options : dict, optional
        Options the source was read with (a cache is reused only with the same).
    force : bool
        Replace an existing cache at ``dst``.  A path that exists but is not a
        snpcnn cache is never replaced.

    Returns
    -------
    Path
        ``dst``.
    """
    dst = Path(dst)
    if dst.exists() or dst.is_symlink():
        if not is_cache(dst):
            raise InputError(
                f"{dst}: exists and is not a snpcnn cache; choose another output path "
                "(it is never overwritten, even with --force)"
            )
        if not force:
            raise InputError(f"{dst}: exists; use {opt('force', True)} to overwrite it")
        why = _why_not_replaceable(dst, files)
        if why:
            raise InputError(
                f"{dst}: not replaced, even with --force: {why}; choose another output path "
                "(or move those files out first)"
            )
    for s in g.samples:
        if "\n" in s or "\r" in s:
            raise InputError(f"sample id {s!r} contains a line break; cannot write {dst}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    reap_stale(dst)
    tmp = temp_sibling(dst)
    try:
        with open(tmp / "dosages.npy", "wb") as fh:
            np.save(fh, np.ascontiguousarray(g.dosages), allow_pickle=False)
        with open(tmp / "samples.txt", "w", encoding="utf-8", newline="\n") as fh:
            fh.write("".join(f"{s}\n" for s in g.samples))
        g.variants.to_csv(tmp / "variants.tsv", sep="\t", index=False, lineterminator="\n")
        from snpcnn import __version__

        meta = {
            "snpcnn_cache": CACHE_VERSION,
            "snpcnn_version": __version__,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "shape": [g.n_samples, g.n_snps],
            "dtype": "int8",
            "missing": -1,
            "orientation": "samples x SNPs; dosage = copies of variants.alt",
            "source": {
                "path": g.source,
                "format": fmt or g.report.get("format"),
                "files": [file_record(f, full_hash=True) for f in (files or [])],
            },
            "read_options": _jsonable(read_options or {}),
            "load_report": _jsonable({k: v for k, v in g.report.items() if k != "cache"}),
        }
        with open(tmp / "meta.json", "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2)
            fh.write("\n")
        ready_to_replace(tmp)
        if dst.exists():
            old = temp_sibling(dst, "old") / "x"
            os.rename(dst, old)
            os.rename(tmp, dst)
            old = old.parent
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dst


_REBUILD = "rebuild the cache with `snpcnn convert SOURCE OUT.snpcnn --force`"


def cache_id(path: str | os.PathLike) -> str | None:
    """The identity of the cache at ``path`` as it is now: the sha256 of its meta.json
    (its source, read options and creation time; None where it cannot be read)."""
    try:
        return hashlib.sha256((Path(path) / "meta.json").read_bytes()).hexdigest()
    except OSError:
        return None


def load_cache(path: str | os.PathLike, mmap: bool = True) -> Genotypes:
    """Open a cache; the dosages are a read-only ``np.memmap`` unless ``mmap=False``.

    A cache whose recorded source has changed is still opened when asked for
    by path, with a warning and ``report["source_changed"]`` set.

    Examples
    --------
    >>> g = load_cache("wheat.snpcnn")  # doctest: +SKIP
    >>> type(g.dosages).__name__  # doctest: +SKIP
    'memmap'
    """
    path = Path(path)
    if not is_cache(path):
        raise InputError(
            f"{path}: not a snpcnn cache (needs meta.json and dosages.npy); create one with "
            "`snpcnn convert SOURCE OUT.snpcnn`"
        )
    meta = _read_meta(path)
    shape = meta.get("shape")
    if not (
        isinstance(shape, list)
        and len(shape) == 2
        and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InputError(f"{path}/meta.json: no valid 'shape' [samples, SNPs]; {_REBUILD}")
    if not isinstance(meta.get("source"), dict):
        raise InputError(f"{path}/meta.json: no valid 'source' record; {_REBUILD}")
    try:
        dosages = np.load(path / "dosages.npy", mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path}/dosages.npy: unreadable ({exc}); {_REBUILD}") from None
    if isinstance(dosages, np.memmap):
        # which cache this map holds: a later `convert --force` writes another meta.json
        # at the same path, and Ray workers that reopen the path compare (snpcnn.executor)
        dosages.snpcnn_cache_id = cache_id(path)
    if dosages.dtype != np.int8 or dosages.ndim != 2 or list(dosages.shape) != shape:
        raise InputError(
            f"{path}/dosages.npy: expected int8 {shape}, found {dosages.dtype} "
            f"{list(dosages.shape)}; {_REBUILD}"
        )
    try:
        with open(path / "samples.txt", encoding="utf-8", newline="") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}/samples.txt: unreadable ({exc}); {_REBUILD}") from None
    if text and not text.endswith("\n"):
        raise InputError(f"{path}/samples.txt: cut short (no final line break); {_REBUILD}")
    samples = np.asarray(text.split("\n")[:-1], dtype=object)
    if len(samples) != shape[0]:
        raise InputError(
            f"{path}/samples.txt: {len(samples)} sample ids but dosages.npy has {shape[0]} rows; "
            f"{_REBUILD}"
        )
    try:
        variants = pd.read_csv(
            path / "variants.tsv",
            sep="\t",
            dtype={"chrom": str, "id": str, "ref": str, "alt": str},
            keep_default_na=False,
            na_values=[],
        )
    except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        msg = " ".join(str(exc).split())
        raise InputError(f"{path}/variants.tsv: unreadable ({msg}); {_REBUILD}") from None
    if len(variants) != shape[1] or "id" not in variants.columns:
        raise InputError(
            f"{path}/variants.tsv: {len(variants)} SNP rows (columns {', '.join(variants.columns)})"
            f" but dosages.npy has {shape[1]} SNP columns; {_REBUILD}"
        )
    if "pos" in variants.columns and not pd.api.types.is_integer_dtype(variants["pos"]):
        raise InputError(f"{path}/variants.tsv: column pos is not all whole numbers; {_REBUILD}")
    for col in variants.columns:
        if variants[col].dtype == object:
            variants[col] = variants[col].astype(str)
    report = dict(meta.get("load_report", {}))
    report["cache"] = str(path)
    try:
        files = [Path(r["path"]) for r in meta["source"].get("files", [])]
    except (TypeError, KeyError):
        raise InputError(f"{path}/meta.json: damaged source file list; {_REBUILD}") from None
    if files:
        fresh, why = is_fresh(path, files)
        if not fresh:
            log.warning("cache %s: %s since it was made", path, why)
            report["source_changed"] = why
    try:
        return Genotypes(
            dosages, samples, variants, source=meta["source"].get("path"), report=report
        )
    except InputError as exc:
        # the check names the source file, but the fault is in the cache's own copy (a
        # checking helper, session 49: a duplicate id blamed the intact VCF)
        src = meta["source"].get("path")
        where = "samples.txt" if "sample id" in str(exc) else "files"
        msg = str(exc).replace(f" in {src}", f" in the cache's {where}") if src else str(exc)
        raise InputError(f"{path}: damaged cache ({msg}); {_REBUILD}") from None


def convert(
    src: str | os.PathLike,
    dst: str | os.PathLike | None = None,
    force: bool = False,
    *,
    format: str | None = None,  # noqa: A002 - mirrors --format
    **read_kwargs: Any,
) -> Path:
    """Parse ``src`` and write it as a cache at ``dst`` (default ``<src>.snpcnn``).

    Parameters
    ----------
    src : path-like
        Any genotype file :func:`snpcnn.io.read_genotypes` reads.
    dst : path-like, optional
        The cache directory; ``<src>.snpcnn`` (``<prefix>.snpcnn`` for PLINK)
        when None.
    force : bool
        Overwrite an existing cache at ``dst``.
    format : str, optional
        Force the input format.
    **read_kwargs
        Passed to :func:`snpcnn.io.read_genotypes` (``snps_only``,
        ``multiallelic``, ``coding``).

    Returns
    -------
    Path
        The cache directory.

    Examples
    --------
    >>> convert("example_data/wheat.vcf.gz", "/tmp/wheat.snpcnn", force=True)  # doctest: +SKIP
    PosixPath('/tmp/wheat.snpcnn')
    """
    from snpcnn.io import _normalize_format, detect_format, read_genotypes, read_options_for

    fmt = _normalize_format(format) or detect_format(src)
    if fmt == "cache":
        raise InputError(f"{src}: is already a snpcnn cache")
    files = source_files(src, fmt)
    beside = dst is None
    if dst is None:
        stem = files[0].with_suffix("") if fmt in ("plink", "pgen") else Path(src)
        dst = stem.with_name(stem.name + CACHE_SUFFIX)
    dst = Path(dst)
    if dst.exists() and not force:
        if not is_cache(dst):
            raise InputError(f"{dst}: exists and is not a snpcnn cache; choose another output path")
        raise InputError(f"{dst}: exists; use {opt('force', True)} to overwrite it")
    if dst.exists() and is_cache(dst):  # checked before the source is read
        why = _why_not_replaceable(dst, files)
        if why:
            raise InputError(
                f"{dst}: not replaced, even with --force: {why}; choose another output path "
                "(or move those files out first)"
            )
    from snpcnn.io.output import check_writable, write_errors

    try:
        check_writable(dst, option="output path")
    except InputError as exc:
        if not beside:
            raise
        reason = str(exc).split("(", 1)[-1].split(")", 1)[0]
        raise InputError(
            f"{dst}: cannot write the cache next to {src} ({reason}); give an output path in a "
            f"folder you can write to: `snpcnn convert {src} --out OUT.snpcnn` (Python: "
            "convert(src, dst))"
        ) from None
    g = read_genotypes(src, format=fmt, cache=False, convert_large=False, **read_kwargs)
    with write_errors(dst, option="output path"):
        return write_cache(
            g,
            dst,
            files=files,
            fmt=fmt,
            read_options=read_options_for(fmt, **read_kwargs),
            force=force,
        )
