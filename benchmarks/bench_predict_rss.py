"""Peak RSS of ``snpcnn predict`` (or ``snpcnn explain`` with the phenotype file: ``--explain``)
on many samples, this tree against an older commit (issue 15).

Data: ``snpcnn.simulate.write_example`` PLINK files (default 5,000 samples x 20,000 SNPs).
Model: a small CNN (conv 8 filters, kernel = stride = 8, flatten, dense 1) with the training
preprocessing fitted on the first 1,000 samples, saved as a bundle; training it does not
matter for memory, so it is left at its seeded initial weights.  Each ``snpcnn predict``
runs alone as a subprocess under ``/usr/bin/time -v``; the older commit's ``snpcnn`` package
is exported with ``git archive`` and put first on ``PYTHONPATH``.  Both must write the same
predictions (the script checks the CSVs are byte-identical).

Run (about 2 min on 2 cores)::

    nice .venv/bin/python benchmarks/bench_predict_rss.py --old b92cd72 --out bench_out/predict_rss

``--explain`` runs ``snpcnn explain MODEL GENO PHENO --methods saliency --max-samples 200``
instead (its marginal association scan reads every phenotyped sample; session 44), and
checks that both write the same importance.csv::

    nice .venv/bin/python benchmarks/bench_predict_rss.py --explain --samples 16000 \
        --snps 4000 --old be13407 --out bench_out/explain_rss
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_data(folder: Path, n: int, m: int) -> Path:
    from snpcnn.simulate import write_example

    bed = folder / "sim.bed"
    if not bed.exists():
        write_example(folder, n_samples=n, n_snps=m, fmt="plink", seed=1, force=True)
    return bed


def make_model(folder: Path, bed: Path) -> Path:
    path = folder / "model.keras"
    if path.exists():
        return path
    import keras
    import numpy as np

    from snpcnn.bundle import ModelBundle
    from snpcnn.io import read_genotypes
    from snpcnn.preprocess import GenotypePreprocessor

    g = read_genotypes(bed, cache=False, convert_large=False)
    pre = GenotypePreprocessor().fit(g, np.arange(min(1000, g.n_samples)))
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(pre.input_shape),
            keras.layers.Conv1D(8, 8, strides=8, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )
    bundle = ModelBundle(model, pre, traits=["y"], target_coef=[np.zeros(1)])
    return bundle.save(path)


def run(
    label: str,
    model: Path,
    bed: Path,
    out: Path,
    pythonpath: str | None,
    pheno: Path | None = None,
) -> dict:
    # run outside the repository: `python -m` puts the working directory first on sys.path
    env = dict(os.environ, SNPCNN_NO_CACHE="1", PYTHONPATH=pythonpath or str(REPO))
    code = "import snpcnn, sys; print('snpcnn from', snpcnn.__file__, file=sys.stderr); "
    code += "from snpcnn.cli import main; main()"
    cmd = ["/usr/bin/time", "-v", sys.executable, "-c", code]
    if pheno is None:
        cmd += ["predict", str(model), str(bed)]
    else:
        cmd += ["explain", str(model), str(bed), str(pheno), "--methods", "saliency"]
        cmd += ["--max-samples", "200"]
    cmd += ["--out", str(out), "--force"]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=out.parent)
    if p.returncode != 0:
        raise SystemExit(f"{label}: exit {p.returncode}\n{p.stderr[-3000:]}")
    origin = re.search(r"snpcnn from (\S+)", p.stderr).group(1)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", p.stderr).group(1)
    said = [ln for ln in p.stderr.splitlines() if "converting" in ln]
    return {
        "label": label,
        "snpcnn": origin,
        "peak_rss_mb": round(rss / 1024),
        "wall": wall,
        "console": said[0] if said else "",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=int, default=5000)
    ap.add_argument("--snps", type=int, default=20000)
    ap.add_argument("--old", default=None, help="an older commit to compare with")
    ap.add_argument("--out", type=Path, default=REPO / "bench_out" / "predict_rss")
    ap.add_argument("--explain", action="store_true", help="explain with the phenotypes")
    a = ap.parse_args()
    a.out = a.out.resolve()  # the runs' working folder is a.out's parent
    a.out.mkdir(parents=True, exist_ok=True)
    data = a.out / f"data_{a.samples}x{a.snps}"
    bed = make_data(data, a.samples, a.snps)
    model = make_model(data, bed)
    pheno = None
    if a.explain:  # the model's trait is named y
        pheno = data / "pheno_y.csv"
        text = (data / "sim_phenotypes.csv").read_text()
        pheno.write_text(text.replace("sample_id,phenotype", "sample_id,y", 1))
    new_out, old_out = (
        (a.out / "new", a.out / "old") if a.explain else (a.out / "new.csv", a.out / "old.csv")
    )
    results = [run("this tree", model, bed, new_out, None, pheno)]
    if a.old:
        old = a.out / f"old_{a.old}"
        if not old.exists():
            old.mkdir()
            arc = subprocess.run(
                ["git", "archive", a.old, "snpcnn"], cwd=REPO, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(old)], input=arc.stdout, check=True)
        results.append(run(f"commit {a.old}", model, bed, old_out, str(old), pheno))
        if a.explain:
            new_out, old_out = new_out / "importance.csv", old_out / "importance.csv"
        same = new_out.read_bytes() == old_out.read_bytes()
        results.append({"identical_importance" if a.explain else "identical_predictions": same})
    print(json.dumps(results, indent=1))
    (a.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
