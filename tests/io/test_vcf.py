"""VCF reading: every GT form, the edge-case files of vcf_cases/, and clear errors."""

from __future__ import annotations

import gzip
import shutil
import warnings

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.io import read_genotypes
from snpcnn.io.vcf import read_vcf

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{samples}\n"
)


def write_vcf(path, records, samples=("s1", "s2", "s3"), compress=False):
    text = HEADER.format(samples="\t".join(samples))
    for rec in records:
        text += "\t".join(str(x) for x in rec) + "\n"
    if compress:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


def rec(pos, gts, ref="A", alt="G", id_=".", fmt="GT", chrom="1"):
    return [chrom, pos, id_, ref, alt, ".", "PASS", ".", fmt, *gts]


@pytest.fixture(autouse=True, params=["default", "numpy-first"])
def parser(request, monkeypatch):
    """Run every test twice: as shipped (these tiny files go to scikit-allel) and with the
    bulk numpy parser tried first whatever the number of samples (it falls back to
    scikit-allel on files it declines): the expectations are the same."""
    if request.param == "numpy-first":
        import snpcnn.io.vcf as vcf

        monkeypatch.setattr(vcf, "_NUMPY_MIN_SAMPLES", 0)
    return request.param


@pytest.fixture(scope="module")
def cases(shared_data):
    return shared_data / "vcf_cases" / "scikit-allel"


def column(g, pos):
    """Dosages of the variant at ``pos`` (one per sample)."""
    j = np.flatnonzero(g.variants["pos"].to_numpy() == pos)
    assert len(j) == 1, f"expected one variant at {pos}"
    return g.dosages[:, j[0]].tolist()


# ----------------------------------------------------------- synthetic GT forms
def test_every_missing_form_is_missing_never_zero(tmp_path):
    forms = ["./.", ".|.", ".", "0/.", "./1", "1|.", "./0"]
    samples = [f"s{i}" for i in range(len(forms))]
    path = write_vcf(tmp_path / "m.vcf", [rec(1, forms)], samples=samples)
    g = read_vcf(path)
    assert g.dosages[:, 0].tolist() == [-1] * len(forms)


def test_phased_and_unphased_parse_alike(tmp_path):
    gts = ["0|0", "0/0", "0|1", "1|0", "0/1", "1/0", "1|1", "1/1"]
    samples = [f"s{i}" for i in range(len(gts))]
    g = read_vcf(write_vcf(tmp_path / "p.vcf", [rec(1, gts)], samples=samples))
    assert g.dosages[:, 0].tolist() == [0, 0, 1, 1, 1, 1, 2, 2]
    assert g.dosages.dtype == np.int8


def test_haploid_coded_like_homozygote_and_counted(tmp_path):
    path = write_vcf(tmp_path / "h.vcf", [rec(1, ["0", "1", "."]), rec(2, ["1", "0/1", "1/1"])])
    g = read_vcf(path)
    assert column(g, 1) == [0, 2, -1]
    assert column(g, 2) == [2, 1, 2]
    assert g.report["haploid_calls"] == 3  # '0', '1', '1' (the '.' is just missing)


def test_allele_index_above_alt_count_is_missing(tmp_path):
    path = write_vcf(
        tmp_path / "i.vcf", [rec(1, ["0/3", "2|0", "0/10"]), rec(2, ["3", "0/1", "1"])]
    )
    g = read_vcf(path)
    assert column(g, 1) == [-1, -1, -1]
    assert column(g, 2) == [-1, 1, 2]
    assert g.report["invalid_allele_calls"] == 4


def test_record_without_gt_is_all_missing(tmp_path):
    path = write_vcf(
        tmp_path / "nogt.vcf", [rec(1, ["0/1", "1/1", "0/0"]), rec(2, ["5", "6", "7"], fmt="DP")]
    )
    g = read_vcf(path)
    assert column(g, 1) == [1, 2, 0]
    assert column(g, 2) == [-1, -1, -1]


def test_ds_only_vcf_points_to_plink2_pgen(tmp_path):
    recs = [rec(10, ["0.1", "1.9", "1.0"], fmt="DS"), rec(20, ["0", "2", "1"], fmt="DS")]
    path = write_vcf(tmp_path / "ds.vcf", recs)
    with pytest.raises(InputError, match="no record has a GT field") as err:
        read_vcf(path)
    assert "`plink2 --vcf ds.vcf dosage=DS --make-pgen --out NEW`" in str(err.value)


def test_triploid_is_an_error_naming_record_and_sample(tmp_path):
    path = write_vcf(tmp_path / "t.vcf", [rec(7, ["0/1", "0/1", "0/1/1"])])
    with pytest.raises(InputError, match=r"record 1:7, sample s3: .*ploidy above 2") as err:
        read_vcf(path)
    # the hint sent polyploid data to a CSV matrix, which refuses 0-4 dosages too
    assert "diploid dosages 0/1/2 only" in str(err.value) and "CSV" not in str(err.value)


def test_malformed_gt_is_an_error(tmp_path):
    path = write_vcf(tmp_path / "bad.vcf", [rec(5, ["0/1", "A/B", "0/0"])])
    with pytest.raises(InputError, match=r"record 1:5, sample s2: cannot parse GT 'A/B'"):
        read_vcf(path)


def test_multiallelic_drop_and_alt1(tmp_path):
    path = write_vcf(
        tmp_path / "ma.vcf",
        [
            rec(1, ["0/1", "1/1", "0/0"]),
            rec(2, ["0/1", "1/2", "2/2"], alt="G,T"),
            rec(3, ["1", "2", "0"], alt="C,T"),
        ],
    )
    g = read_vcf(path)
    assert g.n_snps == 1 and g.report["multiallelic_dropped"] == 2
    g1 = read_vcf(path, multiallelic="alt1")
    assert g1.n_snps == 3 and g1.report["multiallelic_kept_alt1"] == 2
    assert column(g1, 2) == [1, -1, -1]  # any call carrying the second ALT is missing
    assert column(g1, 3) == [2, -1, 0]
    assert g1.report["other_alt_calls"] == 3
    assert g1.variants["alt"].tolist() == ["G", "G", "C"]
    with pytest.raises(InputError, match="multiallelic"):
        read_vcf(path, multiallelic="keep")


def test_snps_only_drops_indels_and_symbolic(tmp_path):
    recs = [
        rec(1, ["0/1", "0/0", "1/1"]),
        rec(2, ["0/1", "0/0", "1/1"], ref="A", alt="AT"),
        rec(3, ["0/1", "0/0", "1/1"], ref="AC", alt="A"),
        rec(4, ["0/1", "0/0", "1/1"], alt="<DEL>"),
        rec(5, ["0/1", "0/0", "1/1"], alt="*"),
        rec(6, ["0/0", "0/0", "0/0"], alt="."),
    ]
    path = write_vcf(tmp_path / "s.vcf", recs)
    assert read_vcf(path).n_snps == 6
    g = read_vcf(path, snps_only=True)
    assert g.variants["pos"].tolist() == [1, 6]
    assert g.report["indels_dropped"] == 2
    assert g.report["symbolic_dropped"] == 2


def test_plain_gzip_bgzip_and_text_agree(tmp_path, cases):
    recs = [rec(i, ["0/1", "1|1", "./."]) for i in range(1, 50)]
    plain = read_vcf(write_vcf(tmp_path / "x.vcf", recs))
    gz = read_vcf(write_vcf(tmp_path / "x.vcf.gz", recs, compress=True))
    np.testing.assert_array_equal(plain.dosages, gz.dosages)
    a = read_vcf(cases / "sample.vcf")
    b = read_vcf(cases / "sample.vcf.gz")  # BGZF + tabix
    np.testing.assert_array_equal(a.dosages, b.dosages)


def test_small_chunks_give_the_same_matrix(shared_data):
    path = shared_data / "wheat" / "wheat.vcf.gz"
    whole = read_vcf(path)
    chunked = read_vcf(path, chunk_length=100)
    np.testing.assert_array_equal(whole.dosages, chunked.dosages)
    assert whole.variants.equals(chunked.variants)
    assert whole.dosages.flags.c_contiguous


def test_missing_ids_become_chrom_pos(tmp_path):
    g = read_vcf(
        write_vcf(tmp_path / "id.vcf", [rec(9, ["0/1"] * 3), rec(10, ["0/0"] * 3, id_="rs1")])
    )
    assert g.variants["id"].tolist() == ["1:9", "rs1"]


# --------------------------------------------------------------- clear errors
def test_duplicate_samples_error(tmp_path):
    path = write_vcf(tmp_path / "d.vcf", [rec(1, ["0/1"] * 3)], samples=("a", "b", "a"))
    with pytest.raises(InputError, match="sample 'a' appears 2 times"):
        read_vcf(path)


def test_bcf_given_to_the_vcf_reader_points_to_the_bcf_reader(tmp_path):
    path = tmp_path / "x.bcf"
    path.write_bytes(b"BCF\x02\x02rest")
    with pytest.raises(InputError, match=r"not a readable BCF"):
        read_genotypes(path, cache=False)
    with pytest.raises(InputError, match=r"a BCF file, not a text VCF.*--format bcf"):
        read_vcf(path)
    disguised = tmp_path / "y.vcf.gz"
    with gzip.open(disguised, "wb") as fh:
        fh.write(b"BCF\x02\x02rest")
    with pytest.raises(InputError, match=r"BCF file, not a text VCF.*read_bcf"):
        read_vcf(disguised)


def test_zero_byte_vcf_error(tmp_path):
    (tmp_path / "z.vcf").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_vcf(tmp_path / "z.vcf")


@pytest.mark.parametrize(
    "name, message",
    [
        ("empty.vcf", "no variant records"),
        ("ann.vcf", "sites-only VCF"),
        ("test48a.vcf", "not a readable VCF"),
        ("test48b.vcf", r"record 19:111 has more sample columns than the #CHROM line"),
        ("test63.vcf", r"record 19:111, sample NA00002: GT '0/0/.*ploidy above 2"),
    ],
)
def test_bad_case_files_fail_with_one_line(cases, name, message):
    with pytest.raises(InputError, match=message) as info:
        read_vcf(cases / name)
    assert "\n" not in str(info.value)
    assert name in str(info.value)


# ----------------------------------------------------------- vcf_cases that load
def test_sample_vcf_dosages(cases):
    g = read_vcf(cases / "sample.vcf")
    assert g.samples.tolist() == ["NA00001", "NA00002", "NA00003"]
    # 3 multi-allelic records dropped (G,T; GA,GAC; A,ATG,C), 2 ALT '.' sites kept
    assert g.report["multiallelic_dropped"] == 3 and g.report["sites_without_alt"] == 2
    assert g.variants["pos"].tolist() == [111, 112, 14370, 17330, 1230237, 1235237]
    assert column(g, 111) == [0, 0, 1]  # 0|0 0|0 0/1
    assert column(g, 14370) == [0, 1, 2]  # 0|0 1|0 1/1: mixed phasing
    assert column(g, 17330) == [0, 1, 0]  # 0|0 0|1 0/0
    assert column(g, 1235237) == [0, 0, -1]  # 0/0 0|0 ./.
    assert g.variants.loc[2, "id"] == "rs6054257"


def test_sample_vcf_alt1_keeps_haploid_and_multiallelic(cases):
    g = read_vcf(cases / "sample.vcf", multiallelic="alt1")
    assert g.n_snps == 9
    assert column(g, 1110696) == [-1, -1, -1]  # 1|2 2|1 2/2: all carry the 2nd ALT
    assert column(g, 1234567) == [1, -1, -1]  # 0/1 0/2 ./.
    assert column(g, 10) == [0, 1, -1]  # haploid '0' on chrX, 0/1, 0|2
    assert g.report["haploid_calls"] == 1
    s = read_vcf(cases / "sample.vcf", multiallelic="alt1", snps_only=True)
    assert 1234567 not in s.variants["pos"].tolist()  # G -> GA is an indel
    assert 10 not in s.variants["pos"].tolist()  # AC -> A
    assert s.report["indels_dropped"] == 2


def test_haploid_case_files(cases):
    g = read_vcf(cases / "test1.vcf")
    assert g.dosages.T.tolist() == [[0, -1, 0, -1], [0, 0, 0, -1], [0, 2, -1, -1]]
    assert g.report["haploid_calls"] == 7
    g54 = read_vcf(cases / "test54.vcf.gz")
    assert g54.shape == (4, 4)
    assert g54.dosages[:, 3].tolist() == [0, 2, -1, -1]  # 0, 1, '.', './.'


@pytest.mark.parametrize(
    "name, shape",
    [
        ("sample.utf8.vcf", (3, 6)),
        ("test4.vcf", (3, 6)),
        ("test14.vcf", (3, 6)),
        ("test176.vcf", (3, 6)),
        ("unsorted.vcf", (3, 6)),
        ("test32.vcf", (103, 8)),
    ],
)
def test_other_case_files_load(cases, name, shape):
    g = read_vcf(cases / name)
    assert g.shape == shape
    assert set(np.unique(g.dosages)) <= {-1, 0, 1, 2}


def test_utf8_sample_name_and_unsorted_order(cases):
    g = read_vcf(cases / "sample.utf8.vcf")
    assert "Γεια σου κόσμε!" in g.samples.tolist()
    u = read_vcf(cases / "unsorted.vcf")
    ref = read_vcf(cases / "sample.vcf")
    # same records in another order: each position has the same dosages
    for pos in ref.variants["pos"]:
        assert column(u, pos) == column(ref, pos)


def test_vcf_copied_to_writable_dir_reads_same(cases, tmp_path):
    shutil.copy(cases / "sample.vcf", tmp_path / "s.vcf")
    a = read_genotypes(tmp_path / "s.vcf", cache=False)
    b = read_vcf(cases / "sample.vcf")
    np.testing.assert_array_equal(a.dosages, b.dosages)


@pytest.mark.parametrize("count", [1, 3, 1000])
def test_output_sizing_never_changes_values(cases, monkeypatch, count):
    """The record pre-count only sizes the matrix: too small grows it, too big shrinks it."""
    import snpcnn.io.vcf as vcf_mod

    expected = read_vcf(cases / "sample.vcf", chunk_length=2)
    monkeypatch.setattr(vcf_mod, "_count_records", lambda path, **k: count)
    g = read_vcf(cases / "sample.vcf", chunk_length=2)
    np.testing.assert_array_equal(g.dosages, expected.dosages)
    assert g.dosages.shape == (3, 6)


def test_a_gzip_of_nothing_is_called_empty(tmp_path):
    """`gzip -c /dev/null > x.vcf.gz` said 'missing mandatory header line' (session 35)."""
    import gzip

    p = tmp_path / "empty.vcf.gz"
    with gzip.open(p, "wb"):
        pass
    with pytest.raises(InputError, match=r"empty\.vcf\.gz: empty \(it decompresses to nothing\)"):
        read_vcf(p)


def test_sample_ids_with_spaces_are_stripped_with_a_warning(tmp_path):
    """The phenotype readers strip ids; ' s1' in a VCF never joined 's1' (session 37)."""
    path = write_vcf(
        tmp_path / "x.vcf", [rec(1, ["0/0", "0/1", "1/1"])], samples=(" s1", "s2", "s3 ")
    )
    with pytest.warns(UserWarning, match="sample id\\(s\\) have surrounding spaces"):
        g = read_genotypes(path, cache=False)
    assert list(g.samples) == ["s1", "s2", "s3"]
    dup = write_vcf(
        tmp_path / "d.vcf", [rec(1, ["0/0", "0/1", "1/1"])], samples=(" s1", "s1", "s3")
    )
    with pytest.warns(UserWarning), pytest.raises(InputError, match="sample 's1' appears 2 times"):
        read_genotypes(dup, cache=False)


def _blank_variants(clean: bytes) -> dict[str, tuple[bytes, int]]:
    """``clean`` (header + records, LF) with blank lines (LF or CRLF) at every kind of place,
    and their number."""
    head, _, body = clean.partition(b"\n#CHROM")
    chrom_line, _, records = (b"#CHROM" + body).partition(b"\n")
    recs = records.rstrip(b"\n").split(b"\n")
    return {
        "trailing": (clean + b"\n", 1),
        "trailing x3": (clean + b"\n\n\n", 3),
        "trailing CRLF": (clean + b"\r\n", 1),
        "between": (b"\n".join([head, chrom_line, recs[0], b"", *recs[1:]]) + b"\n", 1),
        "after #CHROM": (b"\n".join([head, chrom_line, b"", *recs]) + b"\n", 1),
        "in ## header": (head.replace(b"\n", b"\n\n", 1) + b"\n" + chrom_line + b"\n" + records, 1),
        "first line": (b"\n" + clean, 1),
    }


@pytest.mark.parametrize("engine", ["numpy", "allel"])
@pytest.mark.parametrize("compress", [False, True])
def test_blank_lines_are_skipped_as_if_absent(tmp_path, engine, compress):
    samples = [f"s{i}" for i in range(20)]
    rng = np.random.default_rng(3)
    recs = [rec(10 * (i + 1), rng.choice(["0/0", "0|1", "1/1", "./."], 20)) for i in range(5)]
    clean = write_vcf(tmp_path / "clean.vcf", recs, samples).read_bytes()
    ref = read_vcf(tmp_path / "clean.vcf", engine=engine)
    for what, (data, n_blank) in _blank_variants(clean).items():
        p = tmp_path / ("b.vcf.gz" if compress else "b.vcf")
        p.write_bytes(gzip.compress(data) if compress else data)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no duplicate-id or 'not sorted' warning
            g = read_vcf(p, engine=engine)
        assert g.dosages.tobytes() == ref.dosages.tobytes(), what
        assert g.dosages.shape == ref.dosages.shape, what
        assert g.variants.equals(ref.variants), what
        assert list(g.samples) == list(ref.samples), what
        assert g.report["blank_lines_skipped"] == n_blank, what
        assert "sorted_by_snpcnn" not in g.report, what
    assert "blank_lines_skipped" not in ref.report


def test_header_only_vcf_with_a_blank_line_has_no_records(tmp_path):
    p = write_vcf(tmp_path / "h.vcf", [])
    p.write_bytes(p.read_bytes() + b"\n")
    with pytest.raises(InputError, match="header but no variant records"):
        read_vcf(p)


def test_record_with_empty_chrom_is_refused_naming_the_line(tmp_path):
    p = write_vcf(tmp_path / "c.vcf", [rec(10, ["0/0", "0/1", "1/1"])])
    p.write_bytes(p.read_bytes() + b"\t20\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\t0/1\t1/1\n")
    with pytest.raises(InputError, match=r"line 5: the CHROM field is empty") as err:
        read_vcf(p)
    assert "\n" not in str(err.value)


def test_leading_phase_indicator_is_read_as_if_absent(tmp_path):
    """VCF 4.4 allows a leading phase indicator ('|1', '/0|1'): it was 'cannot parse GT'."""
    lead = ["|1", "/0", "/0|1", "|1/1", "|.", "/0/1", "0|1", "1"]
    plain = ["1", "0", "0|1", "1/1", ".", "0/1", "0|1", "1"]
    samples = [f"s{i}" for i in range(len(lead))]
    want = read_vcf(write_vcf(tmp_path / "p.vcf", [rec(5, plain)], samples))
    lead_file = write_vcf(tmp_path / "l.vcf", [rec(5, lead)], samples)
    # only a file that declares VCF 4.4 may hold them (searching every file cost the bulk
    # parser 2-3x its time); a file declaring 4.2 gets a clear error where a cell is cut
    with pytest.raises(InputError, match=r"GT '/0\|1\.\.\.'.*say ##fileformat=VCFv4\.4"):
        read_vcf(lead_file)
    lead_file.write_text(lead_file.read_text().replace("VCFv4.2", "VCFv4.4"))
    for engine in ("auto", "allel"):
        g = read_vcf(lead_file, engine=engine)
        assert (
            g.dosages.tolist() == want.dosages.tolist() == [[2], [0], [1], [2], [-1], [1], [1], [2]]
        )
        assert g.report == want.report
    for tri in ("/0/0/1", "|0|1|1", "/0/0/"):
        p = write_vcf(tmp_path / "t.vcf", [rec(7, ["0/1", "0/1", tri])])
        p.write_text(p.read_text().replace("VCFv4.2", "VCFv4.4"))
        with pytest.raises(InputError, match=r"record 1:7, sample s3: .*ploidy above 2"):
            read_vcf(p)
