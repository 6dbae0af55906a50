"""Genotype/phenotype simulator: shapes, determinism, MAF, LD decay, heritability, writers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.errors import InputError
from snpcnn.simulate import (
    simulate_genotypes,
    simulate_phenotype,
    simulate_trait,
    write_example,
)


@pytest.fixture(scope="module")
def geno():
    return simulate_genotypes(2000, 600, n_chrom=3, maf_range=(0.1, 0.4), ld=0.9, seed=11)


def _r2(a, b):
    return np.corrcoef(a.astype(float), b.astype(float))[0, 1] ** 2


def test_shapes_ids_positions(geno):
    assert geno.shape == (2000, 600)
    assert geno.dosages.dtype == np.int8
    assert set(np.unique(geno.dosages)) <= {0, 1, 2}
    v = geno.variants
    assert list(v["chrom"].unique()) == ["1", "2", "3"]
    assert v["id"].is_unique
    for _, grp in v.groupby("chrom"):
        assert (np.diff(grp["pos"].to_numpy()) > 0).all()
    assert (v["ref"] != v["alt"]).all()
    assert len(set(geno.samples)) == 2000


def test_deterministic_with_seed():
    a = simulate_genotypes(50, 80, seed=5)
    b = simulate_genotypes(50, 80, seed=5)
    c = simulate_genotypes(50, 80, seed=6)
    np.testing.assert_array_equal(a.dosages, b.dosages)
    pd.testing.assert_frame_equal(a.variants, b.variants)
    assert (a.dosages != c.dosages).any()
    ya, ca = simulate_phenotype(a, 5, 0.5, seed=1)
    yb, cb = simulate_phenotype(b, 5, 0.5, seed=1)
    pd.testing.assert_series_equal(ya, yb)
    pd.testing.assert_frame_equal(ca, cb)


def test_maf_within_range(geno):
    exp = geno.variants["maf_expected"].to_numpy()
    assert exp.min() >= 0.1 and exp.max() <= 0.4
    maf = geno.maf()
    # sampling error of a frequency from 4000 haplotypes: sd <= 0.008
    assert maf.min() > 0.1 - 0.035 and maf.max() < 0.4 + 0.035
    assert np.abs(maf - exp).max() < 0.04
    # the counted allele is not always the minor one
    alt = geno.alt_freq()
    assert 0.2 < np.mean(alt > 0.5) < 0.8


def test_ld_decays_with_distance(geno):
    d = geno.dosages
    adj = np.mean([_r2(d[:, j], d[:, j + 1]) for j in range(0, 190)])
    far = np.mean([_r2(d[:, j], d[:, j + 60]) for j in range(0, 130)])
    across = np.mean([_r2(d[:, j], d[:, j + 200]) for j in range(0, 190)])  # other chromosome
    assert adj > 0.15
    assert adj > 10 * far
    assert across < 0.005
    no_ld = simulate_genotypes(2000, 200, n_chrom=1, ld=0.0, seed=3).dosages
    adj0 = np.mean([_r2(no_ld[:, j], no_ld[:, j + 1]) for j in range(199)])
    assert adj0 < 0.005


def test_phenotype_heritability_and_effects(geno):
    y, causal = simulate_phenotype(geno, n_causal=20, h2=0.5, seed=2)
    assert isinstance(y, pd.Series) and y.index.name == "sample_id"
    assert list(y.index) == list(geno.samples)
    assert len(causal) == 20 and causal["index"].is_unique
    x = geno.dosages[:, causal["index"]].astype(float)
    g = (x - x.mean(0)) @ causal["effect"].to_numpy()
    assert g.var() == pytest.approx(0.5, rel=1e-9)  # genetic variance exactly h2
    assert abs(y.attrs["h2_realised"] - 0.5) < 0.05
    assert abs(y.var() - 1.0) < 0.1
    assert (y - g).var() == pytest.approx(0.5, abs=0.05)  # noise variance 1 - h2


@pytest.mark.parametrize("h2", [0.0, 1.0])
def test_heritability_edges(geno, h2):
    y, causal = simulate_phenotype(geno, n_causal=5, h2=h2, seed=4, effect_dist="equal")
    assert y.attrs["h2_realised"] == pytest.approx(h2, abs=1e-12)


def test_phenotype_input_errors(geno):
    with pytest.raises(InputError, match="n_causal"):
        simulate_phenotype(geno, n_causal=10_000)
    with pytest.raises(InputError, match="h2"):
        simulate_phenotype(geno, h2=1.5)
    with pytest.raises(InputError, match="effect_dist"):
        simulate_phenotype(geno, effect_dist="cauchy")
    # the checks simulate_trait makes (numpy's own errors, and float indices truncated,
    # before session 41)
    with pytest.raises(InputError, match="n_causal must be a whole number"):
        simulate_phenotype(geno, n_causal=2.0)
    with pytest.raises(InputError, match="seed must be a whole number >= 0"):
        simulate_phenotype(geno, seed=-1)
    with pytest.raises(InputError, match="whole numbers"):
        simulate_phenotype(geno, causal=[1.5, 2.7])
    with pytest.raises(InputError, match="at least one"):
        simulate_phenotype(geno, causal=[])


@pytest.mark.parametrize("spacing", [float("inf"), float("nan"), 1e30, 1e18, 0.0])
def test_a_spacing_beyond_the_position_limit_is_refused(spacing):
    """spacing=inf gave positions -9223372036854775807 with only a RuntimeWarning (a checking
    helper, session 41); VCF and PLINK hold positions below 2^31."""
    with pytest.raises(InputError, match=r"spacing must be > 0 bp and small enough"):
        simulate_genotypes(50, 6, n_chrom=1, spacing=spacing, seed=0)


def test_traits_are_the_same_bits_whatever_the_blas_threads():
    """`x @ b` and `lstsq` gave y 2.8e-16 apart at 1 and 2 BLAS threads (1500 x 2500, 500
    loci), so a benchmark resumed with other --threads recomputed its folds (a checking
    helper, session 41): the simulation runs on one BLAS thread."""
    from snpcnn.threads import blas_threads

    g = simulate_genotypes(1500, 2500, n_chrom=4, seed=1)
    out = []
    for k in (1, 2):
        with blas_threads(k):
            y1, _ = simulate_trait(g, "polygenic", n_loci=500, seed=0)
            y2, _ = simulate_trait(g, "local_epistasis", n_loci=150, seed=0)
            y3, _ = simulate_phenotype(g, n_causal=500, seed=0)
        out.append([y.to_numpy().tobytes() for y in (y1, y2, y3)])
    assert out[0] == out[1]


def test_missing_rate():
    g = simulate_genotypes(300, 100, missing_rate=0.1, seed=1)
    frac = (g.dosages < 0).mean()
    assert 0.08 < frac < 0.12
    y, _ = simulate_phenotype(g, 5, 0.5, seed=1)
    assert np.isfinite(y).all()


def test_write_example_plink_roundtrip(tmp_path):
    from bed_reader import open_bed

    paths = write_example(tmp_path, n_samples=40, n_snps=30, n_causal=3, seed=2)
    g = simulate_genotypes(40, 30, n_chrom=5, seed=2)
    with open_bed(paths["genotypes"]) as bed:
        X = bed.read(dtype="int8")
        assert list(bed.sid) == list(g.variants["id"])
        assert list(bed.allele_1) == list(g.variants["alt"])
        assert list(bed.iid) == list(g.samples)
    np.testing.assert_array_equal(X, g.dosages)
    pheno = pd.read_csv(paths["phenotypes"])
    assert list(pheno.columns) == ["sample_id", "phenotype"] and len(pheno) == 40
    assert len(pd.read_csv(paths["causal"])) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["sim.bed", "sim.bim", "sim.fam", "sim_phenotypes.csv", "sim_causal.csv"]
    )  # no temporary files left behind
    with pytest.raises(InputError, match="already exists"):
        write_example(tmp_path, n_samples=40, n_snps=30, n_causal=3, seed=2)
    write_example(tmp_path, n_samples=40, n_snps=30, n_causal=3, seed=2, force=True)


def test_write_example_vcf_roundtrip(tmp_path):
    import allel

    paths = write_example(tmp_path, n_samples=20, n_snps=25, n_causal=2, fmt="vcf", seed=3)
    g = simulate_genotypes(20, 25, n_chrom=5, seed=3)
    cs = allel.read_vcf(str(paths["genotypes"]), fields=["calldata/GT", "variants/ID"])
    np.testing.assert_array_equal(cs["calldata/GT"].sum(-1).T, g.dosages)
    assert list(cs["variants/ID"]) == list(g.variants["id"])


# ------------------------------------------------------------------ simulate_trait
from snpcnn.simulate import ARCHITECTURES  # noqa: E402


@pytest.fixture(scope="module")
def ld_geno():
    return simulate_genotypes(800, 400, n_chrom=2, maf_range=(0.1, 0.5), seed=21)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_simulate_trait_scales_g_and_records_the_ceiling(ld_geno, arch):
    kw = {"n_loci": 50} if arch == "polygenic" else {}
    y, causal = simulate_trait(ld_geno, arch, h2=0.6, seed=3, **kw)
    assert len(y) == ld_geno.n_samples and y.attrs["architecture"] == arch
    # the ceiling is corr(g, y) = sqrt(var g / var y) up to the sample covariance of g and e
    assert abs(y.attrs["ceiling"] - np.sqrt(0.6)) < 0.06
    assert 0.5 < y.attrs["h2_realised"] < 0.7
    assert set(causal["component"]) <= {"additive", "dominance", "epistasis"}
    assert causal["index"].between(0, ld_geno.n_snps - 1).all()
    a, _ = simulate_trait(ld_geno, arch, h2=0.6, seed=3, **kw)
    np.testing.assert_array_equal(a.to_numpy(), y.to_numpy())  # fixed seed, same trait


def test_local_epistasis_groups_are_short_windows_on_one_chromosome(ld_geno):
    y, causal = simulate_trait(ld_geno, "local_epistasis", n_loci=6, order=3, max_gap=3, seed=1)
    assert sorted(set(causal["group"])) == list(range(6))
    for _, grp in causal.groupby("group"):
        idx = np.sort(grp["index"].to_numpy())
        assert len(idx) == 3 and np.all(np.diff(idx) >= 1) and np.all(np.diff(idx) <= 3)
        assert grp["chrom"].nunique() == 1


def test_pure_local_epistasis_has_no_single_snp_signal(ld_geno):
    """With pure=True, no additive or dominance term of a causal SNP predicts y's genetic part:
    the least-squares fit of y on those terms explains only noise-level variance, while the
    products of the pairs explain most of it."""
    y, causal = simulate_trait(ld_geno, "local_epistasis", n_loci=5, h2=1.0, seed=4)
    x = ld_geno.dosages[:, causal["index"].to_numpy()].astype(float)
    design = np.column_stack([np.ones(len(y)), x, (x == 1).astype(float)])
    coef, *_ = np.linalg.lstsq(design, y.to_numpy(), rcond=None)
    assert np.var(design @ coef) / np.var(y.to_numpy()) < 1e-10
    prods = np.column_stack(
        [
            np.prod(
                x[:, (causal["group"] == k).to_numpy()]
                - x[:, (causal["group"] == k).to_numpy()].mean(0),
                axis=1,
            )
            for k in range(5)
        ]
    )
    fit, *_ = np.linalg.lstsq(np.column_stack([design, prods]), y.to_numpy(), rcond=None)
    assert np.var(np.column_stack([design, prods]) @ fit) / np.var(y.to_numpy()) > 0.99


def test_weak_and_strong_ld_pairs(ld_geno):
    for kind, check in (("weak", lambda r: r < 0.3), ("strong", lambda r: r >= 0.5)):
        _, causal = simulate_trait(ld_geno, "local_epistasis", n_loci=3, pair_ld=kind, seed=5)
        for _, grp in causal.groupby("group"):
            x = ld_geno.dosages[:, grp["index"].to_numpy()].astype(float)
            assert check(abs(np.corrcoef(x.T)[0, 1]))


def test_dominance_is_heterozygote_advantage(ld_geno):
    y, causal = simulate_trait(ld_geno, "dominance", n_loci=4, h2=1.0, seed=6)
    assert (causal["component"] == "dominance").all() and (causal["effect"] > 0).all()
    het = (ld_geno.dosages[:, causal["index"].to_numpy()] == 1).astype(float)
    g = het @ causal["effect"].to_numpy()
    np.testing.assert_allclose(
        y.to_numpy(), g - g.mean() + (y.to_numpy() - (g - g.mean())).mean(), atol=1e-8
    )


def test_simulate_trait_rejects_bad_arguments(ld_geno):
    with pytest.raises(InputError, match="architecture"):
        simulate_trait(ld_geno, "quantum")
    with pytest.raises(InputError, match="pair_ld"):
        simulate_trait(ld_geno, pair_ld="medium")
    with pytest.raises(InputError, match="could not place"):
        simulate_trait(ld_geno, n_loci=190, max_gap=1)
    # more groups than the polymorphic SNPs can make (pairs: half of them) is refused at once
    with pytest.raises(InputError, match=r"give 1 to 200 \(groups of 2 SNPs among 400"):
        simulate_trait(ld_geno, n_loci=300, max_gap=1)


def test_small_samples_and_bad_seeds_get_clear_errors():
    """Session 37 (a checking helper): "use another seed" where no seed helps, a raw
    TypeError for seed=None, and an empty rng.choice for a narrow MAF range."""
    from snpcnn.simulate import simulate_genotypes, simulate_trait, write_example

    g = simulate_genotypes(10, 500, seed=1)
    with pytest.raises(InputError, match="needs more than 21 samples, not 10"):
        simulate_trait(g, "local_epistasis", n_loci=5)
    with pytest.raises(InputError, match="seed must be a whole number"):
        write_example("x", seed=None)
    rare = simulate_genotypes(200, 300, maf_range=(0.01, 0.05), seed=1)
    with pytest.raises(InputError, match="minor-allele frequency >= 0.1"):
        simulate_trait(rare, "local_epistasis", n_loci=2)
    with pytest.raises(InputError, match="pure must be true or false"):
        simulate_trait(g, "local_epistasis", n_loci=1, pure="no")
