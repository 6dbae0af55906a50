"""A whole default ``snpcnn fit`` above ``kernel_max_samples`` (5,000) training rows, as a
user runs it: simulated LD genotypes written as PLINK, a simulated trait, then ``snpcnn
fit`` with the default model and baselines in a child process.  Reports the wall time, the
child's peak RSS (``/usr/bin/time``-free: ``getrusage`` of the children), the mean test
Pearson r of every model, each fold's start and whether the convolutions were kept.

    python benchmarks/bench_large_fit.py [--n 8000] [--snps 3000] [--trait dominance]
        [--folds 3] [--baselines gblup,ridge,rkhs,lasso] [--out bench_out/large_fit]

Before session 32 no whole default fit above 5,000 training rows had been measured (only
the start choice alone, ``bench_large_dominance_start.py``).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def write_data(out: Path, n: int, snps: int, trait: str, seed: int) -> tuple[Path, Path, float]:
    """PLINK genotypes + a phenotype CSV of ``trait`` (10 loci, h2 0.5); returns the paths
    and the trait's ceiling corr(g, y)."""
    from snpcnn.io import read_genotypes
    from snpcnn.simulate import simulate_trait, write_example

    paths = write_example(
        out, n_samples=n, n_snps=snps, n_chrom=5, seed=seed, prefix="large", force=True
    )
    g = read_genotypes(paths["genotypes"])
    y, _ = simulate_trait(g, architecture=trait, n_loci=10, h2=0.5, seed=seed + 1)
    pheno = out / f"large_{trait}.csv"
    y.index = list(g.samples)
    y.rename("phenotype").rename_axis("sample_id").to_csv(pheno)
    return paths["genotypes"], pheno, float(y.attrs["ceiling"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=8000)
    ap.add_argument("--snps", type=int, default=3000)
    ap.add_argument("--trait", default="dominance")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--baselines", default=None, help="passed to snpcnn fit (default: its own)")
    ap.add_argument("--out", default=str(REPO / "bench_out" / "large_fit"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    geno, pheno, ceiling = write_data(out, args.n, args.snps, args.trait, args.seed)
    run = out / f"run_{args.trait}"
    cmd = [
        sys.executable, "-m", "snpcnn", "fit", str(geno), str(pheno),
        "--folds", str(args.folds), "--out", str(run), "--force",
    ]  # fmt: skip
    if args.baselines:
        cmd += ["--baselines", args.baselines]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    (out / f"log_{args.trait}.txt").write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"snpcnn fit failed ({proc.returncode}): {proc.stderr[-2000:]}")
    import pandas as pd

    m = pd.read_csv(run / "metrics.csv")
    r = m[m.metric == "pearson_r"].groupby("model", sort=False)["value"].mean()
    info = json.loads((run / "run.json").read_text())
    stages = []
    for f in info.get("cnn_folds", []):
        conv = f.get("conv") or {}
        stages.append(
            {"start": conv.get("start"), "kept": conv.get("kept"), "epochs": f.get("epochs")}
        )
    print(f"## {args.n} x {args.snps}, {args.trait}, {args.folds}-fold, ceiling {ceiling:.3f}\n")
    print("timings:", json.dumps(info.get("timings")))
    print(f"wall {wall:.0f} s, peak RSS of the fit {rss:.2f} GB\n")
    print("| model | mean Pearson r |\n|---|---:|")
    for k, v in r.items():
        print(f"| {k} | {v:.3f} |")
    print("\nstages:", json.dumps(stages))
    print("\ncommand:", " ".join(cmd[1:]))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
