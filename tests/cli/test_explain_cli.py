"""`snpcnn explain`'s output folder: written whole or not at all (a hidden temporary sibling
renamed into place), never into a folder of other files or a fit's results folder, and
replaced with --force only where explain wrote it (docs/outputs.md)."""

import json
import shutil
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def runs(example_data, tmp_path_factory, tiny_toml):
    """80 samples x 120 SNPs; a tiny fit with its model.keras (`fit`) and one run with
    --no-refit (`norefit`, no model.keras)."""
    d = tmp_path_factory.mktemp("explain_out")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:80, :121]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph[ph.sample_id.isin(x.sample_id)].to_csv(d / "pheno.csv", index=False)
    (d / "tiny.toml").write_text(tiny_toml)
    for name, extra in (("fit", []), ("norefit", ["--no-refit"])):
        r = _fit(d, d / name, *extra, record_argv=True)
        assert r.exit_code == 0, r.output
    assert not (d / "norefit" / "model.keras").exists()
    return d


def _fit(d, out, *extra, record_argv=False):
    args = ["fit", str(d / "geno.csv"), str(d / "pheno.csv"), "--trait", "GY_E1"]
    args += ["--model", str(d / "tiny.toml"), "--folds", "2", "--epochs", "1"]
    args += ["--baselines", "gblup", "--out", str(out), *extra]
    if not record_argv:
        return CliRunner().invoke(main, args)
    # run.json records sys.argv as the command: the command line a shell would have given
    saved = sys.argv
    sys.argv = ["snpcnn", *args]
    try:
        return CliRunner().invoke(main, args)
    finally:
        sys.argv = saved


def _explain(d, out, *extra, model=None):
    model = d / "fit" / "model.keras" if model is None else model
    args = ["explain", str(model), str(d / "geno.csv"), "--methods", "saliency"]
    return CliRunner().invoke(main, [*args, "--out", str(out), *extra])


def _one_error(r) -> str:
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.startswith("Error")]
    assert len(lines) == 1, r.output
    return lines[0]


def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def _no_temporaries(parent, name):
    return not [p.name for p in parent.iterdir() if p.name.startswith(f".{name}.")]


def test_a_folder_of_other_files_is_refused_with_or_without_force(runs, tmp_path):
    other = tmp_path / "otherdir"
    other.mkdir()
    (other / "x").write_text("mine")
    err = _one_error(_explain(runs, other))
    assert err == f"Error: output directory {other} exists; use --force to replace it"
    err = _one_error(_explain(runs, other, "--force"))
    assert "is not a snpcnn results folder (no explain.json written by snpcnn" in err
    assert "it has x" in err and "--force" in err and "choose another --out" in err
    assert _listing(other) == ["x"] and (other / "x").read_text() == "mine"
    assert _no_temporaries(tmp_path, "otherdir")


def test_a_fit_results_folder_is_never_written_into_even_with_force(runs, tmp_path):
    d = runs
    fit_dir = tmp_path / "r1"  # a fit's results: run.json, no model.keras (--no-refit)
    shutil.copytree(d / "norefit", fit_dir)
    before = _listing(fit_dir)
    for extra in ([], ["--force"]):
        err = _one_error(_explain(d, fit_dir, *extra))
        assert err == (
            f"Error: {fit_dir} holds the results of snpcnn fit, benchmark or tune (it has "
            "run.json), which snpcnn explain never writes into, even with --force; choose "
            "another --out"
        )
        assert _listing(fit_dir) == before
    # one that an older explain wrote into (explain.json beside run.json) is still a fit's
    (fit_dir / "explain.json").write_text(json.dumps({"snpcnn_version": "0"}))
    err = _one_error(_explain(d, fit_dir, "--force"))
    assert "holds the results of snpcnn fit" in err and (fit_dir / "run.json").is_file()
    # the folder of the model explained holds an input
    err = _one_error(_explain(d, d / "fit", "--force"))
    assert "holds the input" in err and (d / "fit" / "model.keras").is_file()
    assert "manhattan_saliency.png" not in _listing(d / "fit")


def test_force_replaces_a_folder_explain_wrote_and_nothing_else(runs, tmp_path):
    d = runs
    ex = tmp_path / "ex"
    r = _explain(d, ex, "--methods", "saliency,gradxinput")
    assert r.exit_code == 0, r.output
    assert {"importance.csv", "explain.json", "manhattan_gradxinput.png"} <= set(_listing(ex))
    first = (ex / "explain.json").read_text()
    err = _one_error(_explain(d, ex))
    assert err == f"Error: output directory {ex} exists; use --force to replace it"
    assert (ex / "explain.json").read_text() == first
    r = _explain(d, ex, "--force")
    assert r.exit_code == 0, r.output
    # the whole folder is this run's: the earlier run's gradxinput plot is gone
    assert "manhattan_gradxinput.png" not in _listing(ex)
    assert json.loads((ex / "explain.json").read_text())["methods"] == ["saliency"]
    assert _no_temporaries(tmp_path, "ex")
    # fit --force does not take explain's folder either
    err = _one_error(_fit(d, ex, "--force"))
    assert "holds the results of snpcnn explain (it has explain.json)" in err
    assert "choose another --out" in err and (ex / "explain.json").is_file()


def test_an_interrupted_run_leaves_no_partial_folder(runs, tmp_path, monkeypatch):
    """Ctrl-C while the files are written: nothing at --out (or the earlier results, whole),
    no temporary folder beside it, and the next run needs no --force."""
    import snpcnn.explain as ex_mod

    d = runs
    real = ex_mod.plot_manhattan

    def interrupted(*args, **kwargs):
        real(*args, **kwargs)  # importance.csv and a first plot are written, then Ctrl-C
        raise KeyboardInterrupt

    ex = tmp_path / "exi"
    monkeypatch.setattr(ex_mod, "plot_manhattan", interrupted)
    r = _explain(d, ex)
    assert r.exit_code == 130 and "interrupted" in r.output, r.output  # 128 + SIGINT
    assert not ex.exists() and _no_temporaries(tmp_path, "exi")
    monkeypatch.setattr(ex_mod, "plot_manhattan", real)
    r = _explain(d, ex, "--methods", "saliency,gradxinput")
    assert r.exit_code == 0, r.output
    before = {p.name: p.read_bytes() for p in ex.iterdir()}
    # an interrupted --force rerun leaves the earlier results as they were
    monkeypatch.setattr(ex_mod, "plot_manhattan", interrupted)
    r = _explain(d, ex, "--force")
    assert r.exit_code == 130 and "interrupted" in r.output, r.output  # 128 + SIGINT
    assert {p.name: p.read_bytes() for p in ex.iterdir()} == before
    assert _no_temporaries(tmp_path, "exi")


def test_a_fit_run_with_no_refit_is_named_as_the_reason_for_no_model(runs):
    d = runs
    run = json.loads((d / "norefit" / "run.json").read_text())
    assert "--no-refit" in run["command"] and "refit_epochs" not in run["config"]
    for model in (d / "norefit", d / "norefit" / "model.keras"):
        err = _one_error(_explain(d, d / "ex_norefit", model=model))
        assert err.startswith(f"Error: {d / 'norefit' / 'model.keras'}: no such model file: ")
        assert "ran with --no-refit" in err and "explain and predict need a model refitted" in err
        assert "run snpcnn fit again without --no-refit" in err
        # predict says the same (it used to stop at click's "does not exist" for the file)
        r = CliRunner().invoke(main, ["predict", str(model), str(d / "geno.csv")])
        err = _one_error(r)
        assert "ran with --no-refit" in err and "no such model file" in err, err
    assert not (d / "ex_norefit").exists()
    # a run of cross_validate(refit=False) from Python (its command is a script's): said too
    py = d / "norefit_py"
    shutil.copytree(d / "norefit", py)
    (py / "run.json").write_text(json.dumps({**run, "command": ["my_script.py"]}))
    err = _one_error(_explain(d, d / "ex_py", model=py))
    assert "skipped the final refit (refit=False" in err and "again with refit=True" in err
    # a missing model elsewhere: the plain message
    err = _one_error(_explain(d, d / "ex_none", model=d / "none.keras"))
    assert err == (
        f"Error: {d / 'none.keras'}: no such model file; give the model.keras written by snpcnn fit"
    )


def test_top_k_zero_labels_nothing_and_prints_no_empty_list(runs, tmp_path):
    """`--top-k 0` printed "top 0 SNPs by ...: " (an empty list; session 43)."""
    r = _explain(runs, tmp_path / "k0", "--top-k", "0")
    assert r.exit_code == 0, r.output
    assert "top 0" not in r.output and "results written to" in r.output
    r = _explain(runs, tmp_path / "k3", "--top-k", "3")
    assert r.exit_code == 0, r.output
    assert "top 3 SNPs by" in r.output
