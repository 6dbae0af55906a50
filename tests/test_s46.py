"""Session 46: the vectorised phenotype parse and fold checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snpcnn.io import phenotypes as ph
from snpcnn.io.phenotypes import read_phenotypes

# pieces that make numbers, near-numbers, missing tokens and text
_PIECES = [
    "0", "1", "7", "9", "12", ".", "-", "+", "e", "E", "5", "-9", "-9.0", "NA", "nA", "nan",
    "NaN", "N/A", "#n/a", "inf", "Infinity", "1e999", "_", "x", "\u0663", "", "00", "e-3",
]  # fmt: skip


def _slow(tokens: list[str], plink: bool) -> np.ndarray | None:
    """The cell-by-cell reading the vectorised path replaces (None: a cell is no number)."""
    out = np.empty(len(tokens))
    for i, t in enumerate(tokens):
        if ph._is_missing(t, plink):
            out[i] = np.nan
            continue
        v = ph._parse_number(t)
        if v is None:
            return None
        out[i] = v
    return out


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(_PIECES), min_size=1, max_size=4).map("".join),
        min_size=1,
        max_size=12,
    ),
    st.booleans(),
)
def test_the_vectorised_parse_reads_every_cell_as_the_cell_by_cell_one(tokens, plink):
    fast = ph._fast_numbers(tokens, plink)
    slow = _slow(tokens, plink)
    if slow is None:
        assert fast is None  # a cell that is no number: the messages of the slow path decide
    elif fast is None:  # left to the cell-by-cell path: only digits beyond ASCII ('\u0663')
        assert any(not t.isascii() for t in tokens)
    else:
        assert np.array_equal(fast, slow, equal_nan=True)
        # -0.0 keeps its sign, as float() gives it
        assert all(math.copysign(1, a) == math.copysign(1, b) for a, b in zip(fast, slow))


def test_a_table_with_blanks_around_its_cells_reads_as_before(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text(
        "sample_id,a,b,c\n s1 , 1.5 ,NA,x\ns2,\u00a02,3, y \ns3,-0.5, . ,z\ns4,1e-3,-9,w\n"
    )
    with pytest.warns(UserWarning, match="surrounding spaces"):
        p = read_phenotypes(f, traits=["a", "b"], covariates=["c"], categorical=["c"])
    assert list(p.sample_ids) == ["s1", "s2", "s3", "s4"]
    assert np.array_equal(p.table["a"].to_numpy(), [1.5, 2.0, -0.5, 1e-3])
    assert np.array_equal(p.table["b"].to_numpy(), [np.nan, 3.0, np.nan, -9.0], equal_nan=True)
    assert list(p.table["c"]) == ["x", "y", "z", "w"]
    # tab-separated with blanks inside cells; a PLINK file (whitespace, -9 missing)
    t = tmp_path / "p.tsv"
    t.write_text("sample_id\ta\n s1 \t 2 \ns2\t-9\n s3\t3\n")
    with pytest.warns(UserWarning, match="surrounding spaces"):
        assert np.array_equal(read_phenotypes(t).table["a"].to_numpy(), [2.0, -9.0, 3.0])
    q = tmp_path / "p.pheno"
    q.write_text("FID IID y\nf s1 -9\nf s2 -9.00\nf s3 2\n")
    y = read_phenotypes(q).table["y"].to_numpy()
    assert np.isnan(y[0]) and y[1] == -9.0 and y[2] == 2.0


def test_a_bad_cell_still_gets_its_line_and_sample(tmp_path):
    f = tmp_path / "p.csv"
    rows = "".join(f"s{i},{i * 0.5}\n" for i in range(50))
    f.write_text("sample_id,y\n" + rows + "s50,1.2.3\n")
    with pytest.raises(Exception, match=r"line 52: trait 'y' has non-numeric value '1.2.3'"):
        read_phenotypes(f, traits=["y"])
    f.write_text("sample_id,y\n" + rows + "s50,1e999\n")
    with pytest.raises(Exception, match=r"line 52: trait 'y' has the infinite value"):
        read_phenotypes(f, traits=["y"])


def test_a_tab_separated_plink_file_with_any_name_reads_minus_9_as_missing(tmp_path):
    """plink 2 writes '#FID<TAB>IID<TAB>...': named .phe or .txt it was read with -9 (and a
    1/2 trait's 0) as values, and a disease trait became a 3-valued quantitative one (a
    checking helper, session 46)."""
    body = "#FID\tIID\tD\tAGE\nf1\ts1\t1\t50\nf2\ts2\t2\t-9\nf3\ts3\t0\t61\nf4\ts4\t-9\t70\n"
    for name in ("t.txt", "t.phe", "t.tsv"):
        f = tmp_path / name
        f.write_text(body)
        with pytest.warns(UserWarning) as rec:
            p = read_phenotypes(f, traits=["D"], covariates=["AGE"])
        if name != "t.phe":  # named PLINK by its suffix: no word needed
            assert any("2 cell(s) '-9' read as missing" in str(w.message) for w in rec)
        assert np.array_equal(p.table["D"].to_numpy(), [1, 2, np.nan, np.nan], equal_nan=True)
        assert np.isnan(p.table["AGE"].to_numpy()[1])
    f = tmp_path / "u.csv"  # '#FID' with commas: PLINK's marker all the same
    f.write_text("#FID,IID,y\na,s1,1.5\nb,s2,-9\n")
    with pytest.warns(UserWarning, match="the header's first name '#FID' marks a PLINK file"):
        assert np.isnan(read_phenotypes(f).table["y"].to_numpy()[1])
    # 'FID IID' without the '#' (R's write.table, GWAS pipelines), comma- or tab-separated,
    # is an ordinary table: -9 and the 0s of a 0/1/2 score stay values (two reviews of this
    # session's first versions)
    rows = "".join(f"f,s{i},{i % 3}\n" for i in range(12)) + "f,s12,-9\n"
    for name, sep in (("v.csv", ","), ("v.tsv", "\t")):
        f = tmp_path / name
        f.write_text(("FID,IID,y\n" + rows).replace(",", sep))
        y = read_phenotypes(f).table["y"].to_numpy()
        assert (y == 0).sum() == 4 and y[-1] == -9.0 and not np.isnan(y).any()


def test_missing_codes_are_named_where_they_inflate_the_spread_and_in_covariates():
    """A 1/2 trait with 4 % of -9s: the SD the robust SD falls back to included the -9s,
    which then lay 4.8 SDs out, under the threshold (the checker's 700 samples: no note).
    A numeric covariate's -9s had no check at all."""
    from types import SimpleNamespace

    import pandas as pd

    from snpcnn.cv import covariate_code_notes, trait_outlier_notes

    rng = np.random.default_rng(0)
    y = np.where(rng.random(700) < 0.3, 2.0, 1.0)
    y[:28] = -9.0
    ids = np.array([f"s{i}" for i in range(700)], dtype=object)
    targets = SimpleNamespace(head="regression", traits=["D"], y=y[:, None], sample_ids=ids)
    (note,) = trait_outlier_notes(targets)
    assert "28 sample(s) have a value that looks like a missing-value code (-9 in 28" in note
    age = rng.normal(50, 10, 700).round(1)
    age[[3, 9]] = -9.0
    table = pd.DataFrame({"AGE": age, "PC1": rng.normal(size=700)}, index=ids)
    ph = SimpleNamespace(table=table, categorical=[])
    targets = SimpleNamespace(
        use_covariates=True, covariate_names=["AGE", "PC1"], phenotypes=ph, sample_ids=ids
    )
    (note,) = covariate_code_notes(targets)
    assert note.startswith("covariate 'AGE': 2 sample(s) have a value that looks like a missing")
    table["PC1"] = rng.normal(0, 5, 700)
    table.loc[ids[:5], "PC1"] = -9.0  # within the others' spread: no code
    assert len(covariate_code_notes(targets)) == 1


_ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
_BED = _ROOT / "example_data" / "wheat.bed"


def test_random_and_stratified_folds_of_two_are_refused_like_a_fold_files():
    """12 samples in 5 random folds made folds of 2 (r +-1, counted in full), while the same
    folds as a file were refused; the old advice ('--folds 6 or fewer') made every fold 2."""
    from snpcnn.folds import make_folds

    ids = np.array([f"s{i}" for i in range(12)])
    with pytest.raises(Exception, match=r"leaves test folds of 2 sample\(s\).*use folds=4 or"):
        make_folds(ids, k=5)
    with pytest.raises(Exception, match="leaves test folds of 2"):
        make_folds(ids, k=5, stratify=np.array([0, 1] * 6))
    assert make_folds(ids, k=4).groupby("fold").size().min() == 3
    with pytest.raises(Exception, match="needs at least 6 phenotyped samples"):
        make_folds(ids[:5], k=2)


def test_a_fold_dataframe_is_checked_as_a_fold_file_is(tmp_path):
    import pandas as pd

    from snpcnn.folds import check_fold_frame

    ids = np.array([f"s{i}" for i in range(12)])
    ok = pd.DataFrame({"sample_id": ids, "fold": [1] * 4 + [2] * 4 + [3] * 4})
    assert len(check_fold_frame(ok, ids)) == 12
    two = ok.assign(fold=[1] * 5 + [2] * 5 + [3] * 2)
    with pytest.raises(Exception, match=r"fold 3 holds only 2 sample\(s\) \('s10', 's11'\)"):
        check_fold_frame(two, ids)
    with pytest.raises(Exception, match="only one fold"):
        check_fold_frame(ok.assign(fold=1), ids)
    with pytest.raises(Exception, match="repeats needs random folds"):
        check_fold_frame(ok, ids, repeats=3)
    more = pd.concat([ok, pd.DataFrame({"sample_id": ["x1"], "fold": [1]})])
    with pytest.warns(UserWarning, match=r"1 of its samples are not among the 12 .*'x1'"):
        assert len(check_fold_frame(more, ids)) == 12


def test_a_trait_with_two_values_in_a_test_fold_is_not_scored_there(tmp_path):
    """A multi-trait fit: GY_E2 observed on 12 of 100 lines; its folds with 2 values scored
    +-1 (a checking helper, session 46).  Now they are not scored, with a note."""
    import pandas as pd

    from snpcnn.cv import cross_validate

    ph = pd.read_csv(_ROOT / "example_data" / "wheat_phenotypes.csv", dtype={0: str}).iloc[:100]
    ph.loc[ph.index[12:], "GY_E2"] = np.nan
    path = tmp_path / "p.csv"
    ph.to_csv(path, index=False)
    res = cross_validate(
        _BED, path, ["GY_E1", "GY_E2"], folds=5, cnn=False, baselines=["gblup"], seed=2
    )
    n_obs = (
        res.predictions[(res.predictions.trait == "GY_E2") & (res.predictions.model == "GBLUP")]
        .groupby("fold")
        .size()
    )
    m = res.metrics[(res.metrics.trait == "GY_E2") & (res.metrics.metric == "pearson_r")]
    assert set(m.fold) == set(n_obs[n_obs >= 3].index)
    assert (n_obs == 2).sum() == 2  # seed 2: two folds hold 2 values of GY_E2, not scored
    assert (m.n_test >= 3).all()
    assert (
        sum("2 test sample(s) with a value of 'GY_E2'; the fold is not" in n for n in res.notes)
        == 2
    )


def test_the_missing_covariate_error_names_every_covariate_with_gaps(tmp_path):
    f = tmp_path / "p.csv"
    rows = "".join(
        f"s{i},{i},{'' if i in (3, 4) else 40 + i},{'' if i == 7 else i * 0.1}\n" for i in range(20)
    )
    f.write_text("sample_id,y,AGE,PC2\n" + rows)
    p = read_phenotypes(f, traits=["y"], covariates=["AGE", "PC2"])
    with pytest.raises(Exception) as e:
        p.covariate_matrix([f"s{i}" for i in range(20)])
    msg = str(e.value)
    assert "covariate 'AGE' is missing for sample 's3'" in msg and "and 1 more sample(s)" in msg
    assert ", and also 'PC2' for 1 sample(s); fill in" in msg


def test_fid_iid_genotype_ids_name_the_phenotype_files_fid_and_iid_as_the_fix(tmp_path):
    """One IID repeated across families in the .fam makes every genotype id FID_IID; a
    phenotype file with FID and IID columns (unique IIDs) then matched no sample, and the
    hint counted the repeated IID twice without saying how to fix it (a checking helper,
    session 46)."""
    import shutil

    import pandas as pd

    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import align

    for ext in (".bed", ".bim"):
        shutil.copy(_BED.with_suffix(ext), tmp_path / f"g{ext}")
    fam = pd.read_csv(_BED.with_suffix(".fam"), sep=r"\s+", header=None, dtype=str)
    iids = fam[1].tolist()
    fam[0] = [f"F{i % 7}" for i in range(len(fam))]
    fam.loc[1, 0] = "F9"  # a family of its own, so the repeated IID is unique as FID_IID
    fam.loc[1, 1] = iids[0]  # the IID of line 0, in another family
    fam.to_csv(tmp_path / "g.fam", sep=" ", header=False, index=False)
    g = read_genotypes(tmp_path / "g.bed")
    assert str(g.samples[0]) == f"F0_{iids[0]}"
    ph = pd.read_csv(_ROOT / "example_data" / "wheat_phenotypes.csv", dtype=str)
    out = pd.DataFrame({"#FID": fam[0], "IID": iids, "y": ph["GY_E1"]})
    out.to_csv(tmp_path / "p.tsv", sep="\t", index=False)
    p = read_phenotypes(tmp_path / "p.tsv", traits=["y"])
    with pytest.raises(Exception, match=r"598 phenotyped sample\(s\) would match as FID_IID"):
        align(g, p)


def test_a_plink_raw_export_is_named_whatever_the_format_option(tmp_path):
    """'plink.raw' was refused as an unknown format before the .raw message (session 45)."""
    from snpcnn.io import read_genotypes

    raw = tmp_path / "plink.raw"
    raw.write_text("FID IID PAT MAT SEX PHENOTYPE rs1_A\n775 775 0 0 0 -9 0\n776 776 0 0 0 -9 1\n")
    with pytest.raises(Exception, match=r"a PLINK --recode A \(.raw\) file"):
        read_genotypes(raw, cache=False)


def test_blanks_are_stripped_by_each_records_own_cells(tmp_path):
    """A quoted cell with a line break made csv records and file lines differ; the strip
    decision followed the lines, and ' s4 ' kept its blanks (a review, session 46)."""
    f = tmp_path / "q.csv"
    f.write_text('sample_id,note,y\ns1,"two\nlines",1.5\ns2,x,2\ns3,x,3\n s4 ,x,3.5\n')
    with pytest.warns(UserWarning, match="surrounding spaces"):
        p = read_phenotypes(f, traits=["y"])
    assert list(p.sample_ids) == ["s1", "s2", "s3", "s4"]
    t = tmp_path / "q.tsv"
    t.write_text('sample_id\ty\n"\ts2"\t2\ns3\t3\n')
    assert list(read_phenotypes(t).sample_ids) == ["s2", "s3"]


def test_a_benchmarks_own_fold_table_is_taken_as_it_is_for_a_sparse_trait():
    """A benchmark draws folds over its dataset's samples and runs each trait on them: a
    trait observed on 15 of 120 lines was refused ('move them into another fold'), which the
    user cannot do (a review, session 46); such folds are not scored, with a note."""
    import pandas as pd

    from snpcnn.folds import DRAWN_FOR_DATASET, check_fold_frame, make_folds

    ids = np.array([f"s{i}" for i in range(120)])
    table = make_folds(ids, k=5, seed=0)
    table.attrs[DRAWN_FOR_DATASET] = True
    sparse = ids[:15]
    out = check_fold_frame(table, sparse)
    assert sorted(out["sample_id"]) == sorted(sparse)
    plain = pd.DataFrame(table)
    plain.attrs = {}
    with pytest.raises(Exception, match="holds only"):
        check_fold_frame(plain, sparse)


def test_a_trait_without_any_scored_fold_gets_one_note(tmp_path):
    import pandas as pd

    from snpcnn.cv import cross_validate

    ph = pd.read_csv(_ROOT / "example_data" / "wheat_phenotypes.csv", dtype={0: str}).iloc[:100]
    ph.loc[ph.index[10:], "GY_E2"] = np.nan
    path = tmp_path / "p.csv"
    ph.to_csv(path, index=False)
    ids = ph.iloc[:, 0].astype(str).to_numpy()
    folds = pd.DataFrame({"sample_id": ids, "fold": np.arange(100) % 5 + 1})
    res = cross_validate(
        _BED, path, ["GY_E1", "GY_E2"], folds=folds, cnn=False, baselines=["gblup"]
    )
    assert "GY_E2" not in set(res.metrics.trait)
    assert "trait 'GY_E2' has no score: no test fold held 3 or more of its values (10 " in " ".join(
        res.notes
    )


def test_a_groups_column_with_no_value_at_all_is_refused(tmp_path):
    """Every sample a group of its own ran random folds under the name of group folds."""
    import pandas as pd

    from snpcnn.cv import cross_validate

    ph = pd.read_csv(_ROOT / "example_data" / "wheat_phenotypes.csv", dtype={0: str})
    ph["family"] = ""
    path = tmp_path / "p.csv"
    ph.to_csv(path, index=False)
    with pytest.raises(Exception, match=r"groups column 'family' has no value for any of the 599"):
        cross_validate(_BED, path, ["GY_E1"], groups="family", cnn=False, baselines=["gblup"])


def test_a_fold_task_for_a_fold_without_the_traits_samples_is_empty(tmp_path):
    """A benchmark on Ray runs one task per fold of the dataset's table; a sparse trait with
    no sample in a fold gave "internal error (KeyError: 'result')" (a review, session 46)."""
    import pandas as pd

    from snpcnn.executor import run_fold
    from snpcnn.folds import DRAWN_FOR_DATASET

    ph = pd.read_csv(_ROOT / "example_data" / "wheat_phenotypes.csv", dtype={0: str}).iloc[:60]
    ids = ph.iloc[:, 0].astype(str).to_numpy()
    folds = pd.DataFrame({"sample_id": ids, "repeat": 0, "fold": np.arange(60) % 4 + 1})
    folds.attrs[DRAWN_FOR_DATASET] = True
    ph.loc[folds.fold.to_numpy() == 4, "GY_E2"] = np.nan  # fold 4 holds none of GY_E2
    path = tmp_path / "p.csv"
    ph.to_csv(path, index=False)
    kw = dict(folds=folds, cnn=False, baselines=["gblup"])
    assert run_fold(_BED, path, ["GY_E2"], 0, 4, **kw) == {"metrics": [], "predictions": []}
    assert len(run_fold(_BED, path, ["GY_E2"], 0, 1, **kw)["metrics"]) > 0
