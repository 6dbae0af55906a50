"""Peak memory of the v5 default's start choice (REML between the ridge start and the CNN-GP):
this checkout against another snpcnn tree (e.g. the commit before a change), side by side.

    git worktree add /tmp/snpcnn_before HEAD~1 --detach
    .venv/bin/python benchmarks/bench_start_memory.py --other /tmp/snpcnn_before \
        [--n 1000 --snps 16000 --rounds 2]

Each round runs both trees in fresh processes, alternated. A process simulates n x snps
standardised float32 genotypes (the CNN's input), runs ``snpcnn.training._choose_start`` and
reports the peak of numpy's traced allocations beyond the input (tracemalloc), the wall time,
and a digest of the choice (log-likelihoods, depth, the CNN-GP's dual coefficients), which must
match between the trees where the change is meant to keep every number.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, sys, time, tracemalloc
import numpy as np
n, m = int(sys.argv[1]), int(sys.argv[2])
from snpcnn.training import TrainConfig, _choose_start
from snpcnn.simulate import simulate_genotypes, simulate_trait
g = simulate_genotypes(n, m, n_chrom=1, seed=1)
y, _ = simulate_trait(g, "mixed", n_loci=10, seed=2)
x = g.dosages.astype(np.float32)
x -= x.mean(axis=0)
sd = x.std(axis=0); sd[sd == 0] = 1
x /= sd
yy = ((y - y.mean()) / y.std()).to_numpy(np.float32).reshape(-1, 1)
cfg = TrainConfig()
import snpcnn.baselines, snpcnn.baselines.cnn_gp, snpcnn.baselines.reml, snpcnn.threads  # noqa
import snpcnn.models  # noqa: imports are not the start choice's memory
snpcnn.models.load_architecture(cfg.model)
tracemalloc.start()
t0 = time.perf_counter()
start, info = _choose_start(x, yy, cfg, "regression")
wall = time.perf_counter() - t0
peak = tracemalloc.get_traced_memory()[1]
h = hashlib.sha256(json.dumps({k: info[k] for k in sorted(info)}, sort_keys=True).encode())
if start is not None:
    h.update(np.ascontiguousarray(start.gp.dual_coef_).tobytes())
print(json.dumps({"peak_mb": peak / 1e6, "input_mb": x.nbytes / 1e6, "wall_s": wall,
                  "chosen": info["chosen"], "digest": h.hexdigest()[:16],
                  "code": __import__("snpcnn").__file__}))
"""


def _run(tree: Path, n: int, m: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="2")
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(n), str(m)],
        env=env,
        cwd=tree,  # python -c puts the working directory first on sys.path
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", type=Path, required=True, help="the snpcnn tree to compare with")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--snps", type=int, default=16000)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    rows = []
    for r in range(a.rounds):
        pair = (("this", ROOT), ("other", a.other))
        for name, tree in pair if r % 2 == 0 else pair[::-1]:  # alternate who goes first
            row = {"round": r, "tree": name, **_run(tree, a.n, a.snps)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    for name in ("this", "other"):
        mine = [x for x in rows if x["tree"] == name]
        print(
            f"{name}: peak median {median(x['peak_mb'] for x in mine):.0f} MB, wall median "
            f"{median(x['wall_s'] for x in mine):.1f} s, digests {sorted({x['digest'] for x in mine})}"
        )
    print(f"input {rows[0]['input_mb']:.0f} MB (float32)")


if __name__ == "__main__":
    main()
