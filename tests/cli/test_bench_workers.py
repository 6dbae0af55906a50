"""``snpcnn benchmark --workers/--ray-address``: folds as tasks on a REAL local Ray (no mock).

Same results as the serial run, a worker killed mid-run, --resume, an unreachable
address, and (slow) a 2-node Ray cluster started with ``ray start`` on localhost.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
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
ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def config(tmp_path_factory, example_data) -> Path:
    """90 samples x 64 SNPs, two traits, 3 folds, baselines and the tiny CNN (2 epochs)."""
    d = tmp_path_factory.mktemp("bench_workers")
    x = pd.read_csv(example_data / "wheat_X_dart01.csv.gz", nrows=90).iloc[:, :65]
    x.to_csv(d / "geno.csv", index=False)
    ph = pd.read_csv(example_data / "wheat_phenotypes.csv")
    ph[ph["sample_id"].isin(x["sample_id"])].to_csv(d / "pheno.csv", index=False)
    (d / "b.toml").write_text(
        'baselines = ["gblup", "ridge"]\nseeds = [3]\nensemble = true\n\n'
        '[[datasets]]\nname = "small"\ngenotypes = "geno.csv"\nphenotypes = "pheno.csv"\n'
        'traits = ["GY_E2", "GY_E1"]\nfolds = 3\n\n'
        f'[[models]]\nname = "tiny"\narchitecture = "{TINY_ARCH}"\nepochs = 2\n'
    )
    return d / "b.toml"


@pytest.fixture(scope="module")
def serial(config, tmp_path_factory) -> Path:
    """The serial run with one thread (as each Ray task has), in a fresh process."""
    out = tmp_path_factory.mktemp("serial") / "res"
    code = (
        "import sys\n"
        "from snpcnn.cli import main\n"
        "main(sys.argv[1:], standalone_mode=False)\n"
        "print('ray imported:', 'ray' in sys.modules)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code, "benchmark", str(config), "--out", str(out)]
        + ["--threads", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    # without --workers / --ray-address nothing changes: Ray is not even imported
    assert "ray imported: False" in r.stdout
    return out


@pytest.fixture(scope="module")
def local_ray():
    """A real local Ray of 2 worker CPUs, shared by the runs of this module."""
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local",
            num_cpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
    yield
    if started:
        ray.shutdown()


def _same(a: Path, b: Path) -> None:
    for name in ("results.csv", "predictions.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_workers_give_the_serial_results(config, serial, local_ray, tmp_path):
    out = tmp_path / "res"
    r = CliRunner().invoke(main, ["benchmark", str(config), "--out", str(out), "--workers", "2"])
    assert r.exit_code == 0, r.output
    _same(out, serial)
    print(r.output)
    assert "small: folds 12/12 done, 0 running, 0 queued" in r.output
    assert "[2/4] small GY_E2 seed 3 tiny: 3 folds run in" in r.output
    run = json.loads((out / "run.json").read_text())
    assert run["execution"]["executor"] == "ray" and run["execution"]["workers"] == 2
    assert all(u["folds_computed"] == 3 and u["folds_resumed"] == 0 for u in run["units"])
    # the fold tasks' own time, not the assembly's
    assert all(u["wall_seconds"] > 0.05 for u in run["units"])


def _ours(tag: str) -> list[int]:
    """Processes whose environment holds ``tag`` (Ray's processes inherit the driver's)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if tag.encode() in Path(f"/proc/{entry}/environ").read_bytes():
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def test_the_command_starts_its_own_ray_early_and_leaves_no_process(config, serial, tmp_path):
    """Without a running Ray: the command starts one in the background before loading the
    config, its workers import TensorFlow first (warm-up), a worker killed mid-run is
    rerun; the results are the serial ones and no Ray process outlives the command.  (It
    resumes a run with 2 of its 12 folds missing: the Ray start-up and the kill are what is
    tested here, the full run's equality with serial in test_workers_give_the_serial_results.)"""
    import time
    import uuid

    tag = f"SNPCNN_TEST_TAG={uuid.uuid4().hex}"
    out = tmp_path / "res"
    _interrupted(serial, tmp_path / "res.partial")
    env = {**os.environ, "SNPCNN_TEST_KILL_ONCE": str(tmp_path / "killed")}
    env[tag.split("=")[0]] = tag.split("=")[1]
    r = subprocess.run(
        [sys.executable, "-m", "snpcnn", "benchmark", str(config), "--out", str(out)]
        + ["--workers", "2", "--resume"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    assert (tmp_path / "killed").is_file()  # a worker died mid-run; Ray reran its task
    _same(out, serial)
    deadline = time.monotonic() + 30  # a worker exits on its own once its raylet is gone
    while _ours(tag) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _ours(tag) == []


def _interrupted(serial: Path, partial: Path) -> None:
    """An interrupted run: the serial run's stored folds, less a baseline and a CNN fold."""
    shutil.copytree(serial / "units", partial / "units")
    stored = sorted(partial.rglob("r*_f*.json"))
    assert len(stored) == 12
    for p in (stored[0], stored[-1]):
        p.unlink()


def test_a_killed_worker_is_rerun_with_the_same_results(
    config, serial, local_ray, tmp_path, monkeypatch
):
    marker = tmp_path / "killed"
    monkeypatch.setenv("SNPCNN_TEST_KILL_ONCE", str(marker))
    out = tmp_path / "res"
    _interrupted(serial, tmp_path / "res.partial")
    r = CliRunner().invoke(
        main, ["benchmark", str(config), "--out", str(out), "--workers", "2", "--resume"]
    )
    assert r.exit_code == 0, r.output
    assert marker.is_file()  # one worker process did die (SIGKILL) mid-run; Ray reran its task
    _same(out, serial)


def test_resume_with_workers_recomputes_only_missing_folds(config, serial, local_ray, tmp_path):
    out = tmp_path / "res"
    partial = tmp_path / "res.partial"
    _interrupted(serial, partial)
    r = CliRunner().invoke(
        main, ["benchmark", str(config), "--out", str(out), "--workers", "2", "--resume"]
    )
    assert r.exit_code == 0, r.output
    assert "folds 12/12 done (10 resumed)" in r.output
    run = json.loads((out / "run.json").read_text())
    assert sum(u["folds_computed"] for u in run["units"]) == 2
    assert sum(u["folds_resumed"] for u in run["units"]) == 10
    _same(out, serial)


def test_unreachable_address_is_one_clean_line(config, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "res"
    r = CliRunner().invoke(
        main,
        ["benchmark", str(config), "--out", str(out), "--ray-address", f"127.0.0.1:{port}"],
    )
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    last = r.output.strip().splitlines()[-1]
    assert last.startswith(f"Error: cannot reach the Ray cluster at 127.0.0.1:{port}")
    assert not out.exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _kill_cluster(temp_dir: str, port: int) -> None:
    """Stop only the Ray processes of this test's cluster (never `ray stop`: it stops all).

    Those whose command line names the cluster's temp dir or port, and their children.
    """
    import signal

    parent, cmd = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd[int(entry)] = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        parent[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    marks = (temp_dir.encode(), f":{port} ".encode(), f":{port}".encode() + b"\n")
    pids = {p for p, c in cmd.items() if any(m in c + b"\n" for m in marks)}
    grew = True
    while grew:
        children = {p for p, pp in parent.items() if pp in pids} - pids
        grew = bool(children)
        pids |= children
    pids.discard(os.getpid())
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


@pytest.mark.slow
def test_two_node_cluster_on_localhost_gives_the_serial_results(config, serial, tmp_path):
    """docs/cluster.md: `ray start --head` + a second `ray start --address` on localhost."""
    if ray.is_initialized():
        ray.shutdown()
    port = _free_port()
    temp_dir = f"/tmp/snpcnn-ray-{os.getpid()}"  # short: Ray's socket paths are limited
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    try:
        for args in (
            ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp_dir}"],
            [f"--address=127.0.0.1:{port}"],
        ):
            r = subprocess.run(
                [ray_cli, "start", "--num-cpus=1", "--disable-usage-stats", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            assert r.returncode == 0, r.stderr[-2000:]
        out = tmp_path / "res"
        r = subprocess.run(
            [sys.executable, "-m", "snpcnn", "benchmark", str(config), "--out", str(out)]
            + ["--ray-address", f"127.0.0.1:{port}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        _same(out, serial)
        run = json.loads((out / "run.json").read_text())
        assert run["execution"]["nodes"] == 2 and run["execution"]["cluster_cpus"] == 2
    finally:
        _kill_cluster(temp_dir, port)
        shutil.rmtree(temp_dir, ignore_errors=True)
