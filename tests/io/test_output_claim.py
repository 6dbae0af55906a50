"""Two runs to one output: the second is refused at once with one line that names the first
(before session 41 it computed everything, then refused, or with --force replaced the
first's results); a lock left by a killed run is taken over."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError
from snpcnn.io.output import claim

pytestmark = pytest.mark.skipif(os.name != "posix", reason="pids are POSIX")


def _other_process_lock(path, host=None):
    """A lock held by a live process that is not this one: a sleeping child."""
    from snpcnn.io.output import _process_space

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lock = path.parent / f".{path.name}.lock"
    space = _process_space()
    if host:
        space["host"] = host
    lock.write_text(
        json.dumps({**space, "pid": child.pid, "command": "fit", "started": "2026-12-06 07:00:00"})
    )
    return child, lock


def _age(lock, seconds):
    t = time.time() - seconds
    os.utime(lock, (t, t))


def test_a_second_claim_is_refused_and_names_the_first(tmp_path):
    out = tmp_path / "res"
    child, lock = _other_process_lock(out)
    try:
        with pytest.raises(InputError) as exc:
            claim(out, "fit")
        msg = str(exc.value)
        assert f"process {child.pid}" in msg and "snpcnn fit" in msg and str(lock) in msg
        assert "\n" not in msg
    finally:
        child.kill()
        child.wait()
    # the holder is gone: its lock is taken over, and released afterwards
    release = claim(out, "fit")
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    release()
    release()  # idempotent
    assert not lock.exists()


def test_another_machines_lock_is_taken_over_once_it_is_no_longer_refreshed(tmp_path):
    """Its process cannot be asked: a live claim rewrites its time stamp every 30 s, so one
    not refreshed for 2 minutes is a killed run's (a requeued --resume on another node of a
    shared file system; a reviewer, session 41). So is an empty lock."""
    from snpcnn.io.output import LOCK_STALE

    out = tmp_path / "res"
    lock = out.parent / f".{out.name}.lock"
    lock.write_text(json.dumps({"host": "elsewhere-node-7", "pid": 1, "command": "benchmark"}))
    with pytest.raises(InputError, match=r"elsewhere-node-7.*delete .*res\.lock"):
        claim(out, "fit")
    assert lock.exists()
    _age(lock, LOCK_STALE + 5)
    release = claim(out, "fit")
    assert json.loads(lock.read_text())["pid"] == os.getpid()
    release()
    lock.write_text("")
    with pytest.raises(InputError, match=r"another snpcnn run is writing"):
        claim(out, "fit")
    _age(lock, LOCK_STALE + 5)
    claim(out, "fit")()
    assert not lock.exists()


def test_a_live_claim_refreshes_its_lock(tmp_path, monkeypatch):
    import snpcnn.io.output as output

    monkeypatch.setattr(output, "LOCK_REFRESH", 0.05)
    out = tmp_path / "res"
    release = claim(out, "fit")
    lock = out.parent / f".{out.name}.lock"
    _age(lock, 1000)
    deadline = time.time() + 10
    while time.time() - os.stat(lock).st_mtime > 100 and time.time() < deadline:
        time.sleep(0.05)
    assert time.time() - os.stat(lock).st_mtime < 100
    release()


def test_a_dead_processes_lock_with_our_pid_is_not_taken_for_ours(tmp_path):
    """PID reuse (a restarted container's PID 1): the lock named this pid and was never
    released (a reviewer, session 41)."""
    from snpcnn.io.output import _process_space

    out = tmp_path / "res"
    lock = out.parent / f".{out.name}.lock"
    lock.write_text(json.dumps({**_process_space(), "pid": os.getpid(), "command": "fit"}))
    claim(out, "fit")()
    assert not lock.exists()


def test_a_claim_in_a_new_folder_leaves_no_folder_when_released(tmp_path):
    out = tmp_path / "a" / "b" / "res"
    release = claim(out, "fit")
    assert (tmp_path / "a" / "b" / ".res.lock").exists()
    # the same process claiming again (a nested call) neither fails nor releases
    claim(out, "fit")()
    assert (tmp_path / "a" / "b" / ".res.lock").exists()
    release()
    assert not (tmp_path / "a").exists()


def test_fit_refuses_a_busy_out_before_reading_anything(tmp_path):
    out = tmp_path / "res"
    child, _lock = _other_process_lock(out)
    try:
        # the inputs do not even exist: the claim is checked first
        r = CliRunner().invoke(
            main, ["fit", str(tmp_path / "g.vcf"), str(tmp_path / "p.csv"), "--out", str(out)]
        )
    finally:
        child.kill()
        child.wait()
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "is writing its results there" in r.output.strip().splitlines()[-1]
    assert not out.exists()


def test_a_live_run_keeps_its_lock_however_old_its_time_stamp(tmp_path):
    """A process of this machine that is alive (stopped with Ctrl-Z, or in a long call that
    holds the GIL) lost its lock after 2 minutes without a refresh (a reviewer, session 41)."""
    from snpcnn.io.output import LOCK_STALE

    out = tmp_path / "res"
    child, lock = _other_process_lock(out)
    try:
        _age(lock, LOCK_STALE + 60)
        with pytest.raises(InputError, match=f"process {child.pid}"):
            claim(out, "fit")
    finally:
        child.kill()
        child.wait()
