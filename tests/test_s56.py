"""Session 56: four bugs an adversarial tester found (predict's covariate advice, predict
--force into another command's results, explain.json's steps, benchmark's console list)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

TINY_ARCH = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "tiny_arch.toml"


@pytest.fixture(scope="module")
def aged(tmp_path_factory):
    """60 simulated samples x 120 SNPs fitted (1 epoch) with a numeric covariate 'age'."""
    d = tmp_path_factory.mktemp("s56")
    res = CliRunner().invoke(main, ["simulate", "--samples", "60", "--snps", "120", "--out",
                                    str(d / "sim")])  # fmt: skip
    assert res.exit_code == 0, res.output
    ph = pd.read_csv(d / "sim" / "phenotypes.csv", dtype={"sample_id": str})
    ph["age"] = np.random.default_rng(0).integers(20, 60, len(ph))
    ph.to_csv(d / "pheno.csv", index=False)
    ph[["sample_id", "age"]].to_csv(d / "cov.csv", index=False)
    fit = ["fit", str(d / "sim" / "sim.vcf.gz"), str(d / "pheno.csv"), "--covariates", "age"]
    fit += ["--folds", "2", "--epochs", "1", "--baselines", "gblup", "--conv-folds", "0"]
    res = CliRunner().invoke(main, [*fit, "--patience", "1", "--out", str(d / "f")])
    assert res.exit_code == 0, res.output
    return d


@pytest.fixture(scope="module")
def bench_out(tmp_path_factory, example_data):
    """A finished benchmark (baselines only, 2 folds: no training) and its console output."""
    d = tmp_path_factory.mktemp("s56_bench")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=90).iloc[:, :65]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "pheno.csv", index=False)
    (d / "b.toml").write_text(
        'baselines = ["ridge"]\nseeds = [3]\n\n'
        '[[datasets]]\nname = "small"\ngenotypes = "geno.csv"\nphenotypes = "pheno.csv"\n'
        'traits = ["GY_E2"]\nfolds = 2\n\n'
        f'[[models]]\nname = "tiny"\narchitecture = "{TINY_ARCH}"\nepochs = 1\n'
    )
    out = d / "res"
    r = CliRunner().invoke(
        main, ["benchmark", str(d / "b.toml"), "--out", str(out), "--models", "none"]
    )
    assert r.exit_code == 0, r.output
    return out, r.output


def _predict(aged, *extra):
    model, vcf = str(aged / "f" / "model.keras"), str(aged / "sim" / "sim.vcf.gz")
    return CliRunner().invoke(main, ["predict", model, vcf, *extra])


def _one_line_error(r) -> str:
    assert r.exit_code == 1, r.output
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.startswith("Error:")]
    assert len(lines) == 1, r.output
    return lines[0]


def test_predict_covariate_errors_do_not_advise_an_empty_cell(aged, tmp_path):
    """predict's reader said "leave the cell empty for missing", and then refused the empty
    cell: a prediction needs every covariate value.  Both errors now give the same way out
    (fill it in, leave the sample out, or predict without --covariates)."""
    cov = pd.read_csv(aged / "cov.csv", dtype=str)
    sample = cov.loc[7, "sample_id"]
    cov.loc[7, "age"] = "abc"
    bad = tmp_path / "cov_bad.csv"
    cov.to_csv(bad, index=False)
    msg = _one_line_error(_predict(aged, "--covariates", str(bad)))
    assert "empty" not in msg and "'age'" in msg and f"'{sample}'" in msg and str(bad) in msg
    assert "fix the value, or leave those samples out of the genotypes, or leave out " \
        "--covariates" in msg  # fmt: skip
    cov.loc[7, "age"] = ""  # what the message used to advise
    empty = tmp_path / "cov_empty.csv"
    cov.to_csv(empty, index=False)
    msg = _one_line_error(_predict(aged, "--covariates", str(empty)))
    assert f"covariate 'age' is missing for sample '{sample}' ({empty} line 9)" in msg
    assert "fill in the value, or leave those samples out of the genotypes, or leave out " \
        "--covariates (every sample then gets the covariates' training means)" in msg  # fmt: skip
    # a placeholder in many cells: the same advice, not "leave those cells empty"
    cov["age"] = pd.read_csv(aged / "cov.csv", dtype=str)["age"]
    cov.loc[:4, "age"] = "-"
    marks = tmp_path / "cov_marks.csv"
    cov.to_csv(marks, index=False)
    msg = _one_line_error(_predict(aged, "--covariates", str(marks)))
    assert "empty" not in msg and "fill those cells in, or leave those samples out" in msg


def test_predict_force_never_overwrites_a_benchmark_unit(aged, bench_out, tmp_path):
    """--force replaced units/.../seedK/r0_f1.json, which a later --resume recomputed."""
    out, _ = bench_out
    units = sorted((out / "units").rglob("*.json"))
    assert units
    before = units[0].read_bytes()
    msg = _one_line_error(_predict(aged, "--out", str(units[0]), "--force"))
    assert f"--out {units[0]} is a file in {out}, snpcnn benchmark's results" in msg
    assert "choose another --out" in msg
    assert units[0].read_bytes() == before
    # in an unfinished run's .partial folder too
    partial = tmp_path / "again.partial"
    (partial / "units").mkdir(parents=True)
    unit = partial / "units" / "r0_f1.json"
    unit.write_bytes(before)
    msg = _one_line_error(_predict(aged, "--out", str(unit), "--force"))
    assert "an unfinished snpcnn benchmark or tune" in msg and unit.read_bytes() == before
    # predict's own earlier output inside the folder it may still replace, with --force
    mine = out / "plots" / "mine.csv"
    r = _predict(aged, "--out", str(mine))
    assert r.exit_code == 0, r.output
    r = _predict(aged, "--out", str(mine), "--force")
    assert r.exit_code == 0, r.output
    # and a file outside any results folder is replaced as before
    other = tmp_path / "old.txt"
    other.write_text("old\n")
    r = _predict(aged, "--out", str(other), "--force")
    assert r.exit_code == 0, r.output
    assert other.read_text().startswith("sample_id,")


def test_explain_json_records_steps_only_where_integrated_gradients_ran(aged, tmp_path):
    model, vcf = str(aged / "f" / "model.keras"), str(aged / "sim" / "sim.vcf.gz")
    out = tmp_path / "e"
    res = CliRunner().invoke(
        main,
        ["explain", model, vcf, "--methods", "saliency", "--steps", "8", "--out", str(out)],
    )
    assert res.exit_code == 0, res.output
    info = json.loads((out / "explain.json").read_text())
    assert info["methods"] == ["saliency"] and info["integrated_gradients"] is None
    assert "Note: --steps 8 is not used: only integrated gradients reads it" in res.output
    res = CliRunner().invoke(
        main,
        ["explain", model, vcf, "--methods", "integrated_gradients", "--steps", "8",
         "--max-samples", "10", "--out", str(out), "--force"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    info = json.loads((out / "explain.json").read_text())
    assert info["integrated_gradients"] == {"steps": 8, "baseline": "all-zero encoded input"}
    assert "--steps 8 is not used" not in res.output


def test_benchmark_console_names_the_units_folder(bench_out):
    out, output = bench_out
    assert (out / "units").is_dir()
    line = next(ln for ln in output.splitlines() if ln.startswith("results written to"))
    assert "plots/, units/, run.json" in line
