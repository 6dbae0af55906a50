"""BCF (binary VCF) genotypes -> :class:`~snpcnn.genotypes.Genotypes`, through htslib (cyvcf2).

htslib decodes each record's GT into integer alleles (``-1`` = missing allele
``.``, ``-2`` = vector end, i.e. an absent allele of a lower-ploidy call);
cyvcf2 hands them over per record as one small int16 array
(``variant.genotype.array()``); diploid records are stacked in batches of
about 8 MiB and decoded by numpy in one go into int8 dosage rows.
The rules are those of the VCF reader (:mod:`snpcnn.io.vcf`, ``docs/io.md``):
the same dosages, missing calls, haploid coding, ploidy error, multi-allelic
handling, ``snps_only``, sorting, duplicate warnings and load report, so a BCF
and the VCF it was made from give the same container (tested).
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.io.vcf import MULTIALLELIC_MODES, _finish, _site_classes, _transpose_into

__all__ = ["read_bcf", "is_bcf"]

_VECTOR_END = -2
_CHUNK = 4096  # records whose metadata is collected before one DataFrame is built


def is_bcf(path: str | os.PathLike) -> bool:
    """True if ``path`` starts (after BGZF decompression) with the BCF magic ``BCF\\2``."""
    from snpcnn.io._checks import file_head

    return file_head(path, 4)[:3] == b"BCF"


def _decode(
    arr: np.ndarray, nalt: np.ndarray, where: str, samples: np.ndarray, path: Path, counts: dict
) -> np.ndarray:
    """htslib alleles of k records (k x samples x (ploidy + 1), last = phase) -> k x samples int8.

    ``nalt``: ALT alleles per record; ``where``: ``chrom:pos`` for the ploidy
    error (only records of ploidy above 2 come one at a time).
    """
    alleles = arr[..., :-1]
    if alleles.shape[-1] > 2:
        extra = (alleles[..., 2:] != _VECTOR_END).any(axis=-1)
        if extra.any():
            r, s = (int(x[0]) for x in np.nonzero(extra))
            shown = "/".join("." if a == -1 else str(a) for a in alleles[r, s] if a != _VECTOR_END)
            raise InputError(
                f"{path}: record {where}, sample {samples[s]}: GT '{shown}' has ploidy above 2; "
                "snpcnn holds diploid dosages 0/1/2 only, from every format (a table of 0-4 "
                "dosages is refused too): remove the polyploid records or samples first"
            )
    a0 = alleles[..., 0]
    a1 = alleles[..., 1] if alleles.shape[-1] > 1 else np.full_like(a0, _VECTOR_END)
    empty = a0 == _VECTOR_END
    hap = (a1 == _VECTOR_END) & ~empty
    missing = empty | (a0 == -1) | (a1 == -1)
    high = np.maximum(a0, a1)
    invalid = ~missing & (high > np.asarray(nalt)[:, None])
    other = ~missing & ~invalid & (high > 1)
    dos = (a0 == 1).astype(np.int8) + (a1 == 1)
    dos[hap] *= 2
    dos[missing | invalid | other] = -1
    counts["calls_without_gt"] += int(empty.sum())
    # as the VCF reader counts them: haploid 0/1 calls, even where allele 1 is invalid (ALT '.')
    counts["haploid_calls"] += int((hap & ~missing & (high <= 1)).sum())
    counts["invalid_allele_calls"] += int(invalid.sum())
    counts["other_alt_calls"] += int(other.sum())
    return dos


#: htslib's default log level (HTS_LOG_WARNING), set back after a read unless cyvcf2's
#: ``CYVCF2_HTSLIB_LOG_LEVEL`` named another
_HTSLIB_DEFAULT_LOG = 3
_QUIET_LOCK = threading.Lock()
_quiet_depth = 0


def _htslib_log_level() -> int:
    """The level to restore: the user's ``CYVCF2_HTSLIB_LOG_LEVEL`` (which cyvcf2 applies at
    import, 0.33 and later), else htslib's default."""
    try:
        return int(os.environ.get("CYVCF2_HTSLIB_LOG_LEVEL", _HTSLIB_DEFAULT_LOG))
    except ValueError:
        return _HTSLIB_DEFAULT_LOG


def _htslib_quiet(read):
    """Run ``read`` with htslib's own messages off: every failure it reports (a cut block, a
    bad header) reaches the user as the reader's one-line error, not as ``[E::bgzf_read]``
    lines before it.  The level is the process's: reads in several threads keep it off
    until the last one ends.  cyvcf2 before 0.33 cannot set it, and then prints them."""

    @functools.wraps(read)
    def quiet(*args, **kwargs):
        global _quiet_depth
        try:
            from cyvcf2.cyvcf2 import set_htslib_log_level
        except ImportError:  # cyvcf2 < 0.33
            return read(*args, **kwargs)
        with _QUIET_LOCK:
            _quiet_depth += 1
            if _quiet_depth == 1:
                set_htslib_log_level(0)
        try:
            return read(*args, **kwargs)
        finally:
            with _QUIET_LOCK:
                _quiet_depth -= 1
                if _quiet_depth == 0:
                    set_htslib_log_level(_htslib_log_level())

    return quiet


@_htslib_quiet
def read_bcf(
    path: str | os.PathLike,
    *,
    snps_only: bool = False,
    multiallelic: str = "drop",
) -> Genotypes:
    """Read a BCF file into an int8 samples x SNPs container (same rules as :func:`read_vcf`).

    Parameters
    ----------
    path : path-like
        A ``.bcf`` (BGZF-compressed or uncompressed BCF 2).
    snps_only, multiallelic
        As in :func:`snpcnn.io.vcf.read_vcf`.

    Returns
    -------
    Genotypes
        ``report["format"] == "bcf"``; otherwise identical to reading the VCF
        the BCF was made from.
    """
    from cyvcf2 import VCF

    path = Path(path)
    if multiallelic not in MULTIALLELIC_MODES:
        raise InputError(
            f"invalid value for `multiallelic`: {multiallelic!r}; choose one of "
            f"{', '.join(MULTIALLELIC_MODES)}"
        )
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes); expected a BCF")
    if not is_bcf(path):
        raise InputError(
            f"{path}: not a BCF file (no BCF magic bytes); if it is a text VCF, name it .vcf or "
            ".vcf.gz, or pass --format vcf"
        )
    try:
        reader = VCF(str(path), lazy=True)
    except Exception as exc:  # htslib reports through OSError / generic Exception
        raise InputError(
            f"{path}: not a readable BCF ({exc}); if the file was cut short or damaged in a "
            "copy, get a complete one"
        ) from None
    try:
        samples = np.asarray(reader.samples, dtype=object)
        if len(samples) == 0:
            raise InputError(f"{path}: sites-only BCF (no samples); genotypes are needed")
        uniq, cnt = np.unique(samples.astype(str), return_counts=True)
        if (cnt > 1).any():
            raise InputError(
                f"{path}: sample '{uniq[cnt > 1][0]}' appears {cnt[cnt > 1][0]} times in the "
                "header; sample names must be unique (rename with `bcftools reheader -s`)"
            )
        n_smp = len(samples)
        counts = dict.fromkeys(
            ("haploid_calls", "invalid_allele_calls", "other_alt_calls", "calls_without_gt"), 0
        )
        n_records = n_multi = n_indel = n_symbolic = n_noalt = 0
        blocks: list[np.ndarray] = []  # decoded records x samples int8
        meta: list[pd.DataFrame] = []
        cols: dict[str, list] = {k: [] for k in ("chrom", "pos", "id", "ref", "alt")}
        missing_row = np.full((1, n_smp), -1, dtype=np.int8)
        # diploid records (the usual kind) are decoded in batches of about 8 MiB
        batch = np.empty((max(1, (8 << 20) // (6 * n_smp)), n_smp, 3), dtype=np.int16)
        pend_nalt: list[int] = []

        def flush_gt() -> None:
            if pend_nalt:
                k = len(pend_nalt)
                blocks.append(_decode(batch[:k], np.array(pend_nalt), "", samples, path, counts))
                pend_nalt.clear()

        def flush() -> None:
            if cols["chrom"]:
                meta.append(pd.DataFrame(cols))
                for v in cols.values():
                    v.clear()

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            it = iter(reader)
            while True:
                try:
                    v = next(it)
                except StopIteration:
                    break
                except Exception as exc:
                    raise InputError(
                        f"{path}: damaged BCF after record {n_records} ({exc}); get a complete copy"
                    ) from None
                n_records += 1
                alts = v.ALT
                nalt = len(alts)
                ref, alt = v.REF, (alts[0] if alts else "")
                if nalt > 1:
                    n_multi += 1
                    if multiallelic == "drop":
                        continue
                if nalt == 0:
                    n_noalt += 1
                if snps_only:
                    is_snp, symbolic = _site_classes(
                        np.array([ref], dtype=object),
                        np.array([alt], dtype=object),
                        np.array([nalt]),
                    )
                    if not is_snp[0]:
                        n_symbolic += int(symbolic[0])
                        n_indel += int(not symbolic[0])
                        continue
                chrom, pos = v.CHROM, v.POS
                try:
                    gt = v.genotype
                except Exception:  # cyvcf2: "couldn't get genotypes" = no GT in FORMAT
                    gt = None
                if gt is None:
                    flush_gt()
                    counts["calls_without_gt"] += n_smp
                    blocks.append(missing_row)
                else:
                    a = gt.array()
                    if a.shape[1] == 3:
                        batch[len(pend_nalt)] = a
                        pend_nalt.append(nalt)
                        if len(pend_nalt) == len(batch):
                            flush_gt()
                    else:  # haploid-only or polyploid record: alone
                        flush_gt()
                        blocks.append(
                            _decode(
                                a[None], np.array([nalt]), f"{chrom}:{pos}", samples, path, counts
                            )
                        )
                cols["chrom"].append(chrom)
                cols["pos"].append(pos)
                cols["id"].append(v.ID)
                cols["ref"].append(ref)
                cols["alt"].append(alt)
                if len(cols["chrom"]) >= _CHUNK:
                    flush()
        flush_gt()
        flush()
    finally:
        reader.close()

    n_kept = sum(len(b) for b in blocks)
    dosages = np.empty((n_smp, max(n_kept, 1)), dtype=np.int8)
    j = 0
    for k in range(len(blocks)):  # records x samples blocks, transposed into place
        _transpose_into(dosages, j, blocks[k])
        j += len(blocks[k])
        blocks[k] = None  # type: ignore[call-overload]
    if multiallelic == "drop":
        counts["other_alt_calls"] = 0
    return _finish(
        path,
        "bcf",
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
