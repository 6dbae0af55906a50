"""Validation benchmark of snpcnn.explain on simulated and real (mice) genotypes.

Part 1 (simulated, known truth): genotypes with LD from :mod:`snpcnn.simulate`,
``--n-causal`` causal SNPs among ``--snps``, h2 = ``--h2``.  A small CNN (the
``snpcnn_default`` preset, seeded, early stopping on an inner 10% validation
split of the training part) is trained on 80% of the samples; SNP importance by
saliency, gradient x input, integrated gradients and Grad-CAM is computed on
the held-out 20%, and the marginal association scan on the training 80%.
Reported per ranking: precision@20 (fraction of the top-20 SNPs that are
causal), the fraction of causal SNPs with a top-20 SNP within +-5 SNPs on the
same chromosome, and the fraction of the genetic variance carried by those
causal SNPs; plus the CNN's and a ridge regression's test-set Pearson r.

Part 2 (mice Obesity.BMI, 1814 x 10346): the same CNN on an 80/20 split, IG on
the test 20% vs the marginal scan on the training 80%: Spearman rank
correlation over all SNPs, overlap of the two top-100 sets, and the top IG SNPs.

Part 3: speed of :func:`snpcnn.stats.marginal_association` vs a per-SNP loop of
``scipy.stats.linregress`` on the mice matrix.

Writes docs/bench/explain.md (and PNG figures under --fig-dir).

Usage::

    .venv/bin/python benchmarks/bench_explain_sim.py            # ~5-10 min on 2 shared CPU cores
    .venv/bin/python benchmarks/bench_explain_sim.py --reps 1 --snps 2000 --samples 1000  # quick
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy import stats  # noqa: E402

from snpcnn import __version__, explain  # noqa: E402
from snpcnn.genotypes import encode  # noqa: E402
from snpcnn.simulate import simulate_genotypes, simulate_phenotype  # noqa: E402
from snpcnn.stats import marginal_association  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
MICE = REPO / ".." / "shared" / "data" / "mice"
ARCH = "snpcnn_default"
LR = 1e-3  # the default learning rate of snpcnn fit
CAM_LAYER = "conv1_conv"
TOP = 20
WINDOW = 5


def seed_all(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    try:
        tf.config.experimental.enable_op_determinism()
    except Exception:  # pragma: no cover
        pass


def split(n: int, seed: int, test_frac: float = 0.2, val_frac: float = 0.1):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    n_test = int(round(n * test_frac))
    test, train_all = np.sort(perm[:n_test]), perm[n_test:]
    n_val = int(round(len(train_all) * val_frac))
    val, train = np.sort(train_all[:n_val]), np.sort(train_all[n_val:])
    return train, val, test


def train_cnn(X, y, train, val, seed, epochs=60):
    """The package's default CNN fit (snpcnn.training.train_cnn with the defaults of
    snpcnn fit: wide path started at the training rows' ridge solution, early stopping on an
    inner validation split of ``train + val``); the test rows are never seen."""
    from snpcnn.training import TrainConfig
    from snpcnn.training import train_cnn as package_train_cnn

    rows = np.sort(np.concatenate([train, val]))
    cfg = TrainConfig(
        model=ARCH, epochs=epochs, learning_rate=LR, val_fraction=len(val) / len(rows)
    )
    t0 = time.perf_counter()
    res = package_train_cnn(X[rows], np.asarray(y)[rows], cfg, seed=seed)
    return res.model, res.best_epochs[0], time.perf_counter() - t0


def encode_centred(dosages, train_rows):
    mean = dosages[train_rows].astype(np.float64)
    mean = np.where(mean < 0, np.nan, mean)
    mu = np.nanmean(mean, axis=0).astype(np.float32)
    return encode(dosages, "dosage", fill=mu, center=mu)


def pearson(a, b) -> float:
    return float(stats.pearsonr(np.asarray(a, float), np.asarray(b, float)).statistic)


def ridge_r(X2, y, train_all, test) -> float:
    from sklearn.linear_model import RidgeCV

    r = RidgeCV(alphas=np.logspace(0, 5, 11)).fit(X2[train_all], y[train_all])
    return pearson(r.predict(X2[test]), y[test])


def ranking_metrics(score, causal_idx, chrom, var_expl) -> dict:
    order = np.argsort(-np.nan_to_num(score, nan=-np.inf), kind="stable")
    top = order[:TOP]
    causal = np.asarray(causal_idx)
    prec = np.isin(top, causal).mean()
    near = np.array(
        [np.any((np.abs(top - c) <= WINDOW) & (chrom[top] == chrom[c])) for c in causal]
    )
    return {
        "precision@20": float(prec),
        "causal_within_5": float(near.mean()),
        "h2_share_within_5": float(var_expl[near].sum() / var_expl.sum()),
    }


def chance_metrics(m, causal_idx, chrom, var_expl, n_draws=2000, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    vals = [ranking_metrics(rng.random(m), causal_idx, chrom, var_expl) for _ in range(n_draws)]
    return {k: float(np.mean([v[k] for v in vals])) for k in vals[0]}


def run_sim(rep, args, fig_dir):
    seed = 1000 * rep + 1
    g = simulate_genotypes(args.samples, args.snps, n_chrom=5, seed=seed)
    y_s, causal = simulate_phenotype(g, n_causal=args.n_causal, h2=args.h2, seed=seed + 1)
    y = y_s.to_numpy().astype(np.float32)
    train, val, test = split(g.n_samples, seed)
    train_all = np.sort(np.concatenate([train, val]))
    X = encode_centred(g.dosages, train_all)
    model, epochs, secs = train_cnn(X, y, train, val, seed)
    pred = model.predict(X[test], verbose=0)[:, 0]
    r_cnn = pearson(pred, y[test])
    r_ridge = ridge_r(X[..., 0], y, train_all, test)
    t0 = time.perf_counter()
    imp = explain.snp_importance(
        model, X[test], g.variants, steps=args.ig_steps, layer_name=CAM_LAYER
    )
    t_exp = time.perf_counter() - t0
    assoc = marginal_association(g.dosages, y[train_all], rows=train_all)
    chrom = g.variants["chrom"].to_numpy()
    ci = causal["index"].to_numpy()
    ve = causal["var_explained"].to_numpy()
    rows = {}
    for m in explain.METHODS:
        rows[m] = ranking_metrics(imp[m].to_numpy(), ci, chrom, ve)
    rows["marginal -log10 p"] = ranking_metrics(assoc["neglog10p"].to_numpy(), ci, chrom, ve)
    rows["random ranking (expected)"] = chance_metrics(g.n_snps, ci, chrom, ve)
    if rep == 0:
        explain.plot_manhattan(
            imp,
            "integrated_gradients",
            fig_dir / "explain_sim_manhattan.png",
            assoc=assoc,
            highlight=ci,
            force=True,
        )
    rho = float(stats.spearmanr(imp["integrated_gradients"], assoc["neglog10p"]).statistic)
    return {
        "rep": rep,
        "seed": seed,
        "r_cnn": r_cnn,
        "r_ridge": r_ridge,
        "epochs": epochs,
        "train_s": secs,
        "explain_s": t_exp,
        "rho_ig_assoc": rho,
        "h2_realised": y_s.attrs["h2_realised"],
        "metrics": rows,
    }


def load_mice():
    from bed_reader import open_bed

    with open_bed(MICE / "mice.bed") as bed:
        d = bed.read(dtype="int8")
        iid = np.asarray(bed.iid).astype(str)
        variants = pd.DataFrame(
            {
                "chrom": np.asarray(bed.chromosome).astype(str),
                "pos": np.asarray(bed.bp_position),
                "cM": np.asarray(bed.cm_position),
                "id": np.asarray(bed.sid).astype(str),
            }
        )
    d = np.where(d == -127, -1, d).astype(np.int8)
    ph = pd.read_csv(MICE / "mice_phenotypes.csv", dtype={"sample_id": str})
    ph = ph.set_index("sample_id")["Obesity.BMI"]
    y = ph.reindex(iid)  # align by sample id, never by row order
    keep = y.notna().to_numpy()
    return d[keep], y.to_numpy()[keep].astype(np.float32), variants, iid[keep], int((~keep).sum())


def run_mice(args, fig_dir):
    d, y, variants, ids, n_dropped = load_mice()
    seed = 7
    train, val, test = split(len(y), seed)
    train_all = np.sort(np.concatenate([train, val]))
    ysd = y[train_all].std()
    ymu = y[train_all].mean()
    yz = (y - ymu) / ysd  # standardised with training-part statistics only
    X = encode_centred(d, train_all)
    model, epochs, secs = train_cnn(X, yz, train, val, seed)
    pred = model.predict(X[test], verbose=0)[:, 0]
    r_cnn = pearson(pred, yz[test])
    r_ridge = ridge_r(X[..., 0], yz, train_all, test)
    t0 = time.perf_counter()
    imp = explain.snp_importance(
        model, X[test], variants, methods=("integrated_gradients",), steps=args.ig_steps
    )
    t_ig = time.perf_counter() - t0
    assoc = marginal_association(d, yz[train_all], rows=train_all)
    ig = imp["integrated_gradients"].to_numpy()
    nl = assoc["neglog10p"].to_numpy()
    rho = stats.spearmanr(ig, nl)
    top_ig = np.argsort(-ig, kind="stable")[:100]
    top_as = np.argsort(-nl, kind="stable")[:100]
    overlap = len(np.intersect1d(top_ig, top_as))
    chrom = variants["chrom"].to_numpy()
    near = [
        bool(np.any((np.abs(top_as - i) <= WINDOW) & (chrom[top_as] == chrom[i])))
        for i in top_ig[:100]
    ]
    ig_rank = pd.Series(ig).rank(ascending=False, method="min").to_numpy()
    as_rank = pd.Series(nl).rank(ascending=False, method="min").to_numpy()
    top10 = pd.DataFrame(
        {
            "IG rank": ig_rank[top_ig[:10]].astype(int),
            "chrom": chrom[top_ig[:10]],
            "cM": variants["cM"].to_numpy()[top_ig[:10]].round(2),
            "id": variants["id"].to_numpy()[top_ig[:10]],
            "IG mean abs score": ig[top_ig[:10]],
            "marginal -log10 p": nl[top_ig[:10]].round(2),
            "marginal rank": as_rank[top_ig[:10]].astype(int),
        }
    )
    explain.plot_manhattan(
        imp,
        "integrated_gradients",
        fig_dir / "explain_mice_bmi_manhattan.png",
        assoc=assoc,
        force=True,
    )
    # chance expectation of the top-100 overlap: hypergeometric mean 100 * 100 / m
    m = len(ig)
    return {
        "n": len(y),
        "n_dropped": n_dropped,
        "m": m,
        "r_cnn": r_cnn,
        "r_ridge": r_ridge,
        "epochs": epochs,
        "train_s": secs,
        "ig_s": t_ig,
        "n_test": len(test),
        "spearman": float(rho.statistic),
        "spearman_p": float(rho.pvalue),
        "overlap100": overlap,
        "overlap_chance": 100 * 100 / m,
        "ig_top100_near_assoc_top100": float(np.mean(near)),
        "top10": top10,
        "d": d,
        "yz": yz,
    }


def speed(d, y, reps=5):
    ours = []
    for _ in range(reps):
        t0 = time.perf_counter()
        res = marginal_association(d, y)
        ours.append(time.perf_counter() - t0)
    loop = []
    for _ in range(max(1, reps // 2)):
        t0 = time.perf_counter()
        yv = y.astype(np.float64)
        ps = np.empty(d.shape[1])
        for j in range(d.shape[1]):
            x = d[:, j].astype(np.float64)
            ps[j] = stats.linregress(x, yv).pvalue if x.std() > 0 else 1.0
        loop.append(time.perf_counter() - t0)
    max_diff = float(np.nanmax(np.abs(np.log10(ps) - np.log10(res["p"].to_numpy()))))
    return float(np.median(ours)), float(np.median(loop)), len(ours), len(loop), max_diff


def md_table(df: pd.DataFrame) -> str:
    def cell(v):
        return f"{v:.4g}" if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def fmt_table(rows: dict, reps_rows: list[dict]) -> str:
    cols = ["precision@20", "causal_within_5", "h2_share_within_5"]
    lines = [
        "| ranking | " + " | ".join(cols) + " |",
        "|---|" + "---|" * len(cols),
    ]
    for name in rows:
        vals = []
        for c in cols:
            xs = [r["metrics"][name][c] for r in reps_rows]
            txt = f"{np.mean(xs):.3f}"
            if len(xs) > 1:
                txt += " (" + ", ".join(f"{x:.2f}" for x in xs) + ")"
            vals.append(txt)
        lines.append(f"| {name} | " + " | ".join(vals) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--snps", type=int, default=5000)
    ap.add_argument("--n-causal", type=int, default=20)
    ap.add_argument("--h2", type=float, default=0.5)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--ig-steps", type=int, default=32)
    ap.add_argument("--skip-mice", action="store_true")
    ap.add_argument("--out", default=str(REPO / "docs" / "bench" / "explain.md"))
    ap.add_argument("--fig-dir", default="/tmp/snpcnn_bench_explain")
    args = ap.parse_args(argv)
    fig_dir = Path(args.fig_dir)
    fig_dir.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()

    sims = []
    for rep in range(args.reps):
        res = run_sim(rep, args, fig_dir)
        sims.append(res)
        print(
            f"sim rep {rep}: CNN r={res['r_cnn']:.3f} ridge r={res['r_ridge']:.3f} "
            f"epochs={res['epochs']} train {res['train_s']:.0f}s explain {res['explain_s']:.0f}s",
            flush=True,
        )
        for k, v in res["metrics"].items():
            print(f"   {k:28s} {v}", flush=True)

    mice = None
    if not args.skip_mice and (MICE / "mice.bed").exists():
        mice = run_mice(args, fig_dir)
        print(
            f"mice: CNN r={mice['r_cnn']:.3f} ridge r={mice['r_ridge']:.3f} "
            f"spearman={mice['spearman']:.3f} overlap100={mice['overlap100']}",
            flush=True,
        )
        sp = speed(mice["d"], mice["yz"])
        print(f"speed: ours {sp[0]:.3f}s loop {sp[1]:.3f}s", flush=True)
    total = time.perf_counter() - t_start

    cmd = "cd /work/main && .venv/bin/python benchmarks/bench_explain_sim.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    md = [
        "# Explainability validation: known causal SNPs and the mice BMI scan",
        "",
        f"Generated by `{cmd.strip()}` on {datetime.date.today().isoformat()}, snpcnn {__version__}, "
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {platform.machine()} CPU "
        f"({os.cpu_count()} cores, **shared with other jobs while it ran**; timings are indicative). "
        f"Total wall time {total / 60:.1f} min.",
        "",
        "## 1. Simulated genotypes with known causal SNPs",
        "",
        f"Data: `simulate_genotypes({args.samples}, {args.snps}, n_chrom=5)` (latent AR(1) haplotype "
        "model, ld=0.9 at the mean spacing, blocks of ~50 SNPs, MAF U(0.05, 0.5)); "
        f"`simulate_phenotype(n_causal={args.n_causal}, h2={args.h2}, effect_dist='normal')`; "
        f"{args.reps} replicate data sets (seeds 1, 1001, 2001, ...).",
        "",
        f"Model: preset `{ARCH}` trained exactly as `snpcnn fit` trains it "
        "(`snpcnn.training.train_cnn`, TrainConfig defaults: `linear_init='ridge_loo'`, "
        "`conv_gate=0.05`): a wide & deep net whose linear SNP path is the ridge (RR-BLUP) "
        "solution of the training rows, frozen, plus Conv1D(16) and 2 x Conv1D(32) "
        "with kernel = stride = 4, ELU, flatten, dense 32, dropout 0.3; centred dosage input "
        f"(training-part means), Adam {LR:g}, batch 32, at most 60 epochs, early stopping "
        "(patience 10, best weights restored) on an inner 10% validation split of the training "
        "part. Split: 80% training (incl. the inner split), 20% test; seeded. The gradient-based "
        "scores therefore see the ridge marker effects through the linear path plus whatever "
        "the convolutions learned; Grad-CAM sees only the convolutional branch. Where the "
        "gate kept the ridge start ('best epoch' 0 below), the convolutions' output weights "
        "are zero: the gradient scores are then the ridge effects alone and Grad-CAM is zero.",
        "",
        "Importance: `snp_importance` on the **test** samples (mean |score| over samples; "
        f"IG with {args.ig_steps} trapezoid steps and the all-zero baseline = the training-mean "
        "genotype; Grad-CAM on `conv1_conv` (4-SNP units), signed map, resampled to SNPs). Marginal association: "
        "`marginal_association` on the **training** samples. Statistics:",
        "",
        "* **precision@20**: fraction of the 20 top-ranked SNPs that are causal "
        f"(chance: {args.n_causal}/{args.snps} = {args.n_causal / args.snps:.4f}).",
        "* **causal_within_5**: fraction of the causal SNPs that have a top-20 SNP within +-5 SNPs "
        "on the same chromosome.",
        "* **h2_share_within_5**: share of the simulated genetic variance (sum of the causal SNPs' "
        "sample variance of effect x dosage) carried by those causal SNPs. With normal effects a "
        "few causal SNPs carry most of the variance; the rest are undetectable at this n.",
        "",
        "Mean over replicates (per-replicate values in parentheses):",
        "",
        fmt_table(sims[0]["metrics"], sims),
        "",
        "| replicate | seed | realised h2 | CNN test Pearson r | ridge (RidgeCV) test Pearson r | "
        "epochs | Spearman(IG, marginal -log10 p) over all SNPs |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in sims:
        md.append(
            f"| {r['rep']} | {r['seed']} | {r['h2_realised']:.3f} | {r['r_cnn']:.3f} | "
            f"{r['r_ridge']:.3f} | {r['epochs']} | {r['rho_ig_assoc']:.3f} |"
        )
    md += [
        "",
        "Pearson r is between predicted and simulated phenotype on the 20% test samples. "
        "The sqrt(h2) ceiling for a perfect predictor is "
        f"{np.sqrt(args.h2):.3f}.",
        "",
    ]
    if mice is not None:
        md += [
            "## 2. Mice (BGLR HS mice), Obesity.BMI",
            "",
            f"{mice['n']} mice with a BMI value ({mice['n_dropped']} without one dropped) x "
            f"{mice['m']} SNPs, aligned by sample id. Same CNN and training recipe, 80/20 split "
            "(seed 7); phenotype standardised with the training part's mean and SD. IG "
            f"({args.ig_steps} steps, all-zero baseline = training-mean genotype) on the "
            f"{mice['n_test']} test mice; marginal association on the training mice "
            "(no covariates). Males are coded heterozygous on chrX in this data and BMI "
            "correlates 0.49 with sex, so with no sex covariate here the chrX SNPs that encode "
            "sex dominate the IG ranking (`snpcnn fit --covariates GENDER` removes that).",
            "",
            f"* CNN test Pearson r = {mice['r_cnn']:.3f} (ridge, RidgeCV on the same split: "
            f"{mice['r_ridge']:.3f}); {mice['epochs']} epochs.",
            f"* Spearman rank correlation between IG importance and marginal -log10 p over all "
            f"{mice['m']} SNPs: rho = {mice['spearman']:.3f} (p = {mice['spearman_p']:.2g}).",
            f"* Overlap of the top-100 SNPs by IG and by marginal -log10 p: {mice['overlap100']} of "
            f"100 (chance expectation {mice['overlap_chance']:.2f}); "
            f"{100 * mice['ig_top100_near_assoc_top100']:.0f}% of IG's top-100 SNPs lie within "
            "+-5 SNPs (same chromosome) of a marginal top-100 SNP.",
            "",
            "Top 10 SNPs by IG (position in cM, the map BGLR ships):",
            "",
            md_table(mice["top10"]),
            "",
            "## 3. Speed of the marginal scan (mice, 1814 x 10346, int8 input)",
            "",
            "| implementation | median wall time (s) | runs |",
            "|---|---|---|",
            f"| `snpcnn.stats.marginal_association` (vectorized, exact t p-values) | {sp[0]:.3f} | "
            f"{sp[2]} |",
            f"| per-SNP loop of `scipy.stats.linregress` | {sp[1]:.3f} | {sp[3]} |",
            "",
            f"Ratio loop / ours: {sp[1] / sp[0]:.1f}x. Largest |log10 p| difference between the "
            f"two: {sp[4]:.2e}.",
            "",
        ]
    md += [
        "Figures (not committed; regenerate with the command above): "
        f"`{fig_dir}/explain_sim_manhattan.png` (IG importance with causal SNPs ringed, and the "
        "marginal scan below), `explain_mice_bmi_manhattan.png`.",
        "",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text("\n".join(md))
    os.replace(tmp, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
