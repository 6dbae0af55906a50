"""MNIST parity benchmark: LeNet-5 (ReLU) from the snpcnn model zoo on the full MNIST set.

Protocol (no test-set peeking): two candidate settings, declared below before the run,
are each trained on 90% of the 60,000 training images and scored on the other 10% (a
stratified, seeded validation split).  The candidate with the higher validation
accuracy is the one evaluated, once, on the 10,000 official test images; the other
candidate never sees the test set.  Training throughput is compared with a hand-written
plain-Keras LeNet-5 of the same shape, side by side in the same run.  Writes
``docs/bench/mnist.md``.

Run from the repository root::

    .venv/bin/python benchmarks/bench_mnist.py            # full run, ~8 minutes on 2 cores
    .venv/bin/python benchmarks/bench_mnist.py --quick    # 1 epoch smoke test, no file written
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snpcnn.images import (  # noqa: E402
    default_mnist_dir,
    fit_images,
    load_mnist,
    prepare_images,
    seeded,
)

# Declared before the run.  Both: LeNet-5 (ReLU) preset, Adam with cosine decay from 1e-3
# to 1e-5 over all steps, batch 128, seed 0.  A first, single-setting run of this script
# (light augmentation, 12 epochs) underfit: its training accuracy was still below its
# validation accuracy at the last epoch (see HISTORY); these two candidates address that
# in the two usual ways, and the validation split decides between them.
COMMON = {"arch": "lenet5", "batch_size": 128, "learning_rate": 1e-3, "lr_schedule": "cosine"}
CANDIDATES = {
    "A: no augmentation, 12 epochs": {"epochs": 12, "augment": None},
    "B: light augmentation, 20 epochs": {
        "epochs": 20,
        "augment": {
            "rotation": 10.0,
            "width_shift": 0.1,
            "height_shift": 0.1,
            "fill_mode": "constant",
            "fill_value": 0.0,
        },
    },
}
VALIDATION_FRACTION = 0.1
SEED = 0
THROUGHPUT_EPOCHS = 3

# The earlier run, reported for completeness (same script, single setting, before the
# validation-selection protocol was added).
HISTORY = (
    "An earlier version of this script trained one setting fixed in advance (light "
    "augmentation rotation=10, shift=0.1, constant fill; 12 epochs; cosine from 1e-3; "
    "10% validation split) and reached **0.9897** test accuracy (95% Wilson interval "
    "0.9875..0.9915): below the 0.99 target.  Its last-epoch training accuracy on "
    "augmented images (0.9863) was still below its validation accuracy (0.9878), i.e. it "
    "underfit.  That test result is why the script now selects between the two candidates "
    "above on the validation split; the candidates were written down before this run."
)


def plain_keras_lenet5(n_classes: int = 10):
    """LeNet-5 written directly in Keras (same layers as snpcnn's preset, no augmentation)."""
    import keras

    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(
                6, 5, padding="same", activation="relu", kernel_initializer="he_normal"
            ),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(16, 5, activation="relu", kernel_initializer="he_normal"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dense(120, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(84, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(n_classes, activation="softmax"),
        ],
        name="plain_lenet5",
    )


def time_epochs(model, x, y, epochs: int, batch_size: int) -> list[float]:
    """Wall time of each training epoch."""
    import keras

    times: list[float] = []

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.t0)

    model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=True, callbacks=[Timer()], verbose=0
    )
    return times


def throughput_pair(x, y, epochs: int, batch_size: int, seed: int) -> dict:
    """Steady-state samples/s of snpcnn's lenet5 vs plain Keras, same data and settings."""
    import keras

    from snpcnn.models import build_model, compile_model

    out = {}
    for name in ("snpcnn build_model('lenet5')", "plain keras.Sequential LeNet-5"):
        with seeded(seed):
            if name.startswith("snpcnn"):
                model = build_model("lenet5", (28, 28, 1), head="multiclass", n_outputs=10)
                compile_model(model, "multiclass", learning_rate=1e-3)
            else:
                model = plain_keras_lenet5()
                model.compile(
                    optimizer=keras.optimizers.Adam(1e-3),
                    loss="sparse_categorical_crossentropy",
                    metrics=["accuracy"],
                )
            times = time_epochs(model, x, y, epochs, batch_size)
        steady = times[1:] if len(times) > 1 else times
        out[name] = {
            "params": model.count_params(),
            "epoch_times_s": times,
            "median_samples_per_s": len(x) / statistics.median(steady),
        }
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=None, help="MNIST folder [../shared/data/mnist]")
    parser.add_argument("--out", default=str(REPO / "docs" / "bench" / "mnist.md"))
    parser.add_argument("--quick", action="store_true", help="1 epoch each, write nothing")
    args = parser.parse_args(argv)

    import keras
    import tensorflow as tf
    from sklearn.model_selection import train_test_split

    data_dir = Path(args.data) if args.data else default_mnist_dir()
    if data_dir is None:
        print("MNIST not found; pass --data DIR", file=sys.stderr)
        return 1
    tp_epochs = 1 if args.quick else THROUGHPUT_EPOCHS
    load_before = os.getloadavg()
    started = dt.datetime.now(dt.UTC)
    (xtr, ytr), (xte, yte) = load_mnist(data_dir)
    x_fit, x_val, y_fit, y_val = train_test_split(
        xtr, ytr, test_size=VALIDATION_FRACTION, random_state=SEED, stratify=ytr
    )

    # 1) candidates: trained on 90%, scored on the 10% validation split only
    runs = {}
    for name, cand in CANDIDATES.items():
        epochs = 1 if args.quick else cand["epochs"]
        t0 = time.perf_counter()
        res = fit_images(
            COMMON["arch"],
            ((x_fit, y_fit), (x_val, y_val)),  # "test" here = the validation split
            epochs=epochs,
            batch_size=COMMON["batch_size"],
            learning_rate=COMMON["learning_rate"],
            lr_schedule=COMMON["lr_schedule"],
            augment=cand["augment"],
            seed=SEED,
        )
        runs[name] = (res, time.perf_counter() - t0)
        print(
            f"{name}: validation accuracy {res.test_accuracy:.4f}, {res.train_time_s:.1f} s "
            f"training, {res.samples_per_s:,.0f} samples/s",
            flush=True,
        )
    best = max(runs, key=lambda k: runs[k][0].test_accuracy)
    result, main_wall = runs[best]

    # 2) the selected model, evaluated once on the official test set
    proba = result.model.predict(prepare_images(xte), batch_size=512, verbose=0)
    test_accuracy = float(np.mean(np.argmax(proba, axis=1) == yte))
    print(f"selected {best}: test accuracy {test_accuracy:.4f}", flush=True)

    # 3) throughput: snpcnn's builder vs plain Keras
    pair = throughput_pair(
        prepare_images(xtr), ytr.astype("int32"), tp_epochs, COMMON["batch_size"], 0
    )
    for name, info in pair.items():
        print(f"{name}: {info['median_samples_per_s']:,.0f} samples/s ({info['params']:,} params)")
    load_after = os.getloadavg()
    if args.quick:
        return 0

    ours, plain = pair.values()
    ratio = ours["median_samples_per_s"] / plain["median_samples_per_s"]
    n_test = len(yte)
    n_correct = int(round(test_accuracy * n_test))
    # 95% Wilson interval for the test accuracy (10,000 independent test images)
    z, n, p = 1.96, n_test, test_accuracy
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    cmd = "cd /work/main && .venv/bin/python benchmarks/" + " ".join(
        shlex.quote(a) for a in [Path(__file__).name, *(argv if argv is not None else sys.argv[1:])]
    )
    cand_rows = "\n".join(
        f"| {name}{' (selected)' if name == best else ''} | {r.epochs} | "
        f"{r.history['accuracy'][-1]:.4f} | {r.test_accuracy:.4f} | {r.train_time_s:.1f} | "
        f"{r.samples_per_s:,.0f} |"
        for name, (r, _) in runs.items()
    )
    hist = result.history
    rows = "\n".join(
        f"| {i + 1} | {hist['loss'][i]:.4f} | {hist['accuracy'][i]:.4f} | {result.epoch_times_s[i]:.1f} |"
        for i in range(result.epochs)
    )
    verdict = "PASS" if test_accuracy >= 0.99 else "FAIL"
    cand_text = "; ".join(
        f"{name}: augment={c['augment'] if c['augment'] else 'none'}"
        for name, c in CANDIDATES.items()
    )
    tp_rows = "\n".join(
        f"| {name} | {info['params']:,} | {info['median_samples_per_s']:,.0f} | "
        + ", ".join(f"{t:.1f}" for t in info["epoch_times_s"])
        + " |"
        for name, info in pair.items()
    )
    text = f"""# MNIST parity: LeNet-5 (ReLU) from the snpcnn zoo

Generated by `benchmarks/bench_mnist.py` on {started:%Y-%m-%d %H:%M} UTC.

Command (regenerates this file):

```
{cmd}
```

## Result

| statistic | value |
|---|---|
| **test accuracy** (fraction of the 10,000 official MNIST test images whose arg-max prediction equals the label) | **{test_accuracy:.4f}** ({n_correct:,} / {n_test:,}) |
| 95% Wilson interval of the test accuracy | {centre - half:.4f} .. {centre + half:.4f} |
| target (>= 0.9900) | {verdict} |
| selected setting (by validation accuracy) | {best} |
| epochs | {result.epochs} |
| training images / validation images | {result.n_train:,} / {result.n_test:,} |
| training wall time (`model.fit`, all epochs) | {result.train_time_s:.1f} s |
| whole `fit_images` call (build, train, score) | {main_wall:.1f} s |
| training throughput, `n_train * epochs / training time` | {result.samples_per_s:,.0f} samples/s |
| steady-state throughput (median epoch, first excluded) | {result.samples_per_s_steady:,.0f} samples/s |
| parameters | {result.model.count_params():,} |

Protocol: both candidates were declared in the script before the run and trained on
the same 54,000 images; a stratified, seeded 10% of the official training set (6,000
images) scored them; only the selected model was evaluated on the test set, once.
Common settings: `lenet5` preset (conv 6@5x5 same, max-pool, conv 16@5x5 valid,
max-pool, dense 120, dense 84, softmax 10; ReLU, He-normal), Adam, learning rate
{COMMON["learning_rate"]:g} with cosine decay to 1% over all steps, batch
{COMMON["batch_size"]}, seed {SEED} with TensorFlow op determinism on (repeatable on
CPU). Candidates: {cand_text}.

| candidate | epochs | last-epoch training accuracy | validation accuracy | training s | samples/s |
|---|---|---|---|---|---|
{cand_rows}

Per epoch of the selected run (training loss and accuracy; with augmentation these are
on augmented images):

| epoch | loss | accuracy | wall s |
|---|---|---|---|
{rows}

### Earlier run

{HISTORY}

## Throughput: snpcnn's builder vs plain Keras

Same data (all 60,000 training images, no augmentation, no validation), batch
{COMMON["batch_size"]}, Adam 1e-3, {tp_epochs} epochs each, run one after the other in
this process; median samples/s over the epochs after the first (graph tracing).

| model | params | median samples/s | epoch wall times (s) |
|---|---|---|---|
{tp_rows}

Ratio snpcnn / plain Keras: **{ratio:.2f}** (1.00 = same speed; the two networks are the
same shape, so a difference is noise from the shared machine).

## Machine

- {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, no GPU
- TensorFlow {tf.__version__}, Keras {keras.__version__}, NumPy {np.__version__}
- **Shared machine**: other jobs were running at the same time (1-minute load average
  {load_before[0]:.1f} before and {load_after[0]:.1f} after the run on {os.cpu_count()} cores), so
  wall times and samples/s are pessimistic and noisy; the accuracy is not affected.
"""
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0 if test_accuracy >= 0.99 else 2


if __name__ == "__main__":
    sys.exit(main())
