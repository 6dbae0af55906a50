"""Bad input found by an audit of every command (a checking helper, session 43): each is one
`Error:` line, refused before any work where it can be."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError


@pytest.fixture(scope="module")
def tiny(example_data, tmp_path_factory):
    d = tmp_path_factory.mktemp("err43")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=60).iloc[:, :41]
    x.to_csv(d / "g.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "ph.csv", index=False)
    return d


def _one_error_line(result, *needles):
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("Error")]
    assert len(errors) == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    for n in needles:
        assert n in errors[0], errors[0]
    return errors[0]


FIT = ["--folds", "2", "--epochs", "1", "--baselines", "none", "--no-refit"]


def test_threads_beyond_any_machine_are_refused(tiny, tmp_path):
    """--threads 10^9 segfaulted TensorFlow; 10^5 started 29,000 threads and 20 GB."""
    from snpcnn.threads import MAX_THREADS, resolve_threads

    d = tiny
    for cmd in (
        ["fit", str(d / "g.csv"), str(d / "ph.csv"), *FIT],
        ["tune", str(d / "g.csv"), str(d / "ph.csv")],
    ):
        r = CliRunner().invoke(
            main, [*cmd, "--threads", "1000000000", "--out", str(tmp_path / "o")]
        )
        _one_error_line(r, "--threads")
        assert not (tmp_path / "o").exists()
    with pytest.raises(InputError, match=f"at most {MAX_THREADS}"):
        resolve_threads(MAX_THREADS + 1)
    assert resolve_threads(MAX_THREADS) == MAX_THREADS


def test_the_genotype_table_given_as_phenotypes_is_refused(tiny, tmp_path):
    """The same CSV twice was fitted with a SNP as the 'trait' (AUC 0.99)."""
    d = tiny
    r = CliRunner().invoke(
        main, ["fit", str(d / "g.csv"), str(d / "g.csv"), *FIT, "--out", str(tmp_path / "o")]
    )
    _one_error_line(r, "40 of its 41 columns are SNP ids", "looks like the genotype table")


def test_negative_seeds_are_refused_by_every_command(tiny, tmp_path):
    d = tiny
    for cmd in (
        ["tune", str(d / "g.csv"), str(d / "ph.csv")],
        ["explain", str(d / "model.keras"), str(d / "g.csv")],
        ["images", "fit", "--data", str(d)],
    ):
        r = CliRunner().invoke(main, [*cmd, "--seed", "-1", "--out", str(tmp_path / "o")])
        _one_error_line(r, "--seed")


def test_an_unknown_keras_backend_is_named(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "nonsense")
    d = tiny
    r = CliRunner().invoke(
        main, ["fit", str(d / "g.csv"), str(d / "ph.csv"), *FIT, "--out", str(tmp_path / "o")]
    )
    _one_error_line(r, "KERAS_BACKEND=nonsense", "KERAS_BACKEND=jax")


@pytest.mark.parametrize("value", ["inf", "nan"])
def test_a_learning_rate_must_be_finite(tiny, tmp_path, value):
    d = tiny
    r = CliRunner().invoke(
        main,
        ["fit", str(d / "g.csv"), str(d / "ph.csv"), *FIT, "--learning-rate", value]
        + ["--out", str(tmp_path / "o")],
    )
    _one_error_line(r, "--learning-rate")
    r = CliRunner().invoke(
        main, ["images", "fit", "--data", str(d), "--learning-rate", value, "--out", str(tmp_path)]
    )
    _one_error_line(r, "--learning-rate")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_pipe_as_the_genotype_file_is_named_as_such(tmp_path):
    from snpcnn.io import read_genotypes

    fifo = tmp_path / "g.csv"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="a pipe or device, which can be read only once"):
        read_genotypes(fifo)


def test_long_column_lists_are_cut(tmp_path):
    wide = pd.DataFrame({"sample_id": ["a", "b"], **{f"c{j}": [1.0, 2.0] for j in range(50)}})
    wide.to_csv(tmp_path / "wide.csv", index=False)
    from snpcnn.io.phenotypes import read_phenotypes

    with pytest.raises(InputError, match=r"c11 \(and 38 more\)$"):
        read_phenotypes(tmp_path / "wide.csv", traits=["nope"])


def test_explain_covariates_that_cannot_be_used_are_refused(tiny, tmp_path):
    d = tiny
    r = CliRunner().invoke(
        main,
        ["explain", str(d / "model.keras"), str(d / "g.csv"), "--covariates", str(d / "ph.csv")]
        + ["--out", str(tmp_path / "o")],
    )
    _one_error_line(r, "--covariates adjusts the marginal scan, which runs only with PHENOTYPES")


def test_tune_refuses_one_fold_before_reading_anything(tiny, tmp_path, monkeypatch):
    import snpcnn.io

    def no_read(*a, **k):
        raise AssertionError("read the genotypes")

    monkeypatch.setattr(snpcnn.io, "read_genotypes", no_read)
    d = tiny
    r = CliRunner().invoke(
        main,
        ["tune", str(d / "g.csv"), str(d / "ph.csv"), "--folds", "1", "--out", str(tmp_path / "o")],
    )
    _one_error_line(r, "--folds 1: outer CV needs at least 2 folds")


def test_explain_covariates_for_a_model_without_them_are_refused(tiny, tmp_path):
    d = tiny
    fit = CliRunner().invoke(
        main,
        ["fit", str(d / "g.csv"), str(d / "ph.csv"), "--trait", "GY_E1", *FIT[:-1]]
        + ["--model", "mlp", "--out", str(tmp_path / "fit")],
    )
    assert fit.exit_code == 0, fit.output
    r = CliRunner().invoke(
        main,
        ["explain", str(tmp_path / "fit" / "model.keras"), str(d / "g.csv"), str(d / "ph.csv")]
        + ["--trait", "GY_E1", "--methods", "saliency", "--covariates", str(d / "ph.csv")]
        + ["--out", str(tmp_path / "ex")],
    )
    _one_error_line(r, "the model was fitted without covariates")


def test_snps_as_covariates_beside_a_real_trait_are_fine(tiny, tmp_path):
    """Only a trait that is a SNP id makes a file 'the genotype table' (a review, session
    43: a conditional analysis with 5 SNP covariates was refused)."""
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import align, read_phenotypes

    d = tiny
    g = read_genotypes(d / "g.csv")
    snps = list(g.variants["id"][:5])
    ph = pd.read_csv(d / "ph.csv")[["sample_id", "GY_E1"]]
    x = pd.read_csv(d / "g.csv")
    ph.merge(x[["sample_id", *snps]], on="sample_id").to_csv(tmp_path / "c.csv", index=False)
    p = read_phenotypes(tmp_path / "c.csv", traits=["GY_E1"], covariates=snps)
    assert align(g, p, traits=["GY_E1"]).y.shape[0] == 60


@pytest.mark.parametrize(("value", "ok"), [("", True), ("tensorflow", True), ("JAX", False)])
def test_keras_backend_is_read_as_keras_reads_it(tiny, monkeypatch, value, ok):
    """An empty KERAS_BACKEND is Keras's default; 'JAX' is no backend to Keras (a review)."""
    monkeypatch.setenv("KERAS_BACKEND", value)
    r = CliRunner().invoke(main, ["models"])
    if ok:
        assert r.exit_code == 0, r.output
    else:
        _one_error_line(r, "KERAS_BACKEND=JAX", "(lowercase)")
        # help stays reachable (the check reads sys.argv: a process of its own)
        import subprocess
        import sys

        env = {**os.environ, "KERAS_BACKEND": value}
        cmd = [sys.executable, "-m", "snpcnn", "fit", "--help"]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "Usage:" in done.stdout, done.stderr
