"""BCF reading (htslib via cyvcf2): the same container as the VCF it was made from."""

from __future__ import annotations

import gzip
import shutil

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.io import detect_format, read_genotypes
from snpcnn.io.bcf import read_bcf
from snpcnn.io.vcf import read_vcf

cyvcf2 = pytest.importorskip("cyvcf2")

# the shipped edge-case VCFs that htslib can write as BCF (test14/test48* are malformed
# for htslib, ann/empty have no samples/records, test63 is triploid: each tested below)
CASES = [
    "sample.vcf",
    "sample.vcf.gz",
    "sample.utf8.vcf",
    "test1.vcf",
    "test4.vcf",
    "test32.vcf",
    "test54.vcf.gz",
    "test176.vcf",
    "unsorted.vcf",
]


def to_bcf(src, dst):
    """Write ``src`` as BGZF-compressed BCF with cyvcf2 (adding the contig lines BCF needs)."""
    chroms = list(dict.fromkeys(v.CHROM for v in cyvcf2.VCF(str(src))))
    r = cyvcf2.VCF(str(src))
    have = set()
    try:
        have = set(r.seqnames)
    except Exception:  # no contig lines and no index
        pass
    for c in chroms:
        if c not in have:
            r.add_to_header(f"##contig=<ID={c}>")
    w = cyvcf2.Writer(str(dst), r, mode="wb")
    for v in r:
        w.write_record(v)
    w.close()
    r.close()
    return dst


def assert_same(a, b):
    np.testing.assert_array_equal(a.dosages, b.dosages)
    assert a.dosages.dtype == b.dosages.dtype == np.int8
    assert list(a.samples) == list(b.samples)
    assert a.variants.equals(b.variants)
    ra, rb = dict(a.report), dict(b.report)
    assert ra.pop("format") == "vcf" and rb.pop("format") == "bcf"
    assert ra == rb


@pytest.fixture(scope="module")
def cases(shared_data):
    return shared_data / "vcf_cases" / "scikit-allel"


@pytest.mark.filterwarnings("ignore::snpcnn.errors.InputWarning")
@pytest.mark.parametrize("name", CASES)
def test_bcf_equals_vcf_on_every_case_file(cases, tmp_path, name):
    bcf = to_bcf(cases / name, tmp_path / "x.bcf")
    assert detect_format(bcf) == "bcf"
    for kw in ({}, {"multiallelic": "alt1"}, {"snps_only": True}):
        assert_same(read_vcf(cases / name, **kw), read_bcf(bcf, **kw))


def test_bcf_every_gt_form(tmp_path):
    forms = ["0/0", "0|1", "1/1", "./.", ".|.", ".", "0/.", "./1", "0", "1", "0/3", "1|0"]
    samples = [f"s{i}" for i in range(len(forms))]
    hdr = (
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
    )
    recs = [
        "1\t10\t.\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(forms),
        "1\t20\tr2\tA\tG,T\t.\tPASS\t.\tGT:DP\t" + "\t".join(f"{f}:7" for f in forms),
        "1\t30\t.\tA\t.\t.\tPASS\t.\tDP:GT\t" + "\t".join(f"3:{f}" for f in forms),
        "1\t40\t.\tA\tC\t.\tPASS\t.\tDP\t" + "\t".join("1" for _ in forms),
    ]
    vcf = tmp_path / "f.vcf"
    vcf.write_text(hdr + "\n".join(recs) + "\n")
    bcf = to_bcf(vcf, tmp_path / "f.bcf")
    for kw in ({}, {"multiallelic": "alt1"}):
        assert_same(read_vcf(vcf, **kw), read_bcf(bcf, **kw))
    g = read_genotypes(bcf, cache=False)
    assert g.dosages[:, 0].tolist() == [0, 1, 2, -1, -1, -1, -1, -1, 0, 2, -1, 1]


def test_bcf_named_vcf_gz_is_read_as_bcf(cases, tmp_path):
    bcf = to_bcf(cases / "sample.vcf", tmp_path / "x.bcf")
    disguised = tmp_path / "x.vcf.gz"
    shutil.copy(bcf, disguised)
    assert detect_format(disguised) == "bcf"
    assert read_genotypes(disguised, cache=False).report["format"] == "bcf"


def test_bcf_errors_are_one_line(cases, tmp_path, capfd):
    bcf = to_bcf(cases / "sample.vcf", tmp_path / "x.bcf")
    raw = bcf.read_bytes()
    body = gzip.decompress(raw)
    cut = tmp_path / "cut.bcf"
    cut.write_bytes(gzip.compress(body[: len(body) - 40]))  # last record cut short
    with pytest.raises(InputError, match="damaged BCF|not a readable BCF") as e:
        read_bcf(cut)
    assert "\n" not in str(e.value)
    # the compressed file cut short: htslib's own "[E::bgzf_read]" lines are not printed
    capfd.readouterr()
    short = tmp_path / "short.bcf"
    short.write_bytes(raw[:-30])
    with pytest.raises(InputError, match="not a readable BCF.*cut short") as e:
        read_bcf(short)
    assert "\n" not in str(e.value)
    assert capfd.readouterr().err == ""
    garbage = tmp_path / "g.bcf"
    garbage.write_bytes(b"BCF\x02\x02garbage")
    with pytest.raises(InputError, match="not a readable BCF"):
        read_bcf(garbage)
    text = tmp_path / "t.bcf"
    shutil.copy(cases / "sample.vcf", text)
    with pytest.raises(InputError, match="not a BCF file.*--format vcf"):
        read_bcf(text)
    empty = tmp_path / "e.bcf"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_bcf(empty)
    tri = to_bcf(cases / "test63.vcf", tmp_path / "tri.bcf")
    with pytest.raises(InputError, match=r"record 19:111, sample NA00002: .*ploidy above 2") as e:
        read_bcf(tri)
    assert "diploid dosages 0/1/2 only" in str(e.value) and "CSV" not in str(e.value)
    with pytest.raises(InputError, match="header but no variant records"):
        read_bcf(to_bcf(cases / "empty.vcf", tmp_path / "none.bcf"))


def test_bcf_converts_to_a_cache(cases, tmp_path):
    from snpcnn.io.cache import convert, load_cache

    bcf = to_bcf(cases / "sample.vcf", tmp_path / "x.bcf")
    out = convert(bcf, format="bcf")
    assert out == tmp_path / "x.bcf.snpcnn"
    c = load_cache(out)
    g = read_bcf(bcf)
    np.testing.assert_array_equal(np.asarray(c.dosages), g.dosages)
    assert c.report["format"] == "bcf"
    # reused automatically by the next read of the same BCF
    assert read_genotypes(bcf).report.get("cache") == str(out)
