"""Fold-internal genotype preprocessing: SNP filters, preselection, imputation, scaling, encoding.

A :class:`GenotypePreprocessor` is fitted on the *training rows* of one fold only
(allele frequencies, call rates, association p-values, means and standard
deviations all come from those rows) and then applied unchanged to any rows,
the test fold included.  That is what keeps cross-validation free of leakage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.errors import InputError, opt
from snpcnn.genotypes import ENCODINGS, Genotypes, encode, n_channels

__all__ = ["GenotypePreprocessor", "SCALINGS", "match_variants"]

SCALINGS = ("none", "center", "standardize")

# Largest float32 block (bytes) materialised at once when transforming many rows.
_BLOCK_BYTES = 256 * 1024 * 1024


def _fill_values(means: np.ndarray) -> np.ndarray:
    """The float32 dosage that replaces a missing call: the training mean, except where that
    mean is exactly 1 (inbred lines half 0 and half 2, or any SNP whose calls sum to their
    count), where it is the next float32 above (1 + 1.2e-7): an imputed call is then never a
    heterozygote's dosage, and GBLUP-AD (docs/baselines.md) codes it as unknown.  About 3% of
    mid-frequency SNPs of 600 inbred lines have such a mean (a reviewer, session 42).  The
    centring uses the exact mean (``center_``), so data without missing calls give the same
    numbers as before, and an imputed call sits 1.2e-7 from the centre."""
    fill = means.astype(np.float32)
    fill[fill == np.float32(1.0)] = np.nextafter(np.float32(1.0), np.float32(2.0))
    return fill


@dataclass
class GenotypePreprocessor:
    """Turn int8 genotypes into model input, with every statistic fitted on training rows.

    Parameters
    ----------
    min_maf, min_call_rate : float
        SNPs whose minor-allele frequency or call rate *in the training rows* is
        below these are dropped.
    drop_monomorphic : bool
        Drop SNPs with a single genotype class in the training rows.
    preselect_top_k : int, optional
        Keep only the k SNPs with the smallest marginal-association p-value
        (per-SNP linear regression on the training rows).
    preselect_p : float, optional
        Keep only SNPs with marginal p-value below this threshold.
    encoding : {"dosage", "onehot"}
    scaling : {"none", "center", "standardize"}
        For the dosage encoding: subtract the training mean dosage ("center"),
        and also divide by the training standard deviation ("standardize").
        Missing genotypes are imputed with the training mean dosage first, so a
        missing genotype becomes 0 after centring.
    """

    min_maf: float = 0.0
    min_call_rate: float = 0.0
    drop_monomorphic: bool = True
    preselect_top_k: int | None = None
    preselect_p: float | None = None
    encoding: str = "dosage"
    scaling: str = "center"

    snp_index_: np.ndarray | None = field(default=None, repr=False)
    variants_: pd.DataFrame | None = field(default=None, repr=False)
    fill_: np.ndarray | None = field(default=None, repr=False)
    center_: np.ndarray | None = field(default=None, repr=False)
    scale_: np.ndarray | None = field(default=None, repr=False)
    report_: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise InputError(
                f"unknown encoding '{self.encoding}'; choose one of: {', '.join(ENCODINGS)}"
            )
        if self.scaling not in SCALINGS:
            raise InputError(
                f"unknown scaling '{self.scaling}'; choose one of: {', '.join(SCALINGS)}"
            )
        if not 0.0 <= self.min_maf <= 0.5:
            raise InputError(f"{opt('min_maf')} must be in [0, 0.5], got {self.min_maf}")
        if not 0.0 <= self.min_call_rate <= 1.0:
            raise InputError(f"{opt('min_call_rate')} must be in [0, 1], got {self.min_call_rate}")
        if self.preselect_top_k is not None and self.preselect_top_k < 1:
            raise InputError(f"{opt('preselect_top_k')} must be >= 1, got {self.preselect_top_k}")
        if self.preselect_p is not None and not 0.0 < self.preselect_p <= 1.0:
            raise InputError(
                f"{opt('preselect_p')} (a p-value) must be in (0, 1], got {self.preselect_p}"
            )

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        genotypes: Genotypes,
        rows: np.ndarray,
        y: np.ndarray | None = None,
        covariates: np.ndarray | None = None,
    ) -> GenotypePreprocessor:
        """Fit filters, preselection and scaling on ``genotypes`` rows ``rows`` only."""
        rows = np.asarray(rows)
        keep = genotypes.qc_mask(self.min_maf, self.min_call_rate, self.drop_monomorphic, rows)
        report: dict[str, Any] = {
            "snps_in": genotypes.n_snps,
            "snps_after_qc": int(keep.sum()),
        }
        if not keep.any():
            loosest = not self.min_maf and not self.min_call_rate
            raise InputError(
                f"no SNP passes the filters (MAF >= {self.min_maf}, call rate >= "
                f"{self.min_call_rate}, polymorphic) in the {len(rows):,} samples it is fitted "
                "on; "
                + (
                    "every SNP is monomorphic or has no call there: check the genotype file "
                    "(snpcnn info FILE)"
                    if loosest
                    else "relax them (--min-maf, --min-call-rate)"
                )
            )
        idx = np.flatnonzero(keep)
        means = genotypes.mean_dosage(rows)[idx]
        if self.preselect_top_k is not None or self.preselect_p is not None:
            if y is None:
                raise InputError("SNP preselection needs the training phenotypes")
            from snpcnn.stats import chunk_cols, marginal_association

            # column blocks of whole stats chunks: the same p-values as one call on all SNPs,
            # with one float block in memory instead of the rows x SNPs matrix
            width = chunk_cols(len(rows))
            step = width * max(1, _BLOCK_BYTES // (4 * len(rows) * width))
            yv = np.asarray(y, dtype=np.float64)
            pvals = np.concatenate(
                [
                    marginal_association(
                        self._imputed(genotypes, rows, idx[s : s + step], means[s : s + step]),
                        yv,
                        covariates,
                    )["p"].to_numpy(np.float64)
                    for s in range(0, len(idx), step)
                ]
            )
            pvals = np.where(np.isfinite(pvals), pvals, 1.0)
            sel = np.ones(len(idx), dtype=bool)
            if self.preselect_p is not None:
                sel &= pvals < self.preselect_p
            if self.preselect_top_k is not None and sel.sum() > self.preselect_top_k:
                order = np.argsort(np.where(sel, pvals, np.inf), kind="stable")
                top = np.zeros(len(idx), dtype=bool)
                top[order[: self.preselect_top_k]] = True
                sel &= top
            if not sel.any():
                raise InputError(
                    f"no SNP has marginal p < {self.preselect_p} in the {len(rows):,} samples "
                    "it is fitted on; "
                    "raise the p-value threshold or use top-k preselection"
                )
            idx, means = idx[sel], means[sel]
            report["snps_after_preselection"] = int(len(idx))
        self.snp_index_ = idx
        self.variants_ = genotypes.variants.iloc[idx].reset_index(drop=True)
        self.fill_ = _fill_values(means)
        self.center_ = None
        self.scale_ = None
        if self.encoding == "dosage" and self.scaling in ("center", "standardize"):
            self.center_ = means.astype(np.float32)
        if self.encoding == "dosage" and self.scaling == "standardize":
            var = np.zeros(len(idx), dtype=np.float64)
            n = 0
            for _, block in genotypes.iter_batches(4096, rows):
                x = block[:, idx].astype(np.float32)
                miss = x < 0
                if miss.any():  # at the centre: an imputed call adds nothing to the spread
                    x[miss] = np.broadcast_to(self.center_, x.shape)[miss]
                var += ((x - self.center_) ** 2).sum(0)
                n += len(x)
            sd = np.sqrt(var / max(n - 1, 1))
            self.scale_ = np.where(sd > 1e-8, sd, 1.0).astype(np.float32)
        report["snps_used"] = int(len(idx))
        self.report_ = report
        return self

    def _check_fitted(self) -> None:
        if self.snp_index_ is None:
            raise RuntimeError("GenotypePreprocessor is not fitted; call fit() first")

    @property
    def n_snps(self) -> int:
        self._check_fitted()
        return int(len(self.snp_index_))

    @property
    def input_shape(self) -> tuple[int, int]:
        return (self.n_snps, n_channels(self.encoding))

    @staticmethod
    def _imputed(genotypes: Genotypes, rows, idx, means) -> np.ndarray:
        out = np.empty((len(rows), len(idx)), dtype=np.float32)
        start = 0
        for _, block in genotypes.iter_batches(4096, rows):
            x = block[:, idx].astype(np.float32)
            miss = x < 0
            if miss.any():
                x[miss] = np.broadcast_to(means.astype(np.float32), x.shape)[miss]
            out[start : start + len(x)] = x
            start += len(x)
        return out

    # ------------------------------------------------------------ transform
    def transform_block(self, block: np.ndarray, columns_selected: bool = False) -> np.ndarray:
        """Encode an int8 block (rows x all SNPs, or x kept SNPs if ``columns_selected``)."""
        self._check_fitted()
        block = np.asarray(block)
        if not columns_selected:
            block = block[:, self.snp_index_]
        return encode(block, self.encoding, fill=self.fill_, center=self.center_, scale=self.scale_)

    def transform(self, genotypes: Genotypes, rows: np.ndarray | None = None) -> np.ndarray:
        """Model input (float32, rows x SNPs x channels) for ``rows`` of ``genotypes``."""
        self._check_fitted()
        rows = np.arange(genotypes.n_samples) if rows is None else np.asarray(rows)
        c = n_channels(self.encoding)
        out = np.empty((len(rows), self.n_snps, c), dtype=np.float32)
        step = max(1, _BLOCK_BYTES // max(1, 4 * self.n_snps * c))
        for start in range(0, len(rows), step):
            r = rows[start : start + step]
            out[start : start + len(r)] = self.transform_block(genotypes.batch(r))
        return out

    def dosage_matrix(self, genotypes: Genotypes, rows: np.ndarray | None = None) -> np.ndarray:
        """Mean-imputed (training means), unscaled dosages of the kept SNPs, float32.

        This is what the baselines (GBLUP, ridge, RKHS) receive, so they see the
        same SNPs and the same imputation as the CNN.
        """
        self._check_fitted()
        rows = np.arange(genotypes.n_samples) if rows is None else np.asarray(rows)
        return self._imputed(genotypes, rows, self.snp_index_, self.fill_)

    # ---------------------------------------------------------- persistence
    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to reapply the preprocessing, as plain arrays."""
        self._check_fitted()
        v = self.variants_
        arrays = {
            "fill": self.fill_,
            "chrom": v["chrom"].astype(str).to_numpy().astype("U"),
            "pos": v["pos"].to_numpy(np.int64),
            "id": v["id"].astype(str).to_numpy().astype("U"),
            "ref": v["ref"].astype(str).to_numpy().astype("U"),
            "alt": v["alt"].astype(str).to_numpy().astype("U"),
        }
        if self.center_ is not None:
            arrays["center"] = self.center_
        if self.scale_ is not None:
            arrays["scale"] = self.scale_
        return arrays

    def settings(self) -> dict[str, Any]:
        return {
            "min_maf": self.min_maf,
            "min_call_rate": self.min_call_rate,
            "drop_monomorphic": self.drop_monomorphic,
            "preselect_top_k": self.preselect_top_k,
            "preselect_p": self.preselect_p,
            "encoding": self.encoding,
            "scaling": self.scaling,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], settings: dict[str, Any]):
        pre = cls(**settings)
        pre.variants_ = pd.DataFrame(
            {
                "chrom": arrays["chrom"].astype(str),
                "pos": arrays["pos"].astype(np.int64),
                "id": arrays["id"].astype(str),
                "ref": arrays["ref"].astype(str),
                "alt": arrays["alt"].astype(str),
            }
        )
        pre.snp_index_ = np.arange(len(pre.variants_))
        pre.fill_ = arrays["fill"].astype(np.float32)
        pre.center_ = arrays["center"].astype(np.float32) if "center" in arrays else None
        pre.scale_ = arrays["scale"].astype(np.float32) if "scale" in arrays else None
        return pre


#: allele codes that mean "no allele" (a VCF's ALT "." at a monomorphic site, PLINK's 0)
_NO_ALLELE = ("", ".", "0", "NAN", "NONE", "<NA>")


def _norm(a) -> np.ndarray:
    out = pd.Series(a).astype(str).str.strip().str.upper()
    return out.where(~out.isin(_NO_ALLELE), "").to_numpy()


def match_variants(model_variants: pd.DataFrame, new_variants: pd.DataFrame) -> dict[str, Any]:
    """Match a model's SNPs to a new file's SNPs by id, else by chrom:pos:alleles.

    Returns a dict with ``column`` (for each model SNP, the column in the new file or
    -1 when absent), ``flip`` (True where the new file counts the other allele, so
    its dosage must be turned into 2 - dosage), and counts ``n_by_id``,
    ``n_by_position``, ``n_flipped``, ``n_missing``, ``n_allele_mismatch``.
    """
    m = len(model_variants)
    column = np.full(m, -1, dtype=np.int64)
    flip = np.zeros(m, dtype=bool)
    m_alt, m_ref = _norm(model_variants["alt"]), _norm(model_variants["ref"])
    n_alt, n_ref = _norm(new_variants["alt"]), _norm(new_variants["ref"])
    new_ids = pd.Index(new_variants["id"].astype(str))
    # an id the file repeats is ambiguous and matches nothing by id; every other id still
    # does (one repeated id anywhere switched id matching off for the whole file, so 0 of a
    # model's SNPs were found: a checking helper, session 35)
    counts = new_ids.value_counts()
    once = np.flatnonzero(new_ids.isin(counts.index[counts == 1]))
    model_ids = pd.Index(model_variants["id"].astype(str))
    j = pd.Index(new_ids[once]).get_indexer(model_ids)
    idx = np.where(j >= 0, once[np.maximum(j, 0)], -1).astype(np.int64)
    # an id the model repeats for two SNPs (a training file that reused an id: fit warns)
    # matches neither by id; both are found by chrom:pos and alleles below, where known
    # (they read the same file column before: a checking helper, session 39)
    # (an exact duplicate, the same id, chrom:pos and alleles twice, is one SNP: both copies
    # read its column, as before)
    full = pd.Series(
        model_ids.astype(str)
        + "|" + model_variants["chrom"].astype(str).to_numpy()
        + "|" + model_variants["pos"].astype(str).to_numpy()
        + "|" + m_ref.astype(str) + "|" + m_alt.astype(str)
    )  # fmt: skip
    distinct = full.groupby(model_ids.to_numpy()).nunique()
    model_once = model_ids.isin(distinct.index[distinct == 1])
    idx[~model_once] = -1
    by_id = idx >= 0
    n_mismatch = 0

    n_unverified = 0
    unverified = np.zeros(m, dtype=bool)  # matched without alleles on one side

    def _assign(i_model: int, j_new: int) -> bool:
        nonlocal n_mismatch, n_unverified
        a, r = m_alt[i_model], m_ref[i_model]
        na, nr = n_alt[j_new], n_ref[j_new]
        if not (a or r) or not (na or nr):
            # alleles unknown on one side (e.g. a CSV matrix): trust the id, same orientation
            column[i_model] = j_new
            n_unverified += 1
            unverified[i_model] = True
            return True
        if not a or not na:
            # one side has no ALT (a site monomorphic there: VCF ALT ".", PLINK allele 0):
            # its dosage counts no allele, so its REF tells the orientation. A new file
            # whose REF is the model's counted allele flips (read as is, everyone's dosage
            # 2 became 0: a checking helper, session 39)
            if (nr and nr == r) or (na and na == a):
                column[i_model] = j_new
                return True
            if (nr and nr == a) or (na and na == r):
                column[i_model] = j_new
                flip[i_model] = True
                return True
            if not r or not nr:  # nothing to compare: trust the id
                column[i_model] = j_new
                n_unverified += 1
                unverified[i_model] = True
                return True
            n_mismatch += 1
            return False
        if a == na and (r == nr or not r or not nr):
            column[i_model] = j_new
            return True
        if a == nr and (r == na or not r or not na):
            column[i_model] = j_new
            flip[i_model] = True
            return True
        n_mismatch += 1
        return False

    n_by_id = 0
    for i in np.flatnonzero(by_id):
        n_by_id += _assign(i, idx[i])
    # the rest by chrom:pos, only where the position is known, the alleles are known on
    # both sides, and exactly one SNP of the new file sits there with the same allele pair.
    # A file SNP already matched, or whose id names another of the model's SNPs, is a
    # different SNP: it is never taken by position (one file column per model SNP). A file
    # SNP that carries this model SNP's own id (an id the file repeats: `bcftools norm -m-`
    # splits rs1 A/G,T into rs1 A/G and rs1 A/T) is a candidate: it was shut out, and the
    # model's SNP was filled with its mean (a checking helper, session 41)
    rest = np.flatnonzero((column < 0) & (model_variants["pos"].to_numpy() > 0))
    taken = np.zeros(len(new_variants), dtype=bool)
    taken[column[column >= 0]] = True
    names_model = np.asarray(new_ids.isin(model_ids[model_once]))
    new_id_arr = np.asarray(new_ids)
    model_id_arr = np.asarray(model_ids)
    n_by_pos = 0
    if len(rest):
        keys = new_variants["chrom"].astype(str) + ":" + new_variants["pos"].astype(str)
        pos_index: dict[str, list[int]] = {}
        for j, key in enumerate(keys):
            pos_index.setdefault(key, []).append(j)
        mkeys = (
            model_variants["chrom"].astype(str) + ":" + model_variants["pos"].astype(str)
        ).to_numpy()
        for i in rest:
            a, r = m_alt[i], m_ref[i]
            if not a or not r:
                continue
            cands = [
                j
                for j in pos_index.get(mkeys[i], [])
                if {a, r} == {n_alt[j], n_ref[j]}
                and not taken[j]
                and (not names_model[j] or new_id_arr[j] == model_id_arr[i])
            ]
            if len(cands) == 1 and _assign(i, cands[0]):
                n_by_pos += 1
                taken[cands[0]] = True
    # absent because the file repeats their id (a copied column): said as such, not only as
    # "absent" (a checking helper, session 50)
    repeated = (column < 0) & np.asarray(model_ids.isin(counts.index[counts > 1]))
    return {
        "column": column,
        "flip": flip,
        "n_repeated_id": int(repeated.sum()),
        "repeated_id_example": str(model_ids[np.flatnonzero(repeated)[0]])
        if repeated.any()
        else "",
        "n_model_snps": m,
        "n_by_id": int(n_by_id),
        "n_by_position": int(n_by_pos),
        "n_flipped": int(flip.sum()),
        "n_missing": int((column < 0).sum()),
        "n_allele_mismatch": int(n_mismatch),
        "n_orientation_unverified": int(n_unverified),
        "unverified": unverified,
        "new_has_no_alleles": not bool(np.any(n_alt != "") or np.any(n_ref != "")),
    }
