"""`snpcnn fit --workers`: Ray starts while the inputs are read and stops with the command."""

import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _args(d, out, *extra):
    return [
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
        "2",
        "--baselines",
        "gblup",
        "--threads",
        "1",
        "--no-refit",
        "--out",
        str(out),
        *extra,
    ]


def test_fit_workers_gives_the_serial_results_and_leaves_no_ray(example_data, tmp_path, tiny_toml):
    ray = pytest.importorskip("ray")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:60, :41]
    x.to_csv(tmp_path / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph[ph.sample_id.isin(x.sample_id)].to_csv(tmp_path / "pheno.csv", index=False)
    (tmp_path / "tiny.toml").write_text(tiny_toml)
    serial = CliRunner().invoke(main, _args(tmp_path, tmp_path / "serial"))
    assert serial.exit_code == 0, serial.output
    par = CliRunner().invoke(main, _args(tmp_path, tmp_path / "par", "--workers", "2"))
    assert par.exit_code == 0, par.output
    # one thread per task: the folds' fits are the serial ones to the bit
    for name in ("metrics.csv", "predictions.csv"):
        assert (tmp_path / "serial" / name).read_bytes() == (tmp_path / "par" / name).read_bytes()
    assert not ray.is_initialized()  # the early Ray was stopped with the command
    # each fold's lines reach the console as its task finishes (they were lost before
    # session 41): what the fold said, then that it ran on a worker
    for f in (1, 2, 3):
        said = [ln.split("] ", 1)[-1] for ln in serial.output.splitlines()]
        trained = [ln for ln in said if ln.startswith(f"fold {f}/3: CNN trained (")]
        assert trained, serial.output
        assert f"fold {f}/3: CNN trained (" in par.output, par.output
        assert f"fold {f}/3 done on a worker (" in par.output, par.output


def test_fit_workers_with_an_unreachable_cluster_is_a_one_line_error(
    example_data, tmp_path, tiny_toml
):
    (tmp_path / "geno.csv").write_text("sample_id,s1\na,0\n")
    (tmp_path / "pheno.csv").write_text("sample_id,GY_E1\na,1.0\n")
    (tmp_path / "tiny.toml").write_text(tiny_toml)  # fit checks the architecture first
    r = CliRunner().invoke(main, _args(tmp_path, tmp_path / "o", "--ray-address", "127.0.0.1:9"))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "127.0.0.1:9" in r.output.strip().splitlines()[-1]
    assert not (tmp_path / "o").exists()


def test_fit_workers_reports_a_missing_input_before_starting_ray(tmp_path, monkeypatch, tiny_toml):
    import snpcnn.executor as ex

    def no_ray(*a, **k):
        raise AssertionError("Ray started for a missing input file")

    monkeypatch.setattr(ex, "start_early", no_ray)
    (tmp_path / "pheno.csv").write_text("sample_id,GY_E1\na,1.0\n")
    (tmp_path / "tiny.toml").write_text(tiny_toml)
    r = CliRunner().invoke(main, _args(tmp_path, tmp_path / "o", "--workers", "2"))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert (
        r.output.strip().splitlines()[-1]
        == f"Error: {tmp_path / 'geno.csv'}: no such file; check the path"
    )
