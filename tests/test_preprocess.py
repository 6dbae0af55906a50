import numpy as np
import pandas as pd
import pytest

from snpcnn.genotypes import Genotypes
from snpcnn.preprocess import GenotypePreprocessor, match_variants


def _geno(seed=0, n=30, m=12):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 3, size=(n, m)).astype(np.int8)
    d[:, 0] = 1  # monomorphic
    d[rng.random((n, m)) < 0.05] = -1
    v = pd.DataFrame(
        {
            "chrom": "1",
            "pos": np.arange(m) * 10 + 1,
            "id": [f"rs{i}" for i in range(m)],
            "ref": "A",
            "alt": "G",
        }
    )
    return Genotypes(d, [f"s{i}" for i in range(n)], v)


def test_statistics_come_from_training_rows_only():
    g = _geno()
    train = np.arange(20)
    pre = GenotypePreprocessor(scaling="standardize").fit(g, train)
    # poison the test rows: nothing fitted may change
    poisoned = Genotypes(g.dosages.copy(), g.samples, g.variants)
    poisoned.dosages[20:] = 2
    pre2 = GenotypePreprocessor(scaling="standardize").fit(poisoned, train)
    np.testing.assert_array_equal(pre.snp_index_, pre2.snp_index_)
    np.testing.assert_array_equal(pre.fill_, pre2.fill_)
    np.testing.assert_array_equal(pre.scale_, pre2.scale_)
    assert 0 not in pre.snp_index_  # monomorphic SNP dropped
    x = pre.transform(g, train)
    assert x.shape == (20, pre.n_snps, 1)
    np.testing.assert_allclose(x[..., 0].mean(0), 0, atol=1e-5)  # centred on training means


def test_missing_is_imputed_with_training_mean_and_onehot_is_zero():
    g = _geno()
    pre = GenotypePreprocessor(scaling="none").fit(g, np.arange(30))
    block = g.dosages[:, pre.snp_index_]
    x = pre.transform(g)[..., 0]
    miss = block < 0
    assert miss.any()
    np.testing.assert_allclose(x[miss], np.broadcast_to(pre.fill_, x.shape)[miss])
    oh = GenotypePreprocessor(encoding="onehot").fit(g, np.arange(30)).transform(g)
    assert oh.shape[-1] == 3 and (oh[miss].sum(-1) == 0).all()


def test_preselection_keeps_associated_snps():
    g = _geno(n=200, m=50)
    y = g.dosages[:, 7].astype(float).clip(0) * 2.0 + np.random.default_rng(0).normal(size=200)
    pre = GenotypePreprocessor(preselect_top_k=3).fit(g, np.arange(200), y=y)
    assert pre.n_snps == 3 and 7 in pre.snp_index_


def test_match_variants_by_id_position_and_flip():
    model = pd.DataFrame(
        {
            "chrom": ["1", "1", "2", "2"],
            "pos": [10, 20, 30, 40],
            "id": ["a", "b", "c", "d"],
            "ref": ["A", "C", "G", "T"],
            "alt": ["G", "T", "A", "C"],
        }
    )
    new = pd.DataFrame(
        {
            "chrom": ["1", "1", "2"],
            "pos": [10, 20, 30],
            "id": ["a", "b", "x"],
            "ref": ["A", "T", "G"],
            "alt": ["G", "C", "A"],
        }
    )
    m = match_variants(model, new)
    assert m["column"].tolist() == [0, 1, 2, -1]
    assert m["flip"].tolist() == [False, True, False, False]
    assert (m["n_by_id"], m["n_by_position"], m["n_missing"]) == (2, 1, 1)


def test_a_repeated_id_matches_nothing_by_id_and_the_rest_still_match():
    """One repeated id anywhere in the new file switched id matching off for every SNP, so
    predict found 0 of the model's SNPs (a checking helper, session 35)."""
    model = pd.DataFrame(
        {
            "chrom": ["1"] * 3,
            "pos": [10, 20, 30],
            "id": ["a", "b", "c"],
            "ref": ["A"] * 3,
            "alt": ["G"] * 3,
        }
    )
    new = pd.DataFrame(  # 'unknown' twice (not a model SNP); 'c' twice at its position
        {
            "chrom": ["1", "1", "1", "1", "2", "2"],
            "pos": [30, 10, 20, 30, 5, 6],
            "id": ["c", "a", "b", "c", "unknown", "unknown"],
            "ref": ["A"] * 6,
            "alt": ["G"] * 6,
        }
    )
    m = match_variants(model, new)
    assert m["column"].tolist() == [1, 2, -1]  # 'c' is ambiguous, by id and by position
    assert (m["n_by_id"], m["n_by_position"], m["n_missing"]) == (2, 0, 1)
    m = match_variants(model, new.iloc[1:].reset_index(drop=True))
    assert m["column"].tolist() == [0, 1, 2] and m["n_by_id"] == 3


def test_match_variants_never_takes_another_snp_by_position():
    """A file whose positions moved (another build, or a renumbered panel): the model's SNP
    'b' is absent, and the file's SNP at its position is 'c', which the model knows as a
    different SNP (matched by id). 'b' stays absent rather than reading 'c' a second time;
    'e' (unknown id, free position) is still matched by position, once."""
    model = pd.DataFrame(
        {
            "chrom": ["1"] * 4,
            "pos": [10, 20, 30, 40],
            "id": ["a", "b", "c", "d"],
            "ref": ["A"] * 4,
            "alt": ["G"] * 4,
        }
    )
    new = pd.DataFrame(
        {
            "chrom": ["1"] * 3,
            "pos": [10, 20, 40],
            "id": ["a", "c", "e"],
            "ref": ["A"] * 3,
            "alt": ["G"] * 3,
        }
    )
    m = match_variants(model, new)
    assert m["column"].tolist() == [0, -1, 1, 2]
    assert (m["n_by_id"], m["n_by_position"], m["n_missing"]) == (2, 1, 1)


def test_a_site_without_alt_is_oriented_by_its_ref():
    """A new file monomorphic at a model SNP writes it with no ALT (VCF ALT '.', PLINK
    allele 0). Its REF tells the orientation: REF = the model's counted allele means every
    dosage 0 there is the model's dosage 2 (it was read as 0: a checking helper, session
    39); REF = the model's REF reads as is; a third allele is a mismatch. 'd' is a PLINK
    .bim with A1 (the counted allele) 0 and A2 C."""
    model = pd.DataFrame(
        {"chrom": ["1"] * 4, "pos": [10, 20, 30, 40], "id": list("abcd"),
         "ref": ["A", "A", "A", "A"], "alt": ["C", "C", "C", "C"]}
    )  # fmt: skip
    new = pd.DataFrame(
        {"chrom": ["1"] * 4, "pos": [10, 20, 30, 40], "id": list("abcd"),
         "ref": ["C", "A", "G", "C"], "alt": [".", ".", ".", "0"]}
    )  # fmt: skip
    m = match_variants(model, new)
    assert m["column"].tolist() == [0, 1, -1, 3]
    assert m["flip"].tolist() == [True, False, False, True]
    assert m["n_allele_mismatch"] == 1 and m["n_orientation_unverified"] == 0


def test_a_split_multiallelic_site_is_found_by_its_alleles():
    """`bcftools norm -m-` splits rs1 A/G,T into rs1 A/G and rs1 A/T: the id is repeated, so
    not matched by id, and the record with the model's alleles was still shut out of the
    position fallback because it carries a model SNP's id (its own): the SNP was filled
    with its mean and predictions moved by 0.19 sd (a checking helper, session 41)."""
    model = pd.DataFrame(
        {"chrom": ["1", "1"], "pos": [100, 200], "id": ["rs1", "rs2"], "ref": ["A", "C"],
         "alt": ["G", "T"]}
    )  # fmt: skip
    new = pd.DataFrame(
        {"chrom": ["1"] * 4, "pos": [100, 100, 200, 200], "id": ["rs1", "rs1", "rs2", "rs1"],
         "ref": ["A", "A", "C", "C"], "alt": ["T", "G", "T", "G"]}
    )  # fmt: skip
    m = match_variants(model, new)
    assert m["column"].tolist() == [1, 2]
    assert (m["n_by_id"], m["n_by_position"], m["n_missing"]) == (1, 1, 0)
    # a record at rs2's position and alleles that carries rs1's id is still another SNP
    other = new.assign(id=["rs1", "rs1", "rs1", "rs2"], alt=["T", "G", "T", "G"])
    other.loc[3, "ref"] = "A"  # rs2 by id has other alleles: a mismatch, not a match
    m = match_variants(model, other)
    assert m["column"].tolist() == [1, -1]


def test_an_id_the_model_repeats_is_matched_by_position():
    """A training file that reused an id (fit warns) gave the model two SNPs with one id;
    both read the new file's column of that id (one of them a wrong SNP, silently). They
    are now matched by chrom:pos and alleles, each to its own column."""
    model = pd.DataFrame(
        {"chrom": ["1"] * 3, "pos": [10, 20, 60], "id": ["x", "b", "x"],
         "ref": ["A"] * 3, "alt": ["G"] * 3}
    )  # fmt: skip
    unique = pd.DataFrame(  # the ids made unique, as fit's warning asks
        {"chrom": ["1"] * 3, "pos": [10, 20, 60], "id": ["x", "b", "y"],
         "ref": ["A"] * 3, "alt": ["G"] * 3}
    )  # fmt: skip
    m = match_variants(model, unique)
    assert m["column"].tolist() == [0, 1, 2]
    assert (m["n_by_id"], m["n_by_position"], m["n_missing"]) == (1, 2, 0)
    m = match_variants(model, model)  # the training file itself
    assert m["column"].tolist() == [0, 1, 2] and m["n_missing"] == 0
    # the same SNP listed twice (id, position and alleles equal) is one SNP: both copies
    # read its column, as before (a review, session 39)
    twice = model.assign(pos=[10, 20, 10])
    m = match_variants(twice, unique)
    assert m["column"].tolist() == [0, 1, 0] and m["n_missing"] == 0


def test_bad_settings_are_clear_errors():
    from snpcnn.errors import InputError

    with pytest.raises(InputError, match="encoding"):
        GenotypePreprocessor(encoding="bits")
    with pytest.raises(InputError, match="min_maf must be in"):
        GenotypePreprocessor(min_maf=0.7)
