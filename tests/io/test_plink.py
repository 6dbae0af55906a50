"""PLINK 1 reading: orientation, both .bed modes, sample ids and one-line errors."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from bed_reader import to_bed

from snpcnn.errors import InputError
from snpcnn.io import read_genotypes
from snpcnn.io.plink import read_plink


@pytest.fixture(scope="module")
def cases(shared_data):
    return shared_data / "vcf_cases" / "bed-reader"


def decode_bed_by_hand(path, n_samples, n_snps):
    """Independent reference decoder (numpy only) for both .bed modes, counting A1."""
    raw = np.fromfile(path, dtype=np.uint8)
    assert raw[0] == 0x6C and raw[1] == 0x1B
    snp_major = raw[2] == 1
    n_inner, n_outer = (n_samples, n_snps) if snp_major else (n_snps, n_samples)
    per = (n_inner + 3) // 4
    body = raw[3:].reshape(n_outer, per)
    codes = np.stack([(body >> (2 * k)) & 3 for k in range(4)], axis=-1).reshape(n_outer, -1)
    codes = codes[:, :n_inner]
    # PLINK codes: 00 hom A1, 01 missing, 10 het, 11 hom A2 -> copies of A1
    lut = np.array([2, -1, 1, 0], dtype=np.int8)
    dos = lut[codes]
    return dos.T if snp_major else dos


def make_fileset(tmp_path, cases, bed="small.bed", bim="small.bim", fam="small.fam"):
    shutil.copy(cases / bed, tmp_path / "x.bed")
    shutil.copy(cases / bim, tmp_path / "x.bim")
    shutil.copy(cases / fam, tmp_path / "x.fam")
    return tmp_path / "x"


def test_small_orientation_counts_a1(cases):
    g = read_plink(cases / "small")
    assert g.dosages.tolist() == [[1, 0, -1, 0], [2, 0, -1, 2], [0, 1, 2, 0]]
    assert g.samples.tolist() == ["iid1", "iid2", "iid3"]
    assert g.variants["alt"].tolist() == ["A", "T", "A", "T"]  # A1 = .bim column 5
    assert g.variants["ref"].tolist() == ["A", "C", "C", "G"]  # A2 = .bim column 6
    assert g.variants["chrom"].tolist() == ["1", "1", "5", "Y"]
    assert g.variants["pos"].tolist() == [1, 100, 1000, 1004]
    assert g.report["fid_differs_from_iid"] == 3
    np.testing.assert_array_equal(g.dosages, decode_bed_by_hand(cases / "small.bed", 3, 4))


def test_prefix_bed_and_bim_paths_agree(cases):
    a = read_plink(cases / "small")
    for p in ("small.bed", "small.bim", "small.fam"):
        np.testing.assert_array_equal(read_plink(cases / p).dosages, a.dosages)
    b = read_genotypes(cases / "small", cache=False)
    np.testing.assert_array_equal(b.dosages, a.dosages)


def test_upper_case_extensions_name_the_fileset(tmp_path, cases):
    """UP.BED was read as the prefix 'UP.BED' ('UP.BED.bed: no such file')."""
    a = read_plink(cases / "small")
    for ext in ("bed", "bim", "fam"):
        shutil.copy(cases / f"small.{ext}", tmp_path / f"UP.{ext.upper()}")
    for p in ("UP.BED", "UP.BIM", "UP.FAM", "UP", "UP.bed"):
        np.testing.assert_array_equal(read_plink(tmp_path / p).dosages, a.dosages)
        g = read_genotypes(tmp_path / p, cache=False)
        np.testing.assert_array_equal(g.dosages, a.dosages)
    (tmp_path / "UP.FAM").unlink()
    with pytest.raises(InputError, match=r"UP\.FAM: no such file"):
        read_plink(tmp_path / "UP.BED")


def test_individual_major_mode(cases):
    g = read_plink(cases / "smallmode0.bed")
    assert g.report["bed_mode"] == "individual-major"
    assert g.shape == (4, 3)
    np.testing.assert_array_equal(g.dosages, decode_bed_by_hand(cases / "smallmode0.bed", 4, 3))
    assert g.dosages.tolist() == [[1, 2, 0], [0, 0, 1], [-1, -1, 2], [0, 2, 0]]


@pytest.mark.parametrize(
    "name, shape, n_missing",
    [
        ("some_missing", (100, 100), 2182),
        ("plink_sim_10s_100v_10pmiss", (10, 100), 111),
        ("sparse", (10, 20), 0),
    ],
)
def test_case_filesets_match_hand_decoder(cases, name, shape, n_missing):
    g = read_plink(cases / name)
    assert g.shape == shape
    assert int((g.dosages == -1).sum()) == n_missing
    assert set(np.unique(g.dosages)) <= {-1, 0, 1, 2}
    np.testing.assert_array_equal(g.dosages, decode_bed_by_hand(cases / f"{name}.bed", *shape))


def test_multichar_alleles_kept(cases):
    g = read_plink(cases / "sparse")
    assert g.variants["alt"].iloc[0] == "A1" and g.variants["ref"].iloc[0] == "A2"


@pytest.mark.parametrize("major", ["SNP", "individual"])
def test_roundtrip_with_missing(tmp_path, major):
    rng = np.random.default_rng(0)
    val = rng.integers(0, 3, size=(13, 7)).astype(np.int8)
    val[rng.random(val.shape) < 0.2] = -127
    to_bed(tmp_path / "r.bed", val, major=major, properties={"allele_1": list("ACGTACG")})
    g = read_plink(tmp_path / "r")
    expected = np.where(val == -127, -1, val)
    np.testing.assert_array_equal(g.dosages, expected)
    assert g.variants["alt"].tolist() == list("ACGTACG")


def test_duplicate_iids_across_families_become_fid_iid(tmp_path):
    val = np.zeros((3, 2), dtype=np.int8)
    props = {"fid": ["f1", "f2", "f2"], "iid": ["a", "a", "b"]}
    to_bed(tmp_path / "d.bed", val, properties=props)
    g = read_plink(tmp_path / "d")
    assert g.samples.tolist() == ["f1_a", "f2_a", "f2_b"]
    assert "FID_IID" in g.report["sample_ids"]

    to_bed(tmp_path / "e.bed", val, properties={"fid": ["f", "f", "g"], "iid": ["a", "a", "b"]})
    with pytest.raises(
        InputError, match=r"e\.fam: sample 'f_a' \(FID_IID\) occurs on lines 1 and 2"
    ):
        read_plink(tmp_path / "e")


def test_snps_only_on_plink(cases):
    g = read_genotypes(cases / "sparse", snps_only=True, cache=False)
    assert g.n_snps == 0 or g.variants["alt"].str.len().eq(1).all()
    assert g.report["indels_dropped"] == 20 - g.n_snps


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "bed, message",
    [
        ("smallmodebad.bed", r"x\.bed: unknown \.bed mode byte 0x30"),
        ("small_too_short.bed", r"x\.bed: truncated: 6 bytes, but 3 samples \(\.fam\) x 4 SNPs"),
        ("badfile.bed", r"x\.bed: not a PLINK 1 \.bed file \(magic bytes 546869"),
        ("empty.bed", r"x\.bed: empty file \(0 bytes\)"),
    ],
)
def test_bad_bed_files(tmp_path, cases, bed, message):
    prefix = make_fileset(tmp_path, cases, bed=bed)
    with pytest.raises(InputError, match=message) as info:
        read_plink(prefix)
    assert "\n" not in str(info.value)


def test_too_long_bed(tmp_path, cases):
    prefix = make_fileset(tmp_path, cases)
    with open(prefix.with_suffix(".bed"), "ab") as fh:
        fh.write(b"\x00")
    with pytest.raises(InputError, match="too long: 8 bytes"):
        read_plink(prefix)


@pytest.mark.parametrize(
    "bim, fam, message",
    [
        ("small.bim_bad_positions.bim", "small.fam", r"x\.bim: line 2: genetic position 'X'"),
        ("small.bad_bim", "small.fam", r"x\.bim: line 3 has 5 columns"),
        ("small.bim", "small.fam_bad", r"x\.fam: line 4 has 1 columns"),
    ],
)
def test_malformed_bim_fam_name_file_and_line(tmp_path, cases, bim, fam, message):
    prefix = make_fileset(tmp_path, cases, bim=bim, fam=fam)
    with pytest.raises(InputError, match=message):
        read_plink(prefix)


def test_float_bp_and_extra_column(tmp_path, cases):
    prefix = make_fileset(tmp_path, cases)
    bim = prefix.with_suffix(".bim")
    lines = bim.read_text().splitlines()
    lines[1] = "1\tsid2\t2000.5\t100.0\tT\tC"
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 2: base-pair position '100.0' is not an integer"):
        read_plink(prefix)
    lines[1] = "1\tsid2\t2000.5\t100\tT\tC\textra"
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"x\.bim: line 2 has 7 columns"):
        read_plink(prefix)


def test_missing_sidecar(tmp_path, cases):
    shutil.copy(cases / "small.bed", tmp_path / "x.bed")
    with pytest.raises(InputError, match=r"x\.fam: no such file"):
        read_plink(tmp_path / "x")


def test_fit_predict_and_explain_say_the_ids_are_fid_iid(tmp_path, capsys):
    """predict renamed repeated IIDs to FID_IID without a word (a checking helper, session
    35): the commands' genotype reader now says it on stderr."""
    from snpcnn.cli import read_cli_genotypes

    val = np.zeros((3, 2), dtype=np.int8)
    to_bed(tmp_path / "d.bed", val, properties={"fid": ["f1", "f2", "f2"], "iid": ["a", "a", "b"]})
    read_cli_genotypes(str(tmp_path / "d.bed"), None)
    err = capsys.readouterr().err
    assert "some IIDs repeat across families, so every sample id is FID_IID (e.g. 'f1_a')" in err
    to_bed(tmp_path / "u.bed", val, properties={"fid": ["f1", "f2", "f2"], "iid": ["a", "c", "b"]})
    read_cli_genotypes(str(tmp_path / "u.bed"), None)
    assert "FID_IID" not in capsys.readouterr().err
