"""Phenotype reading, covariate encoding and alignment with genotypes by sample id."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest

from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.io.phenotypes import AlignmentWarning, align, read_phenotypes


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def _geno(ids, n_snps=3):
    ids = list(ids)
    d = (np.arange(len(ids) * n_snps).reshape(len(ids), n_snps) % 3).astype(np.int8)
    return Genotypes(d, ids, source="toy.bed")


CSV = """sample_id,GY_E1,GY_E2
0775,1.5,2.0
2166,-0.25,
2167,NA,3.5
2168,1e-1,NaN
"""


def test_csv_ids_stay_text_and_missing_values_are_nan(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "pheno.csv", CSV))
    assert ph.traits == ["GY_E1", "GY_E2"]
    assert list(ph.table.index) == ["0775", "2166", "2167", "2168"]
    assert ph.default_trait() == "GY_E1"
    np.testing.assert_array_equal(
        ph.trait_values("GY_E1", ["2168", "0775", "2167"]), [0.1, 1.5, np.nan]
    )
    assert np.isnan(ph.trait_values("GY_E2", ["2166"])).all()
    assert ph.info["delimiter"] == "comma"


@pytest.mark.parametrize(
    ("sep_text", "label"), [("\t", "tab"), (";", "semicolon"), ("   ", "whitespace")]
)
def test_delimiters_are_detected(tmp_path, sep_text, label):
    text = "\n".join(sep_text.join(row.split(",")) for row in CSV.strip().splitlines()) + "\n"
    text = text.replace(sep_text + "\n", sep_text + "NA\n")  # whitespace cannot hold an empty cell
    ph = read_phenotypes(_write(tmp_path, "pheno.txt", text))
    assert ph.info["delimiter"] == label
    assert ph.traits == ["GY_E1", "GY_E2"]
    assert ph.trait_values("GY_E1", ["0775"])[0] == 1.5


def test_gzipped_tsv(tmp_path):
    path = tmp_path / "pheno.tsv.gz"
    with gzip.open(path, "wt") as fh:
        fh.write(CSV.replace(",", "\t"))
    assert read_phenotypes(path).trait_values("GY_E2", ["2167"])[0] == 3.5


def test_non_numeric_value_names_file_line_and_value(tmp_path):
    text = CSV.replace("2167,NA,3.5", "2167,abc,3.5")
    path = _write(tmp_path, "pheno.csv", text)
    with pytest.raises(InputError) as err:
        read_phenotypes(path)
    msg = str(err.value)
    assert "pheno.csv line 4" in msg
    assert "'abc'" in msg and "'GY_E1'" in msg and "'2167'" in msg
    assert "\n" not in msg


def test_duplicate_ids_name_the_id_and_both_lines(tmp_path):
    path = _write(tmp_path, "pheno.csv", CSV + "2166,1,2\n")
    with pytest.raises(InputError, match=r"'2166' appears twice \(lines 3 and 6\)"):
        read_phenotypes(path)


def test_ragged_row_is_an_error(tmp_path):
    path = _write(tmp_path, "pheno.csv", CSV + "9999,1\n")
    with pytest.raises(InputError, match="line 6: 2 fields but the header has 3"):
        read_phenotypes(path)


@pytest.mark.parametrize(
    ("header", "kwargs", "expected_ids"),
    [
        ("line,IID,yield", {}, ["10", "20"]),  # IID by name
        ("Line,ID,yield", {}, ["10", "20"]),  # id by name, any case
        ("line,code,yield", {}, ["a", "b"]),  # first column
        ("line,code,yield", {"id_column": "code"}, ["10", "20"]),
    ],
)
def test_id_column_detection(tmp_path, header, kwargs, expected_ids):
    path = _write(tmp_path, "p.csv", f"{header}\na,10,1.0\nb,20,2.0\n")
    ph = read_phenotypes(path, traits=["yield"], **kwargs)
    assert list(ph.table.index) == expected_ids


def test_unknown_columns_are_clear_errors(tmp_path):
    path = _write(tmp_path, "pheno.csv", CSV)
    with pytest.raises(InputError, match="trait column 'GY_E9' not found; available columns"):
        read_phenotypes(path, traits=["GY_E9"])
    with pytest.raises(InputError, match="no column named 'line'"):
        read_phenotypes(path, id_column="line")


def test_plink_pheno_with_and_without_header(tmp_path):
    with_header = "FID IID BMI len\nf1 s1 1.5 -9\nf2 s2 -9 3\nf3 s3 2.5 4\n"
    ph = read_phenotypes(_write(tmp_path, "a.pheno", with_header))
    assert ph.traits == ["BMI", "len"]  # FID dropped, IID is the id
    assert list(ph.table.index) == ["s1", "s2", "s3"]
    np.testing.assert_array_equal(ph.trait_values("BMI", ["s1", "s2"]), [1.5, np.nan])
    no_header = "f1 s1 1.5 -9\nf2 s2 -9 3\n"
    ph = read_phenotypes(_write(tmp_path, "b.pheno", no_header))
    assert ph.traits == ["PHENO1", "PHENO2"]
    assert ph.info["header"] is False
    np.testing.assert_array_equal(ph.trait_values("PHENO2", ["s1", "s2"]), [np.nan, 3.0])
    hash_header = "#FID\tIID\ty\nf1\ts1\t1\n"
    assert read_phenotypes(_write(tmp_path, "c.pheno", hash_header)).traits == ["y"]
    # a header-less .cov with a text column (sex) beside numbers: the first row is a
    # sample, not a header (it was read as one, and sample s1 was lost)
    cov = "f1 s1 M 23.5\nf2 s2 F 31\nf3 s3 M 27\n"
    pheno = _write(tmp_path, "y.csv", "sample_id,y\ns1,1\ns2,2\ns3,3\n")
    ph = read_phenotypes(
        pheno, covariates=["PHENO1", "PHENO2"], covariates_path=_write(tmp_path, "d.cov", cov)
    )
    assert list(ph.table.index) == ["s1", "s2", "s3"]
    assert ph.table.loc["s1", "PHENO1"] == "M" and "PHENO1" in ph.categorical
    np.testing.assert_array_equal(ph.table["PHENO2"].astype(float), [23.5, 31, 27])
    # a header of names only stays a header
    named = "f_id i_id sex age\nf1 s1 M 23.5\n"
    assert read_phenotypes(_write(tmp_path, "e.pheno", named), id_column="i_id").info["header"]


def test_text_columns_are_no_traits_and_a_typo_in_a_trait_is_an_error(tmp_path):
    """A column of text only (sex, herd) is skipped when the traits are not named; a number
    column with one text value is an error that says how to choose the traits; named
    traits are the only columns read, and a trait named twice is read once."""
    path = _write(tmp_path, "p.csv", COV)
    assert read_phenotypes(path).traits == ["y", "age"]
    typo = _write(tmp_path, "t.csv", COV.replace("c,3.0,M,11", "c,3.0,M,x1"))
    with pytest.raises(InputError, match=r"trait 'age' has non-numeric value 'x1'.*--trait") as e:
        read_phenotypes(typo)
    assert "line 4" in str(e.value) and "\n" not in str(e.value)
    ph = read_phenotypes(typo, traits=["y", "y"])
    assert ph.traits == ["y"] and list(ph.table.columns) == ["y"]


def test_label_columns_are_read_as_text_from_either_file(tmp_path):
    """--groups columns (labels): text or numbers, never a trait, from the phenotype file or
    the covariate file."""
    path = _write(tmp_path, "p.csv", COV)
    ph = read_phenotypes(path, labels=["herd"])
    assert ph.traits == ["y", "age"] and ph.table["herd"].tolist() == ["h2", "h1", "h3", "h2", "h1"]
    ph = read_phenotypes(path, labels=["age"])  # numbers as labels: not the default trait
    assert ph.traits == ["y"] and ph.table["age"].tolist() == ["10", "12", "11", "13", "9"]
    main = _write(tmp_path, "y.csv", "sample_id,y\na,1\nb,2\nc,3\nd,4\ne,5\n")
    ph = read_phenotypes(main, covariates=["sex"], covariates_path=path, labels=["herd"])
    assert ph.covariates == ["sex"] and ph.table["herd"].tolist()[:2] == ["h2", "h1"]
    with pytest.raises(InputError, match="--groups column 'pen'") as e:
        read_phenotypes(main, covariates=["sex"], covariates_path=path, labels=["pen"])
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="--groups column 'pen' not found"):
        read_phenotypes(path, labels=["pen"])


def test_minus_nine_is_a_value_in_csv(tmp_path):
    path = _write(tmp_path, "p.csv", "sample_id,y\na,-9\nb,1\n")
    assert read_phenotypes(path).trait_values("y", ["a"])[0] == -9.0


COV = """sample_id,y,sex,age,herd
a,1.0,F,10,h2
b,2.0,M,12,h1
c,3.0,M,11,h3
d,4.0,F,13,h2
e,5.0,M,9,h1
"""


def test_covariates_numeric_and_one_hot(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "p.csv", COV), covariates=["sex", "age", "herd"])
    assert ph.traits == ["y"]
    assert ph.categorical == ["sex", "herd"]
    C, names = ph.covariate_matrix(["a", "b", "c", "d", "e"])
    assert names == ["sex[M]", "age", "herd[h2]", "herd[h3]"]  # first level dropped
    np.testing.assert_array_equal(C[:, 0], [0, 1, 1, 0, 1])
    np.testing.assert_array_equal(C[:, 1], [10, 12, 11, 13, 9])
    np.testing.assert_array_equal(C[:, 2:], [[1, 0], [0, 0], [0, 1], [1, 0], [0, 0]])


def test_covariate_levels_fitted_on_training_ids(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "p.csv", COV), traits=["y"], covariates=["herd"])
    train, test = ["a", "b", "d", "e"], ["c", "a"]  # h3 only occurs in the test sample c
    C_tr, names_tr = ph.covariate_matrix(train, fit_levels=train)
    C_te, names_te = ph.covariate_matrix(test, fit_levels=train)
    assert names_tr == names_te == ["herd[h2]"]
    # an unseen level gets the training mean of each column (h2 in 2 of the 4), not level h1 (0)
    np.testing.assert_array_equal(C_te, [[0.5], [1.0]])
    # forced categorical on numbers, and a missing covariate value is an error
    ph = read_phenotypes(
        _write(tmp_path, "q.csv", COV), traits=["y"], covariates=["age"], categorical=["age"]
    )
    assert ph.covariate_matrix(["a", "b"])[1] == ["age[12]"]
    path = _write(tmp_path, "r.csv", COV.replace("c,3.0,M,11", "c,3.0,,11"))
    with pytest.raises(InputError, match=r"covariate 'sex' is missing for sample 'c' \(.*line 4\)"):
        read_phenotypes(path, traits=["y"], covariates=["sex"]).covariate_matrix(["a", "c"])


def test_covariates_from_a_second_file(tmp_path):
    pheno = _write(tmp_path, "p.csv", "sample_id,y\na,1\nb,2\nc,3\n")
    cov = _write(tmp_path, "c.tsv", "IID\tsex\tage\nc\tM\t3\na\tF\t1\nz\tM\t9\n")
    ph = read_phenotypes(pheno, covariates=["sex"], covariates_path=cov)
    assert ph.traits == ["y"] and ph.covariates == ["sex"]
    assert ph.info["join"]["n_matched"] == 2
    assert ph.info["join"]["examples_missing_from_joined_file"] == ["b"]
    C, names = ph.covariate_matrix(["a", "c"])
    assert names == ["sex[M]"] and C[:, 0].tolist() == [0.0, 1.0]
    with pytest.raises(InputError, match="sample 'b'.*not in that file"):
        ph.covariate_matrix(["b"])


def test_align_is_by_id_not_row_order(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "p.csv", COV), traits=["y"], covariates=["sex"])
    g = _geno(["e", "x1", "c", "a", "b", "d"])  # shuffled, one extra id
    a = align(g, ph)
    assert a.sample_ids.tolist() == ["e", "c", "a", "b", "d"]  # genotype order
    assert a.geno_index.tolist() == [0, 2, 3, 4, 5]
    np.testing.assert_array_equal(a.trait("y"), [5.0, 3.0, 1.0, 2.0, 4.0])
    assert a.covariates["sex"].tolist() == ["M", "M", "F", "M", "F"]
    assert a.report["only_in_genotypes"] == {"n": 1, "examples": ["x1"]}
    assert a.report["n_both"] == 5
    C, names = a.covariate_matrix([0, 1, 2], fit_rows=[0, 1, 2, 3])
    assert names == ["sex[M]"] and C[:, 0].tolist() == [1.0, 1.0, 0.0]


def test_align_report_counts_missing_and_extra(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "pheno.csv", CSV))
    g = _geno(["2168", "0775", "2166", "9001"])
    a = align(g, ph)
    r = a.report
    assert (r["n_genotyped"], r["n_phenotyped"], r["n_both"]) == (4, 4, 3)
    assert r["traits"]["GY_E1"] == {"n_missing": 0, "n_usable": 3}
    assert r["traits"]["GY_E2"] == {"n_missing": 2, "n_usable": 1}
    assert r["only_in_phenotypes"] == {"n": 1, "examples": ["2167"]}
    text = a.format_report()
    assert "matched:     3 samples" in text and "only in genotypes: 1 (9001)" in text
    assert "trait GY_E2: 1 usable, 2 missing" in text


def test_align_errors_and_warning(tmp_path):
    ph = read_phenotypes(_write(tmp_path, "pheno.csv", CSV))
    with pytest.raises(InputError) as err:
        align(_geno(["775_775", "2166_2166"]), ph)
    msg = str(err.value)
    assert "genotype ids start 775_775, 2166_2166" in msg and "phenotype ids start 0775" in msg
    assert "would match" in msg  # hint: part after '_' matches 2166
    with pytest.warns(AlignmentWarning, match="1 of 4 genotyped and 4 phenotyped samples matched"):
        align(_geno(["0775", "y1", "y2", "y3"]), ph)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        align(_geno(["0775", "2166", "2167"]), ph)  # 3 of 4 is fine
        align(_geno(["0775"]), ph)  # a genotype subset: every genotyped sample matched
    with pytest.raises(InputError, match="unknown trait 'GY_E7'"):
        align(_geno(["0775"]), ph, traits=["GY_E7"])
    cov = read_phenotypes(
        _write(tmp_path, "c.csv", COV.replace("c,3.0,M", "c,3.0,")),
        traits=["y"],
        covariates=["sex"],
    )
    with pytest.raises(InputError, match="covariate 'sex' is missing for sample 'c'"):
        align(_geno(["a", "c"]), cov)


def test_ids_left_over_on_both_sides_that_differ_in_form_are_warned_about(tmp_path):
    """3 of 4 matched (no 'few matched' warning), but the fourth differs only by leading
    zeros or a '.0' ending: it used to be dropped without a word."""
    ph = read_phenotypes(_write(tmp_path, "pheno.csv", CSV))
    for odd, hint in (("002168", "dropping leading zeros"), ("2168.0", "dropping a '.0' ending")):
        with pytest.warns(AlignmentWarning) as caught:
            a = align(_geno(["0775", "2166", "2167", odd]), ph)
        (msg,) = [str(w.message) for w in caught]
        assert msg.startswith("samples left out of the join by id: 1 phenotyped (not in ")
        assert f"1 genotyped (not in {tmp_path / 'pheno.csv'})" in msg
        assert f"of those, 1 ids would match {hint}" in msg and "make the ids identical" in msg
        assert a.report["n_both"] == 3


def test_real_wheat_files(shared_data):
    ph = read_phenotypes(shared_data / "wheat" / "wheat_phenotypes.csv")
    assert ph.traits == ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]
    assert len(ph) == 599 and ph.table.index[0] == "775"
    folds = read_phenotypes(shared_data / "wheat" / "wheat_cv_folds.csv", traits=["cv_fold"])
    ids = np.asarray(ph.table.index)
    rng = np.random.default_rng(0)
    g = _geno(rng.permutation(ids))
    a = align(g, ph)
    assert a.report["n_both"] == 599
    order = a.sample_ids
    np.testing.assert_array_equal(a.trait("GY_E3"), ph.trait_values("GY_E3", order))
    assert set(folds.trait_values("cv_fold", order)) == set(range(1, 11))


def test_real_mice_files_with_covariates(shared_data):
    mice = shared_data / "mice"
    ph = read_phenotypes(
        mice / "mice_phenotypes.csv",
        traits=["Obesity.BMI", "Obesity.BodyLength"],
        covariates=["GENDER"],
        covariates_path=mice / "mice_covariates.csv",
    )
    assert ph.categorical == ["GENDER"]
    assert ph.info["join"]["n_matched"] == 1814
    C, names = ph.covariate_matrix(ph.sample_ids)
    assert names == ["GENDER[M]"]
    assert int(C.sum()) == 934  # 934 males, 880 females
    # GENDER agrees with the sex column of the PLINK .fam (1 = male)
    fam = np.loadtxt(mice / "mice.fam", dtype=str)
    fam_male = dict(zip(fam[:, 1], fam[:, 4] == "1"))
    assert all(fam_male[s] == bool(c) for s, c in zip(ph.sample_ids, C[:, 0]))
    g = _geno(fam[::-1, 1])
    a = align(g, ph)
    assert a.report["n_both"] == 1814
    assert a.report["traits"]["Obesity.BMI"]["n_missing"] == 0


def test_alignment_warnings_are_input_warnings():
    """The CLI prints input warnings as one 'Warning:' line (not Python's two-line form)."""
    from snpcnn.errors import InputWarning
    from snpcnn.io.phenotypes import AlignmentWarning

    assert issubclass(AlignmentWarning, InputWarning)


def test_a_file_that_is_not_utf8_names_its_line_and_the_fix(tmp_path):
    from snpcnn.io import read_genotypes

    p = tmp_path / "latin1.csv"
    p.write_bytes("sample_id,y\na,1\ncafé,2\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.csv line 3: not UTF-8 text \(byte 0xe9\)") as e:
        read_phenotypes(p)
    assert "save the file as UTF-8" in str(e.value) and "\n" not in str(e.value)
    g = tmp_path / "geno.csv"
    g.write_bytes("sample_id,s1,s2\na,0,1\nbé,1,2\n".encode("latin-1"))
    with pytest.raises(InputError, match=r"geno.csv line 3: not UTF-8 text"):
        read_genotypes(g)


def test_a_gzip_file_cut_short_is_a_one_line_error(tmp_path, example_data):
    """Was "internal error (EOFError ...)" (a checking helper, session 37)."""
    from snpcnn.folds import read_folds

    for src, name in [("wheat_phenotypes.csv", "p.csv.gz"), ("wheat_cv_folds.csv", "f.csv.gz")]:
        whole = gzip.compress((example_data / src).read_bytes())
        (tmp_path / name).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match="p.csv.gz is cut short or damaged"):
        read_phenotypes(tmp_path / "p.csv.gz")
    with pytest.raises(InputError, match="f.csv.gz: cannot read the fold table .Compressed"):
        read_folds(tmp_path / "f.csv.gz", np.array(["1"]))


def test_a_covariates_file_whose_ids_differ_in_case_says_so(tmp_path):
    ph = _write(tmp_path, "p.csv", "sample_id,y\nAb1,1.0\nAb2,2.0\nAb3,3.0\n")
    cov = _write(tmp_path, "c.csv", "sample_id,sex\nab1,F\nab2,M\nab3,M\n")
    with pytest.warns(AlignmentWarning, match="would match ignoring case"):
        joined = read_phenotypes(ph, covariates=["sex"], covariates_path=cov)
    with pytest.raises(InputError, match=r"sample not in that file; 3 ids would match ignoring"):
        joined.covariate_matrix(["Ab1", "Ab2"])


def test_a_genotype_file_given_as_phenotypes_says_the_arguments_are_swapped(example_data, tmp_path):
    """`snpcnn fit PHENO GENO` (swapped): the VCF was blamed on its layout ('delete the
    title line') and the .bed on its encoding ('save it as UTF-8'; a checking helper,
    session 39)."""
    for name, kind in (("wheat.vcf.gz", "a VCF"), ("wheat.bed", "a PLINK .bed")):
        with pytest.raises(
            InputError,
            match=f"is {kind} genotype file, not a phenotype table: give the genotypes first",
        ):
            read_phenotypes(example_data / name)
    plain = tmp_path / "g.vcf"
    plain.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\n")
    with pytest.raises(InputError, match="is a VCF genotype file"):
        read_phenotypes(plain)


def test_iids_that_repeat_across_families_become_fid_iid(tmp_path):
    """PLINK family data whose IIDs repeat across families: the genotype readers name the
    samples FID_IID, and the phenotype file was refused as holding duplicate ids (a
    checking helper, session 39). The phenotypes now take the same FID_IID ids."""
    from snpcnn.errors import InputWarning

    text = "FID IID y\nF0 1 1.5\nF0 2 2.5\nF1 1 3.5\nF1 2 -9\n"
    with pytest.warns(
        InputWarning, match="IIDs repeat across families, so every sample id is FID_IID"
    ):
        ph = read_phenotypes(_write(tmp_path, "fam.pheno", text))
    assert list(ph.table.index) == ["F0_1", "F0_2", "F1_1", "F1_2"]
    np.testing.assert_array_equal(ph.trait_values("y", ["F1_1", "F1_2"]), [3.5, np.nan])
    # an IID repeated within one family is still an error
    with pytest.raises(InputError, match="appears twice"):
        read_phenotypes(_write(tmp_path, "dup.pheno", "FID IID y\nF0 1 1\nF0 1 2\nF1 2 3\n"))


def test_a_header_with_a_number_for_a_name_stays_a_header_outside_plink_files(tmp_path):
    """The session-39 rule 'a number among the values means no header' is for PLINK files
    (.pheno, .cov, ...): a whitespace table whose header names a column 2019 was read as
    data (a review, session 39)."""
    text = "line loc yield 2019\nL1 A 3.2 4.1\nL2 B 3.5 4.0\nL3 A 3.1 3.9\n"
    ph = read_phenotypes(_write(tmp_path, "ph.txt", text), id_column="line")
    assert ph.traits == ["yield", "2019"] and list(ph.table.index) == ["L1", "L2", "L3"]


def test_phenotypes_from_a_pipe_are_read_whole(example_data):
    """The genotype-file sniff read the first 4 KiB of a pipe before the reader did, and
    they were lost (a review, session 39)."""
    import subprocess
    import sys

    code = (
        "import sys; from snpcnn.io.phenotypes import read_phenotypes; "
        "ph = read_phenotypes('/dev/stdin'); print(len(ph.table), len(ph.traits))"
    )
    data = (example_data / "wheat_phenotypes.csv").read_bytes()
    out = subprocess.run(  # stdin a pipe
        [sys.executable, "-c", code], input=data, capture_output=True, check=True
    )
    out.stdout = out.stdout.decode()
    assert out.stdout.split() == ["599", "4"]


def test_covariate_numbers_written_as_text_are_refused_not_made_factors(tmp_path):
    """A decimal-comma covariate, or one with '-' for missing in most rows, became a factor
    with a level per value (GBLUP's r fell from 0.41 to 0.21; a checking helper, session 41);
    a real factor mixing numbers and words stays a factor."""
    euro = tmp_path / "euro.csv"
    euro.write_text("sample_id;y;weight\na;1;50,6\nb;2;51,2\nc;3;49,9\n")
    with pytest.raises(InputError, match=r"covariate 'weight' holds numbers with a decimal comma"):
        read_phenotypes(euro, traits=["y"], covariates=["weight"])
    dash = tmp_path / "dash.csv"
    dash.write_text("sample_id,y,age\na,1,-\nb,2,-\nc,3,30\nd,4,-\n")
    with pytest.raises(InputError, match=r"line 2: covariate 'age' is numeric except '-' \(3"):
        read_phenotypes(dash, traits=["y"], covariates=["age"])
    # the user says it is a factor: kept as one
    assert read_phenotypes(dash, traits=["y"], covariates=["age"], categorical=["age"]).categorical
    dose = tmp_path / "dose.csv"
    dose.write_text("sample_id,y,dose\na,1,control\nb,2,10\nc,3,20\nd,4,control\n")
    assert read_phenotypes(dose, traits=["y"], covariates=["dose"]).categorical == ["dose"]


def test_a_missing_covariate_of_a_sample_without_the_trait_is_not_an_error(tmp_path):
    """81 mice lack Biochem.Age and Biochem.Albumin alike: fitting Albumin with Age as a
    covariate was refused for samples the fit drops anyway (a checking helper, session 41)."""
    ph = tmp_path / "p.csv"
    ph.write_text("sample_id,y,z,age\na,1,1,30\nb,2,2,31\nc,,3,\nd,4,4,29\n")
    g = Genotypes(np.zeros((4, 2), dtype=np.int8), np.array(["a", "b", "c", "d"]))
    pheno = read_phenotypes(ph, traits=["y", "z"], covariates=["age"])
    al = align(g, pheno, traits=["y"])  # c has no y: its missing age does not matter
    assert al.report["traits"]["y"]["n_usable"] == 3
    with pytest.raises(InputError, match=r"covariate 'age' is missing for sample 'c'"):
        align(g, pheno, traits=["y", "z"])  # c has z: its age is needed


def test_a_table_without_a_header_is_refused_not_read_one_sample_short(tmp_path):
    """'775,1.67' as line 1 became the column names: a trait named '1.67' and the first
    sample gone, silently (a checking helper, session 41); a fold file alike."""
    from snpcnn.folds import read_folds

    nohdr = tmp_path / "nohdr.csv"
    nohdr.write_text("775,1.67\n776,2.5\n777,0.3\n")
    with pytest.raises(InputError, match=r"line 1 \(775, 1.67\) looks like data, not a header"):
        read_phenotypes(nohdr)
    folds = tmp_path / "folds.csv"
    folds.write_text("775,1\n776,2\n777,1\n778,2\n")
    with pytest.raises(InputError, match=r"looks like data.*sample_id,fold"):
        read_folds(folds, np.array(["775", "776", "777", "778"]))
    years = tmp_path / "years.csv"  # numbers as trait names after an id column's name
    years.write_text("sample_id,2019\na,1\nb,2\n")
    assert read_phenotypes(years).traits == ["2019"]
    # whole numbers after any name are a header (years, numbered environments: a reviewer)
    taxa = tmp_path / "taxa.csv"
    taxa.write_text("Taxa,2019,2020\na,1.5,2\nb,2,3\n")
    assert read_phenotypes(taxa).traits == ["2019", "2020"]
    counts = tmp_path / "counts.csv"  # an id and a whole number: data
    counts.write_text("775,3\n776,2\n")
    with pytest.raises(InputError, match="looks like data"):
        read_phenotypes(counts)
    asked = tmp_path / "asked.csv"  # a name the caller asked for: a header
    asked.write_text("Line,1.5\na,1\nb,2\n")
    assert read_phenotypes(asked, id_column="Line").traits == ["1.5"]


def test_a_headerless_table_with_text_ids_is_refused_when_its_first_id_is_a_sample(tmp_path):
    """'A775,3' as line 1 passes the reader (a name, then a whole number: a year?), so a trait
    named '3' was fitted without sample A775 (noticed in session 41). At the join the first
    line's id is a genotyped sample, so it was data."""
    nohdr = tmp_path / "nohdr.csv"
    nohdr.write_text("A775,3\nA776,2\nA777,5\n")
    ph = read_phenotypes(nohdr)
    assert ph.traits == ["3"]  # the reader alone cannot tell
    with pytest.raises(InputError, match=r"line 1 \(A775, 3\) looks like data.*'A775' is a sample"):
        align(_geno(["A775", "A776", "A777"]), ph)
    # a real header whose id name is not a sample, or is also a data row: read as before
    years = tmp_path / "years.csv"
    years.write_text("Line,2019\nA775,3\nA776,2\n")
    assert len(align(_geno(["A775", "A776"]), read_phenotypes(years)).sample_ids) == 2
    from snpcnn.folds import read_folds

    folds = tmp_path / "folds.csv"  # a fold file alike: was "1 sample(s) have no fold"
    folds.write_text("A775,1\nA776,2\nA777,1\nA778,2\n")
    with pytest.raises(InputError, match=r"header \(A775, 1\) looks like data.*sample_id,fold"):
        read_folds(folds, np.array(["A775", "A776", "A777", "A778"]))
    odd = tmp_path / "odd.csv"
    odd.write_text("A775,2019\nA775,3\nA776,2\n")
    assert len(align(_geno(["A775", "A776"]), read_phenotypes(odd)).sample_ids) == 2


def test_a_whitespace_table_with_years_as_trait_names_keeps_its_header(tmp_path):
    """'Line 2019 2020' over 'A1 1.5 2.0' was read as a header-less PLINK file: FID 'Line',
    sample '2019', one trait (noticed in session 41)."""
    years = tmp_path / "years.txt"
    years.write_text("Line 2019 2020\nA1 1.5 2.0\nA2 2.5 3.1\nA3 0.5 NA\n")
    ph = read_phenotypes(years)
    assert ph.traits == ["2019", "2020"] and list(ph.sample_ids) == ["A1", "A2", "A3"]
    # a header-less PLINK file (FID IID values) is still one: its second column holds ids
    plink = tmp_path / "p.txt"
    plink.write_text("F1 A1 1.5 2.0\nF2 A2 2.5 3.1\nF3 A3 0.5 1.1\n")
    ph = read_phenotypes(plink)
    assert list(ph.sample_ids) == ["A1", "A2", "A3"] and len(ph.traits) == 2
    numeric = tmp_path / "n.txt"  # numeric FID and IID
    numeric.write_text("1 101 1.5\n2 102 2.5\n3 103 0.5\n")
    assert list(read_phenotypes(numeric).sample_ids) == ["101", "102", "103"]
    # whole numbers below a years header still read as PLINK; the join then says so
    whole = tmp_path / "w.txt"
    whole.write_text("Line 2019 2020\nA1 5 6\nA2 3 4\nA3 7 8\n")
    with pytest.raises(InputError, match=r"read as a PLINK file without a header.*sample_id"):
        align(_geno(["A1", "A2", "A3"]), read_phenotypes(whole))
    # a real headerless PLINK file beside FID_IID genotype ids keeps the id hint
    plink_ids = tmp_path / "pl.txt"
    plink_ids.write_text("F1 I1 1.5\nF2 I2 2.5\nF3 I3 0.5\n")
    with pytest.raises(InputError, match=r"would match .*FID_IID") as e:
        align(_geno(["F1_I1", "F2_I2", "F3_I3"]), read_phenotypes(plink_ids))
    assert "without a header" not in str(e.value)


def test_id_column_names_the_covariate_files_id_too(tmp_path):
    """A covariate file whose id column is 'Animal' (not first): the error pointed to
    --id-column, which applied to the phenotype file only (a checking helper, session 41)."""
    ph = tmp_path / "p.csv"
    ph.write_text("Animal,y\na,1\nb,2\nc,3\n")
    cov = tmp_path / "c.csv"
    cov.write_text("sex,Animal,litter\nM,a,1\nF,b,2\nM,c,1\n")
    with pytest.raises(
        InputError, match=r"'sex' is taken as the sample id column \(the first column.*--id"
    ):
        read_phenotypes(ph, traits=["y"], covariates=["sex"], covariates_path=cov)
    # the fix the message names works: before session 41 the phenotype file's id_column was
    # not used for the covariate file
    got = read_phenotypes(
        ph, id_column="Animal", traits=["y"], covariates=["sex", "litter"], covariates_path=cov
    )
    assert got.table.loc["b", "sex"] == "F" and got.table.loc["c", "litter"] == 1


def test_rows_of_delimiters_only_are_skipped_like_blank_lines(tmp_path):
    """An Excel export's trailing ',,' rows were refused as "empty or NA sample id" although
    the docs say blank lines are skipped (a checking helper, session 41)."""
    f = tmp_path / "trail.csv"
    f.write_text("sample_id,y,z\na,1,2\n,,\nb,2,3\n,,\n")
    got = read_phenotypes(f)
    assert list(got.table.index) == ["a", "b"] and got.table["z"].tolist() == [2.0, 3.0]


def test_an_id_column_asked_for_as_a_trait_gets_the_fix_that_helps(tmp_path):
    """The message advised naming the id column sample_id where it was so named, or where the
    column was PLINK's FID (a reviewer, session 41)."""
    plink = tmp_path / "p.pheno"
    plink.write_text("FID IID age y\nf1 a 30 1\nf2 b 31 2\nf3 c 29 3\n")
    with pytest.raises(
        InputError,
        match=r"'FID' is PLINK's family id \(FID\) column, not a covariate column; choose another covariate",
    ):
        read_phenotypes(plink, traits=["y"], covariates=["FID", "age"])
    named = tmp_path / "n.csv"
    named.write_text("sample_id,y\na,1\nb,2\n")
    with pytest.raises(
        InputError,
        match=r"'sample_id' is the sample id column, not a trait column; choose another trait$",
    ):
        read_phenotypes(named, traits=["sample_id"])
    given = tmp_path / "g.csv"
    given.write_text("y,Line\n1,a\n2,b\n")
    with pytest.raises(InputError, match=r"'Line' is the sample id column \(--id-column\)"):
        read_phenotypes(given, id_column="Line", traits=["Line"])
