"""Study (session 24, issue 16): why no model finds pure three-SNP interactions, and what a
screen and a network would need to find them.

The sweep's ``wide`` set (``benchmarks/configs/simulated_sweep.toml``: 2,000 x 8,000 SNPs,
8 chromosomes, latent LD 0.95, blocks of ~80 SNPs) with its trait ``triples_8_h05`` (8 pure
triples, each SNP within 4 SNPs of the previous one, h2 0.5; ceiling 0.704): every model,
the default included, predicts ~0.  Two candidate causes, measured separately on the
training part of each of ``--folds`` folds of one 5-fold split:

1. **The screen.**  The default scores pairs (and squares) of SNPs within a window; a pure
   triple has no pair signal by construction.  For the 8 true triples: the best rank of any
   of their pairs among all near pairs (the screen as shipped), and the rank of the triple's
   own product feature among all near triples (span up to ``width - 1``; ``--width`` 9 holds
   every triple of this trait, whose SNPs are each within 4 of the previous one), with its
   Bonferroni-adjusted p-value (rows x r^2 read as chi-square, 1 df; target = the trait's
   rank-based normal scores on the training rows; the start is ~0 on this trait).  The
   triple screen's level: the number of triples passing after permuting the target
   (``--perm`` draws).

2. **The network.**  The default's filters use the ``square`` activation, a quadratic form
   of each window, which cannot express a product of three centred dosages.  On oracle
   windows (the ``width`` SNPs starting at each true triple's first SNP, 8 windows) and on the
   triple screen's best 32 windows: Conv1D(filters, kernel = stride = width) + flatten + dense,
   trained on the training rows (Adam, early stopping on a 10% inner split), test-fold
   Pearson r, for the activations ``square`` (the default's) and ``cube`` (x^3: a sum of
   cubes of linear forms can express any cubic form, x1 x2 x3 among them).

    .venv/bin/python benchmarks/tuning/triples_study.py --folds 2 --perm 20   # ~ 15 min

Rows go to benchmarks/results/triples_study.csv.  Oracle windows use the true causal SNPs:
they measure capacity, not a usable model.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "benchmarks" / "results" / "triples_study.csv"


def triple_scores(z: np.ndarray, t: np.ndarray, width: int) -> tuple[np.ndarray, list]:
    """Squared correlation of ``t`` with the centred product feature of every triple
    ``(j, j + a, j + b)``, ``0 < a < b < width``; returns (scores p x n_shapes, shapes)."""
    n, p = z.shape
    shapes = [(a, b) for b in range(2, width) for a in range(1, b)]
    out = np.full((p, len(shapes)), -np.inf)
    for s, (a, b) in enumerate(shapes):
        m = z[:, : p - b] * z[:, a : p - b + a] * z[:, b:]
        m = m - m.mean(axis=0)
        sd = m.std(axis=0)
        r = (t @ m) / n / np.where(sd > 0, sd, np.inf)
        out[: p - b, s] = r.astype(np.float64) ** 2
    return out, shapes


def fit_net(xtr, ytr, xte, windows, activation, filters, seed):
    import keras

    keras.utils.set_random_seed(seed)
    idx = np.asarray(windows, dtype=np.int64).reshape(-1)
    width = windows.shape[1]
    a = xtr[:, idx, None].astype("float32")
    b = xte[:, idx, None].astype("float32")
    act = {"square": lambda v: v * v, "cube": lambda v: v * v * v}[activation]
    inp = keras.Input(a.shape[1:])
    h = keras.layers.Conv1D(
        filters,
        width,
        strides=width,
        kernel_initializer="lecun_normal",
        kernel_regularizer=keras.regularizers.l2(1e-3),
    )(inp)
    h = keras.layers.Activation(act)(h)
    h = keras.layers.Flatten()(h)
    out = keras.layers.Dense(1)(h)
    model = keras.Model(inp, out)
    model.compile(keras.optimizers.Adam(1e-3), "mse")
    rng = np.random.default_rng(seed)
    val = rng.random(len(a)) < 0.1
    model.fit(
        a[~val],
        ytr[~val],
        validation_data=(a[val], ytr[val]),
        epochs=200,
        batch_size=32,
        verbose=0,
        callbacks=[keras.callbacks.EarlyStopping(patience=15, restore_best_weights=True)],
    )
    return model.predict(b, verbose=0).reshape(-1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--folds", type=int, default=2, help="folds of the 5-fold split to study")
    ap.add_argument(
        "--perm", type=int, default=20, help="permutations for the triple screen's level"
    )
    ap.add_argument("--filters", type=int, default=16)
    ap.add_argument(
        "--width", type=int, default=9, help="window width (a triple spans up to 8 SNPs)"
    )
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from scipy import stats

    from snpcnn.simulate import simulate_genotypes, simulate_trait
    from snpcnn.training import _standardised, normal_scores, screen_scores

    g = simulate_genotypes(2000, 8000, n_chrom=8, ld=0.95, block_length=80.0, seed=31)
    y, causal = simulate_trait(g, "local_epistasis", order=3, n_loci=8, h2=0.5, seed=32)
    x = np.where(g.dosages < 0, np.nan, g.dosages.astype(np.float32))
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x).astype(np.float32)
    yv = y.to_numpy(dtype=np.float64)
    groups = [np.sort(c["index"].to_numpy()) for _, c in causal.groupby("group")]
    print(f"ceiling {y.attrs['ceiling']:.3f}; triples {[tuple(t) for t in groups]}")
    width = args.width
    folds = np.random.default_rng(0).permutation(len(yv)) % 5
    rows = []
    for f in range(args.folds):
        tr, te = folds != f, folds == f
        t0 = time.time()
        z = _standardised(x[tr])
        tn = normal_scores(yv[tr] - yv[tr].mean(), int(tr.sum())).reshape(-1)
        tn = ((tn - tn.mean()) / tn.std()).astype(np.float32)
        n = len(tn)
        # 1. the pair screen (pairs up to width - 1 apart, and squares; shipped: width 5)
        pair = screen_scores(x[tr], tn, width)
        pair_flat = np.sort(pair.reshape(-1))[::-1]
        tri, shapes = triple_scores(z, tn, width)
        tri_flat = np.sort(tri[np.isfinite(tri)])[::-1]
        n_tri = int(np.isfinite(tri).sum())
        for k, grp in enumerate(groups):
            best_pair = (
                max(pair[i, j - i] for i in grp for j in grp if 0 < j - i < width)
                if grp[-1] - grp[0] < width
                else np.nan
            )
            pr = int((pair_flat > best_pair).sum()) if np.isfinite(best_pair) else -1
            if grp[-1] - grp[0] < width:
                s = tri[grp[0], shapes.index((grp[1] - grp[0], grp[2] - grp[0]))]
                trank = int((tri_flat > s).sum())
                p_bonf = min(1.0, float(stats.chi2.sf(n * s, 1)) * n_tri)
            else:
                s, trank, p_bonf = np.nan, -1, np.nan
            rows.append(
                {
                    "fold": f,
                    "part": "screen",
                    "triple": k,
                    "snps": " ".join(map(str, grp)),
                    "best_pair_rank": pr,
                    "triple_rank": trank,
                    "triple_r2": s,
                    "triple_p_bonferroni": p_bonf,
                }
            )
        # the triple screen's level under permutation
        passing = []
        rng = np.random.default_rng(100 + f)
        thr = stats.chi2.isf(0.05 / n_tri, 1) / n
        for _ in range(args.perm):
            tp = rng.permutation(tn)
            tri_p, _ = triple_scores(z, tp, width)
            passing.append(int((tri_p > thr).sum()))
        rows.append(
            {
                "fold": f,
                "part": "permutation",
                "perm": args.perm,
                "fwer": float(np.mean(np.array(passing) > 0)),
                "mean_passing": float(np.mean(passing)),
                "observed_passing": int((tri > thr).sum()),
            }
        )
        print(
            f"fold {f}: screen {time.time() - t0:.0f} s; triples passing {int((tri > thr).sum())}; "
            f"null FWER {np.mean(np.array(passing) > 0):.2f}"
        )
        # 2. the network: oracle windows and the triple screen's best 32 windows
        oracle = np.stack(
            [
                np.arange(min(grp[0], x.shape[1] - width), min(grp[0], x.shape[1] - width) + width)
                for grp in groups
            ]
        )
        order = np.argsort(-tri, axis=None, kind="stable")
        js = order // len(shapes)
        wins, seen = [], set()
        for j in js.tolist():
            start = min(j, x.shape[1] - width)
            if start in seen:
                continue
            seen.add(start)
            wins.append(np.arange(start, start + width))
            if len(wins) == 32:
                break
        screened = np.stack(wins)
        ytr = ((yv[tr] - yv[tr].mean()) / yv[tr].std()).astype("float32")
        mu, sd = x[tr].mean(axis=0), x[tr].std(axis=0)
        sd = np.where(sd > 0, sd, 1.0)
        xtr, xte = (x[tr] - mu) / sd, (x[te] - mu) / sd
        for wname, w in (("oracle", oracle), ("triple_screen_32", screened)):
            for act in ("square", "cube"):
                t1 = time.time()
                pred = fit_net(xtr, ytr, xte, w, act, args.filters, seed=f)
                r = float(np.corrcoef(pred, yv[te])[0, 1]) if pred.std() > 0 else np.nan
                rows.append(
                    {
                        "fold": f,
                        "part": "network",
                        "windows": wname,
                        "activation": act,
                        "filters": args.filters,
                        "test_r": r,
                    }
                )
                print(f"fold {f}: {wname} {act}: test r {r:.3f} ({time.time() - t1:.0f} s)")
    pd.DataFrame(rows).to_csv(OUT, index=False)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
