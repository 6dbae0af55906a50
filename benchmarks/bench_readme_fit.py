"""README command 1 (10-fold `snpcnn fit` on the shipped wheat data, GY_E1, published folds):
this checkout against another snpcnn tree (e.g. the commit before a change), side by side.

    git worktree add /tmp/snpcnn_before HEAD~1 --detach
    .venv/bin/python benchmarks/bench_readme_fit.py --other /tmp/snpcnn_before [--rounds 2]
    .venv/bin/python benchmarks/bench_readme_fit.py --other /tmp/snpcnn_before --data mice

``--backend jax`` runs this tree on Keras's JAX backend (``--other-backend``: the other tree's;
default the same), each run with its own empty JAX compilation cache folder, whose entries
(one per program JAX compiled) are counted.  ``--other .`` compares two backends on this tree.

``--data mice`` runs the user guide's mice command instead (../shared/data/mice, Obesity.BMI
with GENDER as a covariate, 5 random folds): 1,814 mice x 10,346 SNPs.

Each round runs the command once per tree in fresh processes, alternated (the order flips every
round), each with its own working directory and PYTHONPATH (``python -m`` puts the working
directory first on the path, so a tree started from this checkout would run this checkout's code).
It reports the wall time the command prints (total, CNN, baselines, refit), the process's own
wall time, and a digest of metrics.csv and predictions.csv, which must match between the trees
where a change is meant to keep every number.  Medians over the rounds; ratio = this / other.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]
WALL = re.compile(
    r"wall time ([\d.]+) s .*\(CNN ([\d.]+) s, baselines ([\d.]+) s, refit ([\d.]+) s\)"
)


def _inputs(data: str) -> list[str]:
    if data == "wheat":
        d = ROOT / "example_data"
        return [
            str(d / "wheat.vcf.gz"),
            str(d / "wheat_phenotypes.csv"),
            "--trait",
            "GY_E1",
            "--folds",
            str(d / "wheat_cv_folds.csv"),
        ]
    d = ROOT.parent / "shared" / "data" / "mice"
    return [
        str(d / "mice.bed"),
        str(d / "mice_phenotypes.csv"),
        "--trait",
        "Obesity.BMI",
        "--covariates",
        "GENDER",
        "--covariates-file",
        str(d / "mice_covariates.csv"),
        "--folds",
        "5",
    ]


def _run(tree: Path, out: Path, data: str = "wheat", backend: str = "tensorflow") -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), KERAS_BACKEND=backend)
    cache = out.parent / f"{out.name}_jax_cache"
    if backend == "jax":
        env["JAX_COMPILATION_CACHE_DIR"] = str(cache)
        # every program into the cache, however quick to compile, so that it counts them all
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    cmd = [
        sys.executable,
        "-c",
        "import sys, snpcnn; print('code:', snpcnn.__file__); sys.argv[0] = 'snpcnn';"
        " from snpcnn.cli import main; main()",
        "fit",
        *_inputs(data),
        "--out",
        str(out),
        "--force",
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{tree}: rc {proc.returncode}\n{proc.stderr[-2000:]}")
    text = proc.stdout + proc.stderr
    m = WALL.search(text)
    code = re.search(r"code: (\S+)", text)
    h = hashlib.sha256()
    for name in ("metrics.csv", "predictions.csv"):
        h.update((out / name).read_bytes())
    return {
        "wall_s": float(m.group(1)),
        "cnn_s": float(m.group(2)),
        "baselines_s": float(m.group(3)),
        "refit_s": float(m.group(4)),
        "process_s": elapsed,
        "digest": h.hexdigest()[:16],
        "code": code.group(1) if code else "?",
        "backend": backend,
        "jax_programs": len(list(cache.iterdir())) if cache.exists() else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the other snpcnn tree")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--data", choices=["wheat", "mice"], default="wheat")
    ap.add_argument("--backend", choices=["tensorflow", "jax"], default="tensorflow")
    ap.add_argument("--other-backend", choices=["tensorflow", "jax"], default=None)
    args = ap.parse_args()
    trees = {"this": ROOT, "other": args.other.resolve()}
    backends = {"this": args.backend, "other": args.other_backend or args.backend}
    runs: dict[str, list[dict]] = {k: [] for k in trees}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            order = list(trees) if r % 2 == 0 else list(trees)[::-1]
            for name in order:
                res = _run(trees[name], Path(tmp) / f"{name}{r}", args.data, backends[name])
                runs[name].append(res)
                print(json.dumps({"round": r, "tree": name, **res}), flush=True)
    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            k: median(x[k] for x in rs)
            for k in ("wall_s", "cnn_s", "baselines_s", "refit_s", "process_s")
        }
        summary[name]["digests"] = sorted({x["digest"] for x in rs})
        summary[name]["backend"] = backends[name]
        if rs[0]["jax_programs"] is not None:
            summary[name]["jax_programs"] = median(x["jax_programs"] for x in rs)
    summary["ratio_wall"] = summary["this"]["wall_s"] / summary["other"]["wall_s"]
    summary["ratio_cnn"] = summary["this"]["cnn_s"] / summary["other"]["cnn_s"]
    summary["same_numbers"] = summary["this"]["digests"] == summary["other"]["digests"]
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
