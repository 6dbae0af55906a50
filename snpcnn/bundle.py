"""A trained model together with everything needed to apply it to new genotypes.

``model.keras`` written by ``snpcnn fit`` is an ordinary Keras archive (it loads
with ``keras.models.load_model``) that additionally carries, as the zip member
``snpcnn/preprocessing.npz``:

* the kept SNPs with chrom, pos, id, ref and alt (the counted allele);
* the training mean dosage of each SNP (used to impute missing genotypes) and
  the centring/scaling;
* the encoding, the trait names, the fixed effects (intercept + covariates) and
  the residual scale used to standardise each trait, and the run config;
* an 8-byte hash of each training sample's id (not the ids themselves), so that
  :meth:`ModelBundle.predict` can say which of the samples it predicts the model
  was trained on (their predictions are fitted values, not predictions).

:func:`load_bundle` reads both back; :meth:`ModelBundle.predict` matches a new
file's SNPs to the model's (by id, else chrom:pos with alleles), flips dosages
where the new file counts the other allele, and mean-imputes SNPs that are
absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from snpcnn.backend import predict_array
from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes, read_done, release_pages
from snpcnn.preprocess import GenotypePreprocessor, match_variants

__all__ = [
    "ModelBundle",
    "load_bundle",
    "MIN_MATCH_FRACTION",
    "MissingSnpWarning",
    "TrainingSampleWarning",
    "id_hashes",
]

log = logging.getLogger("snpcnn.bundle")

MEMBER = "snpcnn/preprocessing.npz"
FORMAT_VERSION = 1
# predict refuses to run when fewer than this fraction of the model's SNPs are found.
MIN_MATCH_FRACTION = 0.5
#: ModelBundle.predict encodes the samples in row chunks of about this many bytes of
#: float32 model input (rounded to whole prediction batches), so its memory grows with
#: the chunk, not with samples x SNPs
PREDICT_CHUNK_BYTES = 64 * 1024**2


class MissingSnpWarning(UserWarning):
    """Some of the model's SNPs are absent from the new genotypes (they are mean-imputed)."""


#: predict names the samples called at fewer than this share of the model's SNPs in the file
LOW_CALL_RATE = 0.5

#: a warning where the mean prediction of at least 5 samples lies this many training SDs of
#: the trait from the training mean: genomic values of a whole sample set that far out point
#: to genotypes coded otherwise (a table counting the other allele at 11 % of the SNPs, too
#: few for the orientation warning's 15 %, moved every prediction by about 9 SDs without a
#: word: a checking helper, session 47)
PREDICTION_SHIFT_SD = 3.0


class TrainingSampleWarning(UserWarning):
    """Some samples given to predict were in the model's training data."""


def id_hashes(sample_ids: Any) -> np.ndarray:
    """An 8-byte BLAKE2b hash (uint64) of each sample id's UTF-8 text, as the model file
    stores its training samples: the file says whether a sample was trained on without
    listing the ids."""
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(str(s).encode("utf-8"), digest_size=8).digest(), "little"
            )
            for s in np.asarray(sample_ids).ravel()
        ],
        dtype=np.uint64,
    )


@dataclass
class ModelBundle:
    """A fitted CNN plus its preprocessing and target transformation."""

    model: Any
    preprocessor: GenotypePreprocessor
    traits: list[str]
    head: str = "regression"
    target_coef: list[np.ndarray] = field(default_factory=list)
    target_sd: np.ndarray = field(default_factory=lambda: np.ones(1))
    covariate_columns: list[str] = field(default_factory=list)
    covariate_means: np.ndarray = field(default_factory=lambda: np.zeros(0))
    binary_levels: dict[str, list[Any]] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    #: :func:`id_hashes` of the training samples' ids; None for a model file written before
    #: they were stored (then nothing can be said about them)
    training_id_hashes: np.ndarray | None = None

    def in_training(self, sample_ids: Any) -> np.ndarray | None:
        """Whether each of ``sample_ids`` was a training sample of the saved model (its
        prediction is then a fitted value), or None where the model file does not say."""
        if self.training_id_hashes is None:
            return None
        return np.isin(id_hashes(sample_ids), self.training_id_hashes)

    @property
    def variants(self) -> pd.DataFrame:
        return self.preprocessor.variants_

    @property
    def encoding(self) -> str:
        return self.preprocessor.encoding

    # ------------------------------------------------------------ applying
    def aligned_block(self, genotypes: Genotypes, rows=None) -> tuple[np.ndarray, dict[str, Any]]:
        """int8 dosages of ``genotypes`` in the model's SNP order and orientation.

        SNPs the new file lacks are returned as missing (-1, later mean-imputed).
        """
        match = self._match(genotypes)
        return self._aligned(genotypes, match, rows), match

    def _warn_coding(self, genotypes: Genotypes) -> None:
        """Warn where ``genotypes`` is a table read with another coding than the model's
        training table (e.g. ``coding="auto"`` took a small batch without any 2 as 0/1
        presence/absence, where the training table was 0/1/2): the same genotype then gets
        another dosage. The CLI reads a table with the model's coding unless told otherwise."""
        from snpcnn.io.table import table_coding

        trained = self.config.get("genotype_coding")
        used = table_coding(genotypes)
        if trained in ("012", "01", "-101") and used is not None and used != trained:
            from snpcnn.errors import InputWarning, opt

            warnings.warn(
                f"{genotypes.source or 'the genotypes'} was read with {opt('coding', used)}, "
                f"but the model's training table with {opt('coding', trained)}: the same "
                f"genotype gets another dosage; read it with {opt('coding', trained)} unless "
                "it really is coded differently",
                InputWarning,
                stacklevel=4,
            )

    def _match(self, genotypes: Genotypes) -> dict[str, Any]:
        """The SNP match of ``genotypes`` to the model's; refused below MIN_MATCH_FRACTION."""
        self._warn_coding(genotypes)
        match = match_variants(self.variants, genotypes.variants)
        n_found = match["n_model_snps"] - match["n_missing"]
        frac = n_found / max(match["n_model_snps"], 1)
        if frac < MIN_MATCH_FRACTION:
            bad = match.get("n_allele_mismatch", 0)
            if bad:
                hint = (
                    f"{bad} of the model's SNPs are in the file by id but with other alleles "
                    "than the model's REF/ALT (another strand, or allele coding): recode the "
                    "file's alleles to the model's"
                )
            else:
                hint = (
                    "Check that both files use the same SNP ids, or the same reference build "
                    "and chromosome names (e.g. 'chr1' vs '1')"
                )
                # '0' and '' are a table's placeholders (no map): renaming chromosomes
                # cannot help there (the hint said "model '0', file 'chr0'": a checking
                # helper, session 41)
                m_chr = {str(c) for c in self.variants["chrom"] if str(c) not in ("", "0")}
                f_chr = {str(c) for c in genotypes.variants["chrom"] if str(c) not in ("", "0")}
                if not m_chr and (self.variants["pos"].to_numpy() <= 0).all():
                    hint = (
                        "The model was fitted on a table without a map (no chromosomes or "
                        "positions), so its SNPs are found by id only: the file must name "
                        "them as the table's columns did"
                    )
                sample_ids = {str(x) for x in np.asarray(genotypes.samples)}
                n_rows = sum(str(x) in sample_ids for x in self.variants["id"])
                if n_rows:  # the model's SNP ids are the file's row (sample) names
                    hint = (
                        f"{n_rows} of the model's SNP ids are row (sample) names of the file: "
                        "it looks transposed (one row per SNP); write it with one row per "
                        "sample and one column per SNP"
                    )
                elif m_chr and f_chr and not (m_chr & f_chr):
                    hint += (
                        f"; here they share no chromosome name (model '{sorted(m_chr)[0]}', "
                        f"file '{sorted(f_chr)[0]}')"
                    )
            raise InputError(
                f"{genotypes.source or 'the genotypes'}: only {n_found} of the model's "
                f"{match['n_model_snps']} SNPs were found (by id or chrom:pos:ref:alt); at least "
                f"{MIN_MATCH_FRACTION:.0%} are needed. {hint}"
            )
        self._warn_orientation(genotypes, match)
        match["uncalled"] = self._uncalled(genotypes, np.asarray(match["column"]))
        match["n_uncalled"] = int(match["uncalled"].sum())
        return match

    @staticmethod
    def _uncalled(genotypes: Genotypes, col: np.ndarray) -> np.ndarray:
        """Per model SNP: found in the file, but without a call in any of its samples (a
        column of ./. calls). Its dosages are all filled with the training mean, as for an
        absent SNP, so it is reported as one: before session 42 predict counted it as found
        and explain's importance.csv as observed (a checking helper)."""
        left = np.flatnonzero(col >= 0)  # model SNPs not yet seen with a call
        n = genotypes.n_samples
        start = 0
        while start < n and len(left):
            # about 16 MB of int8 per chunk, over the columns still without a call only
            step = max(1, (1 << 24) // len(left))
            block = np.asarray(genotypes.dosages[start : start + step])[:, col[left]]
            release_pages(genotypes.dosages)
            left = left[~(block >= 0).any(axis=0)]
            start += step
        out = np.zeros(len(col), dtype=bool)
        out[left] = True
        return out

    def _warn_orientation(self, genotypes: Genotypes, match: dict[str, Any]) -> None:
        """Where SNPs were matched without alleles on one side (a CSV table, or a model fitted
        on one), nothing says which allele the file counts: warn where many of them have a
        mean dosage nearer 2 minus the model's training mean than the mean itself (the file
        counts the other allele there, or its REF/ALT labels are swapped). Before session
        39 such files were predicted without a word (r 0.61-0.71 against the right
        orientation: a checking helper)."""
        if not match.get("n_orientation_unverified"):
            return
        fill = getattr(self.preprocessor, "fill_", None)
        col = np.asarray(match["column"])
        if fill is None or len(fill) != len(col):
            return
        fill = np.asarray(fill, dtype=np.float64)
        unverified = match.get("unverified")
        if unverified is None or len(unverified) != len(col):
            return
        used = np.flatnonzero((col >= 0) & np.asarray(unverified, dtype=bool))
        n = genotypes.n_samples
        rows = np.unique(np.linspace(0, n - 1, min(n, 2000)).astype(np.int64)) if n else []
        if len(used) == 0 or len(rows) < 20:
            return  # too few samples to tell a frequency
        total = np.zeros(len(used))
        n_called = np.zeros(len(used))
        for start in range(0, len(rows), 128):  # row chunks: memory independent of n
            block = np.asarray(genotypes.dosages[rows[start : start + 128]][:, col[used]])
            release_pages(genotypes.dosages)
            called = block >= 0
            total += np.where(called, block, 0).sum(0)
            n_called += called.sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / n_called
        f = fill[used]
        ok = n_called >= 20
        flipped = ok & (np.abs(mean - f) >= 0.5) & (np.abs(mean - (2 - f)) < 0.3)
        k = int(flipped.sum())
        if k:  # for predict's check of the predictions' mean (below the 15 % too)
            i = int(np.flatnonzero(flipped)[0])
            match["suspect_flipped"] = {
                "n": k,
                "of": int(ok.sum()),
                "example": str(self.variants["id"].iloc[used[i]]),
            }
        # 15 %: a population diverged from the training one (Fst 0.2-0.3) put 8-10 % of
        # SNPs there by drift alone (a review, session 39); a table counting the other
        # allele at every SNP, about 70 %
        if k >= max(5, 0.15 * ok.sum()):
            i = int(np.flatnonzero(flipped)[0])
            snp = str(self.variants["id"].iloc[used[i]])
            warnings.warn(
                f"{genotypes.source or 'the genotypes'}: {k:,} of the {int(ok.sum()):,} SNPs "
                "matched without alleles (a table has none) have mean dosages nearer 2 minus "
                f"the model's training mean than the mean itself (e.g. '{snp}': {mean[i]:.2f} "
                f"here, {f[i]:.2f} in training): the file may count the other allele for "
                "them; check that it counts the allele the model counts (docs/io.md)",
                MissingSnpWarning,
                stacklevel=4,
            )

    def _aligned(self, genotypes: Genotypes, match: dict[str, Any], rows=None) -> np.ndarray:
        rows = np.arange(genotypes.n_samples) if rows is None else np.asarray(rows)
        col = match["column"]
        present = col >= 0
        block = np.full((len(rows), len(col)), -1, dtype=np.int8)
        src = read_done(genotypes.dosages, np.asarray(genotypes.dosages[rows][:, col[present]]))
        flip = match["flip"][present]
        if flip.any():
            sub = src[:, flip]
            src[:, flip] = np.where(sub < 0, sub, 2 - sub)
        block[:, present] = src
        return block

    def _warn_missing(self, genotypes: Genotypes, match: dict[str, Any]) -> None:
        n_uncalled = int(match.get("n_uncalled", 0))
        if n_uncalled:
            first = str(self.variants["id"].iloc[int(np.flatnonzero(match["uncalled"])[0])])
            warnings.warn(
                f"{n_uncalled} of the model's {match['n_model_snps']} SNPs are in "
                f"{genotypes.source or 'the genotypes'} without a call in any sample (e.g. "
                f"'{first}'); like absent SNPs, they are imputed with the training mean dosage",
                MissingSnpWarning,
                stacklevel=3,
            )
        if match["n_missing"]:
            bad = match.get("n_allele_mismatch", 0)
            other = (
                f" ({bad} of them are in the file by id but with other alleles than the "
                "model's REF/ALT)"
                if bad
                else ""
            )
            rep = match.get("n_repeated_id", 0)
            if rep:
                other += (
                    f" ({rep} of them occur more than once in the file, e.g. "
                    f"'{match['repeated_id_example']}', and match none of the copies: drop the "
                    "duplicate columns or records)"
                )
            multi = int((genotypes.report or {}).get("multiallelic_dropped") or 0)
            dropped = (
                f"; {multi:,} multi-allelic record(s) were dropped when the file was read, and "
                "a model SNP written as multi-allelic there reads as absent: `snpcnn convert "
                "FILE --multiallelic alt1` keeps them (first ALT allele), then predict on the "
                "cache"
                if multi
                else ""
            )
            # positions known on both sides (a table has chrom 0 and pos 0 throughout)
            m_chr = {str(c) for c in self.variants["chrom"] if str(c) not in ("", "0")}
            f_chr = {str(c) for c in genotypes.variants["chrom"] if str(c) not in ("", "0")}
            if not ((self.variants["pos"] > 0).any() and (genotypes.variants["pos"] > 0).any()):
                m_chr = set()
            names = (
                f"; the file's chromosome names share none with the model's (model "
                f"'{sorted(m_chr)[0]}', file '{sorted(f_chr)[0]}'), so none could be found by "
                "chrom:pos: name them as the model does (e.g. 'chr1' vs '1')"
                if m_chr and f_chr and not (m_chr & f_chr)
                else ""
            )
            warnings.warn(
                f"{match['n_missing']} of the model's {match['n_model_snps']} SNPs are absent "
                f"from {genotypes.source or 'the genotypes'}{other}; they are imputed with the "
                f"training mean dosage{dropped}{names}",
                MissingSnpWarning,
                stacklevel=3,
            )

    def encode(self, genotypes: Genotypes) -> tuple[np.ndarray, dict[str, Any]]:
        """Model input (float32) for every sample of ``genotypes``, and the SNP-match report."""
        block, match = self.aligned_block(genotypes)
        self._warn_missing(genotypes, match)
        x = self.preprocessor.transform_block(block, columns_selected=True)
        return x, match

    def chunk_rows(self, batch_size: int = 256) -> int:
        """Rows per chunk of :meth:`predict`: about :data:`PREDICT_CHUNK_BYTES` of float32
        input, a whole number of ``batch_size`` batches (at least one)."""
        row_bytes = 4 * max(1, int(np.prod(self.preprocessor.input_shape)))
        batches = max(1, PREDICT_CHUNK_BYTES // (row_bytes * batch_size))
        return int(batches * batch_size)

    def predict(
        self,
        genotypes: Genotypes,
        covariates: np.ndarray | None = None,
        batch_size: int = 256,
    ) -> pd.DataFrame:
        """Predicted trait values for every sample.  Binary traits: class-1 probabilities of
        a sigmoid network, or the expected 0/1 values of the default's linear probability
        model (not bounded to 0..1).

        Without ``covariates`` the covariate effects are set to their training
        mean (a prediction for an average individual of the training population).
        """
        if not isinstance(genotypes, Genotypes):
            raise InputError(
                f"genotypes must be a snpcnn.genotypes.Genotypes (read_genotypes(path)), got "
                f"{type(genotypes).__name__}: the model matches SNPs by their ids"
            )
        from snpcnn.config import _integer

        # 0 gave ZeroDivisionError, -1 an IndexError (a checking helper, session 50)
        batch_size = _integer(batch_size, "batch_size", 1)
        if covariates is not None and self.head != "binary":
            if not any(len(np.asarray(c)) > 1 for c in self.target_coef):
                raise InputError(
                    "covariates given, but the model was fitted without covariates; leave them out"
                )
        if covariates is not None:
            covariates = self._covariate_array(covariates, genotypes)
        match = self._match(genotypes)
        #: how the last call matched the model's SNPs (``snpcnn predict`` reports it)
        self.last_match_ = match
        self._warn_missing(genotypes, match)
        n = genotypes.n_samples
        # chunks of whole batches: the model sees exactly the batches of one call on all rows
        step = self.chunk_rows(batch_size)
        parts = []
        present = np.asarray(match["column"]) >= 0
        low: list[tuple[str, int]] = []  # samples called at under half the SNPs in the file
        uncalled: list[int] = []  # samples with no call at any model SNP in the file
        for start in range(0, max(n, 1), step):
            block = self._aligned(genotypes, match, np.arange(start, min(n, start + step)))
            called = (block >= 0).sum(axis=1)  # absent SNPs hold -1: not counted
            for i in np.flatnonzero(called < LOW_CALL_RATE * present.sum()):
                if called[i] == 0:
                    uncalled.append(start + int(i))
                else:
                    low.append((str(genotypes.samples[start + i]), int(called[i])))
            x = self.preprocessor.transform_block(block, columns_selected=True)
            parts.append(predict_array(self.model, x, batch_size))
            del block, x
        if isinstance(parts[0], list):
            z = [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]
        else:
            z = np.concatenate(parts)
        z = np.asarray(z, dtype=np.float64)
        if low:
            warnings.warn(
                f"{len(low)} sample(s) of {genotypes.source or 'the genotypes'} are called at "
                f"fewer than half of the model's SNPs in it (e.g. '{low[0][0]}': {low[0][1]:,} "
                f"of {int(present.sum()):,}); their missing calls are filled with the training "
                "mean dosage, so their predictions are less reliable (a linear model's lean "
                "toward the training average; a kernel start's or the convolutions' need not)",
                MissingSnpWarning,
                stacklevel=2,
            )
        if uncalled:
            # every call filled with the training mean: a linear model predicts the training
            # average, but the CNN-GP start predicted the 77th percentile for such a sample
            # (a checking helper, session 35): no prediction at all is the honest answer
            warnings.warn(
                f"{len(uncalled)} sample(s) of {genotypes.source or 'the genotypes'} have no "
                f"call at any of the model's SNPs in it (e.g. "
                f"'{genotypes.samples[uncalled[0]]}'): their predictions are left empty (NaN); "
                "genotype them, or leave them out",
                MissingSnpWarning,
                stacklevel=2,
            )
        out = pd.DataFrame({"sample_id": genotypes.samples.astype(str)})
        for j, t in enumerate(self.traits):
            if self.head == "binary":
                out[t] = z[:, j]
                continue
            coef = np.asarray(self.target_coef[j])
            if len(coef) > 1:
                c = covariates
                if c is None:
                    c = np.broadcast_to(self.covariate_means, (n, len(self.covariate_means)))
                fixed = np.column_stack([np.ones(n), c]) @ coef
            else:
                fixed = np.full(n, coef[0])
            out[t] = z[:, j] * float(self.target_sd[j]) + fixed
        if uncalled:
            out.loc[uncalled, list(self.traits)] = np.nan
        self._warn_shift(genotypes, match, z, uncalled)
        seen = self.in_training(genotypes.samples)
        if seen is not None and seen.any():
            # a breeder who scores predict's output against the phenotypes of lines the
            # model was trained on reads fitted values as accuracy (a checking helper,
            # session 35): say so
            first = str(genotypes.samples[int(np.flatnonzero(seen)[0])])
            several = (
                " (several traits: a line observed in any of them, whose records also inform "
                "the others)"
                if len(self.traits) > 1
                else ""
            )
            warnings.warn(
                f"{int(seen.sum()):,} of the {n:,} samples of {genotypes.source or 'the genotypes'} "
                f"were in the model's training data (e.g. '{first}'): their predictions are "
                "fitted values, closer to their own phenotypes than a prediction for an unseen "
                f"line{several}; judge accuracy on the other samples, or by snpcnn fit's "
                "cross-validation",
                TrainingSampleWarning,
                stacklevel=2,
            )
        return out

    def _warn_shift(self, genotypes: Genotypes, match: dict, z: np.ndarray, uncalled) -> None:
        """Warn where the mean genomic prediction (standardised scale: training SDs of the
        trait, covariates aside) of at least 5 samples lies :data:`PREDICTION_SHIFT_SD` or
        more from the training mean; names the SNPs that look counted on the other allele."""
        if self.head == "binary" or z.ndim != 2:
            return
        keep = np.ones(len(z), dtype=bool)
        keep[list(uncalled)] = False
        if keep.sum() < 5:
            return
        for j, t in enumerate(self.traits):
            shift = float(np.nanmean(z[keep, j]))
            if not np.isfinite(shift) or abs(shift) < PREDICTION_SHIFT_SD:
                continue
            sus = match.get("suspect_flipped")
            why = (
                f"{sus['n']:,} of the {sus['of']:,} SNPs matched without alleles have mean "
                f"dosages nearer 2 minus the training mean (e.g. '{sus['example']}'): the file "
                "may count the other allele there"
                if sus
                else "the file may count the other allele at some SNPs, or code genotypes otherwise"
            )
            warnings.warn(
                f"{genotypes.source or 'the genotypes'}: the mean prediction of '{t}' over "
                f"{int(keep.sum()):,} samples is {shift:+.1f} training SDs from the training "
                f"mean, far outside what genotypes coded as in training give; {why}; check "
                "that it counts the allele the model counts (docs/io.md)",
                MissingSnpWarning,
                stacklevel=3,
            )
            return

    def _covariate_array(self, covariates: Any, genotypes: Genotypes) -> np.ndarray:
        """``covariates`` for :meth:`predict` as the float design it needs (one row per
        sample of ``genotypes``, in its order; one column per ``covariate_columns``), or one
        line saying what is wrong and how to build it (numpy's matmul error came after the
        network had run: a checking helper, session 39). A DataFrame's columns are taken
        by name (the model's encoded names, in any order) or, unnamed (0..k-1), by position;
        its rows by its index of sample ids or, with a default index, in the genotypes'
        order. Other column names, or an index that misses a sample, are refused (both were
        read by position: a checking helper, session 42)."""
        n, names = genotypes.n_samples, list(self.covariate_columns)
        build = "build it with bundle.covariate_design(phenotypes, genotypes.samples)[0]"
        if isinstance(covariates, pd.DataFrame):
            cols = [str(c) for c in covariates.columns]
            unnamed = list(covariates.columns) == list(range(covariates.shape[1]))
            if set(cols) == set(names) and len(cols) == len(names):
                # by name, whatever their order (they were taken by position: columns in
                # another order moved predictions by 2.5 SD without a word; a checking
                # helper, session 42)
                covariates = covariates.set_axis(cols, axis=1)[names]
            elif not (unnamed and covariates.shape[1] == len(names)):
                raise InputError(
                    f"covariates: a table with the columns {cols[:6]}, but the model's fixed "
                    f"effects are the encoded columns {names}; name its columns so, pass an "
                    f"array (.to_numpy()) in that order, or {build}"
                )
            ids = genotypes.samples.astype(str)
            index = covariates.index.astype(str)
            if not isinstance(covariates.index, pd.RangeIndex):  # indexed by sample id
                known = set(index)
                missing = [i for i in ids if i not in known]
                if missing or not index.is_unique:
                    what = (
                        f"sample '{missing[0]}' is not in its index"
                        + (f" ({len(missing) - 1} more)" if len(missing) > 1 else "")
                        if missing
                        else f"its index repeats '{index[index.duplicated()][0]}'"
                    )
                    raise InputError(
                        f"covariates: {what}; index it by the samples' ids, or give a default "
                        f"index (reset_index(drop=True)) for rows in the genotypes' order; {build}"
                    )
                covariates = covariates.set_axis(index).loc[ids]
            elif len(covariates) != n:
                raise InputError(
                    f"covariates: {len(covariates)} rows for {n} samples, and its index is not "
                    f"their ids; {build}"
                )
        try:
            arr = np.asarray(covariates, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"covariates: not numbers (one-hot codes and amounts); {build}"
            ) from None
        if arr.ndim == 1 and len(names) == 1:
            arr = arr[:, None]
        if arr.shape != (n, len(names)):
            raise InputError(
                f"covariates: shape {arr.shape}, but the model needs one row per sample "
                f"({n}, in the genotypes' order) and one column per fixed effect "
                f"({len(names)}: {', '.join(names)}); {build}"
            )
        if not np.isfinite(arr).all():
            i = int(np.flatnonzero(~np.isfinite(arr).all(axis=1))[0])
            raise InputError(
                f"covariates: row {i} (sample '{genotypes.samples[i]}') holds a missing or "
                "infinite value; fill it in, or predict without covariates"
            )
        return arr

    # ---------------------------------------------------------- covariates
    @property
    def covariate_names(self) -> list[str]:
        """The phenotype-table columns the model's fixed effects were fitted on."""
        names = self.config.get("covariates") or []
        if names:
            return list(names)
        # bundles from before the names were stored: numeric columns only
        return [c for c in self.covariate_columns if "[" not in c]

    @property
    def covariate_levels(self) -> dict[str, list[str]]:
        """Training levels (sorted as text, first = reference) of each categorical covariate."""
        return dict(self.config.get("covariate_levels") or {})

    def covariate_design(
        self,
        phenotypes: Any,
        sample_ids: Any,
        source: str = "the covariates file",
        without: str = "predict those samples without covariates (training means are then used)",
    ) -> tuple[np.ndarray, list[str]]:
        """The fixed-effect design (``covariate_columns`` order) of ``sample_ids``.

        ``phenotypes`` is a :class:`snpcnn.io.phenotypes.Phenotypes` holding the model's
        covariate columns.  Categorical covariates are one-hot coded with the *training*
        levels, exactly as in ``snpcnn fit``; a level the training data never had gets the
        training share of every level (an average level) and is counted in the returned
        notes.  Raises InputError for a missing column, a sample without a row or a missing
        value, naming the sample and the fix (``without``: the other way out, for the
        messages: ``explain``'s scan has no "predict without covariates").
        """
        ids = [str(s) for s in sample_ids]
        table = phenotypes.table
        absent = [c for c in self.covariate_names if c not in table.columns]
        if absent:
            raise InputError(
                f"{source}: no column '{absent[0]}'; the model was fitted with the covariates "
                f"{', '.join(self.covariate_names)}; give a file with these columns"
            )
        missing_ids = [i for i in ids if i not in table.index]
        if missing_ids:
            raise InputError(
                f"{source}: sample '{missing_ids[0]}' (and {len(missing_ids) - 1} more of the "
                f"{len(ids)} genotyped samples) has no row; add their covariate values, or "
                f"{without}"
            )
        levels = self.covariate_levels
        blocks: list[np.ndarray] = []
        names: list[str] = []
        notes: list[str] = []
        means = dict(zip(self.covariate_columns, np.asarray(self.covariate_means, float)))
        for cov in self.covariate_names:
            values = table.loc[ids, cov].to_numpy()
            miss = pd.isna(pd.Series(values, dtype=object)).to_numpy()
            if miss.any():
                i = int(np.flatnonzero(miss)[0])
                more = int(miss.sum()) - 1
                # the line too, as fit's message gives it (a checking helper, session 45)
                where = getattr(phenotypes, "_where", None)
                line = f" ({where(cov, ids[i])})" if where else ""
                raise InputError(
                    f"{source}: covariate '{cov}' is missing for sample '{ids[i]}'{line}"
                    + (f" and {more} more" if more else "")
                    + f"; fill in the value, or {without}"
                )
            if cov in levels:
                from snpcnn.io.phenotypes import canonical_level

                vals = np.asarray([canonical_level(str(v)) for v in values], dtype=object)
                known = np.isin(vals, [canonical_level(v) for v in levels[cov]])
                for level in levels[cov][1:]:
                    name = f"{cov}[{level}]"
                    col = (vals == canonical_level(level)).astype(np.float64)
                    col[~known] = means.get(name, 0.0)
                    blocks.append(col[:, None])
                    names.append(name)
                if (~known).all() and len(vals):
                    # every level unseen: most often the same levels spelt otherwise (F/M
                    # against female/male), which the average level hid (session 42 note)
                    ex = sorted(set(vals))[:3]
                    known_levels = ", ".join(str(v) for v in levels[cov][:6])
                    notes.append(
                        f"covariate '{cov}': no sample has a level the training data had "
                        f"(the file: {', '.join(ex)}; the model: {known_levels}), so every "
                        "sample gets the training average of its levels; if these are the "
                        "same levels spelt otherwise, recode the file's to the model's"
                    )
                elif (~known).any():
                    ex = sorted(set(vals[~known]))[:3]
                    notes.append(
                        f"covariate '{cov}': {int((~known).sum())} sample(s) have a level the "
                        f"training data did not have ({', '.join(ex)}); they get the training "
                        "average of its levels"
                    )
            else:
                try:
                    blocks.append(values.astype(np.float64)[:, None])
                except (TypeError, ValueError):
                    raise InputError(
                        f"{source}: covariate '{cov}' was numeric in training but has the "
                        f"non-numeric value '{values[0]}'; give numbers"
                    ) from None
                names.append(cov)
        if names != list(self.covariate_columns):
            raise InputError(
                f"{source}: the covariates encode to columns {names}, but the model has "
                f"{list(self.covariate_columns)}; this model cannot be applied with covariates"
            )
        c = np.hstack(blocks) if blocks else np.zeros((len(ids), 0))
        return c, notes

    # ------------------------------------------------------------- saving
    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = self.preprocessor.to_arrays()
        k = max((len(c) for c in self.target_coef), default=1)
        coef = np.zeros((len(self.traits), k))
        for j, c in enumerate(self.target_coef):
            coef[j, : len(c)] = c
        arrays["target_coef"] = coef
        arrays["target_sd"] = np.asarray(self.target_sd, dtype=np.float64)
        arrays["covariate_means"] = np.asarray(self.covariate_means, dtype=np.float64)
        if self.training_id_hashes is not None:
            arrays["training_id_hash"] = np.asarray(self.training_id_hashes, dtype=np.uint64)
        meta = {
            "format_version": FORMAT_VERSION,
            "traits": list(self.traits),
            "head": self.head,
            "covariate_columns": list(self.covariate_columns),
            "binary_levels": self.binary_levels,
            "preprocessing": self.preprocessor.settings(),
            "config": _jsonable(self.config),
        }
        arrays["meta_json"] = np.array(json.dumps(meta))
        return arrays

    def save(self, path: str | Path, force: bool = False) -> Path:
        """Write ``path`` (a ``.keras`` file) atomically; refuse to overwrite without ``force``."""
        path = Path(path)
        if path.suffix != ".keras":
            raise InputError(f"{path}: the model file name must end in .keras")
        if path.exists() and not force:
            raise InputError(f"{path} exists; use --force (force=True) to overwrite it")
        if path.is_dir():
            raise InputError(f"{path} is a folder; give a file name ending in .keras")
        from snpcnn.io.output import check_writable

        check_writable(path)  # a parent that is a file, or not writable: one line
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".keras", dir=path.parent)
        os.close(fd)
        try:
            self.model.save(tmp)
            buf = io.BytesIO()
            np.savez_compressed(buf, **self._arrays())
            with zipfile.ZipFile(tmp, "a", compression=zipfile.ZIP_DEFLATED) as z:
                z.writestr(MEMBER, buf.getvalue())
            from snpcnn.io.output import ready_to_replace

            ready_to_replace(tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return path


def _jsonable(obj):
    return json.loads(
        json.dumps(obj, default=lambda o: o.tolist() if hasattr(o, "tolist") else str(o))
    )


def _why_no_model(path: Path) -> str | None:
    """Why the results folder of a missing ``path`` (``DIR/model.keras``) has no model, as
    the run.json that ``snpcnn fit`` wrote there records it (None: no such record)."""
    folder = path.parent
    try:
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return None
    config = record["config"]
    command = record.get("command") if isinstance(record.get("command"), list) else []
    need = "explain and predict need a model refitted on all samples"
    if "--no-refit" in command:
        return (
            f"the fit in {folder} ran with --no-refit (its run.json records the command), so it "
            f"saved no model; {need}: run snpcnn fit again without --no-refit"
        )
    if config.get("refit_failed"):
        return (
            f"the final refit of the fit in {folder} failed, so it saved no model (its "
            f"run.json: {_one_line(config['refit_failed'])}); {need}: fix that and run "
            "snpcnn fit again"
        )
    no_refit = config.get("refit") is False  # recorded since session 37
    if no_refit or (config.get("cnn") and "cnn_folds" in record and "refit_epochs" not in config):
        # cross_validate(refit=False) from Python, then save_results
        return (
            f"the run in {folder} skipped the final refit (refit=False in its run.json), so "
            f"it saved no model; {need}: run it again with refit=True"
        )
    return None


def load_bundle(path: str | Path) -> ModelBundle:
    """Load a model written by ``snpcnn fit`` (a ``.keras`` file or the run directory).

    Every way the file can be damaged (not a zip, a bad member, an object array
    in the npz, JSON without a needed key, a model config that names a foreign
    class) raises :class:`InputError` naming the file; nothing in the file is
    ever executed (the npz is read with ``allow_pickle=False``, and Keras's
    safe mode refuses arbitrary code).
    """
    if not isinstance(path, (str, os.PathLike)):  # pathlib's TypeError before (session 50)
        raise InputError(
            f"load_bundle needs the path of a model.keras file (or its run folder), got "
            f"{type(path).__name__}"
        )
    path = Path(path)
    if path.is_dir():
        path = path / "model.keras"
    if not path.exists():
        why = _why_no_model(path)
        if why:
            raise InputError(f"{path}: no such model file: {why}")
        raise InputError(f"{path}: no such model file; give the model.keras written by snpcnn fit")
    fix = "use a model.keras written by snpcnn fit, or fit the model again"
    try:
        with zipfile.ZipFile(path) as z:
            if MEMBER not in z.namelist():
                raise InputError(
                    f"{path} is a Keras model without snpcnn preprocessing; use a model.keras "
                    "written by snpcnn fit"
                )
            payload = z.read(MEMBER)
    except InputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        raise InputError(
            f"{path} is not a .keras model file (not a zip archive: {exc}); {fix}"
        ) from None
    except (OSError, EOFError, zlib.error, ValueError, RuntimeError, NotImplementedError) as exc:
        raise InputError(f"{path}: damaged model file ({_one_line(exc)}); {fix}") from None
    try:
        arrays, meta = _read_payload(payload)
    except InputError as exc:
        raise InputError(f"{path}: damaged snpcnn preprocessing ({exc}); {fix}") from None
    except Exception as exc:  # noqa: BLE001 - any way a damaged npz/JSON can fail
        raise InputError(
            f"{path}: damaged snpcnn preprocessing ({type(exc).__name__}: {_one_line(exc)}); {fix}"
        ) from None
    if meta["format_version"] > FORMAT_VERSION:
        raise InputError(f"{path} was written by a newer snpcnn; upgrade snpcnn to read it")
    import snpcnn.models  # noqa: F401 - registers the custom layers and losses
    from snpcnn.models import load_model

    try:
        # compile=False: a bundle predicts, it is not trained further; compiling would make
        # Keras try to restore the optimizer's state and warn "Skipping variable loading
        # for optimizer ..." when that state does not match the fresh optimizer
        model = load_model(path, compile=False)
    except InputError:
        raise
    except OSError as exc:
        from snpcnn.io.output import FULL_ERRNOS

        if exc.errno not in FULL_ERRNOS:
            raise InputError(
                f"{path}: cannot load the model ({type(exc).__name__}: {_one_line(exc)}); {fix}"
            ) from None
        # Keras unpacks the archive into a temporary folder: a full disk (or file-size limit)
        # there is not a damaged model (it said "refit" for a full /tmp: a checking helper)
        raise InputError(
            f"{path}: could not unpack the model into the temporary folder "
            f"({os.strerror(exc.errno)}): free space there or set TMPDIR to a folder with room; "
            "the model file itself is not at fault"
        ) from None
    except Exception as exc:  # noqa: BLE001 - a crafted config fails in many ways inside Keras
        raise InputError(
            f"{path}: cannot load the model ({type(exc).__name__}: {_one_line(exc)}); {fix}"
        ) from None
    try:
        pre = GenotypePreprocessor.from_arrays(arrays, meta["preprocessing"])
        traits = meta["traits"]
        coef = arrays["target_coef"]
        k = 1 + len(meta["covariate_columns"])
        bundle = ModelBundle(
            model=model,
            preprocessor=pre,
            traits=traits,
            head=meta["head"],
            target_coef=[coef[j, :k] for j in range(len(traits))],
            target_sd=arrays["target_sd"],
            covariate_columns=meta["covariate_columns"],
            covariate_means=arrays["covariate_means"],
            binary_levels=meta.get("binary_levels", {}),
            config=meta.get("config", {}),
            training_id_hashes=arrays.get("training_id_hash"),
        )
    except Exception as exc:  # noqa: BLE001 - inconsistent arrays/meta of a damaged file
        raise InputError(
            f"{path}: damaged snpcnn preprocessing ({type(exc).__name__}: {_one_line(exc)}); {fix}"
        ) from None
    n_in, n_out = _model_shape(model)
    if n_in is not None and n_in != len(pre.variants_):
        raise InputError(
            f"{path}: the network takes {n_in} SNPs but the preprocessing lists "
            f"{len(pre.variants_)}; {fix}"
        )
    if bundle.head == "regression" and n_out is not None and n_out != len(traits):
        raise InputError(
            f"{path}: the network has {n_out} output(s) but the preprocessing names "
            f"{len(traits)} trait(s); {fix}"
        )
    return bundle


_META_KEYS = {
    "traits": list,
    "head": str,
    "covariate_columns": list,
    "preprocessing": dict,
}
_ARRAY_KEYS = ("target_coef", "target_sd", "covariate_means")
_VARIANT_KEYS = ("chrom", "pos", "id", "ref", "alt", "fill", "center", "scale")


def _read_payload(payload: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and the meta dict of the preprocessing member, checked for shape and type."""
    if not payload.startswith(b"PK"):  # not a zip: numpy would read it as a pickle and
        # advise loading it unsafely (a checking helper, session 49)
        raise InputError("not an .npz archive (its first bytes are not a zip header)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        try:
            arrays = {k: npz[k] for k in npz.files}
        except ValueError as exc:
            if "pickle" not in str(exc):
                raise
            # numpy's message would suggest loading it unsafely: a model never does
            raise InputError("an array holds Python objects, which are never loaded") from None
    for k, a in arrays.items():
        if a.dtype.hasobject:
            raise InputError(f"array '{k}' holds Python objects, which are never loaded")
    if "meta_json" not in arrays:
        raise InputError("no meta_json member")
    meta = json.loads(str(arrays.pop("meta_json")))
    if not isinstance(meta, dict):
        raise InputError("meta_json is not a JSON object")
    for key, kind in _META_KEYS.items():
        if key not in meta:
            raise InputError(f"meta_json has no '{key}'")
        if not isinstance(meta[key], kind):
            raise InputError(f"meta_json '{key}' is not a {kind.__name__}")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise InputError("meta_json 'format_version' is not an integer")
    meta["format_version"] = version
    if not meta["traits"] or not all(isinstance(t, str) for t in meta["traits"]):
        raise InputError("meta_json 'traits' is not a list of trait names")
    if not all(isinstance(c, str) for c in meta["covariate_columns"]):
        raise InputError("meta_json 'covariate_columns' is not a list of names")
    for k in _ARRAY_KEYS:
        if k not in arrays:
            raise InputError(f"no '{k}' array")
        if not np.issubdtype(arrays[k].dtype, np.number):
            raise InputError(f"array '{k}' is not numeric")
    coef = arrays["target_coef"]
    n_traits = len(meta["traits"])
    k = 1 + len(meta["covariate_columns"])
    if coef.ndim != 2 or coef.shape[0] != n_traits or coef.shape[1] < k:
        raise InputError(
            f"array 'target_coef' has shape {coef.shape}, expected ({n_traits}, >={k})"
        )
    if arrays["target_sd"].shape != (n_traits,):
        raise InputError(f"array 'target_sd' has shape {arrays['target_sd'].shape}")
    if arrays["covariate_means"].shape != (k - 1,):
        raise InputError(f"array 'covariate_means' has shape {arrays['covariate_means'].shape}")
    n_snps = None
    for k2 in _VARIANT_KEYS:
        if k2 not in arrays:
            if k2 in ("center", "scale"):
                continue
            raise InputError(f"no '{k2}' array")
        a = arrays[k2]
        if a.ndim != 1 or (n_snps is not None and len(a) != n_snps):
            raise InputError(f"array '{k2}' has shape {a.shape}, expected ({n_snps},)")
        n_snps = len(a)
        if k2 in ("fill", "center", "scale", "pos") and not (
            np.issubdtype(a.dtype, np.number) and np.isfinite(a).all()
        ):
            raise InputError(f"array '{k2}' is not all finite numbers")
    if not n_snps:
        raise InputError("the model has no SNPs")
    for k2 in _ARRAY_KEYS:
        if not np.isfinite(arrays[k2]).all():
            raise InputError(f"array '{k2}' holds NaN or infinite values")
    h = arrays.get("training_id_hash")
    if h is not None and (h.ndim != 1 or h.dtype != np.uint64):
        raise InputError(
            f"array 'training_id_hash' is not a 1-D uint64 array ({h.dtype}, {h.shape})"
        )
    return arrays, meta


def _model_shape(model) -> tuple[int | None, int | None]:
    """(SNPs the network takes, outputs it gives), None where unknown."""
    try:
        n_in = model.inputs[0].shape[1]
        n_in = None if n_in is None else int(n_in)
    except Exception:  # noqa: BLE001 - only a consistency check
        n_in = None
    try:
        n_out = int(model.outputs[0].shape[-1])
    except Exception:  # noqa: BLE001
        n_out = None
    return n_in, n_out


def _one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return (text[:300] + "...") if len(text) > 300 else (text or type(exc).__name__)
