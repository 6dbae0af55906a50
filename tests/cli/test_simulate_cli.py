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
    bad = _run("--out", out, "--snps", 100, "--samples", 50, "--loci", 45, "--pair-ld", "weak")
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "use fewer loci (--loci), more SNPs, a larger --max-gap, or --pair-ld any" in bad.output
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


def test_genotype_shape_options_reach_the_draw_and_the_record(tmp_path):
    """--maf-range, --block-length and --spacing (the Python API had them, the command did
    not): recorded in simulation.json, and the drawn data follow them."""
    from snpcnn.io import read_genotypes
    from snpcnn.simulate import SPACING

    assert next(p for p in main.commands["simulate"].params if p.name == "spacing").default == (
        SPACING
    )
    out = tmp_path / "s"
    r = _run(
        "--out", out, "--samples", 400, "--snps", 300, "--chromosomes", 1,
        "--maf-range", 0.3, 0.5, "--block-length", 1e9, "--spacing", 100, "--format", "plink",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rec = json.loads((out / "simulation.json").read_text())["genotypes"]
    assert rec["maf_range"] == [0.3, 0.5] and rec["spacing"] == 100 and rec["block_length"] == 1e9
    g = read_genotypes(out / "sim.bed")
    d = np.asarray(g.dosages, dtype=float)
    maf = np.minimum(d.mean(0) / 2, 1 - d.mean(0) / 2)
    assert maf.min() > 0.2  # drawn from 0.3..0.5 (sampling noise at n = 400 is about 0.02)
    gaps = np.diff(g.variants["pos"].to_numpy())
    assert 50 < gaps.mean() < 200  # 100 bp apart on average (10 kb by default)
    r = _run("--out", tmp_path / "t", "--maf-range", 0.3, 0.1)
    assert r.exit_code == 1 and "--maf-range 0.3 0.1: give 0 < LOW <= HIGH <= 0.5" in r.output
    r = _run("--out", tmp_path / "t", "--snps", 100, "--chromosomes", 1, "--spacing", 1e9)
    assert r.exit_code == 1 and "give a smaller --spacing" in r.output
    assert not (tmp_path / "t").exists()


def test_a_size_beyond_the_memory_available_is_refused_before_drawing(tmp_path, monkeypatch):
    import snpcnn.threads

    monkeypatch.setattr(snpcnn.threads, "available_memory", lambda: 2**30)
    r = _run("--out", tmp_path / "s", "--samples", 40_000, "--snps", 40_000)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "needs about 1.5 GiB of memory to draw and write, and 1.0 GiB is available" in (r.output)
    assert not (tmp_path / "s").exists()


def test_missing_calls_are_drawn_in_blocks_with_the_whole_matrix_s_draws():
    """The missing-call mask is drawn in row blocks (no 8-byte uniform per call): the same
    calls go missing as with one draw of the whole matrix."""
    from snpcnn import simulate as sim

    g = sim.simulate_genotypes(500, 40_000, missing_rate=0.2, seed=5)
    d = np.asarray(g.dosages)
    assert (1 << 23) // 40_000 < 500  # several blocks
    # the reference: the same generator state, one draw of the whole matrix
    ref = sim.simulate_genotypes(500, 40_000, missing_rate=0.0, seed=5)
    rng = np.random.default_rng(5)
    # replay the draws simulate_genotypes makes before the mask, then the mask
    rng.uniform(0.05, 0.5, 40_000), rng.random(40_000), rng.exponential(1.0, 40_000)
    rng.random(40_000), [rng.standard_normal(1000) for _ in range(40_000)]
    mask = rng.random((500, 40_000)) < 0.2
    assert np.array_equal(d < 0, mask)
    assert np.array_equal(d[~mask], np.asarray(ref.dosages)[~mask])
