"""Select the hyperparameters of ``snpcnn_default`` by inner-validation Pearson r only.

Each configuration (architecture variant + training settings) is cross-validated
with :func:`snpcnn.cv.cross_validate` on a subset of the folds (the other folds are
skipped through the ``skip`` hook, so nothing is fitted on them).  The selection
score is ``results.inner_validation``: the Pearson r of the CNN on the inner
validation split of each training part, which never sees a test fold.  Test-fold
metrics of these tuning runs are neither printed nor stored.

Run (one configuration, one data set)::

    .venv/bin/python benchmarks/tuning/tune_default.py --data wheat --config wide_std
    .venv/bin/python benchmarks/tuning/tune_default.py --data mice --config wide_std

Each run appends one JSON line to ``benchmarks/tuning/results.jsonl``.

``--nested K`` scores differently, by nested cross-validation: one outer test fold
(wheat: the first shipped fold; mice: a random fifth, seed 0) is set aside and never
used; a K-fold CV (seed 0) runs on the remaining samples, with GBLUP on the same inner
folds, and the score is the Pearson r on those inner test folds.  Unlike the
inner-validation r, that score is not inflated by early stopping on the rows it is
measured on.  Nested runs append to ``benchmarks/tuning/nested.jsonl``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"
OUT = Path(__file__).resolve().parent / "results.jsonl"
NESTED_OUT = Path(__file__).resolve().parent / "nested.jsonl"

WHEAT_TRAITS = ["GY_E1", "GY_E2", "GY_E3", "GY_E4"]
MICE_TRAITS = ["Obesity.BMI", "Obesity.BodyLength"]

# The architecture before this tuning (snpcnn_default.toml as of commit ce54ff7).
ORIGINAL = {
    "name": "snpcnn_default",
    "defaults": {
        "activation": "elu",
        "kernel_initializer": "he_normal",
        "batch_norm": False,
        "l2": 0.0,
    },
    "blocks": [
        {"name": "conv1", "type": "conv", "filters": 16, "kernel_size": 4, "strides": 4},
        {"name": "conv2", "type": "conv", "filters": 32, "kernel_size": 4, "strides": 4},
        {"name": "conv3", "type": "conv", "filters": 32, "kernel_size": 4, "strides": 4},
        {"name": "flatten", "type": "flatten"},
        {"name": "fc1", "type": "dense", "units": 32, "l2": 1e-4, "dropout": 0.3},
    ],
}
TRAIN0 = dict(
    scaling="center",
    epochs=60,
    batch_size=32,
    learning_rate=1e-3,
    patience=10,
    n_seeds=1,
    linear_init="zeros",  # the configurations before the ridge start existed
)


def arch(linear_l2=None, fc_l2=1e-4, dropout=0.3, conv_l2=0.0, units=32):
    a = copy.deepcopy(ORIGINAL)
    a["defaults"]["l2"] = conv_l2
    a["blocks"][-1].update(l2=fc_l2, dropout=dropout, units=units)
    if linear_l2 is not None:
        a["linear"] = {"l2": linear_l2}
    return a


def cfg(a, **train):
    return {"model": a, **{**TRAIN0, **train}}


CONFIGS = {
    "original": cfg(ORIGINAL),
    "orig_std": cfg(ORIGINAL, scaling="standardize"),
    "orig_lr1e-4": cfg(ORIGINAL, learning_rate=1e-4, epochs=100, patience=15),
    "wide_std": cfg(arch(linear_l2=1e-3), scaling="standardize"),
    # linear path started at the fold's ridge solution (frozen); convs learn the residual
    "wide_std_ridge": cfg(arch(linear_l2=1e-3), scaling="standardize", linear_init="ridge"),
    "wide_std_ridge_3seeds": cfg(
        arch(linear_l2=1e-3), scaling="standardize", linear_init="ridge", n_seeds=3
    ),
    # ridge of all training rows; convolutions learn its exact leave-one-out residuals
    "wide_std_ridge_loo": cfg(arch(linear_l2=1e-3), scaling="standardize", linear_init="ridge_loo"),
    "wide_center_ridge_loo": cfg(arch(linear_l2=1e-3), scaling="center", linear_init="ridge_loo"),
    "wide_center_ridge": cfg(arch(linear_l2=1e-3), scaling="center", linear_init="ridge"),
    "wide_center_ridge_loo_3seeds": cfg(
        arch(linear_l2=1e-3), scaling="center", linear_init="ridge_loo", n_seeds=3
    ),
    "wide_std_ridge_loo_gate": cfg(
        arch(linear_l2=1e-3), scaling="standardize", linear_init="ridge_loo", conv_gate=0.05
    ),
    "wide_center_ridge_loo_gate": cfg(
        arch(linear_l2=1e-3), scaling="center", linear_init="ridge_loo", conv_gate=0.05
    ),
    "wide_std_ridge_loo_3seeds": cfg(
        arch(linear_l2=1e-3), scaling="standardize", linear_init="ridge_loo", n_seeds=3
    ),
    "wide_std_l2_1e-2": cfg(arch(linear_l2=1e-2), scaling="standardize"),
    "wide_std_l2_1e-4": cfg(arch(linear_l2=1e-4), scaling="standardize"),
    "wide_std_lr3e-4": cfg(
        arch(linear_l2=1e-3), scaling="standardize", learning_rate=3e-4, epochs=100, patience=15
    ),
    "wide_std_lr1e-4": cfg(
        arch(linear_l2=1e-3), scaling="standardize", learning_rate=1e-4, epochs=100, patience=15
    ),
    "wide_center": cfg(arch(linear_l2=1e-3), scaling="center"),
    "wide_std_b64": cfg(arch(linear_l2=1e-3), scaling="standardize", batch_size=64),
    "wide_std_reg": cfg(
        arch(linear_l2=1e-3, fc_l2=1e-3, dropout=0.5, conv_l2=1e-4), scaling="standardize"
    ),
    "orig_std_b128": cfg(ORIGINAL, scaling="standardize", batch_size=128),
    "wide_std_b128": cfg(arch(linear_l2=1e-3), scaling="standardize", batch_size=128),
    "wide_std_b128_l2_1e-2": cfg(arch(linear_l2=1e-2), scaling="standardize", batch_size=128),
    "wide_std_b128_lr3e-3": cfg(
        arch(linear_l2=1e-3), scaling="standardize", batch_size=128, learning_rate=3e-3
    ),
}


def _load(data: str):
    from snpcnn.io import read_genotypes
    from snpcnn.io.phenotypes import read_phenotypes

    if data == "wheat":
        ex = REPO / "example_data"
        geno = read_genotypes(ex / "wheat.bed")
        pheno = read_phenotypes(ex / "wheat_phenotypes.csv")
        return geno, pheno, WHEAT_TRAITS, {"folds": str(ex / "wheat_cv_folds.csv")}
    m = DATA / "mice"
    geno = read_genotypes(m / "mice.bed")
    pheno = read_phenotypes(
        m / "mice_phenotypes.csv",
        covariates=["GENDER"],
        covariates_path=m / "mice_covariates.csv",
    )
    return geno, pheno, MICE_TRAITS, {"folds": 5, "covariates": ["GENDER"]}


def set_threads(n: int) -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def _outer_training_part(geno, data: str):
    """The genotypes minus one outer test fold (never used by a nested tuning run)."""
    import numpy as np

    from snpcnn.folds import make_folds, read_folds

    ids = np.asarray(geno.samples).astype(str)
    if data == "wheat":
        table = read_folds(REPO / "example_data" / "wheat_cv_folds.csv", ids)
    else:
        table = make_folds(ids, 5, 1, 0)
    first = sorted(table["fold"].unique())[0]
    held = set(table.loc[table["fold"] == first, "sample_id"].astype(str))
    keep = np.array([i not in held for i in ids])
    return geno.subset(samples=keep), int(len(held))


def nested(args, geno, pheno, traits, extra) -> None:
    from snpcnn.cv import cnn_row, cross_validate

    sub, n_held = _outer_training_part(geno, args.data)
    extra = {k: v for k, v in extra.items() if k != "folds"}
    for name in args.config:
        c = CONFIGS[name]
        per_trait, seconds = {}, 0.0
        for trait in traits:
            t0 = time.perf_counter()
            res = cross_validate(
                sub,
                pheno,
                trait,
                folds=args.nested,
                baselines=("gblup",),
                ensemble=False,
                refit=False,
                seed=0,
                **extra,
                **c,
            )
            seconds += time.perf_counter() - t0
            m = res.metrics
            m = m[m["metric"] == "pearson_r"]
            cnn = m[m["model"] == cnn_row(res.models)].sort_values("fold")["value"].to_numpy()
            gb = m[m["model"] == "GBLUP"].sort_values("fold")["value"].to_numpy()
            per_trait[trait] = {
                "cnn_r": float(cnn.mean()),
                "gblup_r": float(gb.mean()),
                "cnn_minus_gblup": float((cnn - gb).mean()),
                "folds_won": int((cnn > gb).sum()),
                "best_epochs": [e for h in res.histories for e in h["best_epochs"]],
            }
        row = {
            "data": args.data,
            "config": name,
            "inner_folds": args.nested,
            "outer_held_out": n_held,
            "mean_cnn_r": sum(v["cnn_r"] for v in per_trait.values()) / len(per_trait),
            "mean_gblup_r": sum(v["gblup_r"] for v in per_trait.values()) / len(per_trait),
            "per_trait": per_trait,
            "seconds": seconds,
            "spec": {k: v for k, v in c.items() if k != "model"},
        }
        print(json.dumps({k: row[k] for k in ("data", "config", "mean_cnn_r", "mean_gblup_r")}))
        for t, v in per_trait.items():
            print(
                f"   {t}: CNN {v['cnn_r']:.3f} GBLUP {v['gblup_r']:.3f} "
                f"won {v['folds_won']}/{args.nested} best epochs {v['best_epochs']}"
            )
        with NESTED_OUT.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=["wheat", "mice"], required=True)
    ap.add_argument("--config", choices=sorted(CONFIGS), required=True, nargs="+")
    ap.add_argument("--n-folds", type=int, default=3, help="use the first N folds only")
    ap.add_argument("--traits", nargs="+", default=None)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--nested", type=int, default=0, metavar="K", help="score by nested K-fold CV instead"
    )
    args = ap.parse_args(argv)
    set_threads(args.threads)
    from snpcnn.cv import cross_validate

    geno, pheno, traits, extra = _load(args.data)
    traits = args.traits or traits
    if args.nested:
        nested(args, geno, pheno, traits, extra)
        return
    for name in args.config:
        c = CONFIGS[name]
        per_trait, seconds = {}, 0.0
        for trait in traits:
            seen = []

            def skip(r, f, seen=seen):
                seen.append((r, f))
                if len(seen) <= args.n_folds:
                    return None
                return {"metrics": [], "predictions": [], "history": None}

            t0 = time.perf_counter()
            res = cross_validate(
                geno,
                pheno,
                trait,
                baselines=(),
                ensemble=False,
                refit=False,
                seed=0,
                skip=skip,
                **extra,
                **c,
            )
            seconds += time.perf_counter() - t0
            iv = res.inner_validation
            per_trait[trait] = {
                "inner_val_r": float(iv["inner_val_pearson_r"].mean()),
                "n_nan": int(iv["inner_val_pearson_r"].isna().sum()),
                "best_epochs": [e for h in res.histories for e in h["best_epochs"]],
                "samples_per_s": res.timings["cnn_train_samples_per_second"],
            }
        mean = sum(v["inner_val_r"] for v in per_trait.values()) / len(per_trait)
        row = {
            "data": args.data,
            "config": name,
            "n_folds": args.n_folds,
            "mean_inner_val_r": mean,
            "per_trait": per_trait,
            "seconds": seconds,
            "spec": {k: v for k, v in c.items() if k != "model"},
            "linear": c["model"].get("linear"),
            "fc1": c["model"]["blocks"][-1],
        }
        print(json.dumps({k: row[k] for k in ("data", "config", "mean_inner_val_r", "seconds")}))
        print("  ", {t: round(v["inner_val_r"], 3) for t, v in per_trait.items()})
        with OUT.open("a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
