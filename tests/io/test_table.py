"""Numeric CSV/TSV genotype matrices: delimiters, codings, missing values, errors."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from snpcnn.errors import InputError, InputWarning
from snpcnn.io import detect_format, read_genotypes
from snpcnn.io.table import read_table

ROWS = [["a", "0", "1", "2"], ["b", "2", "", "0"], ["c", "NA", "1", "1"]]
EXPECTED = [[0, 1, 2], [2, -1, 0], [-1, 1, 1]]


def write(path, rows, sep=",", header=("sample_id", "m1", "m2", "m3")):
    text = sep.join(header) + "\n" + "".join(sep.join(r) + "\n" for r in rows)
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize(
    "name, sep, delim",
    [
        ("x.csv", ",", "comma"),
        ("x.tsv", "\t", "tab"),
        ("x.txt", ";", "semicolon"),
        ("x.txt", " ", "whitespace"),
        ("x.csv.gz", ",", "comma"),
    ],
)
def test_delimiters_and_missing(tmp_path, name, sep, delim):
    path = write(tmp_path / name, ROWS, sep=sep) if sep != " " else None
    if sep == " ":  # whitespace tables cannot hold empty cells: use NA there
        rows = [[c if c else "NA" for c in r] for r in ROWS]
        path = write(tmp_path / name, rows, sep="  ")
    assert detect_format(path) == "table"
    g = read_table(path)
    assert g.dosages.tolist() == EXPECTED
    assert g.samples.tolist() == ["a", "b", "c"]
    assert g.variants["id"].tolist() == ["m1", "m2", "m3"]
    assert g.report["delimiter"] == delim
    assert g.report["coding"] == "012"


def test_coding_01_maps_one_to_two(tmp_path):
    path = write(tmp_path / "d.csv", [["a", "0", "1", "1"], ["b", "1", "", "0"]])
    assert read_table(path, coding="01").dosages.tolist() == [[0, 2, 2], [2, -1, 0]]
    with pytest.warns(InputWarning, match="presence/absence"):
        auto = read_table(path)
    assert auto.dosages.tolist() == [[0, 2, 2], [2, -1, 0]]
    assert auto.report["coding"].startswith("01 (auto")
    assert read_table(path, coding="012").dosages.tolist() == [[0, 1, 1], [1, -1, 0]]


def test_coding_auto_choosing_01_warns_how_to_force_012(tmp_path):
    """A 0/1/2 table without a 2 (rare SNPs, a small batch) is read as 0/1 by "auto": its
    heterozygotes become 2 with no other sign than a report entry, so loading warns, also
    through read_genotypes and again from its cache."""
    path = write(tmp_path / "d.csv", [["a", "0", "1", "1"], ["b", "1", "", "0"]])
    with pytest.warns(InputWarning, match=r"presence/absence.*coding='012'") as rec:
        read_table(path)
    assert len(rec) == 1 and "\n" not in str(rec[0].message)
    for _ in range(2):  # parsed and cached, then read from the cache
        with pytest.warns(InputWarning, match=r"d\.csv: coding='auto' read as 0/1"):
            g = read_genotypes(path, cache="always")
        assert g.report["coding"].startswith("01 (auto")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        read_table(path, coding="01")
        read_table(path, coding="012")
        read_table(write(tmp_path / "x.csv", ROWS))  # a 2: 012, no warning


def test_coding_01_rejects_two(tmp_path):
    path = write(tmp_path / "x.csv", ROWS)
    with pytest.raises(InputError, match=r"sample 'a', SNP 'm3': value '2' is not 0/1"):
        read_table(path, coding="01")


@pytest.mark.parametrize("bad", ["3", "-1", "1.5", "A", "-9", "nan"])
def test_bad_value_names_sample_snp_value(tmp_path, bad):
    rows = [r[:] for r in ROWS]
    rows[1][3] = bad
    path = write(tmp_path / "x.csv", rows)
    with pytest.raises(InputError, match=rf"sample 'b', SNP 'm3': value '{bad}' is not 0/1/2"):
        read_table(path)


def test_minus_one_hint_also_names_missing_calls(tmp_path):
    """-1 in a 0/1 table is often a missing call: coding='-101' alone would load it shifted."""
    path = write(tmp_path / "m.csv", [["a", "0", "1", "-1"], ["b", "1", "0", "0"]])
    with pytest.raises(InputError, match=r"coding='-101'.*if -1 marks a missing call, write NA"):
        read_table(path)


@pytest.mark.parametrize("sep", [",", "\t", ";"])
def test_quoted_header_and_ids_read_as_unquoted(tmp_path, sep):
    """R's write.csv quotes every header cell and sample id; the quotes are CSV quoting,
    not part of the ids (they were kept in the SNP ids: '"m1"')."""
    plain = read_table(write(tmp_path / "plain.csv", ROWS, sep=sep))
    quoted = write(
        tmp_path / "quoted.csv",
        [[f'"{r[0]}"', *r[1:]] for r in ROWS],
        sep=sep,
        header=('""', '"m1"', '"m2"', '"m3"'),
    )
    g = read_table(quoted)
    assert list(g.variants["id"]) == ["m1", "m2", "m3"]
    assert list(g.samples) == list(plain.samples)
    assert g.dosages.tobytes() == plain.dosages.tobytes()
    assert g.variants.equals(plain.variants)


def test_chunked_parse_agrees(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 3, size=(57, 11))
    rows = [[f"s{i}", *map(str, r)] for i, r in enumerate(x)]
    path = write(tmp_path / "big.tsv", rows, sep="\t", header=["id", *[f"v{j}" for j in range(11)]])
    a = read_table(path, chunk_rows=5)
    np.testing.assert_array_equal(a.dosages, x.astype(np.int8))
    assert a.dosages.dtype == np.int8


def test_structural_errors(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(InputError, match="empty file"):
        read_table(tmp_path / "e.csv")
    write(tmp_path / "h.csv", [])
    with pytest.raises(InputError, match="no sample rows"):
        read_table(tmp_path / "h.csv")
    write(tmp_path / "dup.csv", ROWS, header=("id", "m1", "m1", "m3"))
    with pytest.raises(InputError, match="SNP id 'm1' appears twice"):
        read_table(tmp_path / "dup.csv")
    write(tmp_path / "ds.csv", [ROWS[0], ROWS[0]])
    with pytest.raises(InputError, match="sample id 'a' is on data rows 1 and 2"):
        read_table(tmp_path / "ds.csv")
    (tmp_path / "rag.csv").write_text("id,m1,m2\na,0,1\nb,0,1,2,2\n")
    with pytest.raises(InputError, match=r"malformed table .*line 3"):
        read_table(tmp_path / "rag.csv")
    (tmp_path / "one.csv").write_text("id\na\n")
    with pytest.raises(InputError, match="single column"):
        read_table(tmp_path / "one.csv")
    with pytest.raises(InputError, match="snps_only needs allele information"):
        read_genotypes(tmp_path / "h.csv", snps_only=True, cache=False)
    with pytest.raises(InputError, match="coding"):
        read_table(tmp_path / "h.csv", coding="0/1")


def _text(tmp_path, text, name="t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    "text",
    [
        "sample_id,s1,s2,s3\na,0,1,2,\nb,1,1,0,\nc,2,2,2,\n",  # every row ends with a comma
        "sample_id,s1,s2,s3,\na,0,1,2,\nb,1,1,0,\nc,2,2,2,\n",  # the header too
        "sample_id,s1,s2,s3,\na,0,1,2\nb,1,1,0\nc,2,2,2\n",  # the header only
    ],
)
def test_trailing_delimiters_read_the_same_matrix(tmp_path, text):
    """pandas used to take the first column as the index: ids became the first SNP's values
    and the last SNP went missing, without a word (a checking helper, session 37)."""
    g = read_table(_text(tmp_path, text), coding="012")
    assert list(g.samples) == ["a", "b", "c"]
    assert list(g.variants["id"]) == ["s1", "s2", "s3"]
    np.testing.assert_array_equal(g.dosages, [[0, 1, 2], [1, 1, 0], [2, 2, 2]])


@pytest.mark.parametrize(
    "text, match",
    [
        ("sample_id,s1,s2,s3\na,0,1,2,1\nb,1,1,0\n", r"line 2 \(sample 'a'\) has 4 values"),
        ("sample_id,s1,s2,s3\na,0,1,2,\nb,1,1,0,7\n", "sample 'b' has 4 values"),
        ("sample_id,s1,,s3\na,0,1,2\nb,1,1,0\n", "header column 3 has no SNP id"),
        ("s1,s2,s3\n0,1,2\n1,1,0\n0,2,2\n", "lack its first column of sample ids"),
    ],
)
def test_extra_values_and_missing_ids_are_errors(tmp_path, text, match):
    with pytest.raises(InputError, match=match):
        read_table(_text(tmp_path, text), coding="012")
