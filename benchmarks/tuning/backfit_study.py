"""Study (session 55, issue 16): where v19 lost the headroom on a pair trait drawn on the real
mice genotypes, and whether refitting the GBLUP start around the convolutions recovers it.

The trait: ``snpcnn simulate --genotypes ../shared/data/mice/mice.bed --architecture
local_epistasis --loci 10 --h2 0.6 --seed 4 --out DIR`` (10 pure interacting pairs; ceiling
0.783 on all samples).  One random 5-fold split, ``KFold(5, shuffle=True, random_state=0)``;
Pearson r on the test folds.  Three parts:

``shares``  each pair's share of the (purified) genetic variance, and least squares on the
            true pairs' quadratic terms (x_a, x_b, x_a^2, x_b^2, x_a x_b): the capacity a
            model with the right windows has.
``start``   the GBLUP-like start (kernel ridge on all SNPs, penalty by leave-one-out on a grid)
            plus least squares on the given pairs' terms, fitted on the start's
            leave-one-out residuals (the v19 design), against the start refitted on y minus
            the correction's out-of-fold prediction (v20's backfit).
``nets``    the default's own networks (``train_cnn``, ``[linear] kernel = "none"``: the GBLUP
            start v19 chose in every fold of this trait) with training variants, and with
            ``[linear] backfit = 2``; slow (about 100-190 s per fit on 2 cores).

    .venv/bin/python benchmarks/tuning/backfit_study.py DIR shares
    .venv/bin/python benchmarks/tuning/backfit_study.py DIR start --pairs 2,4,6
    .venv/bin/python benchmarks/tuning/backfit_study.py DIR nets --folds 0 --variants A,G

Session 55's numbers (docs/bench/backfit_v20.md): shares 0.815 / 0.091 / 0.048 (pairs 4, 2,
6); least squares on pairs 2, 4, 6 0.744, on all ten 0.772; start + correction 0.705 vs
refitted 0.745; nets on fold 0: A 0.725, B 0.726, C 0.726, D 0.724, E 0.729, F 0.724, G 0.761.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

ROOT = Path(__file__).resolve().parents[2]
MICE = ROOT.parent / "shared" / "data" / "mice" / "mice.bed"
PRESET = ROOT / "snpcnn" / "presets" / "snpcnn_default_v19.toml"


def _data(trait_dir: Path):
    from snpcnn.io import read_genotypes

    g = read_genotypes(MICE)
    d = np.asarray(g.dosages).astype(np.float64)
    d[d < 0] = np.nan
    ph = pd.read_csv(trait_dir / "phenotypes.csv").set_index("sample_id")
    y = ph.loc[list(g.samples)].iloc[:, 0].to_numpy(np.float64)
    causal = pd.read_csv(trait_dir / "causal.csv")
    pairs = causal.groupby("group")["index"].apply(list).to_dict()
    effect = causal.groupby("group")["effect"].first().to_dict()
    return d, y, pairs, effect


def _filled(d: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(d), np.nanmean(d, axis=0), d)


def _terms(d: np.ndarray, pairs: dict, groups) -> np.ndarray:
    cols = []
    for k in groups:
        a, b = pairs[k]
        xa, xb = d[:, a], d[:, b]
        cols += [xa, xb, xa * xa, xb * xb, xa * xb]
    return np.column_stack(cols)


def _ols(f: np.ndarray, t: np.ndarray) -> np.ndarray:
    coef, *_ = np.linalg.lstsq(np.column_stack([np.ones(len(f)), f]), t, rcond=None)
    return coef


def _ols_predict(coef: np.ndarray, f: np.ndarray) -> np.ndarray:
    return np.column_stack([np.ones(len(f)), f]) @ coef


def _folds(n: int):
    return KFold(5, shuffle=True, random_state=0).split(np.arange(n))


def shares(trait_dir: Path) -> None:
    d, y, pairs, effect = _data(trait_dir)
    d = _filled(d)
    causal = np.concatenate(list(pairs.values()))
    x = d[:, causal]
    design = np.column_stack([np.ones(len(d)), x, (x == 1).astype(float)])
    parts = {}
    for k, (a, b) in pairs.items():
        gk = effect[k] * (d[:, a] - d[:, a].mean()) * (d[:, b] - d[:, b].mean())
        coef, *_ = np.linalg.lstsq(design, gk, rcond=None)
        parts[k] = gk - design @ coef
    total = sum(parts.values())
    for k in pairs:
        r2 = np.corrcoef(d[:, pairs[k][0]], d[:, pairs[k][1]])[0, 1] ** 2
        print(
            f"pair {k}: effect {effect[k]:+.2f}, LD r^2 {r2:.2f}, "
            f"share of var(g) {parts[k].var() / total.var():.3f}"
        )
    print(f"ceiling corr(g, y) {np.corrcoef(total, y)[0, 1]:.3f}")
    ranked = sorted(pairs, key=lambda k: -parts[k].var())
    for name, groups in (("top 3", ranked[:3]), ("all", list(pairs))):
        f = _terms(d, pairs, groups)
        rs = [
            np.corrcoef(_ols_predict(_ols(f[tr], y[tr]), f[te]), y[te])[0, 1]
            for tr, te in _folds(len(y))
        ]
        print(f"least squares on the true terms of {name} pairs {groups}: r {np.mean(rs):.3f}")


def _kernel_ridge(k: np.ndarray, t: np.ndarray):
    """Kernel ridge on a grid of penalties, chosen by exact leave-one-out: (dual, loo)."""
    best = None
    for lam in np.logspace(-2, 2, 17):
        inv = np.linalg.inv(k + lam * np.eye(len(t)))
        dual = inv @ t
        loo = dual / np.diag(inv)  # leave-one-out residuals
        if best is None or np.mean(loo**2) < best[0]:
            best = (np.mean(loo**2), dual, loo)
    return best[1], best[2]


def start(trait_dir: Path, groups: list[int]) -> None:
    d, y, pairs, _ = _data(trait_dir)
    d = _filled(d)
    f = _terms(d, pairs, groups)
    out = {"start": [], "start + correction": [], "refitted start + correction": []}
    for tr, te in _folds(len(y)):
        x = d - d[tr].mean(axis=0)
        k_tr = x[tr] @ x[tr].T / x.shape[1]
        k_te = x[te] @ x[tr].T / x.shape[1]
        mu = y[tr].mean()
        dual, loo = _kernel_ridge(k_tr, y[tr] - mu)
        p_start = mu + k_te @ dual
        coef = _ols(f[tr], loo)  # the correction, on the start's leave-one-out residuals
        oof = np.zeros(len(tr))
        for itr, ite in KFold(5, shuffle=True, random_state=1).split(tr):
            oof[ite] = _ols_predict(_ols(f[tr][itr], loo[itr]), f[tr][ite])
        target = y[tr] - oof
        dual2, _ = _kernel_ridge(k_tr, target - target.mean())
        preds = {
            "start": p_start,
            "start + correction": p_start + _ols_predict(coef, f[te]),
            "refitted start + correction": target.mean() + k_te @ dual2 + _ols_predict(coef, f[te]),
        }
        for key, p in preds.items():
            out[key].append(np.corrcoef(p, y[te])[0, 1])
    for key, rs in out.items():
        print(f"{key}: r {np.mean(rs):.3f} (folds {np.round(rs, 3).tolist()})")


def _arch(tmp: Path, name: str, backfit: int, filters: int = 8) -> str:
    src = PRESET.read_text(encoding="utf-8")
    for old, new in (
        ('name = "snpcnn_default_v19"', f'name = "{name}"'),
        ('kernel = ["cnn_gp", "gblup_ad", "lasso"]', 'kernel = "none"'),
        ("multitrait_cnn_gp = true\n", f"multitrait_cnn_gp = true\nbackfit = {backfit}\n"),
        ("filters = 8\n", f"filters = {filters}\n"),
    ):
        assert src.count(old) == 1, old
        src = src.replace(old, new)
    path = tmp / f"{name}.toml"
    path.write_text(src, encoding="utf-8")
    return str(path)


def nets(trait_dir: Path, folds: list[int], variants: list[str], tmp: Path) -> None:
    from snpcnn.training import TrainConfig, predict_rows, train_cnn

    tmp.mkdir(parents=True, exist_ok=True)
    base = _arch(tmp, "study_base", 0)
    table = {
        "A": (base, {}),  # v19's training settings
        "B": (base, dict(epochs=400, patience=80)),
        "C": (base, dict(epochs=400, patience=80, learning_rate=3e-4)),
        "D": (base, dict(batch_size=128, epochs=400, patience=80)),
        "E": (base, dict(epochs=400, patience=80, learning_rate=3e-3)),
        "F": (_arch(tmp, "study_f16", 0, filters=16), {}),
        "G": (_arch(tmp, "study_backfit", 2), {}),  # v20's backfit
    }
    d, y, _, _ = _data(trait_dir)
    for f, (tr, te) in enumerate(_folds(len(y))):
        if f not in folds:
            continue
        mu = np.nanmean(d[tr], axis=0)
        xtr = (np.where(np.isnan(d[tr]), mu, d[tr]) - mu).astype(np.float32)[:, :, None]
        xte = (np.where(np.isnan(d[te]), mu, d[te]) - mu).astype(np.float32)[:, :, None]
        ym, ys = y[tr].mean(), y[tr].std()
        for v in variants:
            arch, kw = table[v]
            t0 = time.time()
            res = train_cnn(xtr, (y[tr] - ym) / ys, TrainConfig(model=arch, **kw), seed=0)
            pred = np.asarray(predict_rows(res.model, xte, 256)).ravel()
            c = res.conv or {}
            print(
                json.dumps(
                    {
                        "fold": f,
                        "variant": v,
                        "r": round(float(np.corrcoef(pred, y[te])[0, 1]), 4),
                        "seconds": round(time.time() - t0),
                        "best_epoch": c.get("best_epoch"),
                        "kept": c.get("kept"),
                        "backfit": (c.get("backfit") or {}).get("adopted"),
                    }
                ),
                flush=True,
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trait_dir", type=Path, help="the folder snpcnn simulate wrote")
    ap.add_argument("part", choices=["shares", "start", "nets"])
    ap.add_argument("--pairs", default="2,4,6", help="start: the pairs given the correction")
    ap.add_argument("--folds", default="0", help="nets: comma-separated folds (0-4)")
    ap.add_argument("--variants", default="A,G", help="nets: A-G (see the code)")
    ap.add_argument("--tmp", type=Path, default=Path("/tmp/snpcnn_backfit_study"))
    args = ap.parse_args()
    if args.part == "shares":
        shares(args.trait_dir)
    elif args.part == "start":
        start(args.trait_dir, [int(k) for k in args.pairs.split(",")])
    else:
        nets(
            args.trait_dir,
            [int(k) for k in args.folds.split(",")],
            args.variants.split(","),
            args.tmp,
        )


if __name__ == "__main__":
    main()
