"""The `Genotypes` container: int8 dosages (samples x SNPs, missing = -1), ids and variants.

Every loader in :mod:`snpcnn.io` returns this one container, in one orientation
(samples are rows).  Dosages stay int8 (1 byte per genotype) for the whole life of
the object; float copies are only ever made per batch (see :func:`encode`).

Orientation
-----------
The dosage counts copies of the allele in ``variants["alt"]`` (the *counted*
allele): the VCF ALT allele, or PLINK's A1.  ``variants["ref"]`` is the other
allele (VCF REF, PLINK A2).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, check_real

__all__ = [
    "Genotypes",
    "MISSING",
    "VARIANT_COLUMNS",
    "ENCODINGS",
    "encode",
    "n_channels",
]

MISSING = -1
VARIANT_COLUMNS = ("chrom", "pos", "id", "ref", "alt")
ENCODINGS = ("dosage", "onehot")

# Rows processed at a time by the chunked statistics; bounds temporary memory to
# about _CHUNK_BYTES per pass whatever the matrix size.
_CHUNK_BYTES = 64 * 1024 * 1024


def _as_variant_table(variants: pd.DataFrame | None, n_snps: int) -> pd.DataFrame:
    if variants is None:
        variants = pd.DataFrame({"id": [f"snp{i + 1}" for i in range(n_snps)]})
    variants = pd.DataFrame(variants).reset_index(drop=True).copy()
    if len(variants) != n_snps:
        raise InputError(
            f"variant table has {len(variants)} rows but the dosage matrix has {n_snps} SNP columns"
        )
    defaults = {"chrom": "0", "pos": 0, "id": None, "ref": "", "alt": ""}
    for col in VARIANT_COLUMNS:
        if col not in variants:
            variants[col] = defaults[col]
    if variants["id"].isna().any():
        missing = variants["id"].isna().to_numpy()
        variants.loc[missing, "id"] = [f"snp{i + 1}" for i in np.flatnonzero(missing)]
    variants["chrom"] = variants["chrom"].astype(str)
    raw_pos = variants["pos"]
    # blank, '.' and 'NA' are unknown positions (0), as a missing value is
    unknown = raw_pos.isna() | raw_pos.astype(str).str.strip().str.upper().isin(
        ["", ".", "NA", "NAN", "NONE", "<NA>"]
    )
    pos = pd.to_numeric(raw_pos.where(~unknown, 0), errors="coerce")
    num = pos.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(num) | (num != np.round(num))
    if bad.any():
        # 'x' was read as position 0 and 1.5 as 1 without a word (a checking helper, session 50)
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"variant table: pos '{raw_pos.iloc[i]}' (row {i}, counting from 0) is not a whole "
            "number; give base-pair positions, or 0 where unknown"
        )
    variants["pos"] = pos.astype(np.int64)
    for col in ("id", "ref", "alt"):
        variants[col] = variants[col].astype(str)
    extra = [c for c in variants.columns if c not in VARIANT_COLUMNS]
    return variants[list(VARIANT_COLUMNS) + extra]


def _snp_order(dosages) -> dict | None:
    """:func:`snpcnn.ldorder.panel_order` of a matrix with at least 3 samples and SNPs."""
    if dosages.shape[0] < 3 or dosages.shape[1] < 3:
        return None
    from snpcnn.ldorder import panel_order

    return panel_order(dosages)


@dataclass
class Genotypes:
    """Genotype dosages of ``n_samples`` individuals at ``n_snps`` variants.

    Parameters
    ----------
    dosages : array of int8, shape (n_samples, n_snps)
        Copies of the counted allele (0, 1, 2); -1 where missing.  May be a
        read-only ``np.memmap`` (from the cache); it is never copied to float.
    samples : sequence of str
        Sample ids, one per row; must be unique.
    variants : DataFrame
        One row per column of ``dosages`` with at least ``chrom, pos, id, ref, alt``;
        ``alt`` is the counted allele.
    source : str, optional
        Where the data came from (a path), for reports and provenance.
    report : dict
        What the loader did (records read, multi-allelic sites dropped, ...).

    Examples
    --------
    >>> g = Genotypes(np.array([[0, 1, 2], [2, -1, 0]], dtype=np.int8), ["a", "b"])
    >>> g.shape
    (2, 3)
    >>> g.call_rate_snp().tolist()
    [1.0, 0.5, 1.0]
    """

    dosages: np.ndarray
    samples: np.ndarray
    variants: pd.DataFrame = None  # type: ignore[assignment]
    source: str | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = self.dosages
        if not isinstance(d, np.ndarray):
            d = np.asarray(d)
        if d.ndim != 2:
            raise InputError(f"dosages must be a 2-D samples x SNPs matrix, got shape {d.shape}")
        if d.dtype != np.int8:
            if d.dtype == bool or not (
                np.issubdtype(d.dtype, np.integer) or np.issubdtype(d.dtype, np.floating)
            ):
                raise InputError(
                    f"dosages must be numbers 0, 1, 2 (-1 or NaN = missing), got dtype {d.dtype}"
                )
            if np.issubdtype(d.dtype, np.floating):
                d = np.where(np.isnan(d), MISSING, d)
            bad = ~np.isin(d, (MISSING, 0, 1, 2))
            if bad.any():
                r, c = np.argwhere(bad)[0]
                raise InputError(
                    f"dosages must be 0, 1 or 2 (-1 or NaN = missing); row {r}, column {c} is "
                    f"{float(d[r, c]):g} ({int(bad.sum())} such values): round imputed dosages, or "
                    "code missing calls as -1"
                )
            d = d.astype(np.int8)
        elif not isinstance(d, np.memmap) and d.size and (d.min() < MISSING or d.max() > 2):
            # int8 in memory is checked too (a memory-mapped cache was checked when written)
            bad = (d < MISSING) | (d > 2)
            r, c = np.argwhere(bad)[0]
            raise InputError(
                f"dosages must be 0, 1 or 2 (-1 = missing); row {r}, column {c} is {int(d[r, c])} "
                f"({int(bad.sum())} such values): code missing calls as -1"
            )
        self.dosages = d
        if self.samples is None or isinstance(self.samples, (str, bytes)):
            # a string was split into one-letter ids, None gave "'NoneType' object is not
            # iterable" (a checking helper, session 50)
            raise InputError(
                f"samples must be a list of {d.shape[0]} sample ids, got "
                f"{'None' if self.samples is None else 'one string'}"
            )
        samples = np.asarray([str(s) for s in self.samples], dtype=object)
        if len(samples) != d.shape[0]:
            raise InputError(
                f"{len(samples)} sample ids given for a dosage matrix with {d.shape[0]} rows"
            )
        uniq, counts = np.unique(samples.astype(str), return_counts=True)
        if (counts > 1).any():
            dup = uniq[counts > 1][0]
            raise InputError(
                f"sample id '{dup}' occurs {counts[counts > 1][0]} times in "
                f"{self.source or 'the genotypes'}; sample ids must be unique"
            )
        self.samples = samples
        self.variants = _as_variant_table(self.variants, d.shape[1])

    # ------------------------------------------------------------------ shape
    @property
    def n_samples(self) -> int:
        return int(self.dosages.shape[0])

    @property
    def n_snps(self) -> int:
        return int(self.dosages.shape[1])

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_samples, self.n_snps)

    @property
    def snp_ids(self) -> np.ndarray:
        return self.variants["id"].to_numpy()

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        src = f", source={self.source!r}" if self.source else ""
        return f"Genotypes(n_samples={self.n_samples}, n_snps={self.n_snps}{src})"

    # ------------------------------------------------------------- subsetting
    def _index(self, which, names: np.ndarray, what: str) -> np.ndarray:
        if which is None:
            return np.arange(len(names))
        if isinstance(which, slice):
            return np.arange(len(names))[which]
        arr = np.asarray(which)
        if arr.dtype == bool:
            if arr.shape != (len(names),):
                raise InputError(
                    f"boolean {what} mask has length {arr.shape[0]}, expected {len(names)}"
                )
            return np.flatnonzero(arr)
        if arr.size == 0:
            return np.zeros(0, dtype=np.int64)
        if np.issubdtype(arr.dtype, np.integer):
            if arr.min() < -len(names) or arr.max() >= len(names):
                raise InputError(f"{what} index out of range (0..{len(names) - 1})")
            return arr.astype(np.int64)
        lookup = pd.Index(names.astype(str))
        idx = lookup.get_indexer(arr.astype(str))
        if (idx < 0).any():
            bad = arr[idx < 0][0]
            raise InputError(f"{what} id '{bad}' is not in {self.source or 'the genotypes'}")
        return idx

    def subset(self, samples=None, variants=None) -> Genotypes:
        """A new container restricted to ``samples`` and ``variants``.

        Each may be None (all), a boolean mask, integer positions or ids, and the
        result follows the order given.  Only the selected int8 block is copied.
        """
        si = self._index(samples, self.samples, "sample")
        vi = self._index(variants, self.variants["id"].to_numpy(), "variant")
        if len(np.unique(si)) < len(si):  # the request repeats a sample (the message blamed
            # the genotypes: a checking helper, session 50)
            dup = self.samples[si][pd.Index(si).duplicated()][0]
            raise InputError(f"samples names '{dup}' more than once; give each sample once")
        if samples is None and variants is None:
            d = self.dosages
        elif variants is None:
            d = np.asarray(self.dosages[si])
        elif samples is None:
            d = np.asarray(self.dosages[:, vi])
        else:
            d = np.asarray(self.dosages[np.ix_(si, vi)])
        if d is not self.dosages:  # a damaged cache is named as one (session 43)
            check_codes(self.dosages, d)
        return Genotypes(
            d,
            self.samples[si],
            self.variants.iloc[vi].reset_index(drop=True),
            source=self.source,
            report=dict(self.report),
        )

    # ------------------------------------------------------ chunked statistics
    def _row_chunks(self, rows: np.ndarray | None = None) -> Iterator[np.ndarray]:
        rows = np.arange(self.n_samples) if rows is None else np.asarray(rows)
        step = max(1, _CHUNK_BYTES // max(1, self.n_snps))
        for start in range(0, len(rows), step):
            r = rows[start : start + step]
            if len(r) and r[-1] - r[0] == len(r) - 1 and (np.diff(r) == 1).all():
                block = np.asarray(self.dosages[r[0] : r[-1] + 1])  # a view of the map
            else:
                block = np.asarray(self.dosages[r])
            check_codes(self.dosages, block)
            yield block
            release_pages(self.dosages)  # the chunk is used: its cache pages may go

    def counts(self, rows: Sequence[int] | None = None) -> dict[str, np.ndarray]:
        """Per-SNP genotype counts over ``rows`` (all samples by default).

        Returns a dict of int64 arrays: ``n0``, ``n1``, ``n2`` (genotype counts),
        ``n_called`` and ``alt_sum`` (sum of dosages over called genotypes).
        """
        n = self.n_snps
        out = {k: np.zeros(n, dtype=np.int64) for k in ("n0", "n1", "n2", "n_missing")}
        for chunk in self._row_chunks(rows):
            out["n0"] += np.count_nonzero(chunk == 0, axis=0)
            out["n1"] += np.count_nonzero(chunk == 1, axis=0)
            out["n2"] += np.count_nonzero(chunk == 2, axis=0)
            out["n_missing"] += np.count_nonzero(chunk < 0, axis=0)
        out["n_called"] = out["n0"] + out["n1"] + out["n2"]
        out["alt_sum"] = out["n1"] + 2 * out["n2"]
        return out

    def alt_freq(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """Frequency of the counted allele per SNP among called genotypes (NaN if none called)."""
        c = self.counts(rows)
        with np.errstate(invalid="ignore", divide="ignore"):
            return c["alt_sum"] / (2.0 * c["n_called"])

    def mean_dosage(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """Mean dosage per SNP among called genotypes (used for mean imputation)."""
        return 2.0 * self.alt_freq(rows)

    def maf(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """Minor-allele frequency per SNP (NaN where no genotype is called)."""
        p = self.alt_freq(rows)
        return np.minimum(p, 1.0 - p)

    def call_rate_snp(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """Fraction of samples (in ``rows``) with a called genotype, per SNP."""
        c = self.counts(rows)
        total = c["n_called"] + c["n_missing"]
        with np.errstate(invalid="ignore", divide="ignore"):
            return c["n_called"] / np.maximum(total, 1)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled and copied without the call-rate memo: a copy's matrix is an in-memory
        array that may be changed (a review, session 43)."""
        state = dict(self.__dict__)
        state.pop("_call_rate_memo", None)
        return state

    def call_rate_sample(self) -> np.ndarray:
        """Fraction of SNPs with a called genotype, per sample.

        Kept for a memory-mapped cache (read-only: it cannot change under the object), so
        that the benchmark's dataset check and each of its cross-validations do not each
        read the whole matrix again (a pass per unit at large n x p; session 43); computed
        afresh for an in-memory matrix, which a caller may change in place."""
        memo = self.__dict__.get("_call_rate_memo")
        if memo is not None and memo[0] is self.dosages and not self.dosages.flags.writeable:
            return memo[1].copy()
        out = np.empty(self.n_samples, dtype=np.float64)
        start = 0
        for chunk in self._row_chunks():
            out[start : start + len(chunk)] = np.count_nonzero(chunk >= 0, axis=1)
            start += len(chunk)
        out /= max(self.n_snps, 1)
        if isinstance(self.dosages, np.memmap) and not self.dosages.flags.writeable:
            self.__dict__["_call_rate_memo"] = (self.dosages, out.copy())
        return out

    def is_monomorphic(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """True for SNPs where every called genotype (in ``rows``) is the same."""
        c = self.counts(rows)
        n_kinds = (c["n0"] > 0).astype(int) + (c["n1"] > 0) + (c["n2"] > 0)
        return n_kinds <= 1

    def qc_mask(
        self,
        min_maf: float = 0.0,
        min_call_rate: float = 0.0,
        drop_monomorphic: bool = True,
        rows: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Boolean mask of SNPs passing the filters, computed on ``rows`` only.

        Use ``rows`` to fit the filter on a training fold without looking at the
        test fold.
        """
        min_maf = check_real("min_maf", min_maf, 0.0, 0.5)
        min_call_rate = check_real("min_call_rate", min_call_rate, 0.0, 1.0)
        c = self.counts(rows)
        total = c["n_called"] + c["n_missing"]
        with np.errstate(invalid="ignore", divide="ignore"):
            p = c["alt_sum"] / (2.0 * c["n_called"])
            call = c["n_called"] / np.maximum(total, 1)
        maf = np.nan_to_num(np.minimum(p, 1.0 - p), nan=0.0)
        keep = (c["n_called"] > 0) & (call >= min_call_rate) & (maf >= min_maf)
        if drop_monomorphic:
            n_kinds = (c["n0"] > 0).astype(int) + (c["n1"] > 0) + (c["n2"] > 0)
            keep &= n_kinds > 1
        return keep

    def filter(
        self,
        min_maf: float = 0.0,
        min_call_rate: float = 0.0,
        drop_monomorphic: bool = True,
        min_sample_call_rate: float = 0.0,
    ) -> Genotypes:
        """Drop SNPs (and optionally samples) failing QC; the counts land in ``report``."""
        min_maf = check_real("min_maf", min_maf, 0.0, 0.5)
        min_call_rate = check_real("min_call_rate", min_call_rate, 0.0, 1.0)
        min_sample_call_rate = check_real("min_sample_call_rate", min_sample_call_rate, 0.0, 1.0)
        keep_samples = None
        if min_sample_call_rate > 0:
            keep_samples = self.call_rate_sample() >= min_sample_call_rate
        g = self if keep_samples is None else self.subset(samples=keep_samples)
        keep = g.qc_mask(min_maf, min_call_rate, drop_monomorphic)
        out = g.subset(variants=keep)
        out.report["qc"] = {
            "min_maf": min_maf,
            "min_call_rate": min_call_rate,
            "drop_monomorphic": drop_monomorphic,
            "min_sample_call_rate": min_sample_call_rate,
            "snps_removed": int(self.n_snps - out.n_snps),
            "samples_removed": int(self.n_samples - out.n_samples),
        }
        return out

    # ---------------------------------------------------------------- summary
    def summary(self) -> dict[str, Any]:
        """Counts and distributions that ``snpcnn info`` prints."""
        c = self.counts()
        total = self.n_samples * self.n_snps
        n_missing = int(c["n_missing"].sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            p = c["alt_sum"] / (2.0 * c["n_called"])
        maf = np.minimum(p, 1.0 - p)
        n_kinds = (c["n0"] > 0).astype(int) + (c["n1"] > 0) + (c["n2"] > 0)
        chroms = self.variants["chrom"].astype(str)
        per_chrom = chroms.value_counts(sort=False)
        sample_call = self.call_rate_sample() if self.n_snps else np.zeros(self.n_samples)
        finite = maf[np.isfinite(maf)]
        return {
            "source": self.source,
            "n_samples": self.n_samples,
            "n_snps": self.n_snps,
            "chromosomes": {str(k): int(v) for k, v in per_chrom.items()},
            "n_missing": n_missing,
            "missing_fraction": n_missing / total if total else 0.0,
            "snps_with_missing": int((c["n_missing"] > 0).sum()),
            "samples_with_missing": int((sample_call < 1.0).sum()),
            "min_sample_call_rate": float(sample_call.min()) if self.n_samples else float("nan"),
            "n_monomorphic": int((n_kinds <= 1).sum()),
            # of those, SNPs without a single call (counted as monomorphic, and left out of
            # the MAF line, which read as contradicting it; session 49)
            "n_uncalled": int((c["n_called"] == 0).sum()),
            "heterozygous_fraction": float(c["n1"].sum() / max(c["n_called"].sum(), 1)),
            "maf_quantiles": {
                q: float(np.quantile(finite, q)) if finite.size else float("nan")
                for q in (0.0, 0.25, 0.5, 0.75, 1.0)
            },
            "maf_mean": float(finite.mean()) if finite.size else float("nan"),
            "maf_below_0.01": int((finite < 0.01).sum()),
            "maf_below_0.05": int((finite < 0.05).sum()),
            "snp_order": _snp_order(self.dosages),
            "load_report": dict(self.report),
        }

    def format_summary(self) -> str:
        """A human-readable multi-line summary (what ``snpcnn info`` prints)."""
        s = self.summary()
        chroms = s["chromosomes"]
        chrom_txt = ", ".join(f"{k} ({v})" for k, v in list(chroms.items())[:30])
        if len(chroms) > 30:
            chrom_txt += f", ... ({len(chroms) - 30} more)"
        q = s["maf_quantiles"]
        n_called = s["n_snps"] - s.get("n_uncalled", 0)
        maf_over = f"over the {n_called:,} SNPs with a call: " if s.get("n_uncalled") else ""
        lines = [
            f"source:        {s['source']}",
            f"samples:       {s['n_samples']:,}",
            f"SNPs:          {s['n_snps']:,}",
            f"chromosomes:   {len(chroms)}: {chrom_txt}",
            f"missing:       {s['n_missing']:,} genotypes ({100 * s['missing_fraction']:.3f}%); "
            f"{s['snps_with_missing']:,} SNPs and {s['samples_with_missing']:,} samples have any; "
            f"lowest sample call rate {s['min_sample_call_rate']:.4f}",
            f"heterozygous:  {100 * s['heterozygous_fraction']:.2f}% of called genotypes",
            f"monomorphic:   {s['n_monomorphic']:,} SNPs"
            + (f" ({s['n_uncalled']:,} of them without any call)" if s.get("n_uncalled") else ""),
            f"MAF:           {maf_over}mean {s['maf_mean']:.4f}; min {q[0.0]:.4f}, "
            f"25% {q[0.25]:.4f}, median {q[0.5]:.4f}, 75% {q[0.75]:.4f}, max {q[1.0]:.4f}; "
            f"{s['maf_below_0.01']:,} SNPs < 0.01, {s['maf_below_0.05']:,} < 0.05",
        ]
        o = s["snp_order"]
        if o is not None:
            verdict = (
                "the columns follow a map (LD along the order)"
                if o["map_order"]
                else "no LD along the column order, as in a panel without a map: windows of "
                'adjacent columns group unlinked SNPs ([screen] order = "auto" reads them in '
                "an LD order; docs/models.md)"
            )
            lines.append(
                f"SNP order:     adjacent SNPs' mean r^2 {o['adjacent_r2']:.3f} vs "
                f"{o['random_r2']:.3f} for random pairs: {verdict}"
            )
        rep = {k: v for k, v in s["load_report"].items() if k not in ("qc",)}
        if rep:
            lines.append("load report:   " + ", ".join(f"{k}={v}" for k, v in rep.items()))
        return "\n".join(lines)

    # ---------------------------------------------------------------- batches
    def batch(self, rows: Sequence[int]) -> np.ndarray:
        """The int8 dosages of ``rows`` (a copy of just those rows)."""
        rows = np.asarray(rows)
        if rows.dtype.kind not in "iub" or (
            rows.dtype.kind != "b" and rows.size and (rows.min() < -self.n_samples
                                                      or rows.max() >= self.n_samples)
        ):  # fmt: skip
            raise InputError(
                f"rows must be row positions 0..{self.n_samples - 1} (or a boolean mask); "
                f"got {rows.tolist()[:5]}"
            )
        return read_done(self.dosages, np.asarray(self.dosages[rows]))

    def iter_batches(
        self, batch_size: int, rows: Sequence[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(row_indices, int8_block)`` over ``rows`` in order."""
        from snpcnn.config import _integer

        # -1 yielded nothing, 0 gave "range() arg 3 must not be zero" (session 50)
        batch_size = _integer(batch_size, "batch_size", 1)
        rows = np.arange(self.n_samples) if rows is None else np.asarray(rows)
        for start in range(0, len(rows), batch_size):
            r = rows[start : start + batch_size]
            yield r, self.batch(r)


#: environment variable: "1" drops the memory-mapped cache's pages after each streamed read
RELEASE_ENV = "SNPCNN_RELEASE_PAGES"


def read_done(dosages: Any, block: np.ndarray) -> np.ndarray:
    """``block``, a copy just read from ``dosages``, checked (:func:`check_codes`), with the
    cache's pages released where ``SNPCNN_RELEASE_PAGES=1`` (:func:`release_pages`)."""
    check_codes(dosages, block)
    release_pages(dosages)
    return block


def check_codes(dosages: Any, block: np.ndarray) -> None:
    """Refuse a block read from a memory-mapped cache whose codes are not -1, 0, 1 or 2.

    A cache is checked when it is written, not when it is opened (that would read it all),
    so a damaged ``dosages.npy`` showed up nowhere: a byte set to 7 was read as a dosage of
    7 by ``info``, ``fit`` and ``predict`` (a checking helper, session 43).  Every read of
    the matrix checks what it read instead: two reductions of the int8 block, about 1 ms
    per 10 MB."""
    if isinstance(dosages, np.memmap) and block.size:
        lo, hi = int(block.min()), int(block.max())
        if lo < MISSING or hi > 2:
            bad = lo if lo < MISSING else hi
            n_bad = int(np.count_nonzero((block < MISSING) | (block > 2)))
            where = getattr(dosages, "filename", None)
            from snpcnn.io.cache import is_cache

            if where is None or not is_cache(os.path.dirname(str(where))):
                # a user's own memory map (np.load(..., mmap_mode="r")), not a cache
                raise InputError(
                    f"{where or 'the memory-mapped dosages'}: genotype code {bad} ({n_bad:,} "
                    "such values in the rows read); dosages must be 0, 1 or 2 (-1 = missing)"
                )
            raise InputError(
                f"{where}: genotype code {bad} ({n_bad:,} such values in the rows read; a "
                "cache holds only -1, 0, 1 and 2): the cache is damaged; rebuild it with "
                "`snpcnn convert SOURCE OUT.snpcnn --force` (an automatic cache, in "
                "SNPCNN_CACHE_DIR, is made again from the source once its folder is deleted)"
            )


def release_pages(dosages: Any) -> None:
    """Where ``SNPCNN_RELEASE_PAGES=1``: drop the resident pages of a memory-mapped cache
    matrix from this process's mapping (``madvise(MADV_DONTNEED)``; a no-op otherwise, for an
    in-memory array, or where unsupported).

    The streamed passes read the matrix a block at a time, and every page read stays mapped,
    so the process's resident set (RSS) grows to the whole file (0.4 GB at 2,000 x 200,000,
    2.5 GB at 50,000 x 50,000) although these are clean page-cache pages that the kernel can
    reclaim at any time.  Where a scheduler counts them against a job, this keeps them out
    of the RSS, at a cost: each pass maps its pages again (measured: 10-46 % slower passes,
    ``benchmarks/bench_release_pages.py``).  The mapping is read-only and shared, so nothing
    is lost: a later read maps the page again from the page cache (or the disk)."""
    flag = os.environ.get(RELEASE_ENV, "").strip().lower()
    if flag in ("", "0", "false", "no"):
        return
    if flag not in ("1", "true", "yes"):
        raise InputError(f"{RELEASE_ENV} must be 1 (drop the cache's pages) or 0; got {flag!r}")
    mm = getattr(dosages, "_mmap", None)
    if mm is None or not hasattr(mm, "madvise"):
        return
    import mmap

    try:
        mm.madvise(mmap.MADV_DONTNEED)
    except (AttributeError, OSError, ValueError):  # platform without it, closed map
        pass


def n_channels(encoding: str) -> int:
    """Number of input channels of an encoding: 1 for dosage, 3 for one-hot."""
    if encoding == "dosage":
        return 1
    if encoding == "onehot":
        return 3
    raise InputError(f"unknown encoding '{encoding}'; choose one of: {', '.join(ENCODINGS)}")


def encode(
    block: np.ndarray,
    encoding: str = "dosage",
    fill: np.ndarray | None = None,
    center: np.ndarray | None = None,
    scale: np.ndarray | None = None,
) -> np.ndarray:
    """Turn an int8 dosage block (batch x SNPs) into float32 model input.

    Parameters
    ----------
    block : int8 array, shape (batch, n_snps), -1 = missing
    encoding : {"dosage", "onehot"}
        ``dosage``: one channel, the dosage; missing values are replaced by
        ``fill`` (per-SNP, e.g. training-fold mean dosage; 0 if None), then
        optionally centred by ``center`` and divided by ``scale``.
        ``onehot``: three channels (genotype 0, 1, 2); all-zero where missing.
    fill, center, scale : arrays of shape (n_snps,), optional

    Returns
    -------
    float32 array, shape (batch, n_snps, channels)

    Examples
    --------
    >>> encode(np.array([[0, 2, -1]], dtype=np.int8), "onehot")[0].tolist()
    [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    """
    block = np.asarray(block)
    if block.ndim != 2:
        raise InputError(f"expected a 2-D batch x SNPs block, got shape {block.shape}")
    if block.dtype.kind not in "iub":
        # text gave a UFuncTypeError (a checking helper, session 50)
        raise InputError(
            f"expected integer dosage codes (int8: 0, 1, 2, -1 = missing), got dtype {block.dtype}"
        )
    if encoding == "onehot" and block.size and (block.min() < -1 or block.max() > 2):
        # codes outside -1..2 gave all-zero rows, as if missing
        raise InputError(
            f"dosage codes must be 0, 1, 2 or -1 (missing); got values from {int(block.min())} "
            f"to {int(block.max())}"
        )
    if encoding == "dosage":
        x = block.astype(np.float32)
        missing = block < 0
        if missing.any():
            if fill is None:
                x[missing] = 0.0
            else:
                f = np.broadcast_to(np.asarray(fill, dtype=np.float32), x.shape)
                x[missing] = f[missing]
        if center is not None:
            x -= np.asarray(center, dtype=np.float32)
        if scale is not None:
            x /= np.asarray(scale, dtype=np.float32)
        return x[..., None]
    if encoding == "onehot":
        out = np.zeros(block.shape + (3,), dtype=np.float32)
        for k in range(3):
            out[..., k] = block == k
        return out
    raise InputError(f"unknown encoding '{encoding}'; choose one of: {', '.join(ENCODINGS)}")
