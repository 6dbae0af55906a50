"""Issue 14 item 2: `snpcnn predict` (and explain's marginal scan) use the model's covariates."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.bundle import load_bundle
from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def sexed(example_data, tmp_path_factory, tiny_toml):
    """400 wheat lines x 300 SNPs, y = GY_E1 + 3 for 'M'; 100 held out (no phenotype file row)."""
    d = tmp_path_factory.mktemp("sexed")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:400, :301]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph.set_index("sample_id").loc[x.sample_id].reset_index()
    rng = np.random.default_rng(0)
    ph["sex"] = rng.choice(["F", "M"], size=len(ph))
    ph["Litter"] = rng.choice(["L1", "L2", "L3"], size=len(ph))
    ph["y"] = ph["GY_E1"] + np.where(ph["sex"] == "M", 3.0, 0.0)
    ph.iloc[:300][["sample_id", "y", "sex", "Litter"]].to_csv(d / "pheno.csv", index=False)
    ph[["sample_id", "sex", "Litter"]].to_csv(d / "cov.csv", index=False)
    ph.iloc[300:][["sample_id", "y", "sex"]].to_csv(d / "held_out.csv", index=False)
    x.iloc[300:].to_csv(d / "new_geno.csv", index=False)
    (d / "tiny.toml").write_text(tiny_toml)
    out = d / "run"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "y",
            "--covariates", "sex,Litter", "--model", str(d / "tiny.toml"),
            "--folds", "3", "--epochs", "2", "--baselines", "gblup", "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    return d, out


def _predict(d, out, *extra):
    r = CliRunner().invoke(
        main, ["predict", str(out / "model.keras"), str(d / "new_geno.csv"), *extra]
    )
    return r


def test_predict_with_covariates_adds_their_effects(sexed):
    d, out = sexed
    r = _predict(d, out, "--covariates", str(d / "cov.csv"))
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(pd.io.common.StringIO(r.stdout), dtype={"sample_id": str})
    held = pd.read_csv(d / "held_out.csv", dtype={"sample_id": str}).set_index("sample_id")
    pred = pred.set_index("sample_id").join(held.rename(columns={"y": "y_obs"}))
    by_sex = pred.groupby("sex")["y"].mean()
    # the sex effect (3.0) is in the predictions; held-out r is at least sex's own r
    assert 2.5 < by_sex["M"] - by_sex["F"] < 3.5
    r_sex = np.corrcoef(pred["y_obs"], pred["sex"].eq("M"))[0, 1]
    assert np.corrcoef(pred["y"], pred["y_obs"])[0, 1] >= r_sex - 0.02


def test_predict_without_covariates_says_what_it_assumes(sexed):
    d, out = sexed
    r = _predict(d, out)
    assert r.exit_code == 0, r.output
    assert "fitted with the covariates sex, Litter; none given" in r.stderr
    pred = pd.read_csv(pd.io.common.StringIO(r.stdout), dtype={"sample_id": str})
    held = pd.read_csv(d / "held_out.csv", dtype={"sample_id": str}).set_index("sample_id")
    pred = pred.set_index("sample_id").join(held.rename(columns={"y": "y_obs"}))
    by_sex = pred.groupby("sex")["y"].mean()
    assert abs(by_sex["M"] - by_sex["F"]) < 0.5  # the training mean for everybody


def test_predict_matches_the_fit_encoding_in_sample(sexed):
    """The file path encodes covariates exactly as fit did: same fixed effects per sample."""
    d, out = sexed
    from snpcnn.cv import _covariates, _targets_from_alignment
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import align, read_phenotypes

    bundle = load_bundle(out / "model.keras")
    geno = read_genotypes(d / "geno.csv")
    ph = read_phenotypes(d / "pheno.csv", traits=["y"], covariates=["sex", "Litter"])
    al = align(geno, ph, traits=["y"])
    targets = _targets_from_alignment(al, ph, ["y"], ["sex", "Litter"], None)
    c_fit, _ = _covariates(targets, targets.sample_ids)
    from snpcnn.cli.fit import model_covariates

    c_file = model_covariates(bundle, d / "cov.csv", None, targets.sample_ids, "test")
    np.testing.assert_array_equal(c_file, c_fit)


def test_covariate_file_errors_are_one_line(sexed):
    d, out = sexed
    cov = pd.read_csv(d / "cov.csv", dtype=str)
    cov.iloc[:350].to_csv(d / "cov_short.csv", index=False)
    r = _predict(d, out, "--covariates", str(d / "cov_short.csv"))
    assert r.exit_code != 0 and "has no row" in r.output and "Traceback" not in r.output
    cov.drop(columns="Litter").to_csv(d / "cov_nolitter.csv", index=False)
    r = _predict(d, out, "--covariates", str(d / "cov_nolitter.csv"))
    assert r.exit_code != 0 and "'Litter' not found" in r.output
    bad = cov.copy()
    bad.loc[bad.index[350], "sex"] = ""
    bad.to_csv(d / "cov_missing.csv", index=False)
    r = _predict(d, out, "--covariates", str(d / "cov_missing.csv"))
    assert r.exit_code != 0 and "missing for sample" in r.output


def test_unseen_level_gets_the_training_average(sexed):
    d, out = sexed
    cov = pd.read_csv(d / "cov.csv", dtype=str)
    cov.loc[cov.index[350:], "Litter"] = "L99"
    cov.to_csv(d / "cov_new_litter.csv", index=False)
    r = _predict(d, out, "--covariates", str(d / "cov_new_litter.csv"))
    assert r.exit_code == 0, r.output
    assert "level the training data did not have (L99)" in r.stderr


def test_explain_marginal_scan_is_adjusted_for_the_covariates(sexed):
    import json

    d, out = sexed
    args = ["explain", str(out / "model.keras"), str(d / "geno.csv"), str(d / "pheno.csv")]
    args += ["--trait", "y", "--methods", "saliency", "--max-samples", "50", "--force"]
    r = CliRunner().invoke(main, [*args, "--out", str(d / "ex")])
    assert r.exit_code == 0, r.output
    assert "marginal scan adjusted for the covariates sex, Litter" in r.stderr
    info = json.loads((d / "ex" / "explain.json").read_text())
    assert info["marginal_adjusted_for"] == ["sex", "Litter"]
    # the same scan by hand, with the fit's encoding of the covariates
    from snpcnn.io import read_genotypes
    from snpcnn.stats import marginal_association

    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str}).set_index("sample_id")
    geno = read_genotypes(d / "geno.csv")
    ids = [s for s in geno.samples.astype(str) if s in ph.index]
    rows = np.flatnonzero(np.isin(geno.samples.astype(str), ids))
    c = np.column_stack(
        [ph.loc[ids, "sex"].eq("M"), ph.loc[ids, "Litter"].eq("L2"), ph.loc[ids, "Litter"].eq("L3")]
    ).astype(float)
    want = marginal_association(geno, ph.loc[ids, "y"].to_numpy(), covariates=c, rows=rows)
    got = pd.read_csv(d / "ex" / "importance.csv")
    np.testing.assert_allclose(got["marginal_p"], want["p"], rtol=1e-4)
    # a phenotype file without the covariates: said, not silently ignored
    r = CliRunner().invoke(
        main, [*args[:3], str(d / "held_out.csv"), *args[4:], "--out", str(d / "ex2")]
    )
    assert r.exit_code == 0, r.output
    assert "NOT adjusted for the model's covariates" in r.stderr


def test_coding_auto_reading_01_is_said_and_coding_012_is_honoured(sexed):
    """The model was trained on a 0/1 table (read as presence/absence): predict reads a new
    table the same way under --coding auto and says so (since session 39; before, auto
    decided again from the new file's values), and --coding 012 reads the 1s as
    heterozygotes (other predictions), with a warning that the model's table was 0/1."""
    d, out = sexed
    auto = _predict(d, out)
    assert auto.exit_code == 0, auto.output
    assert "read with --coding 01, as the model's training table was" in auto.stderr
    het = _predict(d, out, "--coding", "012")
    assert het.exit_code == 0, het.output
    assert "presence/absence" not in het.stderr
    assert "but the model's training table with --coding 01" in het.stderr
    a = pd.read_csv(pd.io.common.StringIO(auto.stdout))["y"].to_numpy()
    b = pd.read_csv(pd.io.common.StringIO(het.stdout))["y"].to_numpy()
    assert not np.allclose(a, b)


def test_explain_marks_imputed_snps_caps_top_k_and_clears_stale_plots(sexed, tmp_path):
    d, out = sexed
    x = pd.read_csv(d / "new_geno.csv", dtype={"sample_id": str})
    x.drop(columns=list(x.columns[1:41])).to_csv(tmp_path / "part.csv", index=False)
    ex = tmp_path / "ex"
    base = ["explain", str(out / "model.keras"), str(tmp_path / "part.csv"), "--out", str(ex)]
    r = CliRunner().invoke(main, [*base, "--methods", "saliency", "--top-k", "101"])
    assert r.exit_code != 0 and "--top-k must be at most 100" in r.output
    r = CliRunner().invoke(main, [*base, "--methods", "saliency,gradxinput", "--coding", "01"])
    assert r.exit_code == 0, r.output
    imp = pd.read_csv(ex / "importance.csv")
    assert imp["imputed"].sum() == 40 and set(imp.loc[imp.imputed, "id"]) == set(x.columns[1:41])
    assert (ex / "manhattan_gradxinput.png").is_file()
    r = CliRunner().invoke(main, [*base, "--methods", "saliency", "--coding", "01", "--force"])
    assert r.exit_code == 0, r.output
    assert (ex / "manhattan_saliency.png").is_file()
    assert not (ex / "manhattan_gradxinput.png").exists()  # the earlier run's plot is gone


def test_predict_small_option_mistakes(sexed):
    d, out = sexed
    r = _predict(d, out, "--id-column", "sample_id")
    assert r.exit_code == 1 and "give --covariates" in r.stderr
    r = _predict(d, out, "--out", "-")
    assert r.exit_code == 0 and r.stdout.startswith("sample_id")
    r = CliRunner().invoke(
        main, ["explain", str(out / "model.keras"), str(d / "new_geno.csv"), "--methods", ""]
    )
    assert r.exit_code == 1 and "give at least one of" in r.stderr


def test_explain_warns_when_the_marginal_scan_has_few_samples(sexed, tmp_path):
    d, out = sexed
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    ph.iloc[:12].to_csv(tmp_path / "few.csv", index=False)
    args = ["explain", str(out / "model.keras"), str(d / "geno.csv"), str(tmp_path / "few.csv")]
    args += ["--trait", "y", "--methods", "saliency", "--out", str(tmp_path / "ex")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    assert "the marginal scan has only 12 samples with a value of 'y'" in r.stderr
    r = CliRunner().invoke(main, [*args[:3], str(d / "pheno.csv"), *args[4:], "--force"])
    assert r.exit_code == 0, r.output
    assert "marginal scan has only" not in r.stderr


def test_python_covariates_are_checked_before_the_network_runs(sexed):
    """ModelBundle.predict(covariates=...) took any array and failed in numpy's matmul after
    the network had run (raw table, wrong width or row count), or used rows in another
    order as they were (a checking helper, session 39): one line each now, and a table of
    the encoded columns is put in the samples' order by its index."""
    from snpcnn.errors import InputError
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    d, out = sexed
    bundle = load_bundle(out / "model.keras")
    geno = read_genotypes(d / "new_geno.csv", coding="01", cache=False)
    ph = read_phenotypes(d / "cov.csv", covariates=["sex", "Litter"], traits=[])
    design, _ = bundle.covariate_design(ph, geno.samples)
    names = list(bundle.covariate_columns)
    right = bundle.predict(geno, covariates=design)["y"].to_numpy()
    raw = ph.table.loc[geno.samples.astype(str), ["sex", "Litter"]]
    with pytest.raises(InputError, match=r"encoded columns .*covariate_design"):
        bundle.predict(geno, covariates=raw)
    with pytest.raises(InputError, match=r"shape \(100, 2\).*one column per fixed effect \(3"):
        bundle.predict(geno, covariates=design[:, :2])
    with pytest.raises(InputError, match=r"shape \(99, 3\).*one row per sample \(100"):
        bundle.predict(geno, covariates=design[1:])
    bad = design.copy()
    bad[4, 0] = np.nan
    with pytest.raises(InputError, match="row 4 .* missing or infinite"):
        bundle.predict(geno, covariates=bad)
    # a table of the encoded columns, rows shuffled: reordered by its ids
    table = pd.DataFrame(design, columns=names, index=geno.samples.astype(str))
    shuffled = table.sample(frac=1.0, random_state=0)
    np.testing.assert_array_equal(bundle.predict(geno, covariates=shuffled)["y"], right)
    # a default (range) index is positional, whatever the sample ids, as are unnamed
    # columns (a review, session 39)
    plain = pd.DataFrame(design)
    np.testing.assert_array_equal(bundle.predict(geno, covariates=plain)["y"], right)
    # the model's columns in another order are taken by name; columns under other names
    # are refused (they were taken by position: a table with the model's names in another
    # order moved predictions by 2.5 SD; a checking helper, session 42)
    np.testing.assert_array_equal(bundle.predict(geno, covariates=table[names[::-1]])["y"], right)
    other = pd.DataFrame(design, columns=[f"c{i}" for i in range(design.shape[1])])
    with pytest.raises(InputError, match=r"columns \['c0', 'c1', 'c2'\].*\.to_numpy\(\)"):
        bundle.predict(geno, covariates=other)
    # an index of ids that misses a sample is refused, not read in row order (175 of 200
    # predictions moved)
    broken = shuffled.rename(index={shuffled.index[3]: "NOT_A_SAMPLE"})
    with pytest.raises(InputError, match=r"sample '.*' is not in its index.*reset_index"):
        bundle.predict(geno, covariates=broken)


def test_covariate_file_errors_name_a_covariate_file(tmp_path):
    """predict's --covariates FILE was called a 'phenotype file' in its errors, and
    --id-column naming a covariate advised choosing another covariate, which predict's user
    cannot do (a checking helper, session 42)."""
    from snpcnn.errors import InputError
    from snpcnn.io.phenotypes import read_phenotypes

    with pytest.raises(InputError, match=r"^covariate file .*nope\.csv does not exist"):
        read_phenotypes(tmp_path / "nope.csv", traits=[], covariates=["sex"])
    empty = tmp_path / "empty.csv"
    empty.write_text("sample_id,sex\n")
    with pytest.raises(InputError, match=r"^covariate file .* has a header but no data rows"):
        read_phenotypes(empty, traits=[], covariates=["sex"])
    with pytest.raises(InputError, match=r"^phenotype file .*nope\.csv does not exist"):
        read_phenotypes(tmp_path / "nope.csv")
    cov = tmp_path / "cov.csv"
    cov.write_text("sample_id,sex\na,M\nb,F\n")
    with pytest.raises(InputError, match=r"give --id-column the column that holds the sample"):
        read_phenotypes(cov, id_column="sex", traits=[], covariates=["sex"])


def test_explain_says_which_samples_it_leaves_out_and_how_to_scan_without_covariates(sexed):
    """With PHENOTYPES only phenotyped samples were explained, the rest left out without a
    word; a missing covariate value advised 'predict without covariates', which explain
    cannot do (a checking helper, session 43)."""
    import json

    d, out = sexed
    args = ["explain", str(out / "model.keras"), str(d / "geno.csv")]
    opts = ["--trait", "y", "--methods", "saliency", "--max-samples", "50", "--force"]
    r = CliRunner().invoke(main, [*args, str(d / "pheno.csv"), *opts, "--out", str(d / "e3")])
    assert r.exit_code == 0, r.output
    assert "100 of the 400 genotyped samples have no value of 'y' and are not explained" in (
        r.stderr
    )
    assert json.loads((d / "e3" / "explain.json").read_text())["n_samples_without_phenotype"] == 100
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    ph.loc[5, "sex"] = None
    ph.to_csv(d / "pheno_gap.csv", index=False)
    r = CliRunner().invoke(main, [*args, str(d / "pheno_gap.csv"), *opts, "--out", str(d / "e4")])
    assert r.exit_code == 1
    assert "covariate 'sex' is missing for sample" in r.output
    assert "pheno_gap.csv line 7)" in r.output  # the line too, as fit names it (session 46)
    assert "leave the covariate columns out of PHENOTYPES" in r.output
    assert "predict" not in r.output.split("Error:")[-1]


def test_a_covariate_whose_every_level_is_unseen_names_the_models_levels(sexed):
    """F/M spelt female/male: every sample got the average level, and the note read like
    one stray level (session 42)."""
    d, out = sexed
    cov = pd.read_csv(d / "cov.csv", dtype=str)
    cov["sex"] = cov["sex"].map({"F": "female", "M": "male"})
    cov.to_csv(d / "cov_spelt.csv", index=False)
    r = _predict(d, out, "--covariates", str(d / "cov_spelt.csv"))
    assert r.exit_code == 0, r.output
    assert "no sample has a level the training data had (the file: female, male; the " in r.stderr
    assert "the model: F, M" in r.stderr and "recode the file's to the model's" in r.stderr
