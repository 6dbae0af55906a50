"""Simulated genotypes with linkage disequilibrium, and phenotypes with a known architecture.

Genotype model
--------------
Each chromosome carries ``m_c`` SNPs at increasing base-pair positions (gaps of
``1 + Exponential(spacing)`` bp).  Every haplotype is drawn from a latent
Gaussian Markov chain (an AR(1) process) along the chromosome::

    z_1 ~ N(0, 1),    z_j = rho_j z_(j-1) + sqrt(1 - rho_j^2) e_j,    e_j ~ N(0, 1)
    h_j = 1  if  z_j < Phi^-1(f_j)  else 0

so the allele at SNP ``j`` is carried with probability exactly ``f_j`` (its
counted-allele frequency), and neighbouring alleles are correlated through the
latent chain.  The correlation between adjacent SNPs decays with their distance,
``rho_j = ld ** (gap_j / spacing)`` (``ld`` is the latent correlation at the
mean spacing), inside haplotype blocks whose lengths are geometric with mean
``block_length`` SNPs; at a block boundary (a recombination hotspot) the chain
restarts (``rho_j = 0``), so SNPs in different blocks are independent.  LD
(``r^2``) therefore decays with distance along the chromosome and vanishes
across blocks and chromosomes.  A sample's dosage is the sum of two independent
haplotypes (Hardy-Weinberg equilibrium).  Minor-allele frequencies are drawn
uniformly from ``maf_range``; the counted (ALT) allele is the minor one for a
random half of the SNPs.

Phenotype model
---------------
``y = g + e`` with ``g = sum_j b_j (x_j - mean(x_j))`` over ``n_causal`` random
polymorphic SNPs.  The effects are rescaled so that the sample variance of ``g``
is exactly ``h2``, and ``e ~ N(0, 1 - h2)``; the expected phenotypic variance is
1 and ``var(g) / var(y)`` equals ``h2`` up to the sampling noise of ``e``.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from snpcnn.errors import CLI_MODE, InputError, opt
from snpcnn.genotypes import Genotypes

__all__ = [
    "write_genotypes",
    "simulate_genotypes",
    "simulate_phenotype",
    "simulate_trait",
    "mask_calls",
    "unmap",
    "write_example",
    "EFFECT_DISTS",
    "ARCHITECTURES",
]

EFFECT_DISTS = ("normal", "equal", "gamma")
_BASES = np.array(list("ACGT"))


def _check_range(name: str, value, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(
            f"Invalid value for argument `{name}`. Expected a number in [{lo}, {hi}]. "
            f"Received {name}={value!r}."
        )
    if not (lo <= value <= hi):
        raise InputError(
            f"Invalid value for argument `{name}`. Expected a value in [{lo}, {hi}]. "
            f"Received {name}={value}."
        )


def _check_seed(seed: object, allow_none: bool, allow_generator: bool = False) -> None:
    if seed is None and allow_none:
        return
    if allow_generator and isinstance(seed, np.random.Generator):
        return
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        none = " or None" if allow_none else ""
        gen = ", a numpy Generator" if allow_generator else ""
        raise InputError(f"seed must be a whole number >= 0{gen}{none}; received {seed!r}")


#: positions must stay below this (2^31 - 1: the largest position VCF and PLINK hold)
POS_LIMIT = 2**31 - 1


def _one_blas_thread(fn):
    """Run ``fn`` with one BLAS thread: its matrix products and least squares then give
    the same bits whatever the machine's thread count (`x @ b` and `lstsq` changed y in the
    16th digit between 1 and 2 threads, so a benchmark resumed with other --threads
    recomputed its folds: a checking helper, session 41)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from snpcnn.threads import blas_threads

        with blas_threads(1):
            return fn(*args, **kwargs)

    return wrapper


#: mean gap between adjacent simulated SNPs (bp), simulate_genotypes' default
SPACING = 10_000.0


def chromosome_reach(n_snps: int, n_chrom: int) -> float:
    """The last position of a chromosome in mean gaps: its SNPs' gaps have mean and sd about
    the spacing, so their number plus 6 sd."""
    per_chrom = -(-int(n_snps) // int(n_chrom))
    return per_chrom + 6.0 * float(np.sqrt(per_chrom))


def check_genotype_arguments(
    n_samples: int,
    n_snps: int,
    n_chrom: int = 5,
    maf_range: tuple[float, float] = (0.05, 0.5),
    ld: float = 0.9,
    block_length: float = 50.0,
    spacing: float = SPACING,
    missing_rate: float = 0.0,
    seed: int | None = 0,
    inbreeding: float = 0.0,
) -> tuple[float, float]:
    """The checks of :func:`simulate_genotypes`'s arguments (an :class:`InputError` naming
    the argument), without drawing anything; returns the MAF range."""
    for name, v in (("n_samples", n_samples), ("n_snps", n_snps), ("n_chrom", n_chrom)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InputError(f"{name} must be a whole number; received {v!r}")
    _check_seed(seed, allow_none=True)
    if n_samples < 1 or n_snps < 1:
        raise InputError(
            f"n_samples and n_snps must be >= 1; received n_samples={n_samples}, n_snps={n_snps}"
        )
    if n_chrom < 1 or n_chrom > n_snps:
        raise InputError(
            f"Invalid value for argument `n_chrom`. Expected 1 <= n_chrom <= n_snps ({n_snps}). "
            f"Received n_chrom={n_chrom}."
        )
    try:
        lo, hi = (float(v) for v in maf_range)
    except (TypeError, ValueError):
        raise InputError(
            f"maf_range must be two numbers (low, high); received {maf_range!r}"
        ) from None
    if not (0.0 < lo <= hi <= 0.5):
        raise InputError(
            "Invalid value for argument `maf_range`. Expected 0 < low <= high <= 0.5. "
            f"Received maf_range={tuple(maf_range)}."
        )
    _check_range("ld", ld, 0.0, 0.999999)
    _check_range("missing_rate", missing_rate, 0.0, 0.999)
    _check_range("inbreeding", inbreeding, 0.0, 1.0)
    for name, v in (("block_length", block_length), ("spacing", spacing)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise InputError(f"{name} must be a number; received {v!r}")
    if not block_length >= 1:
        raise InputError(f"block_length must be >= 1 SNP; received {block_length}")
    # positions are int64 sums of the gaps, and VCF and PLINK hold at most 2^31 - 1: an
    # infinite or huge spacing gave garbage positions (-9223372036854775807) with only a
    # RuntimeWarning (a checking helper, session 41)
    # (the end of a chromosome: per_chrom gaps of mean and sd about spacing, so its mean
    # plus 6 sd; a 0.9 margin refused 1,000,000 SNPs on 5 chromosomes at the default
    # spacing, which fit: a reviewer, session 41)
    per_chrom = -(-n_snps // n_chrom)
    reach = chromosome_reach(n_snps, n_chrom)
    if not (0 < spacing < np.inf) or spacing * reach >= POS_LIMIT:
        raise InputError(
            f"spacing must be > 0 bp and small enough that {per_chrom:,} SNPs per chromosome "
            f"stay below position {POS_LIMIT:,} (the VCF and PLINK limit), i.e. below "
            f"{POS_LIMIT / reach:,.0f} bp here; received {spacing}"
        )
    return lo, hi


def simulate_genotypes(
    n_samples: int,
    n_snps: int,
    n_chrom: int = 5,
    maf_range: tuple[float, float] = (0.05, 0.5),
    ld: float = 0.9,
    block_length: float = 50.0,
    spacing: float = SPACING,
    missing_rate: float = 0.0,
    seed: int | None = 0,
    inbreeding: float = 0.0,
) -> Genotypes:
    """Simulate int8 genotypes with haplotype-block linkage disequilibrium.

    Parameters
    ----------
    n_samples, n_snps : int
        Matrix size (samples x SNPs).
    n_chrom : int
        Chromosomes ``"1" .. str(n_chrom)``; SNPs are split between them as evenly
        as possible.
    maf_range : (float, float)
        Minor-allele frequencies are drawn uniformly from this range (within 0..0.5).
    ld : float in [0, 1)
        Latent correlation of adjacent SNPs at the mean spacing (0: no LD).
    block_length : float
        Mean length of a haplotype block in SNPs (geometric); ``inf`` for one
        block per chromosome.
    spacing : float
        Mean gap between adjacent SNPs in base pairs.
    missing_rate : float
        Fraction of genotypes set to missing (-1) at random.
    seed : int or None
        Seed of the NumPy generator; a fixed seed gives identical output.
    inbreeding : float in [0, 1]
        Inbreeding coefficient F: in each haplotype block of each sample, with probability
        F the sample's two haplotypes are identical by descent (its second haplotype is a
        copy of its first there), so a share F of its blocks is homozygous.  1 gives fully
        inbred lines (doubled haploids, advanced RILs: dosages 0 and 2 only), the plant
        breeder's usual material; 0 (the default) gives Hardy-Weinberg proportions and draws
        exactly what earlier versions drew.  The IBD draws come from their own stream
        (``[seed, 1]``), so the haplotypes do not depend on F.

    Returns
    -------
    Genotypes
        With variant ids ``c{chrom}_{pos}``, sample ids ``sim0001 ...``, and the
        simulation parameters (and each SNP's expected MAF as column
        ``maf_expected`` of ``variants``) recorded.

    Examples
    --------
    >>> g = simulate_genotypes(100, 50, n_chrom=2, seed=1)
    >>> g.shape, sorted(set(g.variants["chrom"]))
    ((100, 50), ['1', '2'])
    """
    lo, hi = check_genotype_arguments(
        n_samples,
        n_snps,
        n_chrom,
        maf_range,
        ld,
        block_length,
        spacing,
        missing_rate,
        seed,
        inbreeding,
    )

    from snpcnn.threads import available_memory

    have = available_memory()
    if have is not None and n_samples * n_snps > 0.9 * have:
        # numpy's raw "Unable to allocate 9.09 TiB" before (a checking helper, session 50)
        raise InputError(
            f"{n_samples:,} samples x {n_snps:,} SNPs need {n_samples * n_snps / 2**30:.1f} GiB "
            f"for the int8 genotypes, and {have / 2**30:.1f} GiB of memory is available; "
            "simulate fewer samples or SNPs"
        )
    rng = np.random.default_rng(seed)
    maf = rng.uniform(lo, hi, n_snps)
    alt_is_minor = rng.random(n_snps) < 0.5
    freq = np.where(alt_is_minor, maf, 1.0 - maf)
    threshold = special.ndtri(freq)  # P(z < threshold) = freq for z ~ N(0, 1)

    sizes = np.full(n_chrom, n_snps // n_chrom)
    sizes[: n_snps % n_chrom] += 1
    chrom = np.repeat([str(c + 1) for c in range(n_chrom)], sizes)
    gaps = 1 + np.floor(rng.exponential(spacing, n_snps)).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pos = np.empty(n_snps, dtype=np.int64)
    rho = np.empty(n_snps)
    p_break = 0.0 if np.isinf(block_length) else 1.0 / block_length
    breaks = rng.random(n_snps) < p_break
    for s, size in zip(starts, sizes):
        sl = slice(s, s + size)
        pos[sl] = np.cumsum(gaps[sl])
        if pos[sl][-1] >= POS_LIMIT:  # a long exponential tail: rare, but never garbage
            raise InputError(
                f"chromosome {chrom[s]}'s positions reach {pos[sl][-1]:,}, beyond {POS_LIMIT:,} "
                "(the VCF and PLINK limit); use a smaller spacing or more chromosomes"
            )
        r = ld ** (gaps[sl] / spacing)
        r[breaks[sl]] = 0.0
        r[0] = 0.0  # each chromosome starts a fresh chain
        rho[sl] = r

    n_hap = 2 * n_samples
    dosages = np.empty((n_samples, n_snps), dtype=np.int8)
    z = np.zeros(n_hap)
    # IBD segments are the haplotype blocks (a new one at each break and chromosome start),
    # drawn from their own stream so that F = 0 draws what earlier versions drew
    ibd = np.zeros(n_samples, dtype=bool)
    seg_start = breaks.copy()
    seg_start[starts] = True
    ibd_rng = (
        np.random.default_rng(None if seed is None else [int(seed), 1]) if inbreeding else None
    )
    for j in range(n_snps):
        e = rng.standard_normal(n_hap)
        z = rho[j] * z + np.sqrt(1.0 - rho[j] ** 2) * e
        h = z < threshold[j]
        if ibd_rng is None:
            dosages[:, j] = h[:n_samples].astype(np.int8) + h[n_samples:]
            continue
        if seg_start[j]:
            ibd = ibd_rng.random(n_samples) < inbreeding
        first = h[:n_samples].astype(np.int8)
        dosages[:, j] = first + np.where(ibd, first, h[n_samples:])
    if missing_rate > 0:
        _mask(dosages, missing_rate, rng)

    ref_idx = rng.integers(0, 4, n_snps)
    alt_idx = (ref_idx + rng.integers(1, 4, n_snps)) % 4
    variants = pd.DataFrame(
        {
            "chrom": chrom,
            "pos": pos,
            "id": [f"c{c}_{p}" for c, p in zip(chrom, pos)],
            "ref": _BASES[ref_idx],
            "alt": _BASES[alt_idx],
            "maf_expected": maf,
        }
    )
    width = len(str(n_samples))
    samples = [f"sim{i + 1:0{max(4, width)}d}" for i in range(n_samples)]
    params = {
        "n_samples": n_samples,
        "n_snps": n_snps,
        "n_chrom": n_chrom,
        "maf_range": [lo, hi],
        "ld": ld,
        "block_length": block_length,
        "spacing": spacing,
        "missing_rate": missing_rate,
        "seed": seed,
        "inbreeding": inbreeding,
    }
    return Genotypes(
        dosages,
        samples,
        variants,
        source=f"simulate_genotypes(seed={seed})",
        report={"simulation": params},
    )


def _mask(dosages: np.ndarray, missing_rate: float, rng: np.random.Generator) -> None:
    """Set each call of ``dosages`` missing (-1) with probability ``missing_rate``, in place,
    in row blocks of about 64 MB of uniforms (the generator fills row-major, so these are
    the draws of one ``rng.random(dosages.shape)``, without its 8 bytes a call)."""
    n, p = dosages.shape
    step = max(1, (1 << 23) // max(p, 1))
    for r0 in range(0, n, step):
        block = dosages[r0 : r0 + step]
        block[rng.random(block.shape) < missing_rate] = -1


def mask_calls(genotypes: Genotypes, missing_rate: float, seed: int | None = 0) -> Genotypes:
    """Set calls of simulated ``genotypes`` missing at random, *in place* (returns them).

    Draw the trait first and mask afterwards: :func:`simulate_trait` on genotypes that
    already have missing calls takes each as the SNP's mean, so its true genetic values
    would be those of the imputed data and missing calls would cost a model nothing.
    ``snpcnn simulate --missing-rate`` does it in this order (since session 45).

    >>> g = simulate_genotypes(200, 50, seed=1)
    >>> y, causal = simulate_trait(g, "sparse_additive", n_loci=5, seed=2)
    >>> g = mask_calls(g, 0.1, seed=3)
    >>> 0.05 < float((g.dosages < 0).mean()) < 0.15
    True
    """
    _check_range("missing_rate", missing_rate, 0.0, 0.999)
    _check_seed(seed, allow_none=True)
    dosages = np.asarray(genotypes.dosages)
    if not dosages.flags.writeable:
        raise InputError("mask_calls needs writable genotypes (simulated, not a cache)")
    if missing_rate > 0:
        _mask(dosages, float(missing_rate), np.random.default_rng(seed))
    sim = genotypes.report.setdefault("simulation", {})
    sim["missing_rate"] = float(missing_rate)
    sim["missing_seed"] = seed
    sim["missing_after_trait"] = True
    return genotypes


def unmap(genotypes: Genotypes, seed: int = 0) -> tuple[Genotypes, np.ndarray]:
    """The same genotypes as a panel without a genetic map: the SNP columns in a random
    order (fixed ``seed``), CHROM ``"0"`` and POS = column number, as DArT or GBS panels and
    marker matrices often come (the shipped wheat panel does: its adjacent markers are
    hardly more correlated than random pairs).  SNP ids, alleles and samples are kept.

    Returns ``(genotypes, perm)``: column ``k`` of the result is column ``perm[k]`` of the
    input, so a causal SNP at input column ``j`` is at ``np.argsort(perm)[j]``.

    >>> g = simulate_genotypes(4, 6, n_chrom=1, seed=0)
    >>> u, perm = unmap(g, seed=1)
    >>> bool((u.dosages == g.dosages[:, perm]).all()), sorted(set(u.variants["chrom"]))
    (True, ['0'])
    """
    perm = np.random.default_rng(seed).permutation(genotypes.n_snps)
    v = genotypes.variants.iloc[perm].reset_index(drop=True)
    v["chrom"] = "0"
    v["pos"] = np.arange(1, len(v) + 1)
    out = Genotypes(
        np.ascontiguousarray(np.asarray(genotypes.dosages)[:, perm]),
        genotypes.samples,
        v,
        source=f"unmap({genotypes.source}, seed={seed})",
        report={**genotypes.report, "unmapped": {"seed": seed}},
    )
    return out, perm


def _filled(genotypes: Genotypes, idx: np.ndarray) -> np.ndarray:
    """Dosages of columns ``idx`` as float, missing values set to the column mean."""
    block = np.asarray(genotypes.dosages[:, idx])
    x = block.astype(np.float64)
    missing = block < 0
    if missing.any():
        x[missing] = 0.0
        mean = x.sum(0) / np.maximum((~missing).sum(0), 1)
        x[missing] = np.broadcast_to(mean, x.shape)[missing]
    return x


def _effects(rng: np.random.Generator, n: int, dist: str) -> np.ndarray:
    if dist == "normal":
        return rng.standard_normal(n)
    sign = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    if dist == "equal":
        return sign
    if dist == "gamma":
        return sign * rng.gamma(0.4, 1.0, n)
    raise InputError(
        f"Invalid value for argument `effect_dist`. Expected one of {', '.join(EFFECT_DISTS)}. "
        f"Received effect_dist={dist!r}."
    )


@_one_blas_thread
def simulate_phenotype(
    genotypes: Genotypes,
    n_causal: int = 20,
    h2: float = 0.5,
    effect_dist: str = "normal",
    seed: int | np.random.Generator | None = 0,
    causal=None,
    name: str = "phenotype",
) -> tuple[pd.Series, pd.DataFrame]:
    """Simulate an additive quantitative trait with known causal SNPs.

    Parameters
    ----------
    genotypes : Genotypes
        Missing dosages count as the SNP mean (contribute nothing).
    n_causal : int
        Number of causal SNPs, drawn at random among the polymorphic ones
        (ignored when ``causal`` is given).
    h2 : float in [0, 1]
        Narrow-sense heritability: the genetic values are scaled to sample
        variance ``h2`` exactly and the noise is ``N(0, 1 - h2)``.
    effect_dist : {"normal", "equal", "gamma"}
        Effect sizes before scaling: standard normal, all equal with random
        signs, or gamma(shape 0.4) with random signs (a few large effects).
    seed : int, numpy.random.Generator or None
        Seed of the NumPy generator, or a generator to draw from (its state advances).
    causal : array of int, optional
        Column indices of the causal SNPs (instead of a random draw).
    name : str
        Name of the returned Series.

    Returns
    -------
    y : Series
        Indexed by sample id; ``y.attrs`` holds ``h2`` and ``h2_realised``
        (``var(g) / var(y)``).
    causal : DataFrame
        One row per causal SNP: ``index`` (column in the genotype matrix),
        ``chrom, pos, id``, ``effect`` (per copy of the counted allele, after
        scaling) and ``var_explained`` (sample variance of ``effect * x_j``).

    Examples
    --------
    >>> g = simulate_genotypes(200, 100, seed=1)
    >>> y, causal = simulate_phenotype(g, n_causal=5, h2=0.5, seed=2)
    >>> len(y), len(causal)
    (200, 5)
    """
    if not isinstance(genotypes, Genotypes):
        raise InputError("simulate_phenotype expects a Genotypes container")
    _check_range("h2", h2, 0.0, 1.0)
    # the checks simulate_trait makes (a float n_causal or a negative seed gave numpy's own
    # TypeError / ValueError; float causal indices were truncated: a checking helper,
    # session 41); a Generator is drawn from as it is (numpy's own convention)
    _check_seed(seed, allow_none=True, allow_generator=True)
    if causal is None and (
        isinstance(n_causal, bool) or not isinstance(n_causal, (int, np.integer))
    ):
        raise InputError(f"n_causal must be a whole number; received {n_causal!r}")
    if causal is not None:
        given = np.asarray(causal).reshape(-1)
        if given.size == 0:
            raise InputError("causal: give at least one SNP index (a column of the genotypes)")
        if given.dtype.kind not in "iu":
            raise InputError(
                f"causal SNP indices must be whole numbers (column indices); received "
                f"{given[:5].tolist()}{' ...' if given.size > 5 else ''}"
            )
    rng = np.random.default_rng(seed)
    poly = np.flatnonzero(~genotypes.is_monomorphic())
    if causal is None:
        if not len(poly):  # "Expected 1 <= n_causal <= 0" (a checking helper, session 50)
            raise InputError(
                "the genotypes hold no polymorphic SNP, so no SNP can carry an effect; "
                "simulate or load genotypes with variation"
            )
        if not 1 <= n_causal <= len(poly):
            raise InputError(
                f"Invalid value for argument `n_causal`. Expected 1 <= n_causal <= {len(poly)} "
                f"(the number of polymorphic SNPs). Received n_causal={n_causal}."
            )
        idx = np.sort(rng.choice(poly, size=n_causal, replace=False))
    else:
        idx = np.asarray(causal, dtype=np.int64).reshape(-1)
        if idx.size == 0 or idx.min() < 0 or idx.max() >= genotypes.n_snps:
            raise InputError(f"causal SNP indices must lie in 0..{genotypes.n_snps - 1}")
        if len(np.unique(idx)) != len(idx):
            raise InputError("causal SNP indices must be unique")
    b = _effects(rng, len(idx), effect_dist)
    x = _filled(genotypes, idx)
    x -= x.mean(axis=0)
    g = x @ b
    vg = g.var()
    if h2 > 0:
        if vg <= 0:
            raise InputError("the causal SNPs have no variance in this sample; choose others")
        scale = np.sqrt(h2 / vg)
        b = b * scale
        g = g * scale
    else:
        b = np.zeros_like(b)
        g = np.zeros_like(g)
    e = rng.normal(0.0, np.sqrt(1.0 - h2), genotypes.n_samples)
    yv = g + e
    y = pd.Series(yv, index=pd.Index(genotypes.samples.astype(str), name="sample_id"), name=name)
    vy = yv.var()
    y.attrs = {"h2": float(h2), "h2_realised": float(g.var() / vy) if vy > 0 else float("nan")}
    v = genotypes.variants.iloc[idx]
    causal_df = pd.DataFrame(
        {
            "index": idx,
            "chrom": v["chrom"].to_numpy(),
            "pos": v["pos"].to_numpy(),
            "id": v["id"].to_numpy(),
            "effect": b,
            "var_explained": (x * b).var(axis=0),
        }
    )
    return y, causal_df


#: uncompressed bytes in one BGZF block (htslib's choice: its deflate output stays below
#: the format's 64 KiB block limit)
_BGZF_INPUT = 0xFF00
#: BGZF's end-of-file marker: an empty block
_BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


def _bgzf_block(data: bytes) -> bytes:
    """One BGZF block (a gzip member with the BC extra field holding its size, mtime 0, so
    the same data give the same bytes) of at most :data:`_BGZF_INPUT` bytes of ``data``."""
    import struct
    import zlib

    comp = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = comp.compress(data) + comp.flush()
    size = 18 + len(body) + 8  # header with the extra field, deflate data, CRC32 + ISIZE
    header = (
        b"\x1f\x8b\x08\x04"
        + b"\x00" * 4
        + b"\x00\xff"
        + struct.pack("<HBBHH", 6, 66, 67, 2, size - 1)
    )
    return header + body + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data))


class _BgzfWriter(io.RawIOBase):
    """A binary sink that writes BGZF (the blocked gzip of ``bgzip``), so ``tabix`` and
    ``bcftools index`` accept the file; any gzip reader still reads it."""

    def __init__(self, raw) -> None:
        self._raw, self._buf = raw, bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self._buf += b
        while len(self._buf) >= _BGZF_INPUT:
            self._raw.write(_bgzf_block(bytes(self._buf[:_BGZF_INPUT])))
            del self._buf[:_BGZF_INPUT]
        return len(b)

    def close(self) -> None:
        if not self.closed:
            if self._buf:
                self._raw.write(_bgzf_block(bytes(self._buf)))
                self._buf.clear()
            self._raw.write(_BGZF_EOF)
        super().close()


def _write_vcf(path: Path, g: Genotypes) -> None:
    gt = np.array(["./.", "0/0", "0/1", "1/1"])
    v = g.variants
    # BGZF (a plain gzip file could not be indexed: tabix and bcftools refused it, a checking
    # helper, session 45) with mtime 0 in every block: the same seed writes the same bytes
    # (the time of writing made every file differ, and with it the sha256 that run.json
    # records; a reviewer)
    with (
        open(path, "wb") as raw,
        _BgzfWriter(raw) as bgzf,
        io.TextIOWrapper(io.BufferedWriter(bgzf, 1 << 20), encoding="ascii") as fh,
    ):
        fh.write("##fileformat=VCFv4.2\n##source=snpcnn.simulate\n")
        fh.write('##FILTER=<ID=PASS,Description="All filters passed">\n')
        last = v.groupby("chrom", sort=False)["pos"].max()
        for c in pd.unique(v["chrom"]):
            fh.write(f"##contig=<ID={c},length={int(last[c])}>\n")
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write(
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(g.samples) + "\n"
        )
        step = 512
        for start in range(0, g.n_snps, step):
            codes = np.asarray(g.dosages[:, start : start + step]).T.astype(np.int64) + 1
            for k, row in enumerate(gt[codes]):
                r = v.iloc[start + k]
                fh.write(
                    f"{r['chrom']}\t{r['pos']}\t{r['id']}\t{r['ref']}\t{r['alt']}\t.\tPASS\t.\tGT\t"
                    + "\t".join(row)
                    + "\n"
                )


def write_genotypes(g: Genotypes, folder, fmt: str = "vcf", prefix: str = "sim") -> Path:
    """Write ``g`` to ``folder`` as ``{prefix}.vcf.gz`` (``fmt="vcf"``: BGZF, so ``tabix`` indexes it; GT only) or
    ``{prefix}.bed/.bim/.fam`` (``"plink"``, A1 = the counted allele, with
    :func:`bed_reader.to_bed`); returns the path to give snpcnn (the .vcf.gz or the .bed)."""
    folder = Path(folder)
    if fmt == "vcf":
        path = folder / f"{prefix}.vcf.gz"
        _write_vcf(path, g)
        return path
    if fmt != "plink":
        raise InputError(f"format must be 'vcf' or 'plink'; received {fmt!r}")
    from bed_reader import to_bed

    # one int8 copy with PLINK's missing code, set in row blocks (np.where(...).astype made
    # a second copy of the whole matrix: a reviewer, session 45)
    val = np.array(g.dosages, dtype=np.int8, copy=True)
    step = max(1, (1 << 24) // max(g.n_snps, 1))
    for r0 in range(0, g.n_samples, step):
        block = val[r0 : r0 + step]
        block[block < 0] = -127
    v = g.variants
    path = folder / f"{prefix}.bed"
    to_bed(
        path,
        val,
        properties={
            "fid": list(g.samples),
            "iid": list(g.samples),
            "chromosome": v["chrom"].tolist(),
            "sid": v["id"].tolist(),
            "cm_position": [0.0] * g.n_snps,
            "bp_position": v["pos"].tolist(),
            "allele_1": v["alt"].tolist(),
            "allele_2": v["ref"].tolist(),
        },
        count_A1=True,
        num_threads=1,
    )
    return path


def write_example(
    out_dir,
    n_samples: int = 500,
    n_snps: int = 2000,
    n_chrom: int = 5,
    n_causal: int = 20,
    h2: float = 0.5,
    fmt: str = "plink",
    seed: int = 0,
    prefix: str = "sim",
    force: bool = False,
    **genotype_kwargs,
) -> dict[str, Path]:
    """Write a simulated data set (genotypes, phenotype CSV, causal SNP truth) to ``out_dir``.

    Parameters
    ----------
    out_dir : path
        Directory (created if needed).
    n_samples, n_snps, n_chrom, n_causal, h2, seed
        Passed to :func:`simulate_genotypes` and :func:`simulate_phenotype`
        (the phenotype uses ``seed + 1``).
    fmt : {"plink", "vcf"}
        ``plink`` writes ``{prefix}.bed/.bim/.fam`` (A1 = counted allele) with
        :func:`bed_reader.to_bed`; ``vcf`` writes ``{prefix}.vcf.gz`` (BGZF, GT only).
    prefix : str
        File name prefix.
    force : bool
        Overwrite existing files.
    **genotype_kwargs
        Further arguments of :func:`simulate_genotypes` (``ld``, ``maf_range``, ...).

    Returns
    -------
    dict
        ``genotypes`` (the .bed or .vcf.gz path), ``phenotypes``
        (``{prefix}_phenotypes.csv``: ``sample_id,phenotype``) and ``causal``
        (``{prefix}_causal.csv``: the true causal SNPs and effects).
    """
    if fmt not in ("plink", "vcf"):
        raise InputError(
            f"Invalid value for argument `fmt`. Expected 'plink' or 'vcf'. Received {fmt!r}."
        )
    _check_seed(seed, allow_none=False)
    out_dir = Path(out_dir)
    geno_names = (
        [f"{prefix}.bed", f"{prefix}.bim", f"{prefix}.fam"]
        if fmt == "plink"
        else [f"{prefix}.vcf.gz"]
    )
    names = geno_names + [f"{prefix}_phenotypes.csv", f"{prefix}_causal.csv"]
    existing = [n for n in names if (out_dir / n).exists()]
    if existing and not force:
        raise InputError(
            f"{out_dir / existing[0]} already exists; use force=True (--force) to overwrite"
        )

    # everything is checked and drawn before the folder is made: a bad argument leaves none
    g = simulate_genotypes(n_samples, n_snps, n_chrom=n_chrom, seed=seed, **genotype_kwargs)
    y, causal = simulate_phenotype(g, n_causal=n_causal, h2=h2, seed=seed + 1)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".snpcnn-sim-", dir=out_dir))
    try:
        write_genotypes(g, tmp, fmt, prefix)
        y.rename("phenotype").to_frame().to_csv(
            tmp / f"{prefix}_phenotypes.csv", index_label="sample_id"
        )
        causal.to_csv(tmp / f"{prefix}_causal.csv", index=False)
        for n in names:
            os.replace(tmp / n, out_dir / n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "genotypes": out_dir / geno_names[0],
        "phenotypes": out_dir / f"{prefix}_phenotypes.csv",
        "causal": out_dir / f"{prefix}_causal.csv",
    }


# ------------------------------------------------------------------ genetic architectures
#: The genetic architectures of :func:`simulate_trait`.
ARCHITECTURES = ("sparse_additive", "polygenic", "local_epistasis", "dominance", "mixed")
_DEFAULT_LOCI = {
    "sparse_additive": 10,
    "polygenic": 1000,
    "local_epistasis": 10,
    "dominance": 10,
    "mixed": 10,
}
PAIR_LD = ("any", "weak", "strong")
#: Where an interacting group's SNPs lie: within ``max_gap`` SNPs of each other on one
#: chromosome ("local"), or each on a different chromosome ("trans")
PLACEMENTS = ("local", "trans")


def _scaled(g: np.ndarray, var: float) -> tuple[np.ndarray, float]:
    """``g`` centred and scaled to sample variance ``var``; returns it and the factor."""
    g = g - g.mean()
    vg = g.var()
    if var <= 0:
        return np.zeros_like(g), 0.0
    if not vg > 1e-12:
        raise InputError(
            "the causal SNPs have no genetic variance in this sample; use another seed"
        )
    s = float(np.sqrt(var / vg))
    return g * s, s


def _pick_groups(
    genotypes: Genotypes,
    rng: np.random.Generator,
    n_groups: int,
    order: int,
    max_gap: int,
    pair_ld: str,
    exclude: set[int],
    placement: str = "local",
) -> list[np.ndarray]:
    """``n_groups`` groups of ``order`` SNPs on one chromosome, each within ``max_gap`` SNPs
    of the previous one (``placement="local"``), or each SNP on a different chromosome
    anywhere along it (``"trans"``); all polymorphic with minor-allele frequency >= 0.1,
    disjoint."""
    x_all = genotypes.dosages
    chrom = genotypes.variants["chrom"].astype(str).to_numpy()
    n_snps = genotypes.n_snps
    # in row chunks: a float or int64 copy of a real panel's whole matrix (snpcnn simulate
    # --genotypes) took 8 bytes per genotype; NaN where nothing is called is not usable
    freq = genotypes.alt_freq()
    with np.errstate(invalid="ignore"):
        usable = np.flatnonzero(np.minimum(freq, 1 - freq) >= 0.1)
    if len(usable) < order:
        raise InputError(
            f"local epistasis needs SNPs with minor-allele frequency >= 0.1 to build its groups, "
            f"the genotypes have {len(usable)}; widen {opt('maf_range')} (e.g. "
            f"{'0.05 0.5' if CLI_MODE.get() else '(0.05, 0.5)'}) or add SNPs"
        )
    usable_set = set(usable.tolist())
    if placement == "trans":
        by_chrom = {c: usable[chrom[usable] == c] for c in dict.fromkeys(chrom[usable])}
        trans_chroms = np.array(list(by_chrom), dtype=object)
        if len(trans_chroms) < order:
            raise InputError(
                f"{opt('placement', 'trans')} puts each SNP of a group of {order} on a different "
                f"chromosome, and {len(trans_chroms)} chromosome(s) have SNPs with minor-allele "
                f"frequency >= 0.1; draw it on genotypes with at least {order} such "
                f"chromosomes (simulated ones: {opt('chromosomes' if CLI_MODE.get() else 'n_chrom')}), "
                f"or {opt('placement', 'local')}"
            )
    used = set(exclude)
    groups: list[np.ndarray] = []
    for _attempt in range(200 * n_groups):
        if len(groups) == n_groups:
            break
        if placement == "trans":
            # one SNP from each of ``order`` chromosomes drawn at random, then sorted
            chroms = rng.choice(trans_chroms, size=order, replace=False)
            members = sorted(int(rng.choice(by_chrom[c])) for c in chroms)
            if any(m in used for m in members):
                continue
        else:
            a = int(rng.choice(usable))
            members = [a]
            ok = a not in used
            while ok and len(members) < order:
                gap = int(rng.integers(1, max_gap + 1))
                b = members[-1] + gap
                if b >= n_snps or chrom[b] != chrom[a] or b in used or b not in usable_set:
                    ok = False
                    break
                members.append(b)
            if not ok:
                continue
        if pair_ld != "any":
            xs = _filled(genotypes, np.asarray(members)).T
            r = np.corrcoef(xs)
            r_max = float(np.max(np.abs(r[np.triu_indices(len(members), 1)])))
            if (pair_ld == "weak" and r_max >= 0.3) or (pair_ld == "strong" and r_max < 0.5):
                continue
        groups.append(np.asarray(members))
        used.update(members)
    if len(groups) < n_groups and placement == "trans":
        other_ld = f", or {opt('pair_ld', 'any')}" if pair_ld != "any" else ""
        raise InputError(
            f"could not place {n_groups} groups of {order} SNPs on different chromosomes "
            f"({opt('pair_ld', pair_ld)}) in {x_all.shape[1]} SNPs; use fewer loci "
            f"({opt('n_loci')}), more SNPs{other_ld}"
        )
    if len(groups) < n_groups:
        other_ld = f", or {opt('pair_ld', 'any')}" if pair_ld != "any" else ""
        # a gap near a chromosome's length runs past its end: then a smaller one helps
        longest = int(np.unique(chrom, return_counts=True)[1].max())
        gap = (
            f"a {opt('max_gap')} well below {longest} (the SNPs of the longest chromosome)"
            if max_gap * (order - 1) > longest // 2
            else f"a larger {opt('max_gap')}"
        )
        raise InputError(
            f"could not place {n_groups} groups of {order} SNPs within {max_gap} SNPs of each "
            f"other ({opt('pair_ld', pair_ld)}) in {x_all.shape[1]} SNPs; use fewer loci "
            f"({opt('n_loci')}), more SNPs, {gap}{other_ld}"
        )
    return groups


def check_trait_arguments(
    architecture: str = "local_epistasis",
    h2: float = 0.6,
    n_loci: int | None = None,
    order: int = 2,
    max_gap: int = 4,
    pair_ld: str = "any",
    epistatic_share: float = 0.5,
    effect_dist: str = "normal",
    pure: bool = True,
    seed: int | None = 0,
    placement: str = "local",
) -> None:
    """The checks of :func:`simulate_trait`'s arguments that need no genotypes (an
    :class:`InputError` naming the argument; ``n_loci`` is checked against the polymorphic
    SNPs when the trait is drawn)."""
    if not isinstance(pure, (bool, np.bool_)):
        raise InputError(f"pure must be true or false; received {pure!r}")
    _check_seed(seed, allow_none=True)
    for name, value, valid in (
        ("architecture", architecture, ARCHITECTURES),
        ("pair_ld", pair_ld, PAIR_LD),
        ("effect_dist", effect_dist, EFFECT_DISTS),
        ("placement", placement, PLACEMENTS),
    ):
        if value not in valid:
            raise InputError(
                f"Invalid value for argument `{name}`. Expected one of {', '.join(valid)}. "
                f"Received {name}={value!r}."
            )
    _check_range("h2", h2, 0.0, 1.0)
    _check_range("epistatic_share", epistatic_share, 0.0, 1.0)
    for name, v in (("order", order), ("max_gap", max_gap), ("n_loci", n_loci)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))):
            raise InputError(f"{name} must be a whole number; received {v!r}")
    if order < 2 or max_gap < 1:
        raise InputError(f"order must be >= 2 and max_gap >= 1; received {order}, {max_gap}")
    if architecture in ("local_epistasis", "mixed") and (placement, pair_ld) == ("trans", "strong"):
        # LD never crosses a chromosome here: "use fewer loci" could not help (session 49)
        raise InputError(
            f"{opt('pair_ld', 'strong')} cannot be combined with {opt('placement', 'trans')}: "
            "SNPs on different chromosomes are not in LD in these simulations; use "
            f"{opt('pair_ld', 'any')} or {opt('pair_ld', 'weak')}"
        )
    if n_loci is not None and n_loci < 1:
        raise InputError(
            f"Invalid value for argument `n_loci`. Expected n_loci >= 1. Received n_loci={n_loci}."
        )


@_one_blas_thread
def simulate_trait(
    genotypes: Genotypes,
    architecture: str = "local_epistasis",
    h2: float = 0.6,
    n_loci: int | None = None,
    order: int = 2,
    max_gap: int = 4,
    pair_ld: str = "any",
    pure: bool = True,
    epistatic_share: float = 0.5,
    effect_dist: str = "normal",
    seed: int | None = 0,
    name: str = "phenotype",
    placement: str = "local",
) -> tuple[pd.Series, pd.DataFrame]:
    """Simulate a quantitative trait with a known genetic architecture and known causal SNPs.

    ``y = g + e`` with the genetic values ``g`` scaled to sample variance ``h2`` exactly and
    ``e ~ N(0, 1 - h2)``.  ``y.attrs["ceiling"]`` is ``corr(g, y)`` in the sample: the
    Pearson r that a predictor knowing ``g`` exactly would reach, and so the upper limit for
    any model's r on these data.

    Architectures (``n_loci`` defaults in brackets):

    ``"sparse_additive"`` [10]
        ``g = sum_j b_j x_j`` over ``n_loci`` random polymorphic SNPs (centred dosages).
    ``"polygenic"`` [1000, at most half the polymorphic SNPs]
        The same with many small effects.
    ``"local_epistasis"`` [10 groups]
        ``g = sum_k b_k prod_(j in group k) (x_j - mean x_j)``: ``n_loci`` groups of
        ``order`` SNPs (pairs by default, triples with ``order=3``), each SNP within
        ``max_gap`` SNPs of the previous one on the same chromosome, so every group sits
        inside a short window (usually inside one LD block).  ``pair_ld`` chooses groups
        whose members are in weak LD (``"weak"``: every ``|r| < 0.3``), strong LD
        (``"strong"``: the largest ``|r| >= 0.5``) or either (``"any"``).  With ``pure=True``
        the part of ``g`` that is a linear function of the causal SNPs' dosages and
        heterozygote indicators (one additive and one dominance term per SNP, least squares
        in the sample) is removed, so no single-SNP feature of a causal SNP carries any of
        the signal: only their interaction does.  With ``placement="trans"`` each SNP of
        a group lies on a different chromosome instead (anywhere along it; ``max_gap`` then
        plays no part): interactions between unlinked loci, which no window along the map
        holds.
    ``"dominance"`` [10]
        Heterozygote advantage (overdominance): ``g = sum_j b_j h_j`` with ``h_j = 1`` for
        a heterozygote at SNP ``j`` and ``b_j > 0``; no additive term in the formula, but
        where allele frequencies are not 0.5 part of ``var(g)`` is additive in the
        statistical sense (a regression on the causal dosages explained 13-46 % of it at
        2,000 x 3,000, 6 seeds: a checking helper, session 41).
    ``"mixed"`` [10 additive SNPs and 10 groups]
        A sparse additive part and a local-epistasis part, scaled to shares
        ``1 - epistatic_share`` and ``epistatic_share`` of the genetic variance before the
        sum is scaled to ``h2``.

    Parameters
    ----------
    genotypes : Genotypes
        Missing dosages count as the SNP's mean, so the true genetic values are those of
        the imputed data; to study missing calls, draw the trait on complete genotypes and
        then :func:`mask_calls`.
    architecture : str
        One of :data:`ARCHITECTURES`.
    h2 : float in [0, 1]
        ``var(g) / (var(g) + var(e))`` (broad-sense for the non-additive architectures).
    n_loci, order, max_gap, pair_ld, pure, epistatic_share, placement
        As described above.
    effect_dist : {"normal", "equal", "gamma"}
        Effect sizes before scaling (as :func:`simulate_phenotype`).
    seed : int or None
        Seed of the NumPy generator; a fixed seed gives identical output.
    name : str
        Name of the returned Series.

    Returns
    -------
    y : Series
        Indexed by sample id.  ``y.attrs``: ``architecture``, ``h2``, ``h2_realised``
        (``var(g) / var(y)``), ``ceiling`` (``corr(g, y)``) and the parameters.
    causal : DataFrame
        One row per causal SNP: ``index`` (column in the genotype matrix), ``chrom``,
        ``pos``, ``id``, ``component`` (``additive``, ``dominance`` or ``epistasis``),
        ``group`` (the epistatic group, -1 otherwise) and ``effect`` (per unit of the
        component's term, after scaling).

    Examples
    --------
    >>> g = simulate_genotypes(300, 400, seed=1)
    >>> y, causal = simulate_trait(g, "local_epistasis", n_loci=5, seed=2)
    >>> len(y), len(causal), sorted(set(causal["group"]))
    (300, 10, [0, 1, 2, 3, 4])
    """
    if not isinstance(genotypes, Genotypes):
        raise InputError("simulate_trait expects a Genotypes container")
    check_trait_arguments(
        architecture,
        h2,
        n_loci,
        order,
        max_gap,
        pair_ld,
        epistatic_share,
        effect_dist,
        pure,
        seed,
        placement,
    )
    rng = np.random.default_rng(seed)
    poly = np.flatnonzero(~genotypes.is_monomorphic())
    n = genotypes.n_samples
    if n_loci is None:
        n_loci = _DEFAULT_LOCI[architecture]
        if architecture == "polygenic":
            n_loci = max(1, min(n_loci, len(poly) // 2))
    if len(poly) == 0:  # "give 1 to 0" at a high missing rate (a reviewer, session 44)
        raise InputError(
            f"no SNP is polymorphic in these {n} samples (every SNP has one genotype, or only "
            "missing calls): simulate more samples, or fewer missing calls"
        )
    if (
        architecture in ("local_epistasis", "mixed")
        and placement == "local"
        and max_gap >= genotypes.n_snps
    ):
        raise InputError(
            f"{opt('max_gap', max_gap)}: give 1 to {genotypes.n_snps - 1} (the gap between two "
            f"SNPs of a group, among {genotypes.n_snps} SNPs)"
        )
    # SNPs a locus takes: one, a group of ``order`` (local epistasis), or both (mixed)
    per_locus = {"local_epistasis": order, "mixed": order + 1}.get(architecture, 1)
    most = len(poly) // per_locus
    if most < 1:
        raise InputError(
            f"{architecture} needs at least {per_locus} polymorphic SNPs; these genotypes have "
            f"{len(poly)}: simulate more SNPs or samples"
        )
    if n_loci < 1 or n_loci > most:
        what = (
            f"groups of {order} SNPs" if architecture == "local_epistasis" else
            f"additive SNPs and as many groups of {order}" if architecture == "mixed" else
            "SNPs"
        )  # fmt: skip
        raise InputError(
            f"{opt('n_loci', n_loci)}: give 1 to {most} ({what} among {len(poly)} polymorphic SNPs)"
        )
    rows: list[dict] = []
    parts: list[np.ndarray] = []

    def additive(k: int, exclude: set[int]) -> np.ndarray:
        cand = np.setdiff1d(poly, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
        idx = np.sort(rng.choice(cand, size=k, replace=False))
        b = _effects(rng, k, effect_dist)
        x = _filled(genotypes, idx)
        x -= x.mean(axis=0)
        for j, bj in zip(idx, b):
            rows.append({"index": int(j), "component": "additive", "group": -1, "effect": bj})
        return x @ b

    def epistatic(k: int, exclude: set[int]) -> np.ndarray:
        groups = _pick_groups(genotypes, rng, k, order, max_gap, pair_ld, exclude, placement)
        b = _effects(rng, k, effect_dist)
        g = np.zeros(n)
        for gi, (members, bk) in enumerate(zip(groups, b)):
            x = _filled(genotypes, members)
            g += bk * np.prod(x - x.mean(axis=0), axis=1)
            for j in members:
                rows.append({"index": int(j), "component": "epistasis", "group": gi, "effect": bk})
        if pure:
            causal = np.concatenate(groups)
            x = _filled(genotypes, causal)
            design = np.column_stack([np.ones(n), x, (x == 1).astype(np.float64)])
            if n <= design.shape[1]:
                raise InputError(
                    f"pure epistasis removes the additive and dominance parts of the "
                    f"{len(causal)} causal SNPs ({design.shape[1]} columns), which needs more "
                    f"than {design.shape[1]} samples, not {n}: simulate more samples "
                    f"({opt('n_samples')}) or fewer loci ({opt('n_loci')})"
                    + ("" if CLI_MODE.get() else ", or set pure=False")
                )
            coef, *_ = np.linalg.lstsq(design, g, rcond=None)
            g = g - design @ coef
        return g

    if architecture in ("sparse_additive", "polygenic"):
        comps = {"additive": (additive(n_loci, set()), 1.0)}
    elif architecture == "local_epistasis":
        comps = {"epistasis": (epistatic(n_loci, set()), 1.0)}
    elif architecture == "dominance":
        idx = np.sort(rng.choice(poly, size=n_loci, replace=False))
        b = np.abs(_effects(rng, n_loci, effect_dist))
        het = (_filled(genotypes, idx) == 1).astype(np.float64)
        if not het.any() and not genotypes.counts()["n1"].any():
            # inbred lines (inbreeding 1): "use another seed" was no fix
            raise InputError(
                "the genotypes hold no heterozygote (fully inbred lines?), so a dominance "
                "trait has no genetic variance; simulate them with inbreeding below 1, or "
                "choose another architecture"
            )
        for j, bj in zip(idx, b):
            rows.append({"index": int(j), "component": "dominance", "group": -1, "effect": bj})
        comps = {"dominance": (het @ b, 1.0)}
    else:  # mixed
        a = additive(n_loci, set())
        e = epistatic(n_loci, {r["index"] for r in rows})
        comps = {"additive": (a, 1.0 - epistatic_share), "epistasis": (e, epistatic_share)}
    factors = {}
    for key, (raw, share) in comps.items():
        parts.append(_scaled(raw, share)[0])
        factors[key] = _scaled(raw, share)[1]
    g, s = _scaled(np.sum(parts, axis=0), h2)
    for r in rows:  # effects on the scale of the returned g
        r["effect"] *= factors[r["component"]] * s
    e_noise = rng.normal(0.0, np.sqrt(1.0 - h2), n)
    yv = g + e_noise
    y = pd.Series(yv, index=pd.Index(genotypes.samples.astype(str), name="sample_id"), name=name)
    vy = yv.var()
    ceiling = float(np.corrcoef(g, yv)[0, 1]) if h2 > 0 and vy > 0 else 0.0
    y.attrs = {
        "architecture": architecture,
        "h2": float(h2),
        "h2_realised": float(g.var() / vy) if vy > 0 else float("nan"),
        "ceiling": ceiling,
        "n_loci": int(n_loci),
        "order": int(order),
        "max_gap": int(max_gap),
        "pair_ld": pair_ld,
        "placement": placement,
        "pure": bool(pure),
        "epistatic_share": float(epistatic_share),
        "seed": seed,
    }
    idx = np.array([r["index"] for r in rows], dtype=np.int64)
    v = genotypes.variants.iloc[idx]
    causal_df = pd.DataFrame(
        {
            "index": idx,
            "chrom": v["chrom"].to_numpy(),
            "pos": v["pos"].to_numpy(),
            "id": v["id"].to_numpy(),
            "component": [r["component"] for r in rows],
            "group": np.array([r["group"] for r in rows], dtype=np.int64),
            "effect": np.array([r["effect"] for r in rows], dtype=np.float64),
        }
    )
    return y, causal_df
