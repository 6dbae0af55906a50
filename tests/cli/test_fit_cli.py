"""`snpcnn fit` and `snpcnn predict` end to end on a small slice of the wheat data."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.bundle import MissingSnpWarning, load_bundle
from snpcnn.cli import main
from snpcnn.genotypes import Genotypes

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def small_files(example_data, tmp_path_factory, tiny_toml):
    """A 120-sample x 200-SNP CSV matrix, its phenotypes (shuffled) and a tiny model file."""
    d = tmp_path_factory.mktemp("small")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:120, :201]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph[ph.sample_id.isin(x.sample_id)].sample(frac=1.0, random_state=1)
    ph.loc[ph.index[:5], "GY_E2"] = np.nan
    ph.to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(tiny_toml)
    return d


@pytest.fixture(scope="module")
def fitted(small_files):
    d = small_files
    out = d / "run"
    r = CliRunner().invoke(
        main,
        [
            "fit",
            str(d / "geno.csv"),
            str(d / "pheno.csv"),
            "--trait",
            "GY_E1",
            "--model",
            str(d / "tiny.toml"),
            "--folds",
            "3",
            "--epochs",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    return out, r


def test_fit_writes_every_output(fitted):
    out, r = fitted
    assert "Pearson r" in r.output and "GBLUP" in r.output and "folds won" in r.output
    for name in ("metrics.csv", "predictions.csv", "summary.md", "run.json", "model.keras"):
        assert (out / name).stat().st_size > 0, name
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "learning_curves.png",
        "observed_vs_predicted_GY_E1.png",
        "per_fold_cnn_vs_gblup_GY_E1.png",
    ]
    m = pd.read_csv(out / "metrics.csv")
    assert set(m.model) == {"CNN", "GBLUP", "ridge", "RKHS", "CNN+GBLUP"}
    assert set(m.fold) == {1, 2, 3}
    run = json.loads((out / "run.json").read_text())
    assert run["config"]["seed"] == 0 and run["config"]["traits"] == ["GY_E1"]
    c = run["config"]
    assert (c["scaling"], c["linear_init"], c["conv_gate"]) == ("center", "ridge_loo", 0.05)
    assert [(f["repeat"], f["fold"]) for f in run["cnn_folds"]] == [(0, 1), (0, 2), (0, 3)]
    assert all(len(f["best_epochs"]) == 1 and f["best_epochs"][0] >= 0 for f in run["cnn_folds"])
    assert len(run["inputs"]["genotypes"]["sha256"]) == 64
    assert run["libraries"]["tensorflow"] and run["device"].startswith(("CPU", "GPU"))
    assert run["data"]["genotypes"]["n_snps"] == 200
    p = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    assert p.groupby("model").size().eq(120).all()


def test_existing_output_needs_force(fitted, small_files):
    out, _ = fitted
    d = small_files
    args = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1
    assert r.output.strip().splitlines() == [
        f"Error: output directory {out} exists; use --force to replace it"
    ]
    assert "Traceback" not in r.output


def test_predict_cli_matches_the_bundle(fitted, small_files, tmp_path):
    out, _ = fitted
    dest = tmp_path / "pred.csv"
    r = CliRunner().invoke(
        main,
        ["predict", str(out / "model.keras"), str(small_files / "geno.csv"), "--out", str(dest)],
    )
    assert r.exit_code == 0, r.output
    pred = pd.read_csv(dest, dtype={"sample_id": str})
    assert list(pred.columns) == ["sample_id", "GY_E1"] and len(pred) == 120
    # every line here was trained on: predict says its values are fitted values
    assert "Warning: 120 of the 120 samples of " in r.output
    assert "were in the model's training data" in r.output
    r2 = CliRunner().invoke(
        main, ["predict", str(out), str(small_files / "geno.csv"), "--out", str(dest)]
    )
    assert r2.exit_code == 1 and "--force" in r2.output
    # the fit's own out-of-fold predictions.csv is never overwritten, even with --force
    before = (out / "predictions.csv").read_bytes()
    r3 = CliRunner().invoke(
        main,
        ["predict", str(out), str(small_files / "geno.csv"), "--out", str(out / "predictions.csv"),
         "--force"],
    )  # fmt: skip
    assert r3.exit_code == 1 and "is a file of snpcnn fit's results" in r3.output
    assert (out / "predictions.csv").read_bytes() == before
    # a new file beside it is fine
    new = out / "new_predictions.csv"
    r4 = CliRunner().invoke(
        main, ["predict", str(out), str(small_files / "geno.csv"), "--out", str(new)]
    )
    assert r4.exit_code == 0 and new.exists()
    # its own earlier output there it may replace, with --force (a review, session 39)
    r5 = CliRunner().invoke(
        main, ["predict", str(out), str(small_files / "geno.csv"), "--out", str(new), "--force"]
    )
    assert r5.exit_code == 0, r5.output
    new.unlink()


def test_bundle_handles_flipped_alleles_and_missing_snps(fitted):
    out, _ = fitted
    b = load_bundle(out / "model.keras")
    rng = np.random.default_rng(0)
    # the CSV matrix has no alleles or positions: give the model SNPs some, as a VCF would
    bases = np.array(list("ACGT"))
    b.preprocessor.variants_["ref"] = bases[rng.integers(0, 4, len(b.variants))]
    b.preprocessor.variants_["alt"] = [
        bases[(list(bases).index(x) + 1) % 4] for x in b.preprocessor.variants_["ref"]
    ]
    b.preprocessor.variants_["chrom"] = "1"
    b.preprocessor.variants_["pos"] = np.arange(len(b.variants)) * 100 + 1
    v = b.variants.copy()
    n = 15
    d = rng.integers(0, 3, size=(n, len(v))).astype(np.int8)
    g = Genotypes(d, [f"n{i}" for i in range(n)], v)
    base = b.predict(g)
    # the same individuals in a file that counts the other allele at half the SNPs
    flip = np.arange(len(v)) % 2 == 0
    v2 = v.copy()
    v2.loc[flip, ["ref", "alt"]] = v.loc[flip, ["alt", "ref"]].to_numpy()
    d2 = d.copy()
    d2[:, flip] = 2 - d2[:, flip]
    pd.testing.assert_frame_equal(b.predict(Genotypes(d2, g.samples, v2)), base)
    # SNPs in another order, with different ids but the same chrom:pos:alleles
    order = rng.permutation(len(v))
    v3 = v.iloc[order].reset_index(drop=True)
    v3["id"] = [f"x{i}" for i in range(len(v3))]
    pd.testing.assert_frame_equal(b.predict(Genotypes(d[:, order], g.samples, v3)), base)
    # a few SNPs absent: a warning that counts them
    keep = np.arange(len(v)) >= 10
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        b.predict(Genotypes(d[:, keep], g.samples, v[keep]))
    assert any(
        issubclass(x.category, MissingSnpWarning) and "10 of the model" in str(x.message) for x in w
    )
    # too few: a clear error
    from snpcnn.errors import InputError

    few = np.arange(len(v)) < 20
    with pytest.raises(InputError, match="only 20 of the model"):
        b.predict(Genotypes(d[:, few], g.samples, v[few]))


@pytest.mark.parametrize(
    "args, message",
    [
        (["fit", "nope.vcf.gz", "{d}/pheno.csv"], "nope.vcf.gz"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--trait", "GY_E9"], "GY_E9"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--folds", "1"], "at least 2"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--baselines", "blup"], "blup"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--conv-gate", "2"], "--conv-gate"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--scaling", "zscore"], "zscore"),
        (["fit", "{d}/geno.csv", "{d}/pheno.csv", "--model", "resnet9000"], "resnet9000"),
        (["predict", "{d}/pheno.csv", "{d}/geno.csv"], "pheno.csv"),
    ],
)
def test_bad_input_is_one_clear_line(small_files, tmp_path, args, message):
    args = [a.replace("{d}", str(small_files)) for a in args]
    if args[0] == "fit":
        args += ["--out", str(tmp_path / "o"), "--epochs", "1"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code != 0
    lines = [ln for ln in r.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1 and message in lines[0], r.output
    assert "Traceback" not in r.output
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("opt", [["--trait", "GY_E9"], ["--covariates", "GY_E9"]])
def test_a_trait_or_covariate_not_in_the_file_fails_before_the_genotypes_are_read(
    small_files, tmp_path, opt, monkeypatch
):
    """It printed the two 'reading genotypes' lines first (a large file: minutes)."""
    monkeypatch.delenv("SNPCNN_PROGRESS", raising=False)
    d = small_files
    args = ["fit", f"{d}/geno.csv", f"{d}/pheno.csv", *opt, "--out", str(tmp_path / "o")]
    r = CliRunner().invoke(main, args)
    assert r.exit_code != 0 and "GY_E9" in r.output
    assert "reading genotypes" not in r.output, r.output


def test_training_options_reach_the_run(small_files, tmp_path):
    d = small_files
    out = tmp_path / "o"
    args = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "GY_E1"]
    # a tiny network with a linear SNP path, so that the correction's options apply
    (d / "tiny_linear.toml").write_text((d / "tiny.toml").read_text() + "\n[linear]\n")
    args += ["--model", str(d / "tiny_linear.toml"), "--folds", "2", "--epochs", "1"]
    args += ["--no-refit", "--baselines", "none", "--scaling", "center", "--linear-init", "zeros"]
    args += ["--conv-gate", "0", "--out", str(out)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    c = json.loads((out / "run.json").read_text())["config"]
    assert (c["scaling"], c["linear_init"], c["conv_gate"]) == ("center", "zeros", 0.0)
    # --no-refit leaves a trace: run.json, summary.md and the console say there was no refit
    assert c["refit"] is False and not (out / "model.keras").exists()
    assert "no final refit: --no-refit" in (out / "summary.md").read_text()
    assert "no refit: --no-refit" in r.output


def test_summary_says_how_often_the_convolutions_were_kept(small_files, tmp_path):
    """With the default (ridge start + gated convolutions) the user is told in how many fits
    the CNN was more than its ridge start; a CNN without a ridge start gets no such line."""
    d = small_files
    base = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "GY_E1"]
    base += ["--folds", "3", "--epochs", "3", "--baselines", "gblup", "--no-refit"]
    r = CliRunner().invoke(main, [*base, "--out", str(tmp_path / "a")])
    assert r.exit_code == 0, r.output
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert all(f["ridge_start"] is True for f in run["cnn_folds"])
    epochs = [e for f in run["cnn_folds"] for e in f["best_epochs"]]
    k = sum(e > 0 for e in epochs)
    assert (
        f"kept in {k} of 3 fits (cross-fitted in 5 parts of each training set); in the other {3 - k} it predicted its start (to float32"
        in r.output
    )
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert f"in **{k} of 3** fits" in summary and "p < 0.05" in summary
    # a plain CNN (no linear path): nothing to report
    r = CliRunner().invoke(
        main, [*base, "--model", str(d / "tiny.toml"), "--out", str(tmp_path / "b")]
    )
    assert r.exit_code == 0, r.output
    assert "correction of the ridge start" not in r.output
    assert "ridge start + convolutional" not in (tmp_path / "b" / "summary.md").read_text()
    run = json.loads((tmp_path / "b" / "run.json").read_text())
    assert all(f["ridge_start"] is False for f in run["cnn_folds"])


def _fit(d, pheno, out, *extra):
    args = ["fit", str(d / "geno.csv"), str(pheno), "--model", str(d / "tiny.toml")]
    args += ["--folds", "2", "--epochs", "1", "--baselines", "gblup", "--out", str(out)]
    return CliRunner().invoke(main, [*args, *extra])


def _one_error(r) -> str:
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1, r.output
    return lines[0]


def test_force_never_replaces_a_folder_of_the_users_files(small_files, tmp_path):
    """--force replaces earlier results (a folder with run.json, or an empty one), never a
    folder of other files, one that holds an input, or the current folder."""
    d = small_files
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    err = _one_error(_fit(d, d / "pheno.csv", mine, "--force"))
    assert "not a snpcnn results folder" in err and "notes.txt" in err
    assert (mine / "notes.txt").read_text() == "precious"
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    (inputs / "pheno.csv").write_bytes((d / "pheno.csv").read_bytes())
    err = _one_error(_fit(d, inputs / "pheno.csv", inputs, "--force"))
    assert "holds the input" in err and (inputs / "pheno.csv").exists()
    err = _one_error(_fit(d, d / "pheno.csv", ".", "--force"))
    assert "current folder" in err
    # predict never writes over one of its inputs
    r = CliRunner().invoke(
        main,
        ["predict", str(tmp_path / "m.keras"), str(d / "geno.csv"), "--out", str(d / "geno.csv")]
        + ["--force"],
    )
    assert r.exit_code != 0 and (d / "geno.csv").stat().st_size > 1000


def test_force_never_replaces_another_commands_results(small_files, tmp_path):
    """fit, benchmark and tune all write run.json; --force replaces only the same command's
    folder (an hours-long benchmark is never lost to a fit's --force), including folders
    written before run.json named its command."""
    from snpcnn.errors import InputError
    from snpcnn.report import check_output_dir, run_command

    d = small_files
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "results.csv").write_text("x\n1\n")
    (bench / "run.json").write_text(
        json.dumps({"snpcnn_version": "0", "units": {}, "config_file": {}})
    )
    assert run_command(bench / "run.json") == "benchmark"
    err = _one_error(_fit(d, d / "pheno.csv", bench, "--force"))
    assert "holds the results of snpcnn benchmark" in err and "never replaces" in err
    assert (bench / "results.csv").read_text() == "x\n1\n"
    fit_dir = tmp_path / "fit"
    r = _fit(d, d / "pheno.csv", fit_dir)
    assert r.exit_code == 0, r.output
    assert json.loads((fit_dir / "run.json").read_text())["written_by"] == "snpcnn fit"
    for command in ("benchmark", "tune"):
        with pytest.raises(InputError, match="holds the results of snpcnn fit"):
            check_output_dir(fit_dir, True, command=command)
    assert check_output_dir(fit_dir, True, command="fit") == fit_dir
    tune_dir = tmp_path / "tune"
    tune_dir.mkdir()
    (tune_dir / "run.json").write_text(
        json.dumps({"snpcnn_version": "0", "space": {}, "optuna_storage": "optuna.journal"})
    )
    with pytest.raises(InputError, match="holds the results of snpcnn tune"):
        check_output_dir(tune_dir, True, command="benchmark")
    # a run.json whose command is not known is replaced as before
    (tune_dir / "run.json").write_text(json.dumps({"snpcnn_version": "0"}))
    assert check_output_dir(tune_dir, True, command="fit") == tune_dir


def test_force_never_deletes_results_written_inside_the_folder_later(tmp_path):
    """`snpcnn explain --out fit/explain` (or a fit or benchmark written inside another's
    folder) would be deleted by a later `fit --force` of the outer folder: refused, naming
    the folder to move out."""
    from snpcnn.errors import InputError
    from snpcnn.report import check_output_dir

    fit_dir = tmp_path / "fit"
    fit_dir.mkdir()
    (fit_dir / "run.json").write_text(
        json.dumps({"snpcnn_version": "0", "written_by": "snpcnn fit"})
    )
    assert check_output_dir(fit_dir, True, command="fit") == fit_dir
    (fit_dir / "plots").mkdir()  # a folder fit writes itself
    assert check_output_dir(fit_dir, True, command="fit") == fit_dir
    explained = fit_dir / "notes" / "explain_E1"
    explained.mkdir(parents=True)
    (explained / "explain.json").write_text("{}")
    with pytest.raises(
        InputError, match=r"holds the results of snpcnn explain in .*explain_E1.*move"
    ):
        check_output_dir(fit_dir, True, command="fit")
    (explained / "explain.json").unlink()
    (explained / "run.json").write_text(json.dumps({"snpcnn_version": "0"}))
    with pytest.raises(InputError, match="holds the results of snpcnn fit, benchmark or tune in"):
        check_output_dir(fit_dir, True, command="fit")
    # a run.json that snpcnn did not write is the user's file, not a results folder
    (explained / "run.json").write_text("{}")
    assert check_output_dir(fit_dir, True, command="fit") == fit_dir
    assert explained.is_dir()


def test_groups_column_of_text_or_numbers_and_a_trait_named_twice(small_files, tmp_path):
    """--groups reads its column as labels (text or numbers, in either file), never as the
    default trait; other text columns are no traits; --trait twice is one trait."""
    d = small_files
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    fam = ph[["sample_id"]].assign(family=[f"fam{i % 6}" for i in range(len(ph))])
    text = ph.assign(family=fam["family"], note="x")
    text.to_csv(tmp_path / "text.csv", index=False)
    r = _fit(d, tmp_path / "text.csv", tmp_path / "a", "--groups", "family", "--trait", "GY_E1")
    assert r.exit_code == 0, r.output
    numeric = ph[["sample_id"]].assign(family=np.arange(len(ph)) % 6).join(ph.iloc[:, 1:])
    numeric.to_csv(tmp_path / "num.csv", index=False)
    r = _fit(d, tmp_path / "num.csv", tmp_path / "b", "--groups", "family")
    assert r.exit_code == 0, r.output
    assert "trait: GY_E1 (the first trait column" in r.output
    fam.to_csv(tmp_path / "cov.csv", index=False)
    r = _fit(d, d / "pheno.csv", tmp_path / "c", "--trait", "GY_E1", "--groups", "family")
    assert "--groups column 'family' not found" in _one_error(r)
    r = _fit(d, d / "pheno.csv", tmp_path / "d", "--trait", "GY_E1", "--trait", "GY_E1")
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "d" / "metrics.csv")["trait"].unique().tolist() == ["GY_E1"]
    # the note reaches the files too, not only the console (session 45)
    note = "--trait 'GY_E1' named more than once; each trait is fitted once"
    assert note in r.output and note in (tmp_path / "d" / "summary.md").read_text()
    assert note in json.loads((tmp_path / "d" / "run.json").read_text())["notes"]


def test_typos_and_scales_that_cannot_be_analysed_are_one_clear_line(small_files, tmp_path):
    d = small_files
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    cov = ph[["sample_id"]].assign(age=(np.arange(len(ph)) % 7 + 20).astype(str))
    cov.loc[3, "age"] = "x"
    cov.to_csv(tmp_path / "cov.csv", index=False)
    r = _fit(
        d,
        d / "pheno.csv",
        tmp_path / "a",
        "--trait",
        "GY_E1",
        "--covariates-file",
        str(tmp_path / "cov.csv"),
        "--covariates",
        "age",
    )
    err = _one_error(r)
    assert "line 5: covariate 'age' is numeric except 'x'" in err and ph.sample_id[3] in err
    huge = ph.copy()
    huge.loc[huge.index[7], "GY_E1"] = 1e308
    huge.to_csv(tmp_path / "huge.csv", index=False)
    err = _one_error(_fit(d, tmp_path / "huge.csv", tmp_path / "b", "--trait", "GY_E1"))
    assert "rescale the trait" in err and huge.sample_id.iloc[7] in err
    assert str(tmp_path / "huge.csv") in err  # the file, as every phenotype error names it
    folds = ph[["sample_id"]].assign(fold=[2] * 3 + [1] * (len(ph) - 3))
    folds.to_csv(tmp_path / "folds.csv", index=False)
    args = ["--trait", "GY_E1", "--folds", str(tmp_path / "folds.csv")]
    err = _one_error(_fit(d, d / "pheno.csv", tmp_path / "c", *args))
    assert "fold 1 leaves 3 samples to train on" in err
    for out in "abc":
        assert not (tmp_path / out).exists()


@pytest.mark.parametrize(
    "opt, value", [("--steps", "0"), ("--top-k", "-1"), ("--max-samples", "0")]
)
def test_explain_refuses_counts_below_their_least_value(fitted, small_files, tmp_path, opt, value):
    d = small_files
    args = ["explain", str(fitted[0] / "model.keras"), str(d / "geno.csv"), opt, value]
    err = _one_error(CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ex")]))
    assert err.startswith(f"Error: {opt} must be at least") and not (tmp_path / "ex").exists()


def test_usage_errors_are_one_line_that_names_the_help():
    r = CliRunner().invoke(main, ["fit"])
    assert r.exit_code == 2 and r.output.strip().splitlines() == [
        "Error: Missing argument 'GENOTYPES'. (see `main fit --help`)"
    ]
    # a missing model is an input error (exit 1) that says what to give, or why a fit
    # folder has none (click's own check, exit 2, could not say the latter)
    r = CliRunner().invoke(main, ["predict", "no_such_model.keras", "geno.csv"])
    assert r.exit_code == 1 and r.output.strip().splitlines() == [
        "Error: no_such_model.keras: no such model file; give the model.keras written by snpcnn fit"
    ]


def test_results_have_the_usual_modes(fitted):
    """Atomic writes go through temporary files (mode 0600, folders 0700); results get the
    modes a plain open / mkdir gives, so colleagues can read them."""
    import os

    out, _ = fitted
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~mask
    for name in ("summary.md", "metrics.csv", "run.json", "model.keras"):
        assert (out / name).stat().st_mode & 0o777 == 0o666 & ~mask, name


def test_covariates_file_alone_gives_every_column_and_a_groups_column(small_files, tmp_path):
    """docs: --covariates-file FILE alone (every non-id column a covariate) and a --groups
    column that only that file holds (a checking helper: both were refused)."""
    d = small_files
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    fam = ph[["sample_id"]].assign(
        family=[f"f{i // 4}" for i in range(len(ph))], sex=np.arange(len(ph)) % 2
    )
    fam.to_csv(tmp_path / "fam.csv", index=False)
    out = tmp_path / "g"
    extra = ["--trait", "GY_E1", "--covariates-file", str(tmp_path / "fam.csv")]
    r = _fit(d, d / "pheno.csv", out, *extra, "--groups", "family", "--no-refit")
    assert r.exit_code == 0, r.output
    assert "covariates: sex (numeric, 2 distinct values)" in r.output  # groups: no covariate
    pred = pd.read_csv(out / "predictions.csv", dtype={"sample_id": str})
    per_family = pred.merge(fam, on="sample_id").groupby("family")["fold"].nunique()
    assert (per_family == 1).all()


def test_a_closed_pipe_is_not_an_internal_error(monkeypatch):
    """`snpcnn info FILE | head -1` printed "internal error (BrokenPipeError ...)" (a checking
    helper, session 34): a reader that goes away now ends the command quietly."""
    import click

    def gone(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(click, "echo", gone)
    vcf = Path(__file__).resolve().parents[2] / "example_data" / "wheat.vcf.gz"
    r = CliRunner().invoke(main, ["info", str(vcf)])
    assert r.exit_code == 0 and "internal error" not in r.output, r.output


def test_summary_names_samples_left_out_and_run_json_holds_the_architecture(small_files, tmp_path):
    """summary.md says how many phenotyped and genotyped samples the join by id left out
    (it said only how many were used); run.json records the network as built and the
    architecture file's checksum (it held only the file's name)."""
    d = small_files
    ph = pd.read_csv(d / "pheno.csv", dtype={"sample_id": str})
    extra = ph.head(5).assign(sample_id=[f"x{i}" for i in range(5)])
    pd.concat([ph, extra]).to_csv(tmp_path / "pheno.csv", index=False)
    r = _fit(d, tmp_path / "pheno.csv", tmp_path / "out")
    assert r.exit_code == 0, r.output
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert (
        "- joined by sample id: 120 of 125 phenotyped and 120 genotyped samples; left out: "
        "5 (e.g. `x0`, `x1`, `x2`) phenotyped but not genotyped, 0 genotyped but not "
        "phenotyped"
    ) in summary
    config = json.loads((tmp_path / "out" / "run.json").read_text())["config"]
    assert config["model_file"]["sha256"] and config["model_file"]["path"].endswith("tiny.toml")
    assert [b["type"] for b in config["architecture"]["blocks"]][-1] == "dense"


def test_a_bad_architecture_file_is_refused_before_the_genotypes_are_read(small_files, tmp_path):
    d = small_files
    bad = tmp_path / "dup.toml"
    bad.write_text(
        'name = "dup"\n[[blocks]]\ntype = "conv"\nname = "c"\nfilters = 2\nkernel_size = 3\n'
        'repeat = 2\n[[blocks]]\ntype = "conv"\nname = "c_1"\nfilters = 2\nkernel_size = 3\n'
        '[[blocks]]\ntype = "flatten"\n'
    )
    r = CliRunner().invoke(
        main,
        ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--model", str(bad)]
        + ["--out", str(tmp_path / "o")],
    )
    err = _one_error(r)
    assert str(bad) in err and "already used" in err
    assert "reading genotypes" not in r.output and not (tmp_path / "o").exists()


def test_sigterm_while_writing_leaves_nothing_and_says_so(small_files, tmp_path):
    """kill / timeout / a scheduler's time limit send SIGTERM: it once ended the process at
    once, leaving a hidden temporary results folder (and a local Ray's helpers running);
    it now takes Ctrl-C's clean-up path and prints one line."""
    import subprocess
    import sys

    d, out = small_files, tmp_path / "res"
    args = _quick_fit(d, out)
    code = (
        "import os, signal, sys, time\n"
        "import snpcnn.report as rep\n"
        "real = rep._plots\n"
        "def plots(results, out):\n"
        "    real(results, out)  # files are in the temporary folder now\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "    time.sleep(60)\n"
        "rep._plots = plots\n"
        "from snpcnn.cli import main\n"
        f"sys.argv = ['snpcnn', *{args!r}]\n"
        "main()\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 143, r.stderr[-2000:]  # 128 + SIGTERM, as shells report it
    assert r.stderr.strip().splitlines()[-1] == "Error: terminated (SIGTERM)", r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no results, no hidden temp folder


def test_an_input_replaced_during_the_run_is_named_and_run_json_keeps_what_was_read(
    small_files, tmp_path, monkeypatch
):
    """run.json hashed the inputs when it was written: a phenotype file replaced during the
    run was recorded as if the run had read it (a checking helper, session 40)."""
    import shutil

    import snpcnn.cv
    from snpcnn.report import file_checksum

    d = small_files
    pheno = tmp_path / "pheno.csv"
    shutil.copy(d / "pheno.csv", pheno)
    before = file_checksum(pheno)["sha256"]
    real = snpcnn.cv.cross_validate

    def and_then_edit(*args, **kwargs):
        res = real(*args, **kwargs)
        pheno.write_text(pheno.read_text().replace("\n", "\n", 1) + "\n")  # one more line
        return res

    monkeypatch.setattr(snpcnn.cv, "cross_validate", and_then_edit)
    out = tmp_path / "res"
    r = CliRunner().invoke(main, _quick_fit(d, out, pheno))
    assert r.exit_code == 0, r.output
    assert f"{pheno} changed on disk during the run" in r.output
    rec = json.loads((out / "run.json").read_text())["inputs"]
    assert rec["phenotypes"]["sha256"] == before and rec["phenotypes"]["changed_during_run"]
    assert rec["phenotypes"]["now"]["sha256"] == file_checksum(pheno)["sha256"] != before
    assert "changed_during_run" not in rec["genotypes"]


def test_a_full_temporary_folder_is_not_called_a_damaged_model(fitted, monkeypatch):
    """Under a full disk (or `ulimit -f`) Keras cannot unpack the archive: predict said the
    model was damaged and to fit again (a checking helper, session 40)."""
    import errno

    import snpcnn.models
    from snpcnn.errors import InputError

    out, _ = fitted

    def full(*a, **k):
        raise OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(snpcnn.models, "load_model", full)
    with pytest.raises(InputError, match="could not unpack the model into the temporary folder"):
        load_bundle(out / "model.keras")


def test_out_as_a_symlink_writes_where_it_points_and_keeps_the_link(small_files, tmp_path):
    d = small_files
    real = tmp_path / "bigdisk" / "results"
    real.mkdir(parents=True)
    link = tmp_path / "res"
    link.symlink_to(real, target_is_directory=True)
    r = CliRunner().invoke(main, _quick_fit(d, link, d / "pheno.csv", "--force"))
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and (real / "summary.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bigdisk", "res"]


def _quick_fit(d, out, pheno=None, *extra):
    """A fit of the tiny model in seconds: 2 folds, 1 epoch, GBLUP, no refit."""
    return [
        "fit", str(d / "geno.csv"), str(pheno or d / "pheno.csv"), "--trait", "GY_E1",
        "--model", str(d / "tiny.toml"), "--folds", "2", "--epochs", "1",
        "--baselines", "gblup", "--no-refit", "--out", str(out), *extra,
    ]  # fmt: skip
