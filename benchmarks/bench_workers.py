"""Serial versus ``--workers N``: wall time and byte-identity of a `snpcnn benchmark` config.

Runs, one after the other, in fresh processes:

1. ``snpcnn benchmark CONFIG --threads 1``      (serial, one thread: the bitwise reference)
2. ``snpcnn benchmark CONFIG``                  (serial, default threads: README behaviour)
3. ``snpcnn benchmark CONFIG --workers N``      (Ray tasks, one thread each)

and prints (or with ``--write docs/bench/workers.md`` writes) a table of wall times, the
speed-up of 3 over 1 and over 2, and whether results.csv / predictions.csv of 3 are
byte-identical to those of 1 (and of 2).  Run it on an otherwise idle machine:

    .venv/bin/python benchmarks/bench_workers.py benchmarks/configs/wheat.toml --workers 2
    .venv/bin/python benchmarks/bench_workers.py benchmarks/configs/wheat.toml --workers 2 \
        --models none            # the baselines alone
    .venv/bin/python benchmarks/bench_workers.py benchmarks/configs/smoke.toml --workers 2

``--skip-default`` leaves out run 2; ``--gpus-per-task 0.25`` sets SNPCNN_TASK_GPUS for run 3
(several small models per GPU); extra arguments after ``--`` go to every `snpcnn benchmark`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(label: str, config: str, out: Path, extra: list[str], env: dict[str, str]) -> float:
    cmd = [sys.executable, "-m", "snpcnn", "benchmark", config, "--out", str(out), "--force"]
    cmd += extra
    print(f"[{label}] {' '.join(cmd[2:])}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"{label} failed:\n{r.stderr[-3000:]}")
    print(f"[{label}] {wall:.1f} s", file=sys.stderr, flush=True)
    return wall


def same(a: Path, b: Path) -> str:
    out = []
    for name in ("results.csv", "predictions.csv"):
        ok = (a / name).read_bytes() == (b / name).read_bytes()
        out.append(f"{name} {'identical' if ok else 'DIFFERENT'}")
    return ", ".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--models", default=None, help="passed to snpcnn benchmark --models")
    ap.add_argument("--skip-default", action="store_true", help="no serial default-threads run")
    ap.add_argument("--gpus-per-task", type=float, default=None)
    ap.add_argument("--keep", default=None, help="keep the result folders here")
    ap.add_argument("--write", default=None, help="write the markdown table to this file")
    ap.add_argument("extra", nargs="*", help="more `snpcnn benchmark` arguments (after --)")
    a = ap.parse_args()

    extra = list(a.extra)
    if a.models is not None:
        extra += ["--models", a.models]
    base = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="bench-workers-"))
    base.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    walls: dict[str, float] = {}
    walls["serial --threads 1"] = run(
        "serial1", a.config, base / "serial1", extra + ["--threads", "1"], env
    )
    if not a.skip_default:
        walls["serial (default threads)"] = run("serial", a.config, base / "serial", extra, env)
    env_w = dict(env)
    if a.gpus_per_task is not None:
        env_w["SNPCNN_TASK_GPUS"] = str(a.gpus_per_task)
    label = f"--workers {a.workers}"
    walls[label] = run(
        "workers", a.config, base / "workers", extra + ["--workers", str(a.workers)], env_w
    )

    load = os.getloadavg()
    rows = [
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs; load average over the last 1 / 15 min at the end: "
        f"{load[0]:.2f} / {load[2]:.2f}, 1 = one busy core: other work on the machine "
        "inflates every time).",
        "",
        "Command: `.venv/bin/python benchmarks/bench_workers.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| run | wall (s) | speed-up of --workers |",
        "|---|---|---|",
    ]
    w = walls[label]
    for k, v in walls.items():
        speed = "" if k == label else f"{v / w:.2f}x"
        rows.append(f"| {k} | {v:.1f} | {speed} |")
    rows += ["", f"- {label} vs serial --threads 1: {same(base / 'workers', base / 'serial1')}"]
    if not a.skip_default:
        rows.append(
            f"- {label} vs serial default threads: {same(base / 'workers', base / 'serial')}"
        )
    text = "\n".join(rows) + "\n"
    print(text)
    if a.write:
        Path(a.write).write_text(text)
    if not a.keep:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
