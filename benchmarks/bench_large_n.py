"""Large-n GBLUP and ridge (snpcnn.baselines.large_n): accuracy against the exact path, the
switch size, and time / peak RSS of 5-fold GBLUP + ridge at 20,000 x 50,000.

    python benchmarks/bench_large_n.py accuracy            # wheat, mice, 5,000-sample simulation
    python benchmarks/bench_large_n.py switch --sizes 1000,2000,3000,4000,6000 --snps 10000
    python benchmarks/bench_large_n.py scale --n 20000 --snps 50000 --folds 5 --threads 2

``accuracy``: the same folds, the exact path (``solver="exact"``) next to the large-n path
(``solver="iterative"``) with its default subsample (3,000 rows: on wheat and mice that is
every training row, so only the CG solve differs) and with a subsample of half the
training rows (the variance-ratio estimate then really comes from a subsample).  Pearson r
of each fold's test predictions; the table gives mean r and the largest per-fold |r
difference|.  ``switch``: seconds per fit of both paths on simulated int8 data, one BLAS
thread.  ``scale``: a child process generates an int8 matrix (row chunks; no float copy),
runs K-fold GBLUP + ridge with ``solver="auto"`` (iterative at this size) and reports wall
time per fold and the child's peak RSS (``getrusage``).  Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from snpcnn.baselines import GBLUP, RidgeRegression  # noqa: E402
from snpcnn.threads import apply_threads, blas_threads  # noqa: E402

DATA = (REPO / ".." / "shared" / "data").resolve()
MODELS = {"GBLUP": GBLUP, "ridge": RidgeRegression}


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# ----------------------------------------------------------------------------- data
def _plink(stem: Path):
    from bed_reader import open_bed

    with open_bed(stem.with_suffix(".bed"), count_A1=True) as bed:
        X = bed.read(dtype="int8")
        iid = np.asarray(bed.iid, dtype=str)
    X[X < 0] = -1
    return X, iid


def _filled(X: np.ndarray, tr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Rows ``rows`` as int8 if nothing is missing, else float64 with training means."""
    sub = X[rows]
    if not (sub < 0).any():
        return sub
    xt = X[tr].astype(np.float64)
    xt[xt < 0] = np.nan
    fill = np.nan_to_num(np.nanmean(xt, axis=0))
    out = sub.astype(np.float64)
    miss = out < 0
    out[miss] = np.broadcast_to(fill, out.shape)[miss]
    return out


def wheat():
    import pandas as pd

    X, iid = _plink(DATA / "wheat" / "wheat")
    ex = REPO / "example_data"
    ph = pd.read_csv(ex / "wheat_phenotypes.csv", dtype={"sample_id": str}).set_index("sample_id")
    folds = pd.read_csv(ex / "wheat_cv_folds.csv", dtype={"sample_id": str})
    folds = folds.set_index("sample_id")["cv_fold"].loc[iid].to_numpy()
    for t in ("GY_E1", "GY_E2", "GY_E3", "GY_E4"):
        yield f"wheat {t}", X, ph.loc[iid, t].to_numpy(float), None, folds


def mice():
    import pandas as pd

    X, iid = _plink(DATA / "mice" / "mice")
    ph = pd.read_csv(DATA / "mice" / "mice_phenotypes.csv", dtype={"sample_id": str})
    cov = pd.read_csv(DATA / "mice" / "mice_covariates.csv", dtype={"sample_id": str})
    ph, cov = ph.set_index("sample_id").loc[iid], cov.set_index("sample_id").loc[iid]
    C = np.column_stack([(cov["GENDER"] == "M").to_numpy(float), cov["Litter"].to_numpy(float)])
    folds = np.random.default_rng(0).permutation(len(iid)) % 5
    for t in ("Obesity.BMI", "Obesity.BodyLength"):
        y = ph[t].to_numpy(float)
        ok = np.isfinite(y) & np.isfinite(C).all(axis=1)
        yield f"mice {t} (+GENDER, Litter)", X[ok], y[ok], C[ok], folds[ok]


def simulation(n: int = 5000, m: int = 10000):
    from snpcnn.simulate import simulate_genotypes, simulate_phenotype

    g = simulate_genotypes(n, m, seed=1)
    y, _ = simulate_phenotype(g, n_causal=500, h2=0.5, seed=1)
    folds = np.random.default_rng(0).permutation(n) % 5
    yield (
        f"simulation {n:,} x {m:,} (h2 0.5, 500 causal)",
        g.dosages,
        y.to_numpy(float),
        None,
        folds,
    )


# ------------------------------------------------------------------------- accuracy
def accuracy(args) -> None:
    apply_threads(args.threads)
    sets = []
    if "wheat" in args.data:
        sets += list(wheat())
    if "mice" in args.data:
        sets += list(mice())
    if "sim" in args.data:
        sets += list(simulation())
    print(
        "| data | model | n train | exact r | iterative r (subsample 3,000) | max fold abs(diff) "
        "| iterative r (subsample n/2) | max fold abs(diff) | s exact / iterative |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, X, y, C, folds in sets:
        for label, cls in MODELS.items():
            rs = {"exact": [], "it": [], "half": []}
            secs = {"exact": 0.0, "it": 0.0}
            n_tr = []
            for k in np.unique(folds):
                te, tr = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
                ok = np.isfinite(y[tr])
                tr = tr[ok]
                te = te[np.isfinite(y[te])]
                n_tr.append(len(tr))
                Xtr, Xte = _filled(X, tr, tr), _filled(X, tr, te)
                c_tr = None if C is None else C[tr]
                c_te = None if C is None else C[te]
                for key, params in (
                    ("exact", {"solver": "exact"}),
                    ("it", {"solver": "iterative"}),
                    ("half", {"solver": "iterative", "subsample": len(tr) // 2}),
                ):
                    t0 = time.perf_counter()
                    with blas_threads():
                        model = cls(**params).fit(
                            Xtr.astype(np.float64) if key == "exact" else Xtr, y[tr], c_tr
                        )
                        p = model.predict(Xte, c_te)
                    if key in secs:
                        secs[key] += time.perf_counter() - t0
                    rs[key].append(pearson(p, y[te]))
            e, i, h = (np.array(rs[k]) for k in ("exact", "it", "half"))
            print(
                f"| {name} | {label} | {int(np.mean(n_tr)):,} | {e.mean():.4f} | {i.mean():.4f} "
                f"| {np.abs(i - e).max():.4f} | {h.mean():.4f} | {np.abs(h - e).max():.4f} "
                f"| {secs['exact']:.1f} / {secs['it']:.1f} |",
                flush=True,
            )


# --------------------------------------------------------------------------- switch
def _sim_int8(n: int, m: int, seed: int, chunk: int = 2000):
    """int8 HWE genotypes (row chunks, no float copy) and a trait with h2 = 0.5."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.05, 0.5, m).astype(np.float32)
    lo, hi = f * f, 1 - (1 - f) ** 2
    X = np.empty((n, m), dtype=np.int8)
    effects = (rng.normal(size=m) * (rng.random(m) < 0.05)).astype(np.float32)
    g = np.empty(n)
    for s in range(0, n, chunk):
        u = rng.random((min(chunk, n - s), m), dtype=np.float32)
        X[s : s + len(u)] = (u < lo).astype(np.int8) + (u < hi)
        g[s : s + len(u)] = (X[s : s + len(u)] - 2 * f) @ effects
    g = (g - g.mean()) / g.std() * np.sqrt(0.5)
    return X, g + rng.normal(size=n) * np.sqrt(0.5)


def switch(args) -> None:
    apply_threads(1)
    print("| n | SNPs | model | exact s | iterative s | CG iterations |")
    print("|---|---|---|---|---|---|")
    for n in (int(s) for s in args.sizes.split(",")):
        X, y = _sim_int8(n, args.snps, seed=n)
        for label, cls in MODELS.items():
            t = {}
            for solver in ("exact", "iterative"):
                if solver == "exact" and n > args.max_exact:
                    t[solver] = None
                    continue
                t0 = time.perf_counter()
                with blas_threads(1):
                    model = cls(solver=solver).fit(X, y)
                t[solver] = time.perf_counter() - t0
            ex = "-" if t["exact"] is None else f"{t['exact']:.1f}"
            print(
                f"| {n:,} | {args.snps:,} | {label} | {ex} | {t['iterative']:.1f} "
                f"| {getattr(model, 'cg_iterations_', 0)} |",
                flush=True,
            )


# ---------------------------------------------------------------------------- scale
def _scale_child(args) -> None:
    apply_threads(args.threads)
    t0 = time.perf_counter()
    X, y = _sim_int8(args.n, args.snps, seed=7)
    t_gen = time.perf_counter() - t0
    folds = np.random.default_rng(0).permutation(args.n) % args.folds
    out = {"generate_s": t_gen, "folds": []}
    for k in range(min(args.folds, args.max_folds or args.folds)):
        te, tr = np.flatnonzero(folds == k), np.flatnonzero(folds != k)
        Xtr = X[tr]  # int8 copy of the training rows
        row = {"fold": k, "n_train": len(tr)}
        for label in ("gblup", "ridge"):
            from snpcnn.baselines import make_baseline

            t1 = time.perf_counter()
            with blas_threads():
                model = make_baseline(label).fit(Xtr, y[tr])
                p = model.predict(X[te])
            row[f"{label}_s"] = time.perf_counter() - t1
            row[f"{label}_r"] = pearson(p, y[te])
            row[f"{label}_cg"] = getattr(model, "cg_iterations_", 0)
            row[f"{label}_solver"] = model.solver_
        del Xtr
        ru = resource.getrusage(resource.RUSAGE_SELF)
        row["rss_gb"] = ru.ru_maxrss / 1024**2
        row["cpu_s"] = ru.ru_utime + ru.ru_stime
        out["folds"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    out["total_s"] = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_SELF)
    out["peak_rss_gb"] = ru.ru_maxrss / 1024**2
    out["cpu_s"] = ru.ru_utime + ru.ru_stime
    print(json.dumps(out))


def scale(args) -> None:
    cmd = [sys.executable, __file__, "_scale_child", "--n", str(args.n), "--snps", str(args.snps)]
    cmd += ["--folds", str(args.folds), "--threads", str(args.threads)]
    cmd += ["--max-folds", str(args.max_folds or args.folds)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=dict(os.environ))
    out = json.loads(res.stdout.strip().splitlines()[-1])
    print(f"{args.n:,} x {args.snps:,} int8, {args.folds}-fold, {args.threads} threads")
    print(
        "| fold | n train | GBLUP s | GBLUP r | ridge s | ridge r | CG iterations (GBLUP/ridge) |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in out["folds"]:
        print(
            f"| {r['fold']} | {r['n_train']:,} | {r['gblup_s']:.1f} | {r['gblup_r']:.3f} "
            f"| {r['ridge_s']:.1f} | {r['ridge_r']:.3f} | {r['gblup_cg']}/{r['ridge_cg']} |"
        )
    fit_s = sum(r["gblup_s"] + r["ridge_s"] for r in out["folds"])
    done = len(out["folds"])
    print(
        f"\ngenerate {out['generate_s']:.0f} s; GBLUP + ridge over {done} fold(s): {fit_s:.0f} s"
        + (
            f" (x {args.folds / done:.1f} = {fit_s * args.folds / done:.0f} s for {args.folds})"
            if done < args.folds
            else ""
        )
        + f"; child total {out['total_s']:.0f} s wall, {out['cpu_s']:.0f} s CPU; "
        f"peak RSS {out['peak_rss_gb']:.2f} GB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--data", default="wheat,mice,sim")
    a.add_argument("--threads", type=int, default=None)
    s = sub.add_parser("switch")
    s.add_argument("--sizes", default="1000,2000,3000,4000")
    s.add_argument("--snps", type=int, default=10000)
    s.add_argument("--max-exact", type=int, default=6000)
    for name in ("scale", "_scale_child"):
        c = sub.add_parser(name)
        c.add_argument("--n", type=int, default=20000)
        c.add_argument("--snps", type=int, default=50000)
        c.add_argument("--folds", type=int, default=5)
        c.add_argument("--max-folds", type=int, default=None)
        c.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    {"accuracy": accuracy, "switch": switch, "scale": scale, "_scale_child": _scale_child}[
        args.cmd
    ](args)


if __name__ == "__main__":
    main()
