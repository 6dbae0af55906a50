"""Input hints found by the session-31 review: number-coded categorical covariates
(--categorical), a transposed genotype matrix, a top-k preselection that selects nothing,
explain's marginal scan on few samples, and GBLUP's boolean X_new."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def coded(example_data, tmp_path_factory, tiny_toml):
    """150 wheat lines x 120 SNPs; a 'herd' covariate coded 1, 2, 3 whose effect is not
    linear in the code (0, +4, -4)."""
    d = tmp_path_factory.mktemp("coded")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:150, :121]
    x.to_csv(d / "geno.csv", index=False)
    rng = np.random.default_rng(1)
    herd = rng.integers(1, 4, size=len(x))
    y = rng.normal(size=len(x)) + np.select([herd == 2, herd == 3], [4.0, -4.0], 0.0)
    pd.DataFrame({"sample_id": x.sample_id, "y": y, "herd": herd}).to_csv(
        d / "pheno.csv", index=False
    )
    (d / "tiny.toml").write_text(tiny_toml)
    return d


def _fit(d, out, *extra):
    return CliRunner().invoke(
        main,
        [
            "fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "y",
            "--model", str(d / "tiny.toml"), "--folds", "3", "--epochs", "1",
            "--baselines", "gblup", "--no-refit", "--out", str(out), *extra,
        ],
    )  # fmt: skip


def _covariates_only_r(out) -> float:
    m = pd.read_csv(out / "metrics.csv")
    m = m[(m.model == "Covariates only") & (m.metric == "pearson_r")]
    assert len(m) == 3
    return float(m.value.mean())


def test_number_codes_become_levels_with_categorical(coded, tmp_path):
    r = _fit(coded, tmp_path / "cat", "--covariates", "herd", "--categorical", "herd")
    assert r.exit_code == 0, r.output
    assert "covariates: herd (categorical, 3 levels)" in r.stderr
    run = json.loads((tmp_path / "cat" / "run.json").read_text())
    assert len(run["config"]["covariate_columns"]) == 2  # 3 levels, the first dropped
    cat_r = _covariates_only_r(tmp_path / "cat")

    r = _fit(coded, tmp_path / "num", "--covariates", "herd")
    assert r.exit_code == 0, r.output
    # read as an amount: the line says so and names the option
    assert "covariates: herd (numeric, 3 distinct values); numbers that are codes" in r.stderr
    assert "--categorical herd" in r.stderr
    num_r = _covariates_only_r(tmp_path / "num")
    # the herd effect is not linear in its code: only the levels capture it
    assert cat_r > num_r + 0.3


def test_categorical_must_be_a_covariate(coded, tmp_path):
    r = _fit(coded, tmp_path / "o", "--covariates", "herd", "--categorical", "cage")
    assert r.exit_code != 0
    assert "--categorical cage: not one of the --covariates (herd)" in r.output
    assert not (tmp_path / "o").exists()


def test_transposed_matrix_is_named(coded, tmp_path):
    x = pd.read_csv(coded / "geno.csv", dtype={"sample_id": str}).set_index("sample_id")
    x.T.rename_axis("snp").to_csv(tmp_path / "geno_t.csv")
    r = CliRunner().invoke(
        main,
        ["fit", str(tmp_path / "geno_t.csv"), str(coded / "pheno.csv"), "--out",
         str(tmp_path / "o")],
    )  # fmt: skip
    assert r.exit_code != 0
    assert "it looks transposed; write it with one row per sample" in r.output
    assert "Traceback" not in r.output


def test_top_k_above_the_panel_is_noted(coded, tmp_path):
    r = _fit(coded, tmp_path / "o", "--preselect-top-k", "500")
    assert r.exit_code == 0, r.output
    assert "top-k (500) is not below the 120 SNPs" in r.output
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "top-k (500) is not below the 120 SNPs" in summary


def test_gblup_predicts_boolean_input_as_it_fits_it():
    from snpcnn.baselines import GBLUP

    rng = np.random.default_rng(0)
    X = rng.integers(0, 2, (40, 30)).astype(bool)
    m = GBLUP().fit(X, rng.normal(size=40))
    np.testing.assert_array_equal(m.predict(X[:5]), m.predict(X[:5].astype(float)))


def test_a_covariate_equal_to_the_trait_leaves_genomic_r_undefined(coded, tmp_path):
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph["leak"] = ph["y"]
    ph.to_csv(tmp_path / "leak.csv", index=False)
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "leak.csv"), "--trait", "y",
            "--covariates", "leak", "--model", str(coded / "tiny.toml"), "--folds", "3",
            "--epochs", "1", "--baselines", "gblup", "--no-refit", "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    m = pd.read_csv(tmp_path / "o" / "metrics.csv")
    g = m[m.metric == "genomic_pearson_r"]
    assert len(g) and g.value.isna().all() and set(g.status) == {"undefined"}
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "the covariates alone predict 'y' exactly" in summary
    assert "undefined" in summary


@pytest.mark.parametrize(
    "value, said",
    [
        (1e4, "has the value 10000, "),
        (-9.0, "looks like a missing-value code (-9 in 1; e.g. sample"),
    ],
)
def test_an_extreme_trait_value_is_named(coded, tmp_path, value, said):
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph["y"] += 50.0  # a trait far from 0, as yields are
    ph.loc[3, "y"] = value
    ph.to_csv(tmp_path / "out.csv", index=False)
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "out.csv"), "--trait", "y",
            "--model", str(coded / "tiny.toml"), "--folds", "3", "--epochs", "1",
            "--baselines", "gblup", "--no-refit", "--out", str(tmp_path / "o2"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert said in r.output and f"'{ph.sample_id[3]}'" in r.output
    assert said in (tmp_path / "o2" / "summary.md").read_text()
    # the plain trait has no such note
    r = _fit(coded, tmp_path / "o3")
    assert "robust SDs" not in r.output and "missing-value code" not in r.output


def test_a_fam_file_as_phenotypes_reads_its_phenotype_column(tmp_path):
    """A PLINK .fam (no header: FID IID father mother sex phenotype): the trait is column 6,
    never the parents' ids; 1/2 case/control codes read 0 as missing, as PLINK does."""
    from snpcnn.io.phenotypes import InputWarning, read_phenotypes

    rows = [
        f"F{i} S{i} {1000 + i % 7} {2000 + i % 5} {1 + i % 2} {[0, 1, 2][i % 3]}" for i in range(30)
    ]
    (tmp_path / "x.fam").write_text("\n".join(rows) + "\n")
    with pytest.warns(InputWarning, match="coded 1/2 .PLINK case/control., so its 10 value"):
        ph = read_phenotypes(tmp_path / "x.fam")
    assert ph.traits == ["phenotype"]
    assert ph.table["phenotype"].isna().sum() == 10
    assert set(ph.table["phenotype"].dropna()) == {1.0, 2.0}
    assert ph.table.index[0] == "S0"
    (tmp_path / "bad.fam").write_text("S0 S0 0 0 1\n")
    with pytest.raises(Exception, match="a PLINK .fam file has 6 columns"):
        read_phenotypes(tmp_path / "bad.fam")


def test_numbers_as_both_sample_and_snp_ids_warn_of_a_transposed_matrix(tmp_path):
    import warnings

    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import AlignmentWarning, align, read_phenotypes

    rng = np.random.default_rng(0)
    x = rng.integers(0, 3, (60, 40))  # written transposed: SNPs 1..60 as rows
    cols = [str(i + 1) for i in range(40)]
    pd.DataFrame(x, index=[str(j + 1) for j in range(60)], columns=cols).rename_axis("snp").to_csv(
        tmp_path / "g.csv"
    )
    pd.DataFrame({"sample_id": cols, "y": rng.normal(size=40)}).to_csv(
        tmp_path / "p.csv", index=False
    )
    g, ph = read_genotypes(tmp_path / "g.csv"), read_phenotypes(tmp_path / "p.csv")
    with pytest.warns(AlignmentWarning, match="40 of the 40 phenotype ids are also SNP"):
        align(g, ph)
    # the right orientation: no such warning
    pd.DataFrame(x.T, index=cols, columns=[f"rs{j}" for j in range(60)]).rename_axis(
        "sample_id"
    ).to_csv(tmp_path / "g2.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error", AlignmentWarning)
        align(read_genotypes(tmp_path / "g2.csv"), ph)


def test_notes_on_binary_codes_low_call_rate_groups_and_fold_labels(coded, tmp_path):
    """A two-valued trait says which value is the positive class; a sample with almost no
    calls is named; a missing group makes a group of its own; 0-based fold labels are
    mapped in a warning; with patience >= epochs, summary.md claims no early stop."""
    x = pd.read_csv(coded / "geno.csv", dtype={"sample_id": str})
    x = x.astype(object)
    x.iloc[5, 1:115] = ""  # 6 of 120 SNPs called
    x.to_csv(tmp_path / "geno.csv", index=False)
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph["y2"] = np.where(ph["y"] > ph["y"].median(), 10, 3)
    ph["family"] = [f"f{i % 10}" if i % 17 else "" for i in range(len(ph))]
    ph.to_csv(tmp_path / "pheno.csv", index=False)
    pd.DataFrame({"sample_id": ph.sample_id, "fold": np.arange(len(ph)) % 3}).to_csv(
        tmp_path / "folds.csv", index=False
    )
    r = CliRunner().invoke(
        main,
        [
            "fit", str(tmp_path / "geno.csv"), str(tmp_path / "pheno.csv"), "--trait", "y2",
            "--model", str(coded / "tiny.toml"), "--folds", str(tmp_path / "folds.csv"),
            "--epochs", "2", "--patience", "5", "--baselines", "gblup", "--no-refit",
            "--out", str(tmp_path / "o"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "trait 'y2' has two values, 3 and 10: fitted as a binary trait; 10 is the positive class, coded 1"
        in r.output
    )
    assert f"lowest: '{ph.sample_id[5]}', 5.0%" in r.output
    assert (
        "the results number the folds 1..3 in the sorted order of the file's labels (0 -> 1"
        in r.output
    )
    summary = (tmp_path / "o" / "summary.md").read_text()
    assert "no early stop" in summary and "not improved for 5 epochs" not in summary
    # the renumbering is in the run notes too (it was only a stderr warning)
    assert "sorted order of the fold file's labels: 1 = '0', 2 = '1', 3 = '2'" in summary
    r = CliRunner().invoke(
        main,
        [
            "fit", str(tmp_path / "geno.csv"), str(tmp_path / "pheno.csv"), "--trait", "y",
            "--model", str(coded / "tiny.toml"), "--groups", "family", "--folds", "3",
            "--epochs", "1", "--baselines", "gblup", "--no-refit", "--out", str(tmp_path / "g"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "--groups 'family': 9 sample(s) have no value" in r.output
    assert "group K-fold by 'family'" in (tmp_path / "g" / "summary.md").read_text()
    pred = pd.read_csv(tmp_path / "g" / "predictions.csv", dtype={"sample_id": str})
    fam = ph.set_index("sample_id")["family"].fillna("")
    folds = pred[pred.model == "GBLUP"].assign(fam=lambda d: d.sample_id.map(fam))
    known = folds[folds.fam.ne("") & folds.fam.notna()]
    assert known.groupby("fam")["fold"].nunique().eq(1).all()
    unknown = folds[folds.fam.eq("") | folds.fam.isna()]
    assert unknown["fold"].nunique() > 1  # no longer one pooled group


def test_rrblup_coding_minus_one_zero_one(tmp_path):
    from snpcnn.errors import InputError
    from snpcnn.io import read_genotypes

    (tmp_path / "m.csv").write_text("sample_id,a,b,c\ns1,-1,0,1\ns2,1,,-1\n")
    with pytest.raises(InputError, match="a -1/0/1 matrix .rrBLUP's coding.: coding='-101'"):
        read_genotypes(tmp_path / "m.csv")
    g = read_genotypes(tmp_path / "m.csv", coding="-101")
    np.testing.assert_array_equal(g.dosages, [[0, 1, 2], [2, -1, 0]])
    (tmp_path / "bad.csv").write_text("sample_id,a\ns1,2\n")
    with pytest.raises(InputError, match="value '2' is not -1/0/1"):
        read_genotypes(tmp_path / "bad.csv", coding="-101")
    r = CliRunner().invoke(main, ["info", str(tmp_path / "m.csv"), "--coding", "-101"])
    assert r.exit_code == 0, r.output


def test_a_binary_trait_with_covariates_says_the_cnn_ignores_them(coded, tmp_path):
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph["case"] = (ph["y"] > ph["y"].median()).astype(int)
    ph.to_csv(tmp_path / "p.csv", index=False)
    out = tmp_path / "o"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "p.csv"), "--trait", "case",
            "--covariates", "herd", "--model", str(coded / "tiny.toml"), "--folds", "3",
            "--epochs", "1", "--baselines", "gblup", "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    said = (
        "trait 'case' is binary and the CNN has a sigmoid output: it does not use the "
        "covariates (herd), while GBLUP fits them"
    )
    assert said in r.output and said in (out / "summary.md").read_text()
    # the covariates alone are scored beside them (their share of GBLUP's AUC)
    m = pd.read_csv(out / "metrics.csv")
    cov = m[(m.model == "Covariates only") & (m.metric == "auc")]
    assert len(cov) == 3 and cov.value.notna().all()
    r = CliRunner().invoke(
        main,
        ["predict", str(out / "model.keras"), str(coded / "geno.csv"), "--covariates",
         str(tmp_path / "p.csv")],
    )  # fmt: skip
    assert r.exit_code != 0 and "a binary trait's CNN, which does not use covariates" in r.output
    # without covariates it predicts, and says what the column holds (a sigmoid network's
    # probability here; nothing was said: a checking helper, session 39)
    r = CliRunner().invoke(main, ["predict", str(out / "model.keras"), str(coded / "geno.csv")])
    assert r.exit_code == 0, r.output
    assert (
        "Note: 'case' is a binary trait (0 = 0, 1 = 1): its column is the probability of 1"
        in r.output
    )
    # without baselines (a benchmark's CNN units too) the note is still given
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "p.csv"), "--trait", "case",
            "--covariates", "herd", "--model", str(coded / "tiny.toml"), "--folds", "3",
            "--epochs", "1", "--baselines", "none", "--no-refit", "--out", str(tmp_path / "o2"),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "it does not use the covariates (herd); the default CNN" in r.output


def test_a_level_only_in_the_test_fold_gets_the_training_average(coded, tmp_path):
    """A categorical level that the training part lacks: its test samples get the training
    average of the covariate's levels (as predict gives new samples), not the reference
    level's effect, and the notes say so; uneven folds are noted too."""
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph["herd"] = ph["herd"].astype(str)
    fold = np.where(np.arange(len(ph)) < 20, 1, np.where(np.arange(len(ph)) < 40, 2, 3))
    ph.loc[np.flatnonzero(fold == 1)[:5], "herd"] = "Z"  # only in fold 1
    ph.to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"sample_id": ph.sample_id, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "p.csv"), "--trait", "y",
            "--covariates", "herd", "--categorical", "herd", "--model",
            str(coded / "tiny.toml"), "--folds", str(tmp_path / "f.csv"), "--epochs", "1", "--baselines", "gblup", "--no-refit",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (
        "fold 1: covariate 'herd': 5 test sample(s) have a level the training part lacks (Z)"
        in r.output
    )
    assert "the test folds are very unequal (20 to 110 samples)" in r.output
    pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    cov = pred[(pred.model == "Covariates only") & (pred.fold == 1)].set_index("sample_id")
    z = cov.loc[ph.sample_id[ph.herd == "Z"], "predicted"]
    ref = cov.loc[ph.sample_id[(ph.herd == "1") & (fold == 1)], "predicted"]
    assert z.nunique() == 1 and abs(z.iloc[0] - ref.iloc[0]) > 0.1  # not level 1 effect
    # the training average: the mean over the training samples of their fixed effects
    train = ph[fold != 1]
    means = train.groupby("herd")["y"].mean()
    want = float((train["herd"].map(means)).mean())
    assert z.iloc[0] == pytest.approx(want, abs=1e-6)


def test_integer_codes_written_as_floats_are_the_same_level(tmp_path):
    from snpcnn.io.phenotypes import canonical_level, read_phenotypes

    assert canonical_level("2.0") == canonical_level("2") == "2"
    assert canonical_level("2.5") == "2.5" and canonical_level("B2") == "B2"
    (tmp_path / "p.csv").write_text("sample_id,y,litter\na,1,2.0\nb,2,2\nc,3,4.00\n")
    ph = read_phenotypes(
        tmp_path / "p.csv", traits=["y"], covariates=["litter"], categorical=["litter"]
    )
    assert list(ph.table["litter"]) == ["2", "2", "4"]


def test_without_cross_fitting_the_attribution_names_the_ridge_start(coded, tmp_path):
    r = _fit(coded, tmp_path / "o", "--model", "snpcnn_default", "--conv-folds", "0")
    assert r.exit_code == 0, r.output
    text = (tmp_path / "o" / "summary.md").read_text()
    # no start is chosen without cross-fitted convolutions: the row is named for what it is
    # (session 34: it carried the default's 'RR-BLUP, CNN-GP, ... by REML' name)
    assert "from its RR-BLUP start (ridge on the CNN's input, 'CNN start (RR-BLUP)')" in text
    assert "CNN-GP" not in text.split("Where the CNN hybrid")[1].split("\n")[0]


def test_small_messages_of_the_last_fuzzing_pass(tmp_path):
    from snpcnn.errors import InputError, InputWarning
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes
    from snpcnn.multitrait import MultiTraitGBLUP

    (tmp_path / "g.csv").write_text("sample_id,a,b\ns1,0,1\ns2,1,1\n")
    with pytest.warns(InputWarning, match="coding='-101' but no value is -1"):
        read_genotypes(tmp_path / "g.csv", coding="-101")
    rows = [f"F{i} S{i} P{i} M{i} 1 {i % 3}" for i in range(12)]
    (tmp_path / "x.fam").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="'father' is a pedigree column of the .fam"):
        read_phenotypes(tmp_path / "x.fam", traits=["father"])
    rng = np.random.default_rng(0)
    X = rng.integers(0, 3, (60, 30)).astype(float)
    Y = np.column_stack([rng.normal(size=60), np.full(60, 1.0)])
    with pytest.raises(InputError, match="trait 2 is constant"):
        MultiTraitGBLUP().fit(X, Y)
    Y[:, 1] = rng.normal(size=60)
    with pytest.raises(InputError, match="subsample must be at least 20 lines"):
        MultiTraitGBLUP(solver="iterative", subsample=5).fit(X, Y)


def test_covariate_levels_are_counted_over_the_samples_used(tmp_path):
    """The console's covariate line counts levels among the samples the fit uses, not the
    whole phenotype file (a herd of ungenotyped animals is no level of the fit)."""
    from snpcnn.cli import describe_covariates
    from snpcnn.io.phenotypes import read_phenotypes

    ids = [f"a{i}" for i in range(8)]
    pd.DataFrame(
        {"sample_id": ids, "y": np.arange(8.0), "herd": ["h1"] * 3 + ["h2"] * 3 + ["h3"] * 2}
    ).to_csv(tmp_path / "p.csv", index=False)
    ph = read_phenotypes(tmp_path / "p.csv", traits=["y"], covariates=["herd"])
    assert "herd (categorical, 3 levels)" in describe_covariates(ph)
    used = describe_covariates(ph, np.array(ids[:6], dtype=object))
    assert "herd (categorical, 2 levels)" in used
    one = describe_covariates(ph, np.array(ids[:3], dtype=object))
    assert "1 level; one level: it contributes nothing" in one


def _fit_folds(coded, tmp_path, out, *extra):
    """fit on ``tmp_path``'s p.csv with the fold table f.csv (tiny model, GBLUP, no refit)."""
    return CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(tmp_path / "p.csv"), *extra, "--model",
            str(coded / "tiny.toml"), "--folds", str(tmp_path / "f.csv"), "--epochs", "1",
            "--baselines", "gblup", "--no-refit", "--out", str(out),
        ],
    )  # fmt: skip


def test_a_numeric_covariate_constant_in_a_training_part_is_noted(coded, tmp_path):
    """A numeric covariate with one value in a training part and others in its test fold:
    its effect is not estimable there (it is 0), and the notes say which fold and how many
    test samples get no adjustment (before, nothing was said)."""
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    fold = np.where(np.arange(len(ph)) < 20, 1, np.where(np.arange(len(ph)) < 40, 2, 3))
    ph["age"] = np.where(fold == 1, 3.0, 1.0)  # folds 2 and 3: their training parts vary
    ph.to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"sample_id": ph.sample_id, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o"
    r = _fit_folds(coded, tmp_path, out, "--trait", "y", "--covariates", "age")
    assert r.exit_code == 0, r.output
    note = (
        "fold 1: covariate 'age' is 1 in every training sample, so its effect cannot be "
        "estimated there and is taken as 0; 20 test sample(s) with other values get no "
        "adjustment for it"
    )
    assert note in r.output and note in (out / "summary.md").read_text()
    assert "fold 2: covariate 'age'" not in r.output and "fold 3: covariate 'age'" not in r.output
    # taken as 0: fold 1's covariate-only predictions are one value (the intercept)
    pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    cov = pred[(pred.model == "Covariates only") & (pred.fold == 1)]
    assert cov.predicted.nunique() == 1


def test_a_level_missing_among_a_traits_training_lines_gets_that_traits_average(coded, tmp_path):
    """Two traits with missing cells: a herd level that training lines have only where the
    second trait is missing. Its test samples got the reference level's effect for that
    trait (the level's column is all zeros among the trait's lines); they now get the
    trait's training average, and the notes say so."""
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    n = len(ph)
    fold = np.where(np.arange(n) < 50, 1, np.where(np.arange(n) < 100, 2, 3))
    rng = np.random.default_rng(5)
    ph["herd"] = rng.choice(["a", "b"], size=n)
    ph["y2"] = ph["y"] * 0.5 + rng.normal(size=n)
    z = np.concatenate([np.arange(0, 5), np.arange(50, 56), np.arange(100, 106)])
    ph.loc[z, "herd"] = "Z"
    ph.loc[z, "y2"] += 6.0  # a large herd Z effect on y2
    ph.loc[z[5:], "y2"] = np.nan  # training lines (folds 2, 3) of herd Z lack y2
    ph.to_csv(tmp_path / "p.csv", index=False)
    pd.DataFrame({"sample_id": ph.sample_id, "fold": fold}).to_csv(tmp_path / "f.csv", index=False)
    out = tmp_path / "o"
    r = _fit_folds(coded, tmp_path, out, "--trait", "y", "--trait", "y2", "--covariates", "herd")
    assert r.exit_code == 0, r.output
    assert (
        "fold 1: covariate 'herd': 5 test sample(s) of 'y2' have a level that no training "
        "line with 'y2' has (Z); for 'y2' they get the training average of its levels"
    ) in r.output
    assert "of 'y' have a level" not in r.output  # y's training lines have herd Z
    pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    p1 = pred[(pred.fold == 1) & (pred.trait == "y2")].set_index(["model", "sample_id"])
    zid = list(ph.sample_id[z[:5]])
    # least squares with an intercept: the mean fitted value over y2's training lines is
    # their mean y2, i.e. the training average of the fixed effects
    train_y2 = ph.loc[(fold != 1) & ph.y2.notna(), "y2"].mean()
    fixed = p1.loc["Covariates only"].loc[zid, "predicted"]
    np.testing.assert_allclose(fixed, train_y2, rtol=1e-9)
    # not the reference level's (herd a) effect, as before
    ref = p1.loc["Covariates only"].loc[
        list(ph.sample_id[(fold == 1) & (ph.herd == "a")]), "predicted"
    ]
    assert abs(ref.iloc[0] - train_y2) > 1e-3
    # GBLUP and the CNN use the same design: finite, and the CNN's Z predictions center on
    # the average rather than herd a's effect
    for model in ("GBLUP", "CNN"):
        assert np.isfinite(p1.loc[model].loc[zid, "predicted"]).all()


@pytest.mark.parametrize("share_of_twos", [0.3, 0.5])
def test_a_missing_code_in_a_1_2_trait_says_it_made_the_trait_quantitative(share_of_twos):
    """A CSV case/control trait coded 1/2 with -9 for missing: the -9s are values, so the
    trait has three values and is fitted as quantitative; the note now says so (it only
    named the code: a checking helper, session 39), also where most values are equal (no
    note at all before: the robust SD is 0)."""
    from types import SimpleNamespace

    from snpcnn.cv import trait_outlier_notes

    rng = np.random.default_rng(0)
    y = np.where(rng.random(200) < share_of_twos, 2.0, 1.0)
    y[:6] = -9.0
    targets = SimpleNamespace(
        head="regression", traits=["resist"], y=y[:, None],
        sample_ids=np.array([f"s{i}" for i in range(200)], dtype=object),
    )  # fmt: skip
    (note,) = trait_outlier_notes(targets)
    assert "6 sample(s) have a value that looks like a missing-value code (-9 in 6" in note
    assert "without them 'resist' has two values (1 and 2) and would be fitted as a binary" in note


def test_the_categorical_hint_names_only_covariates_that_look_like_codes(tmp_path):
    """Every numeric covariate was suggested for --categorical, an age too (copying the
    hint one-hot coded it into about 50 levels: a checking helper, session 39)."""
    from snpcnn.cli import describe_covariates
    from snpcnn.io.phenotypes import read_phenotypes

    rng = np.random.default_rng(0)
    n = 120
    pd.DataFrame(
        {"sample_id": [f"a{i}" for i in range(n)], "y": rng.normal(size=n),
         "SEX": rng.integers(1, 3, n), "AGE": rng.integers(20, 70, n),
         "weight": rng.normal(70, 5, n).round(1)}
    ).to_csv(tmp_path / "p.csv", index=False)  # fmt: skip
    ph = read_phenotypes(tmp_path / "p.csv", traits=["y"], covariates=["SEX", "AGE", "weight"])
    line = describe_covariates(ph)
    assert "SEX (numeric, 2 distinct values)" in line and "AGE (numeric, " in line
    assert line.endswith("numbers that are codes (herd, cage, year): --categorical SEX")


def test_the_default_trait_line_names_the_others_and_flags_a_code_column(tmp_path):
    """Without --trait, a year column (the first numeric one) was analysed as the trait, and
    the line did not name the other traits (a checking helper, session 39)."""
    from snpcnn.cli.fit import default_trait_text
    from snpcnn.io.phenotypes import read_phenotypes

    rng = np.random.default_rng(0)
    n = 60
    pd.DataFrame(
        {"animal_id": [f"a{i}" for i in range(n)], "year": rng.integers(2015, 2021, n),
         "milk_kg": rng.normal(8000, 500, n), "fat_pct": rng.normal(4, 0.3, n)}
    ).to_csv(tmp_path / "p.csv", index=False)  # fmt: skip
    ph = read_phenotypes(tmp_path / "p.csv")
    text = default_trait_text(ph, ph.default_trait())
    assert text.startswith("trait: year (the first trait column; the others: milk_kg, fat_pct;")
    assert "Warning: 'year' looks like a code (years), not a trait" in text
    assert "--covariates year --categorical year" in text
    assert "Warning" not in default_trait_text(ph, "milk_kg")
    # a 1-9 score is a trait: no warning (a review, session 39)
    pd.DataFrame(
        {"line": [f"l{i}" for i in range(n)], "rust_score": rng.integers(1, 10, n),
         "yield": rng.normal(size=n)}
    ).to_csv(tmp_path / "s.csv", index=False)  # fmt: skip
    ph = read_phenotypes(tmp_path / "s.csv")
    assert "Warning" not in default_trait_text(ph, ph.default_trait())


def test_a_covariates_file_alone_fits_all_its_columns(coded, tmp_path):
    """--covariates-file without --covariates: the console named its columns as the
    covariates, but the fit used none (a checking helper, session 39)."""
    ph = pd.read_csv(coded / "pheno.csv", dtype={"sample_id": str})
    ph[["sample_id", "herd"]].to_csv(tmp_path / "cov.csv", index=False)
    out = tmp_path / "o"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(coded / "geno.csv"), str(coded / "pheno.csv"), "--trait", "y",
            "--covariates-file", str(tmp_path / "cov.csv"), "--model", str(coded / "tiny.toml"),
            "--folds", "3", "--epochs", "1", "--baselines", "gblup", "--no-refit",
            "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["covariates"] == ["herd"]
    m = pd.read_csv(out / "metrics.csv")
    assert "Covariates only" in set(m.model)


def test_the_correction_options_are_refused_for_a_network_trained_as_a_whole(coded, tmp_path):
    """--conv-gate, --conv-folds and --linear-init do nothing for a network without a
    linear path (deepgs, mlp, ...), yet run.json recorded them as used (a checking helper,
    session 39): refused in one line, before any data is read."""
    args = ["fit", str(coded / "geno.csv"), str(coded / "pheno.csv"), "--trait", "y"]
    args += ["--model", str(coded / "tiny.toml"), "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(main, [*args, "--conv-gate", "0.2", "--conv-folds", "3"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "Error: --conv-gate, --conv-folds: for models whose convolutions correct" in r.output
    assert not (tmp_path / "o").exists()
    r = CliRunner().invoke(main, [*args, "--encoding", "onehot", "--scaling", "standardize"])
    assert r.exit_code == 1 and "Error: --scaling applies to the dosage encoding" in r.output
