"""PLINK 1 binary genotypes (``.bed/.bim/.fam``) -> :class:`~snpcnn.genotypes.Genotypes`.

Orientation: the dosage counts PLINK's **A1** allele (column 5 of the .bim),
as bed-reader's ``count_A1=True`` counts it; ``variants.alt`` is A1 and
``variants.ref`` is A2.  This matches a VCF written by ``plink --recode vcf``
only when A1 is the ALT allele there; snpcnn never flips alleles silently.

A SNP-major .bed (the usual kind) is decoded by pgenlib straight into the
final C-order samples x SNPs int8 matrix; a legacy individual-major .bed is
read by bed-reader.

The .bim and .fam are parsed here (not by bed-reader) so that a malformed
line gives a one-line error naming the file and line.  The .bed header and
size are checked against them before any genotype is read.  Both SNP-major
(mode byte 0x01, the usual one) and legacy individual-major (0x00) files are
read.

Sample ids are the IIDs.  When IIDs repeat across families, ids become
``FID_IID`` and the report says so.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, InputWarning, opt
from snpcnn.genotypes import Genotypes
from snpcnn.io._alloc import empty_int8

__all__ = ["read_plink", "plink_paths", "read_bim", "read_fam"]

_MAGIC = b"\x6c\x1b"


def fileset_path(prefix: Path, ext: str, case: str = "") -> Path:
    """``prefix`` + ``ext`` as it exists on disk: lower case, else upper case (``UP.BED``),
    else in the case of ``case`` (the extension the user gave), else lower case."""
    options = [ext, ext.upper()]
    if case.isupper():
        options.reverse()
    for e in options:
        q = prefix.with_name(prefix.name + e)
        if q.exists():
            return q
    return prefix.with_name(prefix.name + options[0])


def plink_paths(path: str | os.PathLike) -> tuple[Path, Path, Path]:
    """The ``(.bed, .bim, .fam)`` paths for a prefix or any one of the three files (the
    extension in any case: ``UP.BED`` names the fileset ``UP``)."""
    p = Path(path)
    given = ""
    if p.suffix.lower() in (".bed", ".bim", ".fam"):
        prefix, given = p.with_suffix(""), p.suffix
    else:
        prefix = p
    return tuple(fileset_path(prefix, e, given) for e in (".bed", ".bim", ".fam"))  # type: ignore[return-value]


def _read_columns(path: Path, n_cols: int, what: str) -> np.ndarray:
    """Whitespace-separated text with exactly ``n_cols`` columns -> object array of str.

    Blank lines are skipped; any other line with another number of columns is
    an error naming the line.  (Plain ``str.split`` is several times faster
    than pandas here and gives exact line numbers.)
    """
    if not path.exists():
        raise InputError(f"{path}: no such file; a PLINK fileset needs .bed, .bim and .fam")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        from snpcnn.io._checks import not_utf8

        raise InputError(f"{what} file {not_utf8(path, exc)}") from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise InputError(f"{path}: empty {what} file")
    from snpcnn.io._checks import warn_if_no_final_newline

    warn_if_no_final_newline(path, text)
    tokens = text.split()
    if len(tokens) != n_cols * len(lines):
        for i, line in enumerate(text.splitlines()):
            n = len(line.split())
            if n and n != n_cols:
                raise InputError(
                    f"{path}: line {i + 1} has {n} columns; a {what} line has {n_cols} columns"
                )
    return np.asarray(tokens, dtype=object).reshape(len(lines), n_cols)


def _numeric_column(path: Path, col: np.ndarray, dtype, label: str, column: int) -> np.ndarray:
    try:
        return col.astype(dtype)
    except (ValueError, OverflowError):
        pass
    for i, v in enumerate(col):
        try:
            dtype(v)
        except (ValueError, OverflowError):
            kind = "an integer" if dtype is np.int64 else "a number"
            raise InputError(
                f"{path}: line {i + 1}: {label} '{v}' is not {kind} (column {column} of a "
                ".bim line)"
            ) from None
    raise InputError(f"{path}: column {column} is not numeric")


def read_bim(path: str | os.PathLike) -> pd.DataFrame:
    """Read a .bim file into ``chrom, id, cm, pos, a1, a2`` with line-level errors."""
    path = Path(path)
    a = _read_columns(path, 6, ".bim")
    cm = _numeric_column(path, a[:, 2], np.float64, "genetic position", 3)
    pos = _numeric_column(path, a[:, 3], np.int64, "base-pair position", 4)
    return pd.DataFrame(
        {"chrom": a[:, 0], "id": a[:, 1], "cm": cm, "pos": pos, "a1": a[:, 4], "a2": a[:, 5]}
    )


def read_fam(path: str | os.PathLike) -> pd.DataFrame:
    """Read a .fam file into ``fid, iid, father, mother, sex, pheno`` (all strings)."""
    path = Path(path)
    a = _read_columns(path, 6, ".fam")
    return pd.DataFrame(a, columns=["fid", "iid", "father", "mother", "sex", "pheno"])


def _check_bed_header(bed: Path) -> int:
    """Validate the magic bytes and mode byte; return the mode (1 or 0)."""
    if not bed.exists():
        raise InputError(f"{bed}: no such file; a PLINK fileset needs .bed, .bim and .fam")
    size = bed.stat().st_size
    if size == 0:
        raise InputError(f"{bed}: empty file (0 bytes); expected a PLINK .bed")
    with open(bed, "rb") as fh:
        head = fh.read(3)
    if head[:2] != _MAGIC or len(head) < 3:
        raise InputError(
            f"{bed}: not a PLINK 1 .bed file (magic bytes {head[:3].hex()} instead of 6c1b01); "
            "for PLINK 2 give the .pgen (read as is); text .ped files must be converted with "
            "`plink --file PREFIX --make-bed`"
        )
    mode = head[2]
    if mode not in (0, 1):
        raise InputError(
            f"{bed}: unknown .bed mode byte 0x{mode:02x} (expected 0x01 SNP-major or 0x00 "
            "individual-major); the file is damaged"
        )
    return mode


def _check_bed_size(bed: Path, mode: int, n_samples: int, n_snps: int) -> None:
    """The .bed must hold exactly the genotypes its .fam and .bim announce."""
    size = bed.stat().st_size
    if mode == 1:
        expected = 3 + n_snps * ((n_samples + 3) // 4)
    else:
        expected = 3 + n_samples * ((n_snps + 3) // 4)
    if size != expected:
        kind = "truncated" if size < expected else "too long"
        raise InputError(
            f"{bed}: {kind}: {size} bytes, but {n_samples} samples (.fam) x {n_snps} SNPs (.bim) "
            f"need {expected}; the .bed does not match its .bim/.fam or was cut short"
        )


def _check_bed_padding(bed: Path, fam: Path, mode: int, n_samples: int, n_snps: int) -> None:
    """The unused 2-bit slots after the last sample of each SNP block must be 0.

    PLINK writes them as 0; genotypes there mean the .fam lists fewer samples
    than the .bed was written for (a lost .fam line keeps the .bed size when
    the sample count stays within the same 4-sample byte), which would shift
    every genotype to another sample.  The first 4096 SNP blocks are checked.
    """
    n_major, n_minor = (n_snps, n_samples) if mode == 1 else (n_samples, n_snps)
    rest = n_minor % 4
    if rest == 0 or n_major == 0:
        return
    per = (n_minor + 3) // 4
    k = min(n_major, 4096)
    raw = np.fromfile(bed, dtype=np.uint8, count=3 + k * per)[3:].reshape(k, per)
    if (raw[:, -1] >> (2 * rest)).any():
        what = (".fam", "samples", fam) if mode == 1 else (".bim", "SNPs", None)
        raise InputError(
            f"{fam if mode == 1 else bed}: the .bed holds genotypes beyond the {n_minor} "
            f"{what[1]} that the {what[0]} lists (in the unused bits of each byte row): a "
            f"{what[0]} line is missing, or the files do not belong together"
        )


def _read_snp_major_pgenlib(bed: Path, n_smp: int, n_snp: int) -> np.ndarray:
    """int8 samples x SNPs in C order straight from a SNP-major .bed, missing = -1.

    pgenlib (PLINK 2's reader, which also opens PLINK 1 .bed files) decodes and
    transposes the 2-bit genotypes in compiled code directly into the final
    C-order int8 matrix (``read_range(..., sample_maj=True)``): no second copy,
    about as fast as bed-reader's Fortran-order int8 read.  Its allele index 1
    is the .bim's fifth column (A1), so the dosage counts A1 as before.
    """
    import pgenlib

    out = empty_int8((n_smp, n_snp))
    reader = pgenlib.PgenReader(os.fsencode(bed), raw_sample_ct=n_smp, variant_ct=n_snp)
    try:
        reader.read_range(0, n_snp, out, allele_idx=1, sample_maj=True)
    finally:
        reader.close()
    np.maximum(out, -1, out=out)  # pgenlib's missing (-9) -> -1, in place
    return out


def _read_sample_major(b, mode: int, n_smp: int, n_snp: int, num_threads) -> np.ndarray:
    """int8 samples x SNPs in C order with bed-reader, missing = -1 (used for mode 0).

    A SNP-major .bed is read in blocks of SNPs (bed-reader's fast Fortran-order
    read, ~4 MiB per block), each block transposed into the C-order result tile
    by tile.  Only used when pgenlib is not available.
    """
    if mode == 0 or n_snp == 0:  # individual-major: the file is already sample-major
        out = b.read(dtype="int8", order="C", num_threads=num_threads)
        np.maximum(out, -1, out=out)  # bed-reader's missing (-127) -> -1, in place
        return out
    out = empty_int8((n_smp, n_snp))
    step = int(np.clip((4 << 20) // max(n_smp, 1), 64, 8192))
    for j in range(0, n_snp, step):
        block = b.read(
            index=np.s_[:, j : j + step], dtype="int8", order="F", num_threads=num_threads
        )
        np.maximum(block, -1, out=block)  # bed-reader's missing (-127) -> -1, in place
        for i in range(0, n_smp, 256):  # 256-row tiles keep both sides of the copy in cache
            out[i : i + 256, j : j + step] = block[i : i + 256]
    return out


def read_plink(
    path: str | os.PathLike,
    *,
    bim: str | os.PathLike | None = None,
    fam: str | os.PathLike | None = None,
    num_threads: int | None = None,
) -> Genotypes:
    """Read a PLINK 1 fileset (prefix, or the path of any of its three files).

    Parameters
    ----------
    path : path-like
        ``data`` or ``data.bed`` (or ``.bim``/``.fam``).
    bim, fam : path-like, optional
        Sidecar files with other names.
    num_threads : int, optional
        Threads for bed-reader (default: all).

    Returns
    -------
    Genotypes
        Dosage = copies of A1 (``variants.alt``); ``variants.ref`` is A2;
        ``variants["cm"]`` keeps the genetic position.

    Examples
    --------
    >>> g = read_plink("example_data/wheat")  # doctest: +SKIP
    >>> g.variants["alt"].iloc[0]  # doctest: +SKIP
    'C'
    """
    from bed_reader import open_bed

    bed_p, bim_p, fam_p = plink_paths(path)
    bim_p = Path(bim) if bim is not None else bim_p
    fam_p = Path(fam) if fam is not None else fam_p
    if not bed_p.exists():
        given = Path(path)
        if given.is_file() and given.suffix.lower() not in (".bed", ".bim", ".fam"):
            raise InputError(
                f"{given}: read as PLINK ({opt('format', 'plink')}), but it is not a "
                f".bed/.bim/.fam file; leave {opt('format')} out (the format is detected from "
                "the name) or give "
                "the one it is"
            )
        raise InputError(f"{bed_p}: no such file; give a PLINK prefix or the .bed path")
    mode = _check_bed_header(bed_p)
    fam_df = read_fam(fam_p)
    bim_df = read_bim(bim_p)
    n_smp, n_snp = len(fam_df), len(bim_df)
    _check_bed_size(bed_p, mode, n_smp, n_snp)
    _check_bed_padding(bed_p, fam_p if mode == 1 else bim_p, mode, n_smp, n_snp)

    dosages = None
    if mode == 1 and n_snp > 0 and n_smp > 0:
        try:
            dosages = _read_snp_major_pgenlib(bed_p, n_smp, n_snp)
        except ImportError:
            dosages = None
    if dosages is None:
        with open_bed(
            bed_p,
            iid_count=n_smp,
            sid_count=n_snp,
            count_A1=True,
            num_threads=num_threads,
            properties={"iid": fam_df["iid"].to_numpy(), "sid": bim_df["id"].to_numpy()},
        ) as b:
            dosages = _read_sample_major(b, mode, n_smp, n_snp, num_threads)

    report: dict = {"format": "plink", "bed_mode": "snp-major" if mode == 1 else "individual-major"}
    iid = fam_df["iid"].astype(str)
    fid = fam_df["fid"].astype(str)
    if iid.duplicated().any():
        ids = fid + "_" + iid
        if ids.duplicated().any():
            from snpcnn.io._checks import repeated_sample

            raise InputError(repeated_sample(fam_p, ids, "FID_IID"))
        report["sample_ids"] = "FID_IID (IIDs repeat across families)"
        samples = ids.to_numpy()
    else:
        samples = iid.to_numpy()
        n_diff = int((fid != iid).sum())
        if n_diff:
            report["fid_differs_from_iid"] = n_diff
    variants = pd.DataFrame(
        {
            "chrom": bim_df["chrom"].astype(str),
            "pos": bim_df["pos"],
            "id": bim_df["id"].astype(str),
            "ref": bim_df["a2"].astype(str),
            "alt": bim_df["a1"].astype(str),
            "cm": bim_df["cm"],
        }
    )
    from snpcnn.io._checks import unsorted_at, warn_duplicates

    bad = unsorted_at(variants)
    if bad is not None:
        v = variants
        warnings.warn(
            f"{bim_p}: line {bad + 1}: SNP {v['id'].iloc[bad]} at {v['chrom'].iloc[bad]}:"
            f"{v['pos'].iloc[bad]} comes after {v['chrom'].iloc[bad - 1]}:{v['pos'].iloc[bad - 1]}; "
            "the SNPs are used in file order, which feeds the convolutions: sort the fileset with "
            "`plink --bfile PREFIX --make-bed --out SORTED` (PLINK sorts by position)",
            InputWarning,
            stacklevel=2,
        )
        report["unsorted"] = True
    report.update(
        warn_duplicates(
            bim_p,
            variants,
            id_fix="e.g. `plink2 --bfile PREFIX --set-all-var-ids '@:#:$r:$a' --make-bed`",
            pos_fix="drop them with `plink --bfile PREFIX --list-duplicate-vars` and --exclude",
        )
    )
    return Genotypes(dosages, samples, variants, source=str(bed_p.with_suffix("")), report=report)
