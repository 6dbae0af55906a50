"""The VCF, PLINK and CSV forms of the same genotypes load to identical matrices."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.io import read_genotypes


def assert_same(a, b, alleles=True):
    assert a.dosages.dtype == b.dosages.dtype == np.int8
    np.testing.assert_array_equal(a.dosages, b.dosages)
    assert a.samples.tolist() == b.samples.tolist()
    assert a.variants["id"].tolist() == b.variants["id"].tolist()
    if alleles:
        for col in ("chrom", "pos", "ref", "alt"):
            assert a.variants[col].tolist() == b.variants[col].tolist(), col


@pytest.fixture(scope="module")
def wheat(shared_data):
    d = shared_data / "wheat"
    return {
        "vcf": read_genotypes(d / "wheat.vcf.gz", cache=False),
        "plink": read_genotypes(d / "wheat", cache=False),
        "csv": read_genotypes(d / "wheat_X_dart01.csv.gz", cache=False),
        "csv01": read_genotypes(d / "wheat_X_dart01.csv.gz", coding="01", cache=False),
    }


@pytest.fixture(scope="module")
def mice(shared_data):
    """The mice VCF takes a few seconds to parse: load it once per module."""
    d = shared_data / "mice"
    return {
        "vcf": read_genotypes(d / "mice.vcf.gz", cache=False),
        "plink": read_genotypes(d / "mice.bed", cache=False),
    }


def test_wheat_vcf_equals_plink(wheat):
    assert wheat["vcf"].shape == (599, 1279)
    assert_same(wheat["vcf"], wheat["plink"])
    assert set(np.unique(wheat["vcf"].dosages)) == {0, 2}  # DArT 0/1 -> 0/0, 1/1


def test_wheat_csv_equals_vcf(wheat):
    assert_same(wheat["csv"], wheat["vcf"], alleles=False)
    assert_same(wheat["csv01"], wheat["vcf"], alleles=False)
    assert wheat["csv"].report["coding"].startswith("01")


def test_example_data_is_the_shared_wheat(example_data, wheat):
    assert_same(read_genotypes(example_data / "wheat.vcf.gz", cache=False), wheat["vcf"])
    assert_same(read_genotypes(example_data / "wheat.bed", cache=False), wheat["plink"])
    assert_same(
        read_genotypes(example_data / "wheat_X_dart01.csv.gz", cache=False),
        wheat["csv"],
        alleles=False,
    )


def test_mice_vcf_equals_plink(mice):
    v, p = mice["vcf"], mice["plink"]
    assert v.shape == (1814, 10346)
    assert_same(v, p)  # includes VCF ID == .bim id and ALT == A1
    assert set(np.unique(v.dosages)) == {0, 1, 2}
    assert v.variants["chrom"].iloc[-1] == "X"
    # ids follow PLINK --recode A naming: SNP_countedAllele, so the suffix is the counted allele
    suffix = v.variants["id"].str.rsplit("_", n=1).str[-1]
    assert (suffix == v.variants["alt"]).all()
