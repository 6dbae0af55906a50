"""``snpcnn benchmark``: one-line errors, progress and summary, --force, --resume, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY_ARCH = REPO / "benchmarks" / "configs" / "tiny_arch.toml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def config(tmp_path_factory, example_data) -> Path:
    """90 samples x 64 SNPs, one trait, 2 folds, the tiny CNN for 1 epoch (plus a second model)."""
    d = tmp_path_factory.mktemp("bench_cli")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=90).iloc[:, :65]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "pheno.csv", index=False)
    models = "".join(
        f'[[models]]\nname = "{n}"\narchitecture = "{TINY_ARCH}"\nepochs = 1\n\n'
        for n in ("tiny", "unused")
    )
    (d / "b.toml").write_text(
        'baselines = ["gblup", "ridge"]\nseeds = [3]\nensemble = true\n\n'
        '[[datasets]]\nname = "small"\ngenotypes = "geno.csv"\nphenotypes = "pheno.csv"\n'
        'traits = ["GY_E2"]\nfolds = 2\n\n' + models
    )
    return d / "b.toml"


def test_run_prints_progress_and_summary_and_is_deterministic(config, tmp_path):
    runner = CliRunner()
    out = tmp_path / "res"
    args = ["benchmark", str(config), "--out", str(out), "--models", "tiny"]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    text = first.output
    assert "[1/2] small GY_E2 seed 3 baselines: 2 folds run" in text
    assert "[2/2] small GY_E2 seed 3 tiny: 2 folds run" in text
    assert "== small: GY_E2 ==" in text and "Pearson r (mean ± sd)" in text
    assert "tiny+GBLUP" in text and "unused" not in text
    results = pd.read_csv(out / "results.csv")
    assert set(results["model"]) == {"GBLUP", "ridge", "tiny", "tiny+GBLUP"}
    run = json.loads((out / "run.json").read_text())
    assert run["command"][:2] == ["snpcnn", "benchmark"] or run["command"][0] == "snpcnn"
    assert run["config"]["seeds"] == [3]
    before = (out / "results.csv").read_bytes(), (out / "predictions.csv").read_bytes()

    # an existing result is never overwritten without --force
    again = runner.invoke(main, args)
    assert again.exit_code == 1
    assert again.output.strip().splitlines()[-1].startswith("Error: output directory")
    # the same config on the same machine: identical numbers
    forced = runner.invoke(main, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    after = (out / "results.csv").read_bytes(), (out / "predictions.csv").read_bytes()
    assert before == after


def test_unfinished_run_needs_resume_or_force(config, tmp_path):
    out = tmp_path / "res"
    (tmp_path / "res.partial").mkdir()
    r = CliRunner().invoke(main, ["benchmark", str(config), "--out", str(out)])
    assert r.exit_code == 1
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("Error: an unfinished run is in") and "--resume" in last


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("folds = 2", "folds = 0"), "key 'folds': must be at least 2"),
        (lambda t: t.replace("epochs = 1", "epochs = 1\nepoch = 2", 1), "key 'epoch': unknown"),
        (lambda t: t.replace('"geno.csv"', '"nothere.csv"'), "key 'genotypes'"),
    ],
)
def test_bad_config_is_one_line(config, tmp_path, edit, expected):
    bad = config.parent / f"bad_{abs(hash(expected))}.toml"
    bad.write_text(edit(config.read_text()))
    r = CliRunner().invoke(main, ["benchmark", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 1
    lines = [x for x in r.output.strip().splitlines() if x]
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], r.output
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_unknown_filter_name_is_an_error(config, tmp_path):
    r = CliRunner().invoke(
        main, ["benchmark", str(config), "--out", str(tmp_path / "o"), "--datasets", "nope"]
    )
    assert r.exit_code == 1
    assert "no dataset named 'nope'; the config has: small" in r.output


def test_interrupt_points_to_resume(config, tmp_path, monkeypatch):
    import snpcnn.bench

    out = tmp_path / "o"
    kept = [False]

    def interrupted(*args, **kwargs):
        if kept[0]:  # one fold finished before the interrupt
            (tmp_path / "o.partial" / "units").mkdir(parents=True, exist_ok=True)
            (tmp_path / "o.partial" / "units" / "r0_f1.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(snpcnn.bench, "run_benchmark", interrupted)
    r = CliRunner().invoke(main, ["benchmark", str(config), "--out", str(out)])
    assert r.exit_code == 130  # 128 + SIGINT
    # nothing finished: no promise of kept folds in a folder that does not exist
    last = r.output.strip().splitlines()[-1]
    assert last == "Error: interrupted before any fold finished; nothing was kept", last
    kept[0] = True  # and OUT given with a trailing "/": its partial folder is still o.partial
    r = CliRunner().invoke(main, ["benchmark", str(config), "--out", f"{out}/"])
    last = r.output.strip().splitlines()[-1]
    assert last.startswith("Error: interrupted") and f"{out}.partial" in last and "--resume" in last


def test_missing_config_file(tmp_path):
    r = CliRunner().invoke(main, ["benchmark", str(tmp_path / "x.toml"), "--out", "o"])
    assert r.exit_code == 1
    assert "no such benchmark config file" in r.output


def test_models_none_runs_the_baselines_alone(config, tmp_path):
    out = tmp_path / "base"
    r = CliRunner().invoke(main, ["benchmark", str(config), "--out", str(out), "--models", "none"])
    assert r.exit_code == 0, r.output
    assert "0 CNN model(s)" in r.output and "1 units" in r.output
    results = pd.read_csv(out / "results.csv")
    assert set(results["model"]) == {"GBLUP", "ridge"}
    assert set(results["fold"]) == {1, 2}


def _full_and_part(config, tmp_path, edit, models, option, value):
    """The config edited by ``edit`` (old, new), run whole and with ``option value``: the
    runner, the base arguments, and both runs' results.csv."""
    cfg = tmp_path / "edited.toml"
    cfg.write_text(config.read_text().replace(*edit))
    for p in ("geno.csv", "pheno.csv"):
        (tmp_path / p).write_bytes((config.parent / p).read_bytes())
    runner = CliRunner()
    full, part = tmp_path / "full", tmp_path / "part"
    args = ["benchmark", str(cfg), "--models", models]
    assert runner.invoke(main, [*args, "--out", str(full)]).exit_code == 0
    r = runner.invoke(main, [*args, "--out", str(part), option, value])
    assert r.exit_code == 0, r.output
    return runner, args, pd.read_csv(full / "results.csv"), pd.read_csv(part / "results.csv")


def _refused(runner, args, tmp_path, option, value, message):
    bad = runner.invoke(main, [*args, "--out", str(tmp_path / "x"), option, value])
    assert bad.exit_code == 1 and message in bad.output
    assert "Traceback" not in bad.output and not (tmp_path / "x").exists()


def test_repeats_option_runs_only_those_repeats(config, tmp_path):
    edit = ("folds = 2\n", "folds = 2\nrepeats = 3\n")
    runner, args, a, b = _full_and_part(config, tmp_path, edit, "none", "--repeats", "2,0")
    assert set(b["repeat"]) == {0, 2}
    pd.testing.assert_frame_equal(a[a["repeat"].isin([0, 2])].reset_index(drop=True), b)
    text = (tmp_path / "part" / "results.md").read_text()
    assert "of which only repeat(s) 0, 2 (0-based) ran here" in text
    _refused(runner, args, tmp_path, "--repeats", "one", "give 0-based repeat numbers")
    _refused(runner, args, tmp_path, "--repeats", "5", "not 5; fix --repeats")


def test_seeds_option_runs_only_those_seeds(config, tmp_path):
    """--seeds 5,3 of seeds [3, 4, 5]: the units of those seeds, as in the full run (the tiny
    CNN included: its folds and networks depend on the seed alone)."""
    edit = ("seeds = [3]", "seeds = [3, 4, 5]")
    runner, args, a, b = _full_and_part(config, tmp_path, edit, "tiny", "--seeds", "5,3")
    assert set(a["seed"]) == {3, 4, 5} and set(b["seed"]) == {3, 5}
    pd.testing.assert_frame_equal(a[a["seed"].isin([3, 5])].reset_index(drop=True), b)
    msg = "give seeds of the config separated by commas"
    _refused(runner, args, tmp_path, "--seeds", "three", msg)
    _refused(runner, args, tmp_path, "--seeds", "7", "seeds are [3, 4, 5], not 7; fix --seeds")


def test_force_takes_only_folders_snpcnn_wrote_and_results_are_readable(config, tmp_path):
    """--force never discards a user's folder named like the output (a run.json of another
    tool, or OUT.partial without a run's units); results get the usual file modes."""
    runner = CliRunner()
    args = ["benchmark", str(config), "--models", "tiny", "--force"]
    other = tmp_path / "other"
    other.mkdir()
    (other / "run.json").write_text('{"tool": "not snpcnn"}')
    (other / "thesis.docx").write_text("precious")
    r = runner.invoke(main, [*args, "--out", str(other)])
    assert r.exit_code == 1 and "not a snpcnn results folder" in r.output, r.output
    assert (other / "thesis.docx").exists()
    mine = tmp_path / "res.partial"
    mine.mkdir()
    (mine / "notes.txt").write_text("precious")
    r = runner.invoke(main, [*args, "--out", str(tmp_path / "res")])
    assert r.exit_code == 1 and "not an unfinished snpcnn run" in r.output, r.output
    assert (mine / "notes.txt").exists()
    (mine / "notes.txt").unlink()  # an empty OUT.partial is discarded
    r = runner.invoke(main, [*args, "--out", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
    import os

    mask = os.umask(0)
    os.umask(mask)
    for name in ("results.csv", "run.json", "results.md"):
        assert (tmp_path / "res" / name).stat().st_mode & 0o777 == 0o666 & ~mask
    # a folder snpcnn wrote is replaced with --force
    r = runner.invoke(main, [*args, "--out", str(tmp_path / "res")])
    assert r.exit_code == 0, r.output
