"""The fixed costs of ``snpcnn benchmark --workers 2`` before the first unit, and Ray's stop.

Each run is a fresh process that does what the command does before its first fold task,
in one of two orders, and times it:

* ``old``: load the config (the driver imports TensorFlow there), then start a local Ray and
  wait for it, then two probe units that import what a fold task imports (``snpcnn.bench``,
  ``snpcnn.models``); ``close()`` with a plain ``ray.shutdown()``;
* ``new`` (what ``snpcnn benchmark --workers`` does now): start Ray in the background with the
  warm-up imports (:func:`snpcnn.bench.bench_executor`), load the config, then the same
  probes; ``close()`` kills Ray's autoscaler monitor first.

"ready" is the time from the process start until both workers have the imports done (the
probes have returned): what the first units of a benchmark wait for.  The runs alternate
(old, new, old, ...) so that a change in the machine's load hits both.  Only meaningful on an
otherwise idle machine (the overlap uses the core that the old order leaves idle)::

    .venv/bin/python benchmarks/bench_ray_start.py --runs 4
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

CONFIG = "benchmarks/configs/wheat.toml"


def probe(unit):
    """A unit that imports what a fold task imports; when it started and finished."""
    import importlib
    import os
    import time

    t = time.time()
    for name in ("snpcnn.bench", "snpcnn.models"):
        importlib.import_module(name)
    return os.getpid(), t, time.time()


def one(mode: str) -> None:
    t0 = time.perf_counter()
    import snpcnn.cli  # noqa: F401 - what the command has imported before it runs
    import snpcnn.executor as executor
    from snpcnn.bench import bench_executor, load_config
    from snpcnn.executor import Executor, Unit

    if mode == "new":
        ex = bench_executor(2, None, None).start()
    load_config(CONFIG)
    t_config = time.perf_counter() - t0
    if mode == "old":
        ex = Executor(2).start()
        executor._stop_monitor = lambda ray: None  # the plain ray.shutdown() of before
    t = time.perf_counter()
    ex._ready()
    t_wait = time.perf_counter() - t
    out = ex.map([Unit(fold=0), Unit(fold=1)], probe)
    t_ready = time.perf_counter() - t0
    t = time.perf_counter()
    ex.close()
    t_close = time.perf_counter() - t
    own = max(b - a for _, a, b in out)
    print(
        f"{mode}\t{t_config:.2f}\t{ex.timings.get('ray_init', 0):.2f}\t{t_wait:.2f}\t"
        f"{own:.2f}\t{t_ready:.2f}\t{t_close:.2f}\t{os.getloadavg()[0]:.1f}",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=4, help="runs of each order (alternating)")
    ap.add_argument("--one", choices=["old", "new"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.one:
        one(a.one)
        return
    cols = "order config_loaded ray_init driver_waits_for_ray probe_imports ready close load"
    print(cols.replace(" ", "\t"))
    rows: dict[str, list[list[float]]] = {"old": [], "new": []}
    for _ in range(a.runs):
        for mode in ("old", "new"):
            r = subprocess.run(
                [sys.executable, __file__, "--one", mode], capture_output=True, text=True
            )
            if r.returncode != 0:
                sys.exit(r.stderr[-3000:])
            line = r.stdout.strip().splitlines()[-1]
            print(line, flush=True)
            rows[mode].append([float(x) for x in line.split("\t")[1:]])
    for mode, values in rows.items():
        med = [statistics.median(col) for col in zip(*values)]
        print(f"median {mode}\t" + "\t".join(f"{m:.2f}" for m in med))


if __name__ == "__main__":
    main()
