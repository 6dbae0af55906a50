"""Binary (case/control) traits: the default CNN against GBLUP on simulated data, with a
covariate (sex) that shifts the liability.  Simulated LD genotypes written as PLINK; the
liability is a simulated trait (its genetic value plus noise, h2 on the liability scale)
plus a sex effect; cases are the top ``--prevalence`` of the liability.  ``snpcnn fit``
runs with ``--covariates sex`` and GBLUP + ridge, once per code tree given (``--trees``:
paths put first on PYTHONPATH; "." is this checkout), one after another on the same files.
Mean ROC AUC over the test folds per model.

    python benchmarks/bench_binary.py [--trees OLD,.] [--n 1000] [--snps 2000]
        [--architectures sparse_additive,dominance] [--folds 5] [--baselines gblup,ridge]

Also prints, per fit, in how many folds the default kept its convolutions and which starts
it took (from run.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_data(
    out: Path, n: int, snps: int, architectures: list[str], prevalence: float, seed: int
):
    from snpcnn.io import read_genotypes
    from snpcnn.simulate import simulate_trait, write_example

    paths = write_example(
        out, n_samples=n, n_snps=snps, n_chrom=5, seed=seed, prefix="bin", force=True
    )
    g = read_genotypes(paths["genotypes"])
    rng = np.random.default_rng(seed + 7)
    sex = rng.integers(0, 2, size=n)
    table = pd.DataFrame({"sample_id": list(g.samples), "sex": np.where(sex == 1, "M", "F")})
    for k, arch in enumerate(architectures):
        y, _ = simulate_trait(g, architecture=arch, n_loci=10, h2=0.5, seed=seed + 1 + k)
        liability = np.asarray(y, dtype=float) + 0.8 * sex
        cut = np.quantile(liability, 1.0 - prevalence)
        table[arch] = (liability > cut).astype(int)
    pheno = out / "bin_pheno.csv"
    table.to_csv(pheno, index=False)
    return paths["genotypes"], pheno


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trees", default=".")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--snps", type=int, default=2000)
    ap.add_argument("--architectures", default="sparse_additive,dominance")
    ap.add_argument("--prevalence", type=float, default=0.3)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--baselines", default="gblup,ridge")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--out", default=str(REPO / "bench_out" / "binary"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    archs = args.architectures.split(",")
    geno, pheno = write_data(out, args.n, args.snps, archs, args.prevalence, args.seed)
    rows = []
    for tree in args.trees.split(","):
        path = str(REPO if tree == "." else Path(tree).resolve())
        env = {**os.environ, "PYTHONPATH": path}
        for arch in archs:
            run = out / f"run_{Path(path).name}_{arch}"
            cmd = [
                sys.executable, "-m", "snpcnn", "fit", str(geno), str(pheno), "--trait", arch,
                "--covariates", "sex", "--baselines", args.baselines, "--folds", str(args.folds),
                "--no-refit", "--out", str(run), "--force",
            ]  # fmt: skip
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=path, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if proc.returncode:
                sys.exit(f"{tree} {arch}: snpcnn fit failed: {proc.stderr[-2000:]}")
            conv = [
                (f.get("conv") or {})
                for f in json.loads((run / "run.json").read_text())["cnn_folds"]
            ]
            kept = sum(sum(c.get("kept", [])) for c in conv)
            starts = pd.Series([c.get("start", "ridge") for c in conv]).value_counts().to_dict()
            print(
                f"{tree} {arch}: convolutions kept in {kept} of {len(conv)} folds; starts {starts}"
            )
            m = pd.read_csv(run / "metrics.csv")
            auc = m[m.metric == "auc"].groupby("model", sort=False)["value"].mean()
            for model, v in auc.items():
                rows.append(
                    {"tree": tree, "trait": arch, "model": model, "auc": v, "seconds": wall}
                )
    res = pd.DataFrame(rows)
    table = res.pivot_table(index=["trait", "model"], columns="tree", values="auc", sort=False)
    print(
        f"## {args.n} x {args.snps}, prevalence {args.prevalence}, {args.folds}-fold, covariate sex\n"
    )
    print("Mean ROC AUC over the test folds:\n")
    cols = list(table.columns)
    print("| trait | model | " + " | ".join(cols) + " |")
    print("|---|---|" + "---:|" * len(cols))
    for (trait, model), r in table.iterrows():
        print(f"| {trait} | {model} | " + " | ".join(f"{r[c]:.3f}" for c in cols) + " |")
    print(
        "\nseconds per fit:", res.groupby(["tree", "trait"])["seconds"].first().round(0).to_dict()
    )


if __name__ == "__main__":
    main()
