"""The saved model records how its training table was read (--coding), and predict and
explain read a new table the same way: a small batch without any 2 is otherwise read by
--coding auto as 0/1 presence/absence, every heterozygote becoming dosage 2 (a checking
helper, session 38)."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.bundle import load_bundle
from snpcnn.cli import main
from snpcnn.io import read_genotypes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def fitted_012(tmp_path_factory, tiny_toml):
    d = tmp_path_factory.mktemp("coding")
    rng = np.random.default_rng(3)
    n, p = 80, 60
    x = rng.binomial(2, rng.uniform(0.05, 0.45, size=p), size=(n, p))  # HWE, varied MAF
    ids = [f"s{i:03d}" for i in range(n)]
    cols = [f"m{j}" for j in range(p)]
    pd.DataFrame(x, columns=cols).assign(sample_id=ids)[["sample_id", *cols]].to_csv(
        d / "geno.csv", index=False
    )
    y = x[:, :10].sum(axis=1) + rng.normal(0, 1, n)
    pd.DataFrame({"sample_id": ids, "y": y}).to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(tiny_toml)
    # a new batch of 6 lines in which no genotype happens to be 2
    batch = np.minimum(rng.choice([0, 1, 2], size=(6, p)), 1)
    pd.DataFrame(batch, columns=cols).assign(sample_id=[f"new{i}" for i in range(6)])[
        ["sample_id", *cols]
    ].to_csv(d / "batch.csv", index=False)
    out = d / "run"
    args = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--model", str(d / "tiny.toml")]
    args += ["--folds", "2", "--epochs", "1", "--baselines", "gblup", "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return d, out


def test_the_bundle_records_the_training_tables_coding(fitted_012):
    d, out = fitted_012
    assert load_bundle(out / "model.keras").config["genotype_coding"] == "012"


def test_predict_reads_a_batch_without_a_2_with_the_models_coding(fitted_012):
    d, out = fitted_012
    r = CliRunner().invoke(
        main, ["predict", str(out / "model.keras"), str(d / "batch.csv"), "--out", str(d / "p.csv")]
    )
    assert r.exit_code == 0, r.output
    assert "read with --coding 012, as the model's training table was" in r.output
    got = pd.read_csv(d / "p.csv")["y"].to_numpy()
    bundle = load_bundle(out / "model.keras")
    right = bundle.predict(read_genotypes(d / "batch.csv", coding="012", cache=False))["y"]
    np.testing.assert_allclose(got, right.to_numpy(), rtol=1e-6)
    # what --coding auto alone gives: every 1 read as 2, other predictions, and a warning
    with pytest.warns(UserWarning, match="training table with coding='012'"):
        wrong = bundle.predict(read_genotypes(d / "batch.csv", cache=False))["y"].to_numpy()
    assert np.abs(wrong - got).max() > 1e-3


def test_an_explicit_other_coding_is_kept_with_a_warning(fitted_012):
    d, out = fitted_012
    r = CliRunner().invoke(
        main,
        ["predict", str(out / "model.keras"), str(d / "batch.csv"), "--coding", "01"],
    )
    assert r.exit_code == 0, r.output
    assert "Note:" not in r.output
    warning = [ln for ln in r.output.splitlines() if "training table with --coding 012" in ln]
    assert len(warning) == 1 and "--coding 01," in warning[0], r.output


def test_a_table_counting_the_other_allele_is_warned_about(fitted_012):
    """Tables have no alleles, so nothing says which allele a column counts: where many
    columns have mean dosages near 2 minus the model's training means, predict warns (it
    predicted without a word: a checking helper, session 39), and the match line says the
    orientation was not checked."""
    d, out = fitted_012
    x = pd.read_csv(d / "geno.csv")
    cols = [c for c in x.columns if c != "sample_id"]
    skewed = x.copy()
    # columns with a clear frequency (so that 2 - x is told apart), counted the other way
    means = x[cols].mean()
    flip = [c for c in cols if abs(means[c] - 1) > 0.4][:12]
    assert len(flip) >= 5
    skewed[flip] = 2 - skewed[flip]
    skewed.to_csv(d / "flipped.csv", index=False)
    r = CliRunner().invoke(main, ["predict", str(out / "model.keras"), str(d / "flipped.csv")])
    assert r.exit_code == 0, r.output
    assert f"{len(flip)} of the 60 SNPs matched without alleles" in r.output
    assert "may count the other allele" in r.output
    assert (
        "60 matched by id alone, their counted allele not checked (no alleles in the file)"
        in r.output
    )
    r = CliRunner().invoke(main, ["predict", str(out / "model.keras"), str(d / "geno.csv")])
    assert r.exit_code == 0 and "may count the other allele" not in r.output
