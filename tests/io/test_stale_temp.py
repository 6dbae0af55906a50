"""An atomic write killed before it finished (SIGKILL, the out-of-memory killer) leaves a
hidden temporary folder beside its output; the next write to that output removes it, with
one warning, and never touches folders of running processes or of other machines."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from snpcnn.errors import InputWarning
from snpcnn.genotypes import Genotypes
from snpcnn.io.cache import load_cache, write_cache
from snpcnn.io.output import STALE_SECONDS, _host, reap_stale, temp_sibling
from snpcnn.report import atomic_directory

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pids are POSIX")


def _genotypes(n=6, p=5):
    rng = np.random.default_rng(0)
    variants = pd.DataFrame(
        {
            "chrom": ["1"] * p,
            "pos": np.arange(1, p + 1),
            "id": [f"s{i}" for i in range(p)],
            "ref": ["A"] * p,
            "alt": ["G"] * p,
        }
    )
    return Genotypes(
        rng.integers(0, 3, (n, p)).astype(np.int8), [f"i{i}" for i in range(n)], variants
    )


def _killed_writer(dst: Path) -> Path:
    """Run a child that creates a temporary folder for ``dst``, writes into it and is
    SIGKILLed before it can clean up; return the folder it left."""
    code = textwrap.dedent(f"""
        import sys, time
        from snpcnn.io.output import temp_sibling
        tmp = temp_sibling({str(dst)!r})
        (tmp / "dosages.npy").write_bytes(b"x" * 100_000)
        print(tmp, flush=True)
        time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    left = Path(child.stdout.readline().strip())
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=30)
    assert left.is_dir() and left.name.startswith(f".{dst.name}.tmp-")
    _age(left)
    return left


def _age(folder: Path, seconds: float = STALE_SECONDS + 60) -> None:
    """Date ``folder`` and its files back by ``seconds`` (a killed write of long ago)."""
    past = time.time() - seconds
    for p in [folder, *folder.rglob("*")]:
        os.utime(p, (past, past))


def test_cache_write_removes_a_killed_writers_temp_folder(tmp_path):
    dst = tmp_path / "g.snpcnn"
    left = _killed_writer(dst)
    with pytest.warns(InputWarning, match=r"removed 1 unfinished temporary folder.*0\.1 MB"):
        write_cache(_genotypes(), dst)
    assert not left.exists()
    assert load_cache(dst).n_samples == 6
    # nothing else hidden is left beside it
    assert [p.name for p in tmp_path.iterdir()] == ["g.snpcnn"]


def test_results_folder_write_removes_a_killed_writers_temp_folder(tmp_path):
    out = tmp_path / "results"
    left = _killed_writer(out)
    with pytest.warns(InputWarning, match="removed 1 unfinished"):
        with atomic_directory(out) as tmp:
            (tmp / "run.json").write_text('{"snpcnn_version": "x"}')
    assert not left.exists() and (out / "run.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_running_and_foreign_folders_are_kept(tmp_path):
    dst = tmp_path / "g.snpcnn"
    mine = temp_sibling(dst)  # this process: running
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        running = tmp_path / f".g.snpcnn.tmp-{_host()}-{sleeper.pid}-0123abcd"
        running.mkdir()
        other_host = tmp_path / ".g.snpcnn.tmp-0000beef-1-0123abcd"
        other_host.mkdir()
        unrelated = tmp_path / ".other.snpcnn.tmp-x"
        unrelated.mkdir()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert reap_stale(dst) == []
        for p in (mine, running, other_host, unrelated):
            assert p.is_dir()
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)
    time.sleep(0.05)
    # the sleeper is gone now, but its folder changed minutes ago: kept (a writer in another
    # PID namespace on the same host name looks dead too, and its files are fresh)
    assert reap_stale(dst, warn=False) == []
    for p in (mine, running, other_host, unrelated):
        _age(p)
    # idle long enough: the dead process's folder goes, the others stay
    assert reap_stale(dst, warn=False) == [running]
    assert mine.is_dir() and other_host.is_dir() and unrelated.is_dir()


def test_temporary_names_stay_short_whatever_the_host(monkeypatch, tmp_path):
    """The host name went into the folder name (up to 40 characters, truncated, so two
    pods of one job could share it); now 8 hex digits of its hash."""
    import socket

    monkeypatch.setattr(socket, "gethostname", lambda: "x" * 63)
    a = _host()
    monkeypatch.setattr(socket, "gethostname", lambda: "x" * 62 + "y")
    assert len(a) == 8 and _host() != a
    dst = tmp_path / ("n" * 200)
    assert temp_sibling(dst).is_dir()


def test_cache_keeps_usual_permissions(tmp_path):
    dst = write_cache(_genotypes(), tmp_path / "g.snpcnn")
    mask = os.umask(0)
    os.umask(mask)
    assert (dst.stat().st_mode & 0o777) == (0o777 & ~mask)
