"""``snpcnn tune``: the command, its outputs, one-line errors, and trials on a real local Ray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

REPO = Path(__file__).resolve().parents[2]
TINY_ARCH = REPO / "benchmarks" / "configs" / "tiny_arch.toml"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, example_data):
    """60 samples x 40 SNPs, a tiny CNN space (2 epochs): geno, pheno and space paths."""
    d = tmp_path_factory.mktemp("tune_cli")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=60).iloc[:, :41]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "pheno.csv", index=False)
    (d / "space.toml").write_text(
        f'model = "{TINY_ARCH}"\nn_trials = 2\n\n[fixed]\nepochs = 2\nbatch_size = 16\n\n'
        "[params]\nlearning_rate = { low = 1e-3, high = 1e-1, log = true }\n"
        "filters = { choices = [2, 4] }\n"
    )
    return d


def _args(d: Path, out: Path) -> list[str]:
    return [
        "tune",
        str(d / "geno.csv"),
        str(d / "pheno.csv"),
        "--trait",
        "GY_E1",
        "--space",
        str(d / "space.toml"),
        "--folds",
        "2",
        "--inner-folds",
        "2",
        "--out",
        str(out),
    ]


@pytest.fixture(scope="module")
def serial(inputs, tmp_path_factory):
    """The serial tune with one thread per process, in a fresh process."""
    out = tmp_path_factory.mktemp("serial") / "tuned"
    r = subprocess.run(
        [sys.executable, "-m", "snpcnn", *_args(inputs, out), "--threads", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return out, r


def test_tune_writes_chosen_trials_and_outer_metrics(serial):
    out, r = serial
    assert "outer split 1/2 (repeat 0, fold 1): searching on its training part" in r.stderr
    assert "trial 1 (budget 2, failed trials not counted) complete: inner score" in r.stderr
    # the trial's own time, and what the inner score is (it showed the time since the start)
    assert "(mean Pearson r of its inner folds); best so far" in r.stderr and "; took " in r.stderr
    assert "== GY_E1: outer folds (pearson_r) ==" in r.stdout
    for name in ("CNN (tuned)", "CNN (default)", "GBLUP"):
        assert name in r.stdout
    trials = pd.read_csv(out / "trials.csv")
    assert len(trials) == 4 and set(trials["fold"]) == {1, 2}
    assert {"inner_score", "inner_0", "inner_1", "param_learning_rate", "param_filters"} <= set(
        trials.columns
    )
    chosen = pd.read_csv(out / "chosen.csv")
    assert len(chosen) == 2
    for _, c in chosen.iterrows():
        t = trials[(trials["fold"] == c["fold"])]
        assert c["inner_score"] == t["inner_score"].max()
    metrics = pd.read_csv(out / "metrics.csv")
    r_rows = metrics[metrics["metric"] == "pearson_r"]
    assert sorted(r_rows.groupby("model").size().to_dict().items()) == [
        ("CNN (default)", 2),
        ("CNN (tuned)", 2),
        ("GBLUP", 2),
    ]
    run = json.loads((out / "run.json").read_text())
    assert run["command"][:2] == ["snpcnn", "tune"] and run["config"]["n_trials"] == 2
    # the input files' checksums as read (run.json had only their names until session 40)
    assert len(run["inputs"]["genotypes"]["sha256"]) == 64
    assert len(run["inputs"]["phenotypes"]["sha256"]) == 64
    assert (out / "optuna.journal").stat().st_size > 0


def test_workers_run_trials_on_ray_with_the_serial_results(inputs, serial, tmp_path):
    pytest.importorskip("ray")
    out = tmp_path / "tuned"
    r = CliRunner().invoke(main, [*_args(inputs, out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    # TPE's first trials are seeded random draws: the same configurations whatever the
    # batch; each trial's score is the serial one to the bit (one thread per task)
    for name in ("trials.csv", "chosen.csv"):
        a = pd.read_csv(serial[0] / name).drop(columns=["seconds"], errors="ignore")
        b = pd.read_csv(out / name).drop(columns=["seconds"], errors="ignore")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert (serial[0] / "metrics.csv").read_bytes() == (out / "metrics.csv").read_bytes()
    run = json.loads((out / "run.json").read_text())
    assert run["execution"]["executor"] == "ray" and run["execution"]["workers"] == 2


def test_bad_space_and_unreachable_cluster_are_one_line_errors(inputs, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[params]\nlearning_rate = { low = 0.1, high = 0.01 }\n")
    args = _args(inputs, tmp_path / "o")
    args[args.index("--space") + 1] = str(bad)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1
    last = r.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: {bad}: params.learning_rate: low (0.1) must be below")
    r = CliRunner().invoke(main, [*_args(inputs, tmp_path / "o"), "--ray-address", "127.0.0.1:9"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert (
        r.output.strip()
        .splitlines()[-1]
        .startswith("Error: cannot reach the Ray cluster at 127.0.0.1:9")
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--min-maf", "0.7"], "Error: --min-maf 0.7: give a value in [0, 0.5]"),
        (["--min-call-rate", "2"], "Error: --min-call-rate 2.0: give a value in [0, 1]"),
        (["--inner-folds", "250"], "Error: --inner-folds 250 with 30 phenotyped samples"),
    ],
)
def test_bad_options_are_one_line_errors_before_any_work(inputs, tmp_path, option, message):
    """They failed every trial (or named --folds), and left an OUT.partial that refused the
    corrected command."""
    args = _args(inputs, tmp_path / "o")
    if option[0] == "--inner-folds":
        args = args[: args.index("--inner-folds")] + args[args.index("--inner-folds") + 2 :]
    r = CliRunner().invoke(main, [*args, *option])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().splitlines()[-1].startswith(message)
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def test_tune_without_optuna_says_how_to_install_it_before_reading_anything(
    inputs, tmp_path, monkeypatch
):
    """A plain `pip install snpcnn` has no Optuna: tune read the genotypes, then printed
    'internal error (ModuleNotFoundError ...) ... report it' (a checking helper)."""
    import snpcnn.io

    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError

    def never(*a, **k):
        raise AssertionError("the genotypes were read before the missing Optuna was named")

    monkeypatch.setattr(snpcnn.io, "read_genotypes", never)
    r = CliRunner().invoke(main, _args(inputs, tmp_path / "o"))
    assert r.exit_code == 1
    assert r.output.strip().splitlines()[-1] == (
        "Error: tuning needs Optuna, which a plain install of snpcnn does not include: "
        "pip install 'snpcnn[tune]' (with --workers: 'snpcnn[cluster]')"
    )
