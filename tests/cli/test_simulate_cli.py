"""`snpcnn simulate`: a simulated data set with its truth, written whole, reproducible, and
read back by the other commands."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main


def _run(*args):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def test_writes_the_data_set_and_its_truth_reproducibly(tmp_path):
    from snpcnn.io import read_genotypes

    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = _run("--out", out, "--samples", 120, "--snps", 300, "--loci", 4, "--seed", 3)
        assert r.exit_code == 0, r.output
    assert "its ceiling, corr(true genetic value, y), is 0." in r.output
    assert f"next: snpcnn fit {b}/sim.vcf.gz {b}/phenotypes.csv" in r.output
    assert sorted(p.name for p in a.iterdir()) == [
        "causal.csv",
        "phenotypes.csv",
        "sim.vcf.gz",
        "simulation.json",
    ]
    for name in ("phenotypes.csv", "causal.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    info = json.loads((a / "simulation.json").read_text())
    assert info["written_by"] == "snpcnn simulate" and 0 < info["ceiling"] < 1
    assert info["trait"]["architecture"] == "local_epistasis" and info["trait"]["seed"] == 4
    ph = pd.read_csv(a / "phenotypes.csv", dtype={"sample_id": str})
    causal = pd.read_csv(a / "causal.csv")
    assert list(ph.columns) == ["sample_id", "local_epistasis"] and len(ph) == 120
    assert len(causal) == 8 and set(causal["group"]) == {0, 1, 2, 3}
    g = read_genotypes(a / "sim.vcf.gz", cache=False)
    assert (g.n_samples, g.n_snps) == (120, 300) and list(g.samples) == ph["sample_id"].tolist()
    assert g.variants["id"].iloc[causal["index"]].tolist() == causal["id"].tolist()


def test_plink_with_missing_calls_and_a_dominance_trait(tmp_path):
    from snpcnn.io import read_genotypes

    out = tmp_path / "p"
    r = _run(
        "--out",
        out,
        "--format",
        "plink",
        "--architecture",
        "dominance",
        "--samples",
        100,
        "--snps",
        200,
        "--missing-rate",
        0.05,
    )
    assert r.exit_code == 0, r.output
    g = read_genotypes(out / "sim.bed", cache=False)
    miss = float((np.asarray(g.dosages) < 0).mean())
    assert 0.03 < miss < 0.07
    assert set(pd.read_csv(out / "causal.csv")["component"]) == {"dominance"}


def test_refusals_leave_nothing_and_force_replaces_only_its_own_folder(tmp_path):
    out = tmp_path / "s"
    bad = _run("--out", out, "--snps", 100, "--samples", 50, "--loci", 80, "--pair-ld", "weak")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "use fewer loci (--loci) or more SNPs, or --pair-ld any" in bad.output
    assert not out.exists()
    r = _run("--out", out, "--snps", 100, "--samples", 50, "--chromosomes", 101)
    assert "--chromosomes 101: at most --snps (100)" in r.output and not out.exists()
    r = _run("--out", out, "--snps", 300_000, "--samples", 20, "--chromosomes", 1)
    assert "one chromosome pass VCF's and PLINK's largest position; give --chromosomes 2" in (
        r.output
    )
    assert r.exit_code == 1 and not out.exists()
    assert _run("--out", out, "--snps", 100, "--samples", 50).exit_code == 0
    again = _run("--out", out, "--snps", 100, "--samples", 50)
    assert again.exit_code == 1 and "use --force" in again.output
    assert _run("--out", out, "--snps", 120, "--samples", 50, "--force").exit_code == 0
    assert json.loads((out / "simulation.json").read_text())["genotypes"]["n_snps"] == 120
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    r = _run("--out", mine, "--snps", 100, "--samples", 50, "--force")
    assert r.exit_code == 1 and (mine / "notes.txt").exists()


@pytest.mark.parametrize("arch", ["sparse_additive", "polygenic", "mixed"])
def test_every_architecture_runs(tmp_path, arch):
    r = _run("--out", tmp_path / arch, "--architecture", arch, "--samples", 60, "--snps", 400)
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / arch / "simulation.json").read_text())["ceiling"] > 0
