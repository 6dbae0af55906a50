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

import gzip
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes

__all__ = ["simulate_genotypes", "simulate_phenotype", "write_example", "EFFECT_DISTS"]

EFFECT_DISTS = ("normal", "equal", "gamma")
_BASES = np.array(list("ACGT"))


def _check_range(name: str, value, lo: float, hi: float) -> None:
    if not (lo <= value <= hi):
        raise InputError(
            f"Invalid value for argument `{name}`. Expected a value in [{lo}, {hi}]. "
            f"Received {name}={value}."
        )


def simulate_genotypes(
    n_samples: int,
    n_snps: int,
    n_chrom: int = 5,
    maf_range: tuple[float, float] = (0.05, 0.5),
    ld: float = 0.9,
    block_length: float = 50.0,
    spacing: float = 10_000.0,
    missing_rate: float = 0.0,
    seed: int | None = 0,
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
    if n_samples < 1 or n_snps < 1:
        raise InputError(
            f"n_samples and n_snps must be >= 1; received n_samples={n_samples}, n_snps={n_snps}"
        )
    if n_chrom < 1 or n_chrom > n_snps:
        raise InputError(
            f"Invalid value for argument `n_chrom`. Expected 1 <= n_chrom <= n_snps ({n_snps}). "
            f"Received n_chrom={n_chrom}."
        )
    lo, hi = (float(v) for v in maf_range)
    if not (0.0 < lo <= hi <= 0.5):
        raise InputError(
            "Invalid value for argument `maf_range`. Expected 0 < low <= high <= 0.5. "
            f"Received maf_range={tuple(maf_range)}."
        )
    _check_range("ld", ld, 0.0, 0.999999)
    _check_range("missing_rate", missing_rate, 0.0, 0.999)
    if not block_length >= 1:
        raise InputError(f"block_length must be >= 1 SNP; received {block_length}")
    if not spacing > 0:
        raise InputError(f"spacing must be > 0 bp; received {spacing}")

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
        r = ld ** (gaps[sl] / spacing)
        r[breaks[sl]] = 0.0
        r[0] = 0.0  # each chromosome starts a fresh chain
        rho[sl] = r

    n_hap = 2 * n_samples
    dosages = np.empty((n_samples, n_snps), dtype=np.int8)
    z = np.zeros(n_hap)
    for j in range(n_snps):
        e = rng.standard_normal(n_hap)
        z = rho[j] * z + np.sqrt(1.0 - rho[j] ** 2) * e
        h = z < threshold[j]
        dosages[:, j] = h[:n_samples].astype(np.int8) + h[n_samples:]
    if missing_rate > 0:
        dosages[rng.random(dosages.shape) < missing_rate] = -1

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
    }
    return Genotypes(
        dosages,
        samples,
        variants,
        source=f"simulate_genotypes(seed={seed})",
        report={"simulation": params},
    )


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


def simulate_phenotype(
    genotypes: Genotypes,
    n_causal: int = 20,
    h2: float = 0.5,
    effect_dist: str = "normal",
    seed: int | None = 0,
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
    seed : int or None
        Seed of the NumPy generator.
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
    rng = np.random.default_rng(seed)
    poly = np.flatnonzero(~genotypes.is_monomorphic())
    if causal is None:
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
    block = np.asarray(genotypes.dosages[:, idx])
    x = block.astype(np.float64)
    missing = block < 0
    if missing.any():
        x[missing] = 0.0
        mean = x.sum(0) / np.maximum((~missing).sum(0), 1)
        x[missing] = np.broadcast_to(mean, x.shape)[missing]
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


def _write_vcf(path: Path, g: Genotypes) -> None:
    gt = np.array(["./.", "0/0", "0/1", "1/1"])
    v = g.variants
    with gzip.open(path, "wt", encoding="ascii", compresslevel=6) as fh:
        fh.write("##fileformat=VCFv4.2\n##source=snpcnn.simulate\n")
        for c in pd.unique(v["chrom"]):
            fh.write(f"##contig=<ID={c}>\n")
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
        :func:`bed_reader.to_bed`; ``vcf`` writes ``{prefix}.vcf.gz`` (gzip, GT only).
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
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
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

    g = simulate_genotypes(n_samples, n_snps, n_chrom=n_chrom, seed=seed, **genotype_kwargs)
    y, causal = simulate_phenotype(g, n_causal=n_causal, h2=h2, seed=seed + 1)

    tmp = Path(tempfile.mkdtemp(prefix=".snpcnn-sim-", dir=out_dir))
    try:
        if fmt == "plink":
            from bed_reader import to_bed

            val = np.where(g.dosages < 0, -127, g.dosages).astype(np.int8)
            v = g.variants
            to_bed(
                tmp / f"{prefix}.bed",
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
        else:
            _write_vcf(tmp / f"{prefix}.vcf.gz", g)
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
