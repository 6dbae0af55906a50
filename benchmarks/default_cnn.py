"""Final cross-validation of the default CNN (``snpcnn_default`` + the training defaults).

Runs, once, every fold of:

* wheat GY_E1..GY_E4, the 10 folds BGLR ships (``example_data/wheat_cv_folds.csv``);
* mice Obesity.BMI and Obesity.BodyLength, 5 random folds (seed 0), ``GENDER`` as a
  covariate in every model;

with the CNN, GBLUP, ridge and the CNN+GBLUP average on the same folds (one
``cross_validate`` call per trait, all defaults), and writes ``docs/bench/default_cnn.md``.
The configuration was chosen beforehand by inner-validation r
(``benchmarks/tuning/tune_default.py``, ``benchmarks/tuning/LOG.md``).

Run::

    .venv/bin/python benchmarks/default_cnn.py --data wheat   # -> benchmarks/tuning/final_wheat.json
    .venv/bin/python benchmarks/default_cnn.py --data mice    # -> benchmarks/tuning/final_mice.json
    .venv/bin/python benchmarks/default_cnn.py --speed        # -> benchmarks/tuning/speed.json
    .venv/bin/python benchmarks/default_cnn.py --render       # -> docs/bench/default_cnn.md

``--speed`` times ``model.fit`` of the default architecture with the default batch size
on random standardised dosages at 1k, 10k and 100k SNPs (samples / epoch wall time,
median over epochs 2..5; the first epoch, with graph tracing, is discarded), and
``model.predict`` (batch 256; median over calls 2..4).  On a GPU it writes
``speed_gpu.json`` instead of ``speed.json`` (``benchmarks/gpu_check.sh`` runs it there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
STORE = REPO / "benchmarks" / "tuning"
DOC = REPO / "docs" / "bench" / "default_cnn.md"
MODELS = ["CNN", "GBLUP", "ridge", "CNN+GBLUP"]


def _load(data: str):
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    if data == "wheat":
        ex = REPO / "example_data"
        return (
            read_genotypes(ex / "wheat.bed"),
            read_phenotypes(ex / "wheat_phenotypes.csv"),
            ["GY_E1", "GY_E2", "GY_E3", "GY_E4"],
            {"folds": str(ex / "wheat_cv_folds.csv"), "refit": True},
        )
    m = DATA / "mice"
    return (
        read_genotypes(m / "mice.bed"),
        read_phenotypes(
            m / "mice_phenotypes.csv",
            covariates=["GENDER"],
            covariates_path=m / "mice_covariates.csv",
        ),
        ["Obesity.BMI", "Obesity.BodyLength"],
        {"folds": 5, "seed": 0, "covariates": ["GENDER"], "refit": False},
    )


def run(data: str, threads: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from snpcnn.cv import HYBRID_NAME, TRAIN_DEFAULTS, cross_validate

    geno, pheno, traits, extra = _load(data)
    out = {"data": data, "extra": extra, "train_defaults": TRAIN_DEFAULTS, "traits": {}}
    for trait in traits:
        t0 = time.perf_counter()
        res = cross_validate(geno, pheno, trait, **extra)
        wall = time.perf_counter() - t0
        m = res.metrics[res.metrics["metric"] == "pearson_r"]
        # this study's tables call the CNN's row "CNN" (the hybrid's name since session 13)
        m = m.replace({"model": {HYBRID_NAME: "CNN"}})
        paired = res.paired("GBLUP").replace({"model": {HYBRID_NAME: "CNN"}})
        out["traits"][trait] = {
            "per_fold": m[["fold", "model", "value", "status"]].to_dict("records"),
            "paired": paired.to_dict("records"),
            "inner_val_r": float(res.inner_validation["inner_val_pearson_r"].mean()),
            # per fold: epochs the convolutions were trained for (0 = ridge start kept)
            "best_epochs": [e for h in res.histories for e in h["best_epochs"]],
            "timings": res.timings,
            "wall_seconds": wall,
            "device": res.device,
            "notes": res.notes,
        }
        s = m.groupby("model")["value"].agg(["mean", "std"])
        print(trait, f"{wall:.0f}s", s.round(3).to_dict("index"), flush=True)
    out["date"] = dt.date.today().isoformat()
    out["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPU cores visible, TF threads {threads}"
    )
    (STORE / f"final_{data}.json").write_text(json.dumps(out, indent=1, default=str))


def speed(threads: int, snps=(1_000, 10_000, 100_000), out: Path | None = None) -> Path:
    """Training and prediction throughput of the default at 1k/10k/100k SNPs.

    Writes ``speed.json`` on CPU and ``speed_gpu.json`` where the Keras backend sees a GPU
    (or ``out``), so a GPU run adds its rows without replacing the CPU ones.  ``threads``
    applies to TensorFlow only.
    """
    import keras
    import numpy as np

    from snpcnn.backend import backend_name, device_description
    from snpcnn.cv import TRAIN_DEFAULTS
    from snpcnn.models import build_model, compile_model, count_params
    from snpcnn.report import library_versions

    if backend_name() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)

    device = device_description()
    gpu = device.startswith("GPU")

    class Timer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

    rows = []
    rng = np.random.default_rng(0)
    for n_snps in snps:
        n = 2048 if n_snps <= 10_000 else 512
        if gpu:
            n *= 4  # enough work per epoch to time a fast device
        x = rng.standard_normal((n, n_snps, 1)).astype("float32")
        y = rng.standard_normal((n, 1)).astype("float32")
        keras.utils.set_random_seed(0)
        model = compile_model(build_model("snpcnn_default", (n_snps, 1)), "regression")
        timer = Timer()
        model.fit(
            x, y, batch_size=TRAIN_DEFAULTS["batch_size"], epochs=5, verbose=0, callbacks=[timer]
        )
        rates = [n / t for t in timer.times[1:]]
        # prediction as cross_validate and `snpcnn predict` call it (batch 256); the first
        # call, which traces the graph, is discarded
        pred_rates = []
        for _ in range(4):
            t0 = time.perf_counter()
            model.predict(x, batch_size=256, verbose=0)
            pred_rates.append(n / (time.perf_counter() - t0))
        pred_rates = pred_rates[1:]
        rows.append(
            {
                "n_snps": n_snps,
                "params": count_params(model)["total"],
                "samples_per_epoch": n,
                "batch_size": TRAIN_DEFAULTS["batch_size"],
                "median_samples_per_s": float(np.median(rates)),
                "per_epoch": [round(r) for r in rates],
                "predict_batch_size": 256,
                "median_predict_samples_per_s": float(np.median(pred_rates)),
                "per_predict_call": [round(r) for r in pred_rates],
            }
        )
        print(rows[-1], flush=True)
        keras.backend.clear_session()
    record = {
        "rows": rows,
        "threads": threads,
        "device": device,
        "date": dt.date.today().isoformat(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores visible",
        "versions": {
            k: v
            for k, v in library_versions().items()
            if k in ("python", "tensorflow", "keras", "keras_backend", "jax", "jaxlib")
        },
    }
    path = out or STORE / ("speed_gpu.json" if gpu else "speed.json")
    path.write_text(json.dumps(record, indent=1))
    return path


def _speed_section(d: dict) -> list[str]:
    import pandas as pd

    device = d.get("device", "CPU")
    backend = d.get("versions", {}).get("keras_backend", "tensorflow")
    threads = (
        f"{d['threads']} TF threads" if backend == "tensorflow" else f"Keras backend {backend}"
    )
    has_pred = "median_predict_samples_per_s" in d["rows"][0]
    rows = []
    for r in d["rows"]:
        row = {
            "SNPs": f"{r['n_snps']:,}",
            "params": f"{r['params']:,}",
            "samples/epoch": r["samples_per_epoch"],
            "training: median samples/s": f"{r['median_samples_per_s']:,.0f}",
            "per epoch": ", ".join(map(str, r["per_epoch"])),
        }
        if has_pred:
            row["prediction: median samples/s"] = f"{r['median_predict_samples_per_s']:,.0f}"
            row["per call"] = ", ".join(map(str, r["per_predict_call"]))
        rows.append(row)
    return [
        f"## Training and prediction throughput of the default: {device}",
        "",
        f"`--speed`: `model.fit` of `snpcnn_default` (batch {d['rows'][0]['batch_size']}, "
        f"Adam, masked MSE) on random standardised dosages, {threads}, "
        f"{d['machine']}, {d['date']}; training samples/s = samples per epoch / epoch wall "
        "time, median over epochs 2..5"
        + (
            "; prediction samples/s = samples / wall time of `model.predict` (batch 256), "
            "median over calls 2..4"
            if has_pred
            else ""
        )
        + (
            " (a device machine lent for the run; its first run after the JAX fix, "
            "docs/bench/full_runs.md)."
            if device.startswith("GPU")
            else " (machine shared with other jobs)."
        ),
        "",
        _markdown(pd.DataFrame(rows)),
        "",
    ]


def _markdown(df) -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for rec in df.itertuples(index=False):
        out.append("| " + " | ".join(str(v) for v in rec) + " |")
    return "\n".join(out)


def _table(suffix: str = ""):
    """Rows (one per trait), timing rows and run descriptions of ``final_<data><suffix>.json``."""
    import pandas as pd

    rows, timing, runs = [], [], []
    for data in ("wheat", "mice"):
        path = STORE / f"final_{data}{suffix}.json"
        if not path.exists():
            continue
        d = json.loads(path.read_text())
        runs.append(
            f"- {data}: run {d['date']} on {d['machine']}; `cross_validate` defaults "
            f"{d['train_defaults']}; extra arguments {d['extra']}."
        )
        for trait, t in d["traits"].items():
            pf = pd.DataFrame(t["per_fold"])
            pr = pd.DataFrame(t["paired"]).set_index("model") if t["paired"] else None
            row = {"data": data, "trait": trait}
            # RKHS is a default baseline since 2026-12-01; older runs have no RKHS rows
            for mdl in MODELS + (["RKHS"] if (pf["model"] == "RKHS").any() else []):
                v = pf[(pf["model"] == mdl) & (pf["status"] == "ok")]["value"]
                row[mdl] = f"{v.mean():.3f} ± {v.std(ddof=1):.3f}"
                row[f"_{mdl}"] = float(v.mean())
            for mdl in ("CNN", "CNN+GBLUP"):
                if pr is not None and mdl in pr.index:
                    row[f"{mdl} wins/folds"] = f"{pr.loc[mdl, 'wins']}/{pr.loc[mdl, 'n_folds']}"
                    row[f"{mdl} collapsed"] = int(pr.loc[mdl, "n_collapsed"])
            if "best_epochs" in t:
                kept = sum(e > 0 for e in t["best_epochs"])
                row["conv kept (folds)"] = f"{kept}/{len(t['best_epochs'])}"
            row["CNN inner-val r"] = f"{t['inner_val_r']:.3f}"
            rows.append(row)
            tm = t["timings"]
            timing.append(
                {
                    "data": data,
                    "trait": trait,
                    "wall s (whole cross_validate)": f"{t['wall_seconds']:.0f}",
                    "CNN s": f"{tm['cnn_seconds']:.0f}",
                    "baselines s": f"{tm['baseline_seconds']:.0f}",
                    "refit s": f"{tm['refit_seconds']:.0f}",
                    "CNN train samples/s (median over folds)": (
                        f"{tm['cnn_train_samples_per_second']:.0f}"
                    ),
                    "device": t["device"],
                }
            )
    return pd.DataFrame(rows), timing, runs


def _targets(df) -> list[str]:
    import numpy as np

    d_cnn = df["_CNN"] - df["_GBLUP"]
    d_ens = df["_CNN+GBLUP"] - df["_GBLUP"]
    return [
        f"- (a) CNN - GBLUP per trait: {', '.join(f'{x:+.3f}' for x in d_cnn)} -> "
        + ("met" if bool(np.all(d_cnn >= -0.02)) else "**missed**"),
        f"- (b) CNN > GBLUP on {int((d_cnn > 0).sum())} of {len(df)} traits -> "
        + ("met" if (d_cnn > 0).sum() * 2 >= len(df) else "**missed**"),
        f"- (c) mean(CNN+GBLUP - GBLUP) = {d_ens.mean():+.4f} -> "
        + ("met" if d_ens.mean() > 0 else "**missed**"),
    ]


def render() -> None:
    import pandas as pd

    lines = [
        "# The default CNN against GBLUP and ridge",
        "",
        "Regenerate (each data set once, then the table):",
        "",
        "```",
        ".venv/bin/python benchmarks/default_cnn.py --data wheat",
        ".venv/bin/python benchmarks/default_cnn.py --data mice",
        ".venv/bin/python benchmarks/default_cnn.py --render",
        "```",
        "",
    ]
    df, timing, runs = _table()
    if not len(df):
        raise SystemExit("no final_<data>.json yet: run --data wheat / --data mice first")
    show = [c for c in df.columns if not c.startswith("_")]
    lines += runs
    lines += [
        "",
        "Pearson r between predicted and observed on the test folds, mean ± sd over folds "
        "(collapsed folds, i.e. constant predictions, are left out of the mean and counted). "
        "'wins' = folds where the model's r > GBLUP's r. 'conv kept' = folds where the "
        "convolutions' correction passed the inner-validation gate (otherwise the CNN "
        "predicts exactly its ridge start).",
        "",
        _markdown(df[show]),
        "",
        "Targets: (a) CNN within 0.02 of GBLUP on every trait; (b) CNN > GBLUP on at least "
        "half the traits; (c) CNN+GBLUP > GBLUP on average.",
        "",
        *_targets(df),
        "",
        "Reading: the default is a wide & deep CNN whose linear SNP path is the training "
        "rows' ridge (RR-BLUP on standardised dosages), frozen; the convolutions are fitted "
        "to its leave-one-out residuals and their correction is kept only when it lowers the "
        "inner-validation squared error significantly (`linear_init='ridge_loo'`, "
        "`conv_gate=0.05`, docs/models.md). It was chosen by nested CV inside the training "
        "data (`benchmarks/tuning/LOG.md`, session 3); this is its one full run on these "
        "test folds. The nested tuning set aside wheat's shipped fold 1 and a random fifth "
        "of the mice; the other test folds here overlap the rows that tuning used, as for "
        "every earlier tuning score. GBLUP and ridge use the same SNPs; `GENDER` is a "
        "covariate of every model on mice. Where the CNN and ridge differ by a few "
        "thousandths with no convolutions kept, the difference is the scaling: the CNN's "
        "ridge uses standardised dosages, the ridge baseline centred ones (as GBLUP).",
        "",
    ]
    old, _, old_runs = _table("_v1_ridge")
    if len(old):
        oshow = [c for c in old.columns if not c.startswith("_")]
        lines += [
            "## The previous default (`linear_init='ridge'`, no gate), same folds",
            "",
            "Ridge on the inner-training rows only, convolutions fitted to its in-sample "
            "residuals, any inner-validation gain kept; chosen by inner-validation r.",
            "",
            *old_runs,
            "",
            _markdown(old[oshow]),
            "",
            *_targets(old),
            "",
            "History on GY_E1 (same folds): original default 0.414 (1/10 folds won vs "
            "GBLUP); linear path trained jointly from zero 0.440 (2/10); ridge start 0.523 "
            "(7/10). Where it trailed GBLUP (E2, E4) the convolutions overfit the residual: "
            "their inner-validation gain, measured on the rows early stopping had used, did "
            "not carry over to the test folds.",
            "",
        ]
    lines += [
        "## Wall times",
        "",
        "The machine (2 CPU cores) was shared with other jobs while this ran; times are "
        "upper bounds.",
        "",
        _markdown(pd.DataFrame(timing)),
        "",
    ]
    for sp in (STORE / "speed.json", STORE / "speed_gpu.json"):
        if sp.exists():
            lines += _speed_section(json.loads(sp.read_text()))
    if not (STORE / "speed_gpu.json").exists():
        lines += [
            "GPU: not measured (no GPU on the machines these runs had). On a lent GPU "
            "machine, `bash benchmarks/gpu_check.sh run OUTDIR` (after `... prepare` here) "
            "measures the same table and the full `snpcnn fit` times, on Keras's JAX backend.",
            "",
        ]
    DOC.write_text("\n".join(lines))
    print("\n".join(lines))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=["wheat", "mice"])
    ap.add_argument("--render", action="store_true")
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--snps", type=int, nargs="+", default=[1_000, 10_000, 100_000], help="for --speed"
    )
    ap.add_argument("--speed-out", type=Path, help="for --speed: write here instead")
    a = ap.parse_args(argv)
    if a.data:
        run(a.data, a.threads)
    if a.speed:
        print("wrote", speed(a.threads, tuple(a.snps), a.speed_out))
    if a.render:
        render()


if __name__ == "__main__":
    main()
