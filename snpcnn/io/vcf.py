"""VCF (``.vcf``, ``.vcf.gz``) genotypes -> :class:`~snpcnn.genotypes.Genotypes`.

Two parsers give identical results (tested on every edge-case file, generated
files with every GT form and mutated files):

* the bulk numpy parser (:func:`_read_numpy`, the default for files with at
  least ``_NUMPY_MIN_SAMPLES`` samples): blocks of decompressed records are
  split into fields with vectorised scans and every GT is decoded by the same
  table lookup as below, straight into int8; it declines anything unusual,
  and the file then goes to
* scikit-allel, which parses the text; we ask it for the GT field as a short byte string
per call (``b"0/1"``, ``b"1|1"``, ``b"./."``, ``b"0"``) rather than as integer
alleles, because its integer GT parser stores an absent allele and a missing
allele (``.``) with the same fill value: ``0/.`` (partly missing) and ``0``
(haploid REF) would be indistinguishable.  The strings are decoded with numpy,
chunk by chunk, straight into an int8 matrix that is transposed once to
samples x SNPs.

Decoding rules (documented in ``docs/io.md``)
---------------------------------------------
* Dosage = number of copies of the ALT allele (the counted allele); ``|`` and
  ``/`` are treated alike.
* Any missing allele makes the call missing (-1): ``./.``, ``.|.``, ``.``,
  ``0/.``, ``./1``, an empty sample field or a record whose FORMAT lacks GT.
* Haploid calls are coded like a homozygote (as PLINK codes haploid chrX/Y):
  ``0`` -> 0, ``1`` -> 2.  Their number is reported as ``haploid_calls``.
* A VCF 4.4 leading phase indicator (``|1``, ``/0|1``) is read as if absent, in files
  that declare VCF 4.4 or later.
* Ploidy above 2 (``0/0/1``) is an error naming the record and sample.
* An allele index above the number of ALT alleles (``0/3`` at a biallelic site)
  is set missing and counted as ``invalid_allele_calls``.
* Multi-allelic sites are dropped (``multiallelic="drop"``, counted as
  ``multiallelic_dropped``) or, with ``multiallelic="alt1"``, kept with the
  first ALT as the counted allele; calls that carry any other ALT allele are
  then missing (counted as ``other_alt_calls``).
* Blank lines (``\\n`` or ``\\r\\n`` alone) are skipped as if absent, by both parsers
  (scikit-allel reads a stream without them, :class:`_NoBlankLines`), and counted as
  ``blank_lines_skipped``.
* ``snps_only=True`` drops sites whose REF or counted ALT is not a single base
  A/C/G/T: indels (``indels_dropped``) and symbolic or ``*`` alleles
  (``symbolic_dropped``).
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import logging
import os
import re
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, InputWarning
from snpcnn.genotypes import Genotypes

__all__ = ["read_vcf", "MULTIALLELIC_MODES", "ENGINES"]

log = logging.getLogger(__name__)

MULTIALLELIC_MODES = ("drop", "alt1")
ENGINES = ("auto", "numpy", "allel")
# below this many samples "auto" lets scikit-allel parse: per-record Python work
# of the bulk parser (CHROM..FORMAT) would then dominate, and such files are small
_NUMPY_MIN_SAMPLES = 16
# decompressed bytes handed to the bulk parser at a time
_BLOCK_BYTES = 8 << 20

# bytes of the GT string kept per call: enough for every diploid call with
# single-digit allele indices ("0/1") plus one byte that flags longer strings.
_GT_WIDTH = 4
_FIELDS = [
    "variants/CHROM",
    "variants/POS",
    "variants/ID",
    "variants/REF",
    "variants/ALT",
    "variants/numalt",
    "calldata/GT",
]
_DOT, _SLASH, _PIPE, _ZERO = ord("."), ord("/"), ord("|"), ord("0")
_BASES = {"A", "C", "G", "T"}


def _chunk_length(n_samples: int) -> int:
    """Variants per chunk so that one raw chunk of GT strings stays near 16 MiB."""
    return int(np.clip((16 << 20) // (_GT_WIDTH * max(n_samples, 1)), 64, 65536))


def _open_binary(path: Path):
    """A binary stream of the (decompressed) text; we own it, so we close it.

    Passing scikit-allel an open stream rather than a path keeps it from
    closing (and warning about) files itself.
    """
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


_BLANK_LINE = re.compile(rb"^\r?\n", re.MULTILINE)


def _drop_blank_lines(text: bytes) -> tuple[bytes, int]:
    """``text`` (starting at a line start) without its blank lines and their number.

    A blank line (``\\n`` or ``\\r\\n`` alone) is no record: the file is read
    as if it were absent.  The ``in`` tests (a fast byte search) keep files
    without blank lines free of the regex.
    """
    if b"\n\n" in text or b"\n\r\n" in text or _BLANK_LINE.match(text):
        return _BLANK_LINE.subn(b"", text)
    return text, 0


class _NoBlankLines(io.RawIOBase):
    """The decompressed VCF without its blank lines, as a binary stream (for scikit-allel).

    scikit-allel parses a blank line as a record (empty CHROM, POS 0, every call
    missing); the bulk parser drops them, and so, through this stream, does
    scikit-allel.  ``blank`` counts the lines dropped.
    """

    def __init__(self, raw):
        self._raw = raw
        self._out = memoryview(b"")
        self._carry = b""
        self._eof = False
        self.blank = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        while not len(self._out) and not self._eof:
            block = self._raw.read(1 << 20)
            if block:  # whole lines only, so that each text starts at a line start
                text = self._carry + block
                cut = text.rfind(b"\n") + 1
                text, self._carry = text[:cut], text[cut:]
            else:
                self._eof = True
                text, self._carry = self._carry, b""
            text, n = _drop_blank_lines(text)
            self.blank += n
            self._out = memoryview(text)
        k = min(len(buf), len(self._out))
        buf[:k] = self._out[:k]
        self._out = self._out[k:]
        return k

    def close(self) -> None:
        self._raw.close()
        super().close()


def _check_not_bcf(path: Path) -> None:
    """Refuse BCF here (``read_genotypes`` and ``--format bcf`` read it with the BCF reader)."""
    hint = (
        "read it with `snpcnn.io.read_genotypes(path)` or `snpcnn.io.bcf.read_bcf`; on the command "
        "line it is detected, or pass --format bcf"
    )
    if path.name.endswith(".bcf"):
        raise InputError(f"{path}: a BCF file, not a text VCF; {hint}")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as fh:
                head = fh.read(4)
        except (OSError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a readable gzip file ({exc})") from None
    if head[:3] == b"BCF":
        raise InputError(f"{path}: this is a BCF file, not a text VCF; {hint}")


def _site_classes(
    ref: np.ndarray, alt: np.ndarray, numalt: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (is_snp, is_symbolic) from REF and the counted ALT strings.

    A site is a SNP when REF is one base A/C/G/T and the counted ALT is one base
    too (or absent: a REF-only monomorphic site).
    """
    ref_s = pd.Series(ref, dtype=object).fillna("").astype(str).str.upper()
    alt_s = pd.Series(alt, dtype=object).fillna("").astype(str).str.upper()
    is_base_ref = ref_s.isin(_BASES).to_numpy()
    is_base_alt = alt_s.isin(_BASES).to_numpy()
    symbolic = (alt_s.str.startswith("<") | alt_s.str.contains(r"[\[\]*]", regex=True)).to_numpy()
    return is_base_ref & (is_base_alt | (numalt == 0)), symbolic


def _decode_complex(
    cells: np.ndarray, nalt: np.ndarray, counted_max: int = 1
) -> tuple[np.ndarray, ...]:
    """Slow path for the rare calls that are not ``a/b`` or ``a`` with one-digit alleles.

    A string that fills all ``_GT_WIDTH`` bytes may have been cut short; the
    rules stay safe: a cut third allele still shows as ploidy > 2, and a cut
    multi-digit index is still above 1, so the call is missing either way.
    Returns dosage, invalid, other_alt, bad (0 = fine, 1 = ploidy > 2,
    2 = malformed) and haploid (called) for each cell.
    """
    n = len(cells)
    width = cells.dtype.itemsize
    dos = np.full(n, -1, dtype=np.int8)
    invalid = np.zeros(n, dtype=bool)
    other = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=np.int8)
    hap = np.zeros(n, dtype=bool)
    for i, raw in enumerate(cells):
        s = raw.decode("ascii", errors="replace")
        if s[:1] in ("|", "/") and len(s) > 1:
            # VCF 4.4 leading phase indicator ("|1", "/0|1"): read as if absent; the rest
            # of a cell that fills its width may have been cut, as above
            if len(raw) >= width and width <= _GT_WIDTH:  # no room to tell: cannot know
                bad[i] = 2
                continue
            s = s[1:]
        parts = s.replace("|", "/").split("/")
        if len(parts) > 2:
            bad[i] = 1
            continue
        alleles = []
        for p in parts:
            if p == ".":
                alleles.append(None)
            elif p.isdigit():
                alleles.append(int(p))
            else:
                bad[i] = 2
                break
        if bad[i]:
            continue
        if any(a is None for a in alleles):
            continue
        if any(a > nalt[i] for a in alleles):
            invalid[i] = True
            continue
        if any(a > counted_max for a in alleles):
            other[i] = True
            continue
        d = sum(alleles)
        hap[i] = len(alleles) == 1
        dos[i] = 2 * d if hap[i] else d
    return dos, invalid, other, bad, hap


# Codes of the GT lookup table (one int8 per possible short GT string).
_C_HAP0, _C_HAP1, _C_MISSING, _C_COMPLEX, _C_EMPTY = 3, 4, 5, 6, 7
_C_HIGH = 10  # 10 + m: a call whose largest allele index is m (2..9)
_CODE_DOSAGE = np.full(20, -1, dtype=np.int8)
_CODE_DOSAGE[[0, 1, 2, _C_HAP0, _C_HAP1]] = [0, 1, 2, 0, 2]


@functools.lru_cache(maxsize=1)
def _gt_table() -> np.ndarray:
    """int8 code for every GT string of up to 3 bytes, indexed by its little-endian uint32.

    Covers ``a/b``, ``a|b`` and ``a`` with ``a, b`` in ``0-9`` or ``.``; every
    other index (longer strings, odd bytes) is ``_C_COMPLEX``, decoded slowly.
    The table stops at the largest such key (``"9|9"``, about 3.8 MB).
    """
    chars = [_DOT, *range(_ZERO, _ZERO + 10)]
    top = max(chars) | (_PIPE << 8) | (max(chars) << 16)
    table = np.full(top + 2, _C_COMPLEX, dtype=np.int8)
    table[0] = _C_EMPTY

    def code(alleles: list[int]) -> int:
        if _DOT in alleles:
            return _C_MISSING
        vals = [a - _ZERO for a in alleles]
        if max(vals) >= 2:
            return _C_HIGH + max(vals)
        if len(vals) == 1:
            return _C_HAP1 if vals[0] else _C_HAP0
        return sum(vals)

    for a in chars:
        table[a] = code([a])
        for sep in (_SLASH, _PIPE):
            for b in chars:
                table[a | (sep << 8) | (b << 16)] = code([a, b])
    return table


def _decode_chunk(
    gt: np.ndarray,
    nalt: np.ndarray,
    chrom: np.ndarray,
    pos: np.ndarray,
    samples: np.ndarray,
    path: Path,
    counts: dict[str, int],
    full: np.ndarray | None = None,
) -> np.ndarray:
    """GT strings (variants x samples, ``S4``) -> int8 dosages (variants x samples).

    ``full``: the same GT strings one byte wider (``S5``), for files with a leading
    phase indicator (``/0|1`` fills 4 bytes: only the 5th says it was not cut short).

    Each 4-byte cell is read as one little-endian uint32 and looked up in
    :func:`_gt_table` (one gather per call); only the rare cells the table
    does not cover go through :func:`_decode_complex`.
    """
    n_var, n_smp = gt.shape
    keys = np.ascontiguousarray(gt).view("<u4").reshape(n_var, n_smp)
    table = _gt_table()
    code = np.empty((n_var, n_smp), dtype=np.int8)
    # take() converts its indices to intp (8 bytes each): go ~1M calls at a time
    step = max(1, (1 << 20) // max(n_smp, 1))
    for r in range(0, n_var, step):
        # keys beyond the table clip to its last entry: complex
        table.take(keys[r : r + step], mode="clip", out=code[r : r + step])
    del keys
    # Plain diploid calls (codes 0, 1, 2) are their dosage already: ``code`` becomes the
    # result in place, and only the few other cells (missing, haploid, high or odd
    # alleles) are looked at one by one.
    flat = code.reshape(-1)
    special = np.flatnonzero(flat > 2)
    sc = flat[special]
    bc = np.bincount(sc, minlength=_C_HIGH + 10) if len(sc) else np.zeros(_C_HIGH + 10, int)
    counts["haploid_calls"] += int(bc[_C_HAP0] + bc[_C_HAP1])
    counts["calls_without_gt"] += int(bc[_C_EMPTY])
    hi = sc >= _C_HIGH
    if hi.any():
        where = special[hi]
        invalid = (sc[hi].astype(np.int16) - _C_HIGH) > nalt[where // n_smp]
        counts["invalid_allele_calls"] += int(np.count_nonzero(invalid))
        counts["other_alt_calls"] += int(np.count_nonzero(~invalid))
    noalt = np.flatnonzero(nalt == 0)
    bad_noalt = None
    if len(noalt):  # ALT '.': allele 1 does not exist
        c = code[noalt]
        bad_noalt = (c == 1) | (c == 2) | (c == _C_HAP1)
    complex_at = special[sc == _C_COMPLEX]
    flat[special] = _CODE_DOSAGE[sc]
    out = code
    if bad_noalt is not None and bad_noalt.any():
        counts["invalid_allele_calls"] += int(np.count_nonzero(bad_noalt))
        o = out[noalt]
        o[bad_noalt] = -1
        out[noalt] = o

    if len(complex_at):
        vi, si = np.divmod(complex_at, n_smp)
        cells = (gt if full is None else full)[vi, si]
        dos, inv, oth, bad, hap = _decode_complex(cells, nalt[vi])
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            v, s = vi[k], si[k]
            raw = cells[k].decode("ascii", errors="replace")
            shown = raw + ("..." if len(cells[k]) >= cells.dtype.itemsize else "")
            if bad[k] == 1:
                raise InputError(
                    f"{path}: record {chrom[v]}:{pos[v]}, sample {samples[s]}: GT '{shown}' has "
                    "ploidy above 2; snpcnn holds diploid dosages 0/1/2 only, from every format "
                    "(a table of 0-4 dosages is refused too): remove the polyploid records or "
                    "samples first"
                )
            raise InputError(
                f"{path}: record {chrom[v]}:{pos[v]}, sample {samples[s]}: cannot parse GT "
                f"'{shown}'; expected forms like 0/1, 1|0, ./. or 1"
                + (
                    " (a leading phase indicator is VCF 4.4 syntax: the first line must then "
                    "say ##fileformat=VCFv4.4)"
                    if shown[:1] in ("|", "/")
                    else ""
                )
            )
        out[vi, si] = dos
        counts["invalid_allele_calls"] += int(inv.sum())
        counts["other_alt_calls"] += int(oth.sum())
        counts["haploid_calls"] += int(hap.sum())
    return out


def read_vcf(
    path: str | os.PathLike,
    *,
    snps_only: bool = False,
    multiallelic: str = "drop",
    chunk_length: int | None = None,
    engine: str = "auto",
) -> Genotypes:
    """Read a VCF (plain, bgzipped or gzipped) into an int8 samples x SNPs container.

    Parameters
    ----------
    path : path-like
        ``.vcf``, ``.vcf.gz`` or ``.vcf.bgz``.  BCF raises an error that says how
        to convert it.
    snps_only : bool
        Drop indels and symbolic alleles (sites whose REF or counted ALT is not
        one of A/C/G/T).
    multiallelic : {"drop", "alt1"}
        ``drop`` removes sites with more than one ALT; ``alt1`` keeps them and
        counts the first ALT (calls with another ALT allele become missing).
    chunk_length : int, optional
        Variants parsed per chunk by scikit-allel (default: about 16 MiB of raw
        GT strings); giving it selects ``engine="allel"``.
    engine : {"auto", "numpy", "allel"}
        ``numpy``: the bulk parser (:func:`_read_numpy`), which decodes whole
        blocks of records with numpy and refuses (one-line error) any file it
        does not fully understand.  ``allel``: scikit-allel parses the text.
        ``auto`` (default): ``numpy`` for files with at least
        ``_NUMPY_MIN_SAMPLES`` samples, falling back to ``allel`` for any file
        the bulk parser refuses; both give identical results (tested on every
        edge-case file and the fuzz corpus).

    Returns
    -------
    Genotypes
        ``variants.alt`` is the counted ALT allele; ``report`` holds the counts
        of everything dropped or set missing.

    Examples
    --------
    >>> g = read_vcf("example_data/wheat.vcf.gz")  # doctest: +SKIP
    >>> g.shape  # doctest: +SKIP
    (599, 1279)
    """
    import allel

    path = Path(path)
    if multiallelic not in MULTIALLELIC_MODES:
        raise InputError(
            f"invalid value for `multiallelic`: {multiallelic!r}; choose one of "
            f"{', '.join(MULTIALLELIC_MODES)}"
        )
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); expected a VCF")
    _check_not_bcf(path)
    try:
        with _open_binary(path) as fh:
            nothing = not fh.read(1)
    except (OSError, EOFError, zlib.error):
        nothing = False  # a damaged file: the header read below says so
    if nothing:  # e.g. `gzip -c /dev/null`: "missing #CHROM header line" named no cause
        raise InputError(
            f"{path}: empty (it decompresses to nothing); expected a VCF with a #CHROM header "
            "line: check how the file was written"
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "multiple FORMAT headers": harmless here
            with _NoBlankLines(_open_binary(path)) as fh:
                headers = allel.read_vcf_headers(fh)
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(not_utf8(path, exc)) from None
    except (RuntimeError, OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path}: not a readable VCF ({_damaged(exc)})") from None
    samples = np.asarray(headers.samples, dtype=object)
    if len(samples) == 0:
        raise InputError(
            f"{path}: sites-only VCF (no FORMAT or sample columns on the #CHROM line); "
            "genotypes are needed"
        )
    if "DS" in getattr(headers, "formats", {}):
        # imputed data: its dosages are in DS, and the int8 container holds called genotypes
        warnings.warn(
            f"{path}: the VCF has DS (dosage) fields; snpcnn reads the GT calls, not DS: it "
            "holds whole 0/1/2 genotypes, so an imputed call counts as its GT (a call "
            "without GT is missing)",
            InputWarning,
            stacklevel=3,
        )
    from snpcnn.io._checks import strip_ids

    samples = strip_ids(path, samples)
    uniq, cnt = np.unique(samples.astype(str), return_counts=True)
    if (cnt > 1).any():
        raise InputError(
            f"{path}: sample '{uniq[cnt > 1][0]}' appears {cnt[cnt > 1][0]} times on the #CHROM "
            "line; sample names must be unique (rename with `bcftools reheader -s`)"
        )

    if engine not in ENGINES:
        raise InputError(
            f"invalid value for `engine`: {engine!r}; choose one of {', '.join(ENGINES)}"
        )
    use_numpy = engine == "numpy" or (
        engine == "auto" and chunk_length is None and len(samples) >= _NUMPY_MIN_SAMPLES
    )
    if use_numpy:
        try:
            return _read_numpy(path, samples, snps_only=snps_only, multiallelic=multiallelic)
        except _NotForNumpy as why:
            if engine == "numpy":
                raise InputError(
                    f"{path}: the bulk VCF parser cannot read this file ({why}); use engine='allel'"
                ) from None
            log.debug("%s: bulk parser declined (%s); parsing with scikit-allel", path, why)

    n_smp = len(samples)
    counts = dict.fromkeys(
        (
            "haploid_calls",
            "invalid_allele_calls",
            "other_alt_calls",
            "calls_without_gt",
            "blank_lines_skipped",
        ),
        0,
    )
    n_records = n_multi = n_indel = n_symbolic = n_noalt = 0
    # The final samples x SNPs matrix is allocated once, for every record the
    # file holds (one cheap counting pass), and each decoded chunk is
    # transposed straight into it: no second copy of the genotypes exists.
    n_kept = 0
    meta: list[pd.DataFrame] = []
    with contextlib.ExitStack() as stack, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _open_binary(path) as fh:
                seen: dict | None = {} if _may_lead_phase(fh.readline()) else None
            dosages = np.empty(
                (n_smp, max(_count_records(path, n_fields=9 + n_smp, seen=seen), 1)),
                dtype=np.int8,
            )
            # a leading phase indicator ("/0|1") takes one byte more than the call itself
            width = _GT_WIDTH + 1 if seen and seen.get("leading_phase") else _GT_WIDTH
            fileobj = stack.enter_context(_NoBlankLines(_open_binary(path)))
            _, _, _, it = allel.iter_vcf_chunks(
                fileobj,
                fields=_FIELDS,
                types={"calldata/GT": f"S{width}"},
                numbers={"calldata/GT": 1},
                alt_number=1,
                chunk_length=chunk_length or _chunk_length(n_smp),
                buffer_size=1 << 20,
            )
            for chunk, n, *_ in it:
                _raise_on_sample_warning(caught, path)
                n_records += n
                gt = chunk.get("calldata/GT")
                if gt is None:
                    raise InputError(f"{path}: no GT values could be read")
                gt = gt.reshape(n, n_smp)
                full = None
                if width > _GT_WIDTH:  # the first 4 bytes for the lookup, all for the rest
                    full, gt = gt, gt.astype(f"S{_GT_WIDTH}")
                numalt = chunk["variants/numalt"].astype(np.int64)
                chrom = np.asarray(chunk["variants/CHROM"], dtype=object)
                pos = chunk["variants/POS"].astype(np.int64)
                ref = np.asarray(chunk["variants/REF"], dtype=object)
                alt = np.asarray(chunk["variants/ALT"], dtype=object).reshape(n)
                ids = np.asarray(chunk["variants/ID"], dtype=object)

                keep = np.ones(n, dtype=bool)
                multi = numalt > 1
                n_multi += int(multi.sum())
                if multiallelic == "drop":
                    keep &= ~multi
                n_noalt += int((numalt == 0).sum())
                if snps_only:
                    is_snp, symbolic = _site_classes(ref, alt, numalt)
                    n_symbolic += int((keep & symbolic).sum())
                    n_indel += int((keep & ~is_snp & ~symbolic).sum())
                    keep &= is_snp
                if not keep.any():
                    continue
                idx = np.flatnonzero(keep)
                if len(idx) < n:
                    gt, numalt, chrom, pos = gt[idx], numalt[idx], chrom[idx], pos[idx]
                    ref, alt, ids = ref[idx], alt[idx], ids[idx]
                    full = None if full is None else full[idx]
                block = _decode_chunk(gt, numalt, chrom, pos, samples, path, counts, full)
                if n_kept + len(block) > dosages.shape[1]:  # the count was short: grow
                    bigger = np.empty((n_smp, 2 * (n_kept + len(block))), dtype=np.int8)
                    bigger[:, :n_kept] = dosages[:, :n_kept]
                    dosages = bigger
                dosages[:, n_kept : n_kept + len(block)] = block.T
                n_kept += len(block)
                del block
                meta.append(
                    pd.DataFrame({"chrom": chrom, "pos": pos, "id": ids, "ref": ref, "alt": alt})
                )
                del gt, chunk
        except (RuntimeError, UnicodeDecodeError, EOFError, zlib.error) as exc:
            raise InputError(f"{path}: not a readable VCF ({_damaged(exc)})") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read ({_damaged(exc)})") from None
        _raise_on_sample_warning(caught, path)
    counts["blank_lines_skipped"] = fileobj.blank

    return _finish(
        path,
        "vcf",
        dosages,
        n_kept,
        samples,
        meta,
        counts,
        n_records=n_records,
        n_multi=n_multi,
        n_indel=n_indel,
        n_symbolic=n_symbolic,
        n_noalt=n_noalt,
        snps_only=snps_only,
        multiallelic=multiallelic,
    )


def _transpose_into(dst: np.ndarray, j: int, block: np.ndarray) -> None:
    """``dst[:, j : j + len(block)] = block.T`` in tiles of 256 samples (stays in cache)."""
    k = len(block)
    for i in range(0, block.shape[1], 256):
        dst[i : i + 256, j : j + k] = block[:, i : i + 256].T


class _NotForNumpy(Exception):
    """The bulk parser met something it leaves to scikit-allel (the reason is the message)."""


def _read_numpy(
    path: Path, samples: np.ndarray, *, snps_only: bool, multiallelic: str
) -> Genotypes:
    """Bulk VCF parser: blocks of whole records decoded with numpy, straight to int8.

    The decompressed text is read ``_BLOCK_BYTES`` (8 MiB) at a time.  In each block the
    tabs and line breaks are found with one vectorised scan each; every record
    must have exactly ``8 + n_samples`` tabs, so their positions form a
    records x (8 + n_samples) matrix from which every sample field's start and
    end follow without a Python loop.  The GT of a field is its text up to the
    first ``:``; its first 4 bytes (zero-padded) are exactly the ``S4`` strings
    scikit-allel returns, and they go through the same decoder
    (:func:`_decode_chunk`: one table lookup per call).  When every field of a
    block is a 3-byte GT (``0/1``, ``./.``) the fields are copied record by
    record into a records x samples uint32 matrix instead of gathered.
    Only CHROM..FORMAT are split in Python, one record at a time.

    Anything unusual (CR line ends, a FORMAT whose first key is not GT, a
    record with another number of columns, a bad POS, a header line among the
    records, a cut or damaged file, an undecodable GT) raises
    :class:`_NotForNumpy`; ``read_vcf`` then parses the file with scikit-allel,
    which gives the exact message.  Decoded blocks are kept as variants x
    samples int8 and transposed once into the final samples x SNPs matrix (so
    the peak is about 2 bytes per genotype, never a float copy).
    """
    n = len(samples)
    ntab = 8 + n
    counts = dict.fromkeys(
        (
            "haploid_calls",
            "invalid_allele_calls",
            "other_alt_calls",
            "calls_without_gt",
            "blank_lines_skipped",
        ),
        0,
    )
    st = {"records": 0, "multi": 0, "indel": 0, "symbolic": 0, "noalt": 0}
    blocks: list[np.ndarray] = []
    meta: list[pd.DataFrame] = []
    try:
        with contextlib.ExitStack() as stack:
            fh = stack.enter_context(_open_binary(path))
            first = True
            while True:
                line = fh.readline()
                if first:
                    st["may_lead_phase"] = _may_lead_phase(line)
                    first = False
                if not line:
                    raise _NotForNumpy("no #CHROM line")
                if line.startswith(b"#CHROM"):
                    break
                if line in (b"\n", b"\r\n"):  # a blank line: read as if absent
                    counts["blank_lines_skipped"] += 1
                    continue
                if not line.startswith(b"##"):
                    raise _NotForNumpy("a header line does not start with ##")
            if line.rstrip(b"\n").count(b"\t") != ntab:
                raise _NotForNumpy("the #CHROM line has another number of columns")
            carry = b""
            # decompression (zlib releases the GIL) of the next block overlaps the
            # decoding of this one
            ex = stack.enter_context(ThreadPoolExecutor(1))
            nxt = ex.submit(fh.read, _BLOCK_BYTES)
            while True:
                data = nxt.result()
                if not data:
                    break
                nxt = ex.submit(fh.read, _BLOCK_BYTES)
                text = carry + data if carry else data
                cut = text.rfind(b"\n") + 1
                carry = text[cut:]
                if cut:
                    _numpy_block(
                        text[:cut],
                        n,
                        ntab,
                        samples,
                        path,
                        counts,
                        st,
                        snps_only,
                        multiallelic,
                        blocks,
                        meta,
                    )
            if carry:
                raise _NotForNumpy("the last line has no line break")
    except (OSError, EOFError, zlib.error, InputError, UnicodeDecodeError, ValueError) as exc:
        raise _NotForNumpy(f"{type(exc).__name__}: {exc}") from None

    n_kept = sum(len(b) for b in blocks)
    dosages = np.empty((n, max(n_kept, 1)), dtype=np.int8)
    j = 0
    for k in range(len(blocks)):
        _transpose_into(dosages, j, blocks[k])
        j += len(blocks[k])
        blocks[k] = None  # type: ignore[call-overload]
    return _finish(
        path,
        "vcf",
        dosages,
        n_kept,
        samples,
        meta,
        counts,
        n_records=st["records"],
        n_multi=st["multi"],
        n_indel=st["indel"],
        n_symbolic=st["symbolic"],
        n_noalt=st["noalt"],
        snps_only=snps_only,
        multiallelic=multiallelic,
    )


_GT_ONLY_3 = 3  # width of a GT-only field such as "0/1"


def _heads(body: bytes, starts: np.ndarray, nl: np.ndarray) -> tuple[list, np.ndarray]:
    """CHROM..FORMAT of each record (9 byte strings) and where its first sample field starts."""
    heads = []
    firsts = []
    for s in starts.tolist():
        w = body[s : s + 512]
        parts = w.split(b"\t", 9)
        if len(parts) == 10:
            firsts.append(s + len(w) - len(parts[9]))
            heads.append(parts)
            continue
        p = s  # CHROM..FORMAT longer than the window (long INFO): find the 9th tab
        for _ in range(9):
            p = body.find(b"\t", p) + 1
            if p == 0:
                raise _NotForNumpy("a record has fewer columns than the #CHROM line")
        heads.append(body[s : p - 1].split(b"\t"))
        firsts.append(p)
    first = np.asarray(firsts, dtype=np.int64)
    if (first > nl).any():  # the 9th tab was found on a later line
        raise _NotForNumpy("a record has fewer columns than the #CHROM line")
    return heads, first


def _numpy_block(
    body: bytes,
    n: int,
    ntab: int,
    samples: np.ndarray,
    path: Path,
    counts: dict,
    st: dict,
    snps_only: bool,
    multiallelic: str,
    blocks: list,
    meta: list,
) -> None:
    """Decode one block of whole records (see :func:`_read_numpy`)."""
    body, n_blank = _drop_blank_lines(body)
    counts["blank_lines_skipped"] += n_blank
    if not body:
        return
    if b"\r" in body:
        raise _NotForNumpy("CR line ends")
    if st.get("may_lead_phase") and any(m in body for m in _LEADING_PHASE):
        raise _NotForNumpy("a GT field may start with a leading phase indicator (VCF 4.4)")
    buf = np.frombuffer(body, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    n_lines = len(nl)
    starts = np.empty(n_lines, dtype=np.int64)
    starts[0] = 0
    starts[1:] = nl[:-1] + 1
    if (buf[starts] == ord("#")).any():
        raise _NotForNumpy("a header line among the records")
    heads, first = _heads(body, starts, nl)

    chrom, pos, ids, ref, alt, numalt = [], [], [], [], [], []
    gt_only = True
    for h in heads:
        p = h[1]
        if not p.isdigit() or p[:1] == b"0" or len(p) > 9:
            raise _NotForNumpy("a POS that is not a positive 32-bit whole number")
        fmt = h[8]
        if fmt != b"GT":
            if not fmt.startswith(b"GT:"):
                raise _NotForNumpy("a FORMAT whose first key is not GT")
            gt_only = False
        a = h[4]
        if a == b".":
            k, first_alt = 0, ""
        else:
            alts = a.split(b",")
            if any(x in (b"", b".") for x in alts):
                raise _NotForNumpy("an empty or '.' allele in a list of ALT alleles")
            k, first_alt = len(alts), alts[0].decode()
        if h[3] in (b"", b".") or not h[0]:
            raise _NotForNumpy("an empty CHROM or REF")
        chrom.append(h[0].decode())
        pos.append(int(p))
        ids.append(h[2].decode())
        ref.append(h[3].decode())
        alt.append(first_alt)
        numalt.append(k)
    numalt_a = np.asarray(numalt, dtype=np.int64)
    st["records"] += n_lines

    keep = np.ones(n_lines, dtype=bool)
    multi = numalt_a > 1
    st["multi"] += int(multi.sum())
    if multiallelic == "drop":
        keep &= ~multi
    st["noalt"] += int((numalt_a == 0).sum())
    ref_a = np.asarray(ref, dtype=object)
    alt_a = np.asarray(alt, dtype=object)
    if snps_only:
        is_snp, symbolic = _site_classes(ref_a, alt_a, numalt_a)
        st["symbolic"] += int((keep & symbolic).sum())
        st["indel"] += int((keep & ~is_snp & ~symbolic).sum())
        keep &= is_snp

    # Fixed width: every sample field is a 3-byte GT followed by a tab (the last
    # by the line break).  Then each record's sample part is copied as is and
    # read as one little-endian uint32 per call, 4th byte dropped.  A field with
    # a tab or colon inside cannot be a valid GT: the decoder refuses it, and
    # read_vcf falls back to scikit-allel.
    keys = None
    if gt_only and bool((nl - first == _GT_ONLY_3 * n + n - 1).all()):
        rows = np.flatnonzero(keep)
        raw = np.empty((len(rows), 4 * n), dtype=np.uint8)
        for r, a in enumerate(first[rows].tolist()):
            raw[r] = buf[a : a + 4 * n]
        if n == 1 or bool((raw[:, 3 : 4 * n - 1 : 4] == 9).all()):
            keys = raw.view("<u4")
            keys &= 0x00FFFFFF
        del raw
    if keys is None:
        tabs = np.flatnonzero(buf == 9)
        if len(tabs) != n_lines * ntab:
            raise _NotForNumpy("a record has another number of columns than the #CHROM line")
        T = tabs.reshape(n_lines, ntab)
        del tabs
        if not ((T[:, 0] > starts).all() and (T[:, -1] < nl).all()):
            raise _NotForNumpy("a record has another number of columns than the #CHROM line")
        rows = np.flatnonzero(keep)
        T, nl_k = T[rows], nl[rows]
        m = len(rows)
        S = np.empty((m, n), dtype=np.int64)
        S[:, 0] = T[:, 8] + 1
        S[:, 1:] = T[:, 9:] + 1
        E = np.empty((m, n), dtype=np.int64)
        E[:, :-1] = T[:, 9:]
        E[:, -1] = nl_k
        del T
        colons = np.flatnonzero(buf == ord(":"))
        if len(colons):  # the GT ends at the first ':' of the field
            c = np.append(colons, len(buf))[np.searchsorted(colons, S)]
            np.minimum(E, c, out=E)
            del c
        length = E - S
        del E
        keys = np.zeros((m, n), dtype=np.uint32)
        pad = np.append(buf, np.zeros(4, dtype=np.uint8))
        for k in range(4):  # the first 4 bytes of the GT, zero-padded: allel's S4
            has = length > k
            if not has.any():
                break
            b = pad[S + k].astype(np.uint32)
            b[~has] = 0
            keys |= b << np.uint32(8 * k)
    if not len(rows):
        return
    gt = keys.view("S4").reshape(len(rows), n)
    chrom_a = np.asarray(chrom, dtype=object)[rows]
    pos_a = np.asarray(pos, dtype=np.int64)[rows]
    block = _decode_chunk(gt, numalt_a[rows], chrom_a, pos_a, samples, path, counts)
    blocks.append(block)
    meta.append(
        pd.DataFrame(
            {
                "chrom": chrom_a,
                "pos": pos_a,
                "id": np.asarray(ids, dtype=object)[rows],
                "ref": ref_a[rows],
                "alt": alt_a[rows],
            }
        )
    )


def _finish(
    path: Path,
    fmt: str,
    dosages: np.ndarray,
    n_kept: int,
    samples: np.ndarray,
    meta: list[pd.DataFrame],
    counts: dict[str, int],
    *,
    n_records: int,
    n_multi: int,
    n_indel: int,
    n_symbolic: int,
    n_noalt: int,
    snps_only: bool,
    multiallelic: str,
) -> Genotypes:
    """Shared by the VCF and BCF readers: checks, variant table, order, duplicates, report.

    ``dosages`` is samples x (at least ``n_kept``) int8; ``meta`` the per-chunk
    ``chrom, pos, id, ref, alt`` tables of the kept records.
    """
    if n_records == 0:
        raise InputError(f"{path}: the {fmt.upper()} has a header but no variant records")
    if n_kept == 0:
        raise InputError(
            f"{path}: no variant left after filtering ({n_records} records: {n_multi} "
            f"multi-allelic, {n_indel} indels, {n_symbolic} symbolic)"
        )
    if counts["calls_without_gt"] == n_kept * len(samples):
        raise InputError(
            f"{path}: no record has a GT field; genotypes are needed (dosages in DS only, as "
            f"from imputation: `plink2 --{fmt} {path.name} dosage=DS --make-pgen --out NEW` "
            "makes a .pgen from them, which snpcnn reads, each dosage rounded to 0/1/2)"
        )

    dosages = _shrink_columns(dosages, n_kept)

    variants = pd.concat(meta, ignore_index=True)
    variants["chrom"] = variants["chrom"].astype(str)
    variants["alt"] = variants["alt"].fillna("").astype(str)
    variants["ref"] = variants["ref"].fillna("").astype(str)
    ids = variants["id"].astype(object)
    no_id = ids.isna() | ids.isin([".", ""])
    if no_id.any():
        ids = ids.where(~no_id, variants["chrom"] + ":" + variants["pos"].astype(str))
    variants["id"] = ids.astype(str)
    if variants["pos"].lt(0).any():  # scikit-allel reads an unparsable POS as -1 or 0
        i = int(np.flatnonzero(variants["pos"].lt(0).to_numpy())[0])
        raise InputError(
            f"{path}: record {variants['chrom'].iloc[i]} ({variants['id'].iloc[i]}): POS is not "
            "a positive whole number; fix the POS column"
        )

    from snpcnn.io._checks import sort_order, unsorted_at, warn_duplicates

    extra: dict = {}
    bad = unsorted_at(variants)
    if bad is not None:
        v = variants
        order = sort_order(v)
        warnings.warn(
            f"{path}: records are not sorted by position ({v['chrom'].iloc[bad]}:"
            f"{v['pos'].iloc[bad]} comes after {v['chrom'].iloc[bad - 1]}:{v['pos'].iloc[bad - 1]});"
            " snpcnn sorted them by chromosome (in order of first appearance) and position, "
            "because SNP order feeds the convolutions; sort the file with `bcftools sort -Oz -o "
            f"sorted.vcf.gz {path.name}` to silence this",
            InputWarning,
            stacklevel=3,
        )
        dosages = np.ascontiguousarray(dosages[:, order])
        variants = variants.iloc[order].reset_index(drop=True)
        extra["sorted_by_snpcnn"] = True
    extra.update(
        warn_duplicates(
            path,
            variants,
            id_fix="e.g. `bcftools annotate --set-id '%CHROM:%POS:%REF:%FIRST_ALT'`",
            pos_fix="merge or drop them with `bcftools norm -m +any` or `bcftools norm -d exact`",
        )
    )

    report = {
        "format": fmt,
        "records": n_records,
        "snps_kept": n_kept,
        "multiallelic_dropped" if multiallelic == "drop" else "multiallelic_kept_alt1": n_multi,
    }
    if snps_only:
        report["indels_dropped"] = n_indel
        report["symbolic_dropped"] = n_symbolic
    if n_noalt:
        report["sites_without_alt"] = n_noalt
    for k, v in counts.items():
        if v or k == "haploid_calls":
            report[k] = v
    if multiallelic == "drop":
        report.pop("other_alt_calls", None)
    report.update(extra)
    return Genotypes(dosages, samples, variants, source=str(path), report=report)


def _damaged(exc: BaseException) -> str:
    """The reason, and for decompression errors what it means."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, (EOFError, zlib.error, gzip.BadGzipFile)) or "gzip" in text.lower():
        return f"{text}; the compressed file is cut short or damaged: download or copy it again"
    return text


_LEADING_PHASE = (b"\t|", b"\t/", b":|", b":/")
_FILEFORMAT = re.compile(rb"##fileformat=VCFv(\d+)\.(\d+)")


def _may_lead_phase(first_line: bytes) -> bool:
    """Whether a VCF whose first line is ``first_line`` may hold VCF 4.4's leading phase
    indicator (``|1``, ``/0|1``): only files declaring VCF 4.4 or later.  Searching every
    file's text for it (a tab is every fourth byte) cost the bulk parser 2-3x its time."""
    m = _FILEFORMAT.match(first_line)
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (4, 4)


def _count_records(path: Path, n_fields: int | None = None, seen: dict | None = None) -> int:
    """Lines not starting with '#' in the decompressed file (an upper bound on records).

    Only sizes the output matrix: a miscount costs a copy, never a wrong value.
    Header lines are counted only until the first data line.  The same pass
    checks what scikit-allel would accept without a word: every record's POS
    must be a positive whole number (it reads ``12x`` as 12 and ``x`` as 0), a
    record must have ``n_fields`` tab-separated fields (it fills absent sample
    columns with missing calls), and the last line must end with a line break
    (else it was probably cut short mid-record).  ``seen["leading_phase"]`` is set when a
    field may start with a VCF 4.4 leading phase indicator (``|1``, ``/0|1``).
    """
    n_lines = n_hash = 0
    prev = b"\n"
    in_header = True
    carry = b""
    with _open_binary(path) as fh:
        while block := fh.read(1 << 20):
            n_lines += block.count(b"\n")
            if in_header:
                n_hash += block.count(b"\n#") + (prev == b"\n" and block[:1] == b"#")
                in_header = re.search(rb"\n[^#]", block) is None
            prev = block[-1:]
            text = carry + block
            cut = text.rfind(b"\n") + 1
            _check_lines(path, text[:cut], n_lines - text[:cut].count(b"\n"), n_fields)
            if seen is not None and any(m in text for m in _LEADING_PHASE):
                seen["leading_phase"] = True
            carry = text[cut:]
    if carry:
        _check_lines(path, carry + b"\n", n_lines, n_fields)
        if not carry.startswith(b"#"):
            raise InputError(
                f"{path}: the last line (line {n_lines + 1}) does not end with a line break, so "
                "the file looks cut short; get a complete copy (or add the final line break if "
                "the record is complete)"
            )
    return n_lines + (prev != b"\n") - n_hash


def _check_lines(path: Path, text: bytes, lines_before: int, n_fields: int | None) -> None:
    """Each data line of ``text`` (whole lines) has ``n_fields`` fields and a valid POS.

    One ``bytes.count`` and one short split per line: far cheaper than the
    parse itself, even with thousands of samples per line.
    """
    for k, line in enumerate(text.split(b"\n")[:-1]):
        if not line or line == b"\r" or line[:1] == b"#":
            continue  # a blank line is skipped (see _NoBlankLines)
        if line[:1] == b"\t":
            raise InputError(
                f"{path}: line {lines_before + k + 1}: the CHROM field is empty (the line starts "
                "with a tab); fill in the chromosome of this record or delete the line"
            )
        n = line.count(b"\t") + 1
        parts = line.split(b"\t", 2)
        where = b":".join(parts[:2]).decode("utf-8", "replace")[:60]
        if n_fields is not None and n > n_fields:
            raise InputError(
                f"{path}: line {lines_before + k + 1}: record {where} has more sample columns "
                f"than the #CHROM line names ({n - 9} vs {n_fields - 9}); fix the header (every "
                "data line needs one column per sample)"
            )
        if n_fields is not None and n < n_fields:
            raise InputError(
                f"{path}: line {lines_before + k + 1} (record {where}) has {n} tab-separated "
                f"fields but the #CHROM line announces {n_fields} (9 fixed + {n_fields - 9} "
                "samples); every record needs one column per sample: the line is cut short or "
                "damaged"
            )
        pos = parts[1] if len(parts) > 1 else b""
        if not pos.isdigit() or pos[:1] == b"0":
            chrom = parts[0].decode("utf-8", "replace")[:40]
            value = pos.decode("utf-8", "replace")[:40]
            raise InputError(
                f"{path}: line {lines_before + k + 1} (CHROM {chrom}): POS '{value}' is not a "
                "positive whole number; fix the POS column (1-based positions, digits only)"
            )


def _shrink_columns(a: np.ndarray, k: int) -> np.ndarray:
    """The first ``k`` columns of a C-order matrix, compacted in place (no second copy)."""
    n, m = a.shape
    if k == m:
        return a
    flat = a.reshape(-1)
    for i in range(1, n):  # row i moves from i*m to i*k <= i*m: forward copies never clobber
        flat[i * k : (i + 1) * k] = flat[i * m : i * m + k]
    return flat[: n * k].reshape(n, k)


def _raise_on_sample_warning(caught: list, path: Path) -> None:
    for w in caught:
        msg = str(w.message).replace("\x00", "")
        if "more samples than given in header" in msg:
            where = msg.split("variant:", 1)[-1].split(";")[0].strip()
            if "(" in where:  # "0 (19 :111)" -> "19:111"
                where = where.split("(", 1)[1].rstrip(")").replace(" :", ":").strip()
            raise InputError(
                f"{path}: record {where} has more sample columns than the #CHROM line names; "
                "fix the header (every data line needs one column per sample)"
            )
    caught.clear()
