"""Training throughput of ``snpcnn_default`` vs a plain full-resolution Conv1D net (CPU).

Side by side in one run, same data, same batch size, same thread limits:

* ``snpcnn_default``: ``build_model("snpcnn_default", (n_snps, 1))`` (downsamples
  early: three Conv1D(32, kernel=stride=4) + BN + ELU, flatten, dense 32).
* ``plain``: a plain Keras ``Sequential``: Conv1D(32, 9, same, relu) ->
  Conv1D(32, 9, same, relu) -> MaxPooling1D(2) -> Flatten -> Dense(32, relu) ->
  Dense(1), i.e. two convolutions at full SNP resolution.

Both are compiled with Adam and MSE, trained with ``model.fit`` on random centred
dosages (batch 64).  Throughput = samples / wall time of one epoch, median over the
timed epochs (the first epoch, which includes graph tracing, is discarded).

Run::

    .venv/bin/python benchmarks/bench_model_speed.py [--threads 2] [--snps 1000 10000]

writes ``docs/bench/model_speed.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def _plain(n_snps: int):
    import keras

    return keras.Sequential(
        [
            keras.Input((n_snps, 1)),
            keras.layers.Conv1D(32, 9, padding="same", activation="relu"),
            keras.layers.Conv1D(32, 9, padding="same", activation="relu"),
            keras.layers.MaxPooling1D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(1),
        ],
        name="plain_conv1d_32x9_x2",
    )


class _EpochTimer:
    def __init__(self):
        import keras

        class CB(keras.callbacks.Callback):
            def __init__(cb):
                super().__init__()
                cb.times = []

                cb.cpu = []

            def on_epoch_begin(cb, epoch, logs=None):
                cb.t0 = time.perf_counter()
                cb.c0 = time.process_time()

            def on_epoch_end(cb, epoch, logs=None):
                cb.times.append(time.perf_counter() - cb.t0)
                cb.cpu.append(time.process_time() - cb.c0)

        self.cb = CB()


def _throughput(model, x, y, epochs: int, batch: int) -> tuple[float, list[float], float]:
    import keras

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")
    timer = _EpochTimer()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0, callbacks=[timer.cb])
    rates = [len(x) / t for t in timer.cb.times[1:]]
    per_cpu = statistics.median(len(x) / t for t in timer.cb.cpu[1:])
    return statistics.median(rates), rates, per_cpu


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2, help="TF intra-op threads (default 2)")
    ap.add_argument("--snps", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=4, help="epochs per model (first discarded)")
    ap.add_argument("--out", default=str(REPO / "docs" / "bench" / "model_speed.md"))
    args = ap.parse_args(argv)

    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    from snpcnn.models import build_model, count_params

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    rows = []
    for n_snps in args.snps:
        res = {}
        for label, make, n in (
            ("snpcnn_default", lambda s=n_snps: build_model("snpcnn_default", (s, 1)), 4096),
            ("plain", lambda s=n_snps: _plain(s), 1024 if n_snps <= 2000 else 256),
        ):
            x = (rng.integers(0, 3, size=(n, n_snps, 1)) - 1).astype("float32")
            y = rng.normal(size=(n, 1)).astype("float32")
            model = make()
            med, rates, per_cpu = _throughput(model, x, y, args.epochs, args.batch)
            res[label] = (med, rates, count_params(model)["total"], n, per_cpu)
            print(
                f"{n_snps} SNPs {label}: median {med:,.0f} samples/s ({rates}); "
                f"{per_cpu:,.0f} samples per CPU-second",
                flush=True,
            )
            keras.backend.clear_session()
        rows.append((n_snps, res))

    lines = [
        "# Model training throughput (CPU)",
        "",
        f"Regenerate: `.venv/bin/python benchmarks/bench_model_speed.py --threads {args.threads} "
        f"--snps {' '.join(map(str, args.snps))}`",
        "",
        f"Date: {dt.date.today().isoformat()}; machine: {platform.machine()}, "
        f"{os.cpu_count()} CPU cores visible, TF intra/inter-op threads = {args.threads}; "
        f"Python {platform.python_version()}, TensorFlow {tf.__version__}, Keras {keras.__version__}.",
        "",
        "**The machine was shared with other jobs while this ran**: absolute numbers are "
        "noisy and low; the ratio (same run, same data, same load) is the comparison.",
        "",
        f"`model.fit`, batch {args.batch}, Adam + MSE, random centred dosages; samples/s = "
        f"samples per epoch / epoch wall time, median over epochs 2..{args.epochs}.",
        "",
        "Samples per CPU-second (process user + system time) is less sensitive to the other "
        f"jobs than wall time; with {args.threads} cores fully available, wall throughput can "
        f"reach at most about {args.threads} x that figure.",
        "",
        "| SNPs | model | params | samples/epoch | median samples/s (wall) | per-epoch samples/s "
        "| samples per CPU-second |",
        "|---:|---|---:|---:|---:|---|---:|",
    ]
    for n_snps, res in rows:
        for label, (med, rates, params, n, per_cpu) in res.items():
            per = ", ".join(f"{r:,.0f}" for r in rates)
            lines.append(
                f"| {n_snps:,} | {label} | {params:,} | {n:,} | {med:,.0f} | {per} | {per_cpu:,.0f} |"
            )
    lines += [
        "",
        "| SNPs | speed-up snpcnn_default / plain (wall) | (per CPU-second) |",
        "|---:|---:|---:|",
    ]
    for n_snps, res in rows:
        a, b = res["snpcnn_default"], res["plain"]
        lines.append(f"| {n_snps:,} | {a[0] / b[0]:.1f}x | {a[4] / b[4]:.1f}x |")
    lines += [
        "",
        "Models: `snpcnn_default` = `snpcnn/presets/snpcnn_default.toml`; `plain` = "
        "Conv1D(32, 9, same, relu) x 2 -> MaxPooling1D(2) -> Flatten -> Dense(32) -> Dense(1).",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
