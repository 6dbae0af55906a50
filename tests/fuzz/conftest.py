"""Fixtures of the fuzzing suite: small slices of the shipped example files, and outcome counts.

Every base file holds the first 40 samples and the first 100 SNPs of the wheat
example data, so one mutated example loads in milliseconds.  The counts of
outcomes (loaded / clean error / failure) per format are printed at the end of
the session and written as JSON to ``$SNPCNN_FUZZ_REPORT`` when that is set.
"""

from __future__ import annotations

import collections
import gzip
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

N_SAMPLES, N_SNPS = 40, 100
EXAMPLE_DATA = Path(__file__).resolve().parents[2] / "example_data"

from fuzzlib import COUNTS  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def fuzz_report():
    yield COUNTS
    if not COUNTS:
        return
    total = collections.Counter()
    for c in COUNTS.values():
        total.update(c)
    table = {k: dict(v) for k, v in sorted(COUNTS.items())}
    table["total"] = dict(total)
    lines = [f"  {k:<10} {v}" for k, v in table.items()]
    print("\nfuzz outcomes:\n" + "\n".join(lines), file=sys.stderr)
    dest = os.environ.get("SNPCNN_FUZZ_REPORT")
    if dest:
        Path(dest).write_text(json.dumps(table, indent=2) + "\n")


def _vcf_slice(example: Path) -> bytes:
    out = []
    n = 0
    with gzip.open(example / "wheat.vcf.gz", "rt") as fh:
        for line in fh:
            if line.startswith("##"):
                out.append(line)
                continue
            cells = line.rstrip("\n").split("\t")
            out.append("\t".join(cells[: 9 + N_SAMPLES]) + "\n")
            if not line.startswith("#"):
                n += 1
                if n == N_SNPS:
                    break
    return "".join(out).encode()


class _Quiet(dict):
    """A dict that Hypothesis prints as one short line in a falsifying example."""

    def __repr__(self) -> str:
        return "<fuzz base files>"


@pytest.fixture(scope="session")
def base(tmp_path_factory):
    """Unmutated small files (bytes) of every input format, and how they load."""
    from snpcnn.io.cache import write_cache
    from snpcnn.io.phenotypes import read_phenotypes
    from snpcnn.io.plink import read_plink
    from snpcnn.io.table import read_table
    from snpcnn.io.vcf import read_vcf

    if not (EXAMPLE_DATA / "wheat.vcf.gz").exists():
        pytest.skip("example_data/ is not populated")
    d = tmp_path_factory.mktemp("fuzz-base")
    files: dict[str, bytes] = {}
    files["vcf"] = _vcf_slice(EXAMPLE_DATA)
    x = pd.read_csv(EXAMPLE_DATA / "wheat_X_dart01.csv.gz", dtype={"sample_id": str})
    x = x.iloc[:N_SAMPLES, : N_SNPS + 1]
    files["table"] = x.to_csv(index=False).encode()
    ids = x["sample_id"].tolist()
    ph = pd.read_csv(EXAMPLE_DATA / "wheat_phenotypes.csv", dtype={"sample_id": str})
    ph = ph.set_index("sample_id").loc[ids].reset_index()
    files["pheno"] = ph.to_csv(index=False).encode()
    folds = pd.read_csv(EXAMPLE_DATA / "wheat_cv_folds.csv", dtype={"sample_id": str})
    folds = folds.set_index("sample_id").loc[ids].reset_index()
    folds["cv_fold"] = np.arange(len(folds)) % 5 + 1  # 8 samples per fold
    files["folds"] = folds.to_csv(index=False).encode()

    (d / "b.vcf").write_bytes(files["vcf"])
    g_vcf = read_vcf(d / "b.vcf")
    # PLINK: the VCF slice written with bed-reader (dosage = copies of A1 = ALT)
    from bed_reader import to_bed

    v = g_vcf.variants
    val = g_vcf.dosages.astype(np.float32)
    val[g_vcf.dosages < 0] = np.nan
    to_bed(
        d / "b.bed",
        val,
        properties={
            "iid": list(g_vcf.samples),
            "fid": list(g_vcf.samples),
            "sid": list(v["id"]),
            "chromosome": list(v["chrom"]),
            "bp_position": list(v["pos"]),
            "allele_1": list(v["alt"]),
            "allele_2": list(v["ref"]),
        },
    )
    for ext in ("bed", "bim", "fam"):
        files[ext] = (d / f"b.{ext}").read_bytes()
    (d / "b.csv").write_bytes(files["table"])
    (d / "p.csv").write_bytes(files["pheno"])
    g_table = read_table(d / "b.csv")
    write_cache(g_table, d / "b.snpcnn")
    cache = {f.name: f.read_bytes() for f in (d / "b.snpcnn").iterdir()}
    return _Quiet(
        {
            "dir": d,
            "files": files,
            "cache": cache,
            "vcf": g_vcf,
            "plink": read_plink(d / "b"),
            "table": g_table,
            "pheno": read_phenotypes(d / "p.csv"),
            "ids": ids,
        }
    )


@pytest.fixture(scope="session")
def bundle_base(base):
    """A tiny model.keras built through the API (no training: about 1 s after TensorFlow)."""
    from snpcnn.bundle import ModelBundle
    from snpcnn.models import build_model
    from snpcnn.preprocess import GenotypePreprocessor

    g = base["table"]
    pre = GenotypePreprocessor()
    pre.fit(g, np.arange(g.n_samples))
    arch = {
        "name": "tiny",
        "blocks": [
            {"type": "conv", "filters": 2, "kernel_size": 4, "strides": 4},
            {"type": "flatten"},
            {"type": "dense", "units": 4},
        ],
    }
    model = build_model(arch, (len(pre.variants_), 1))
    b = ModelBundle(
        model=model,
        preprocessor=pre,
        traits=["GY_E1"],
        target_coef=[np.array([0.5])],
        target_sd=np.array([2.0]),
        covariate_means=np.zeros(0),
    )
    path = base["dir"] / "model.keras"
    b.save(path, force=True)
    from snpcnn.bundle import load_bundle

    expected = load_bundle(path).predict(g)
    return _Quiet({"bytes": path.read_bytes(), "expected": expected})
