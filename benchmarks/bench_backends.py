"""Training and prediction throughput of the default CNN on Keras's TensorFlow vs JAX backend.

Side by side under the same load: each round runs ``default_cnn.py --speed`` once per
backend, alternating, in fresh processes (a backend is chosen when Keras is imported).
The table gives the median over rounds of each run's median samples/s, and the ratio
TensorFlow / JAX.

Run::

    .venv/bin/python benchmarks/bench_backends.py [--rounds 2] [--snps 1000 10000]

writes ``docs/bench/backends.md`` (needs ``pip install -e ".[jax]"``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "bench" / "backends.md"
BACKENDS = ("tensorflow", "jax")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--snps", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--out", type=Path, default=DOC)
    a = ap.parse_args(argv)
    runs: dict[str, list[dict]] = {b: [] for b in BACKENDS}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.rounds):
            for b in BACKENDS:
                path = Path(tmp) / f"{b}_{i}.json"
                env = dict(os.environ, KERAS_BACKEND=b)
                subprocess.run(
                    [sys.executable, str(REPO / "benchmarks" / "default_cnn.py"), "--speed",
                     "--snps", *map(str, a.snps), "--speed-out", str(path)],
                    env=env, check=True, capture_output=True,
                )  # fmt: skip
                runs[b].append(json.loads(path.read_text()))
                print(b, i, [round(r["median_samples_per_s"]) for r in runs[b][-1]["rows"]])

    def med(b: str, n: int, key: str) -> float:
        return statistics.median(r[key] for run in runs[b] for r in run["rows"] if r["n_snps"] == n)

    v = runs["jax"][0]["versions"]
    lines = [
        "# The default CNN on Keras's TensorFlow and JAX backends (CPU)",
        "",
        f"Regenerate: `.venv/bin/python benchmarks/bench_backends.py --rounds {a.rounds} "
        f"--snps {' '.join(map(str, a.snps))}`",
        "",
        f"Date: {dt.date.today().isoformat()}; {platform.machine()}, {os.cpu_count()} CPU "
        f"cores; Python {platform.python_version()}, TensorFlow "
        f"{runs['tensorflow'][0]['versions'].get('tensorflow')}, Keras {v.get('keras')}, "
        f"JAX {v.get('jax')}. Each round runs `benchmarks/default_cnn.py --speed` once per "
        "backend, alternating, so both see the same load. Values: median over rounds of each run's median samples/s (training: "
        "`model.fit`, batch 32, epochs 2..5; prediction: `model.predict`, batch 256, calls "
        "2..4).",
        "",
        "| SNPs | training TF | training JAX | TF / JAX | prediction TF | prediction JAX "
        "| TF / JAX |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for n in a.snps:
        tt, tj = med("tensorflow", n, "median_samples_per_s"), med("jax", n, "median_samples_per_s")
        pt = med("tensorflow", n, "median_predict_samples_per_s")
        pj = med("jax", n, "median_predict_samples_per_s")
        lines.append(
            f"| {n:,} | {tt:,.0f} | {tj:,.0f} | {tt / tj:.1f}x | {pt:,.0f} | {pj:,.0f} "
            f"| {pt / pj:.1f}x |"
        )
    key = "median_samples_per_s"
    faster = [
        "TensorFlow" if med("tensorflow", n, key) > med("jax", n, key) else "JAX" for n in a.snps
    ]
    verdict = (
        f"Training was faster on {faster[0]} at every size measured."
        if len(set(faster)) == 1
        else "Neither backend trained faster at every size measured."
    )
    lines += [
        "",
        f"{verdict} TensorFlow stays the default (the pip install brings it, and "
        "`snpcnn fit` trains through its own compiled step there, not `model.fit`); the JAX "
        "backend is there for GPU machines that have JAX but not TensorFlow (docs/models.md, "
        "`benchmarks/gpu_check.sh`). Since 2026-12-04 Keras compiles the training steps with "
        "XLA on JAX; before, JAX ran them op by op (776 and 461 samples/s at 1k and 10k "
        "SNPs in the 2026-12-01 run of this script).",
        "",
    ]
    a.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = a.out.with_suffix(".md.tmp")
    tmp_out.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp_out, a.out)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
