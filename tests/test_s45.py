"""Session 45: what a checking helper found in `snpcnn simulate` and results folders."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.errors import InputError


def _simulate(*args):
    return CliRunner().invoke(main, ["simulate", *map(str, args)])


def test_force_never_deletes_a_file_written_into_a_results_folder_later(tmp_path):
    from snpcnn import __version__
    from snpcnn.report import FOLDER_FILES, atomic_directory, check_output_dir

    out = tmp_path / "sim"
    assert _simulate("--out", out, "--samples", 60, "--snps", 200).exit_code == 0
    own = json.loads((out / "simulation.json").read_text())[FOLDER_FILES]
    assert own == ["causal.csv", "phenotypes.csv", "sim.vcf.gz"]
    (out / "preds.csv").write_text("sample_id,y\n")  # e.g. `snpcnn predict --out sim/preds.csv`
    r = _simulate("--out", out, "--samples", 60, "--snps", 200, "--force")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "sim holds preds.csv, written there after snpcnn simulate wrote the folder" in r.output
    assert (out / "preds.csv").exists()
    (out / "preds.csv").unlink()
    assert _simulate("--out", out, "--samples", 60, "--snps", 200, "--force").exit_code == 0
    # a fit folder alike (run.json), and a folder from before the key is replaced as before
    fit = tmp_path / "fit"
    with atomic_directory(fit, command="fit") as tmp:
        (tmp / "metrics.csv").write_text("x\n")
        (tmp / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
    assert json.loads((fit / "run.json").read_text())[FOLDER_FILES] == ["metrics.csv"]
    (fit / "mine.txt").write_text("keep")
    with pytest.raises(InputError, match="holds mine.txt, written there after snpcnn fit"):
        check_output_dir(fit, True, command="fit")
    (fit / "run.json").write_text(json.dumps({"snpcnn_version": __version__}))
    assert check_output_dir(fit, True, command="fit") == fit


def test_missing_calls_are_masked_after_the_trait_is_drawn(tmp_path):
    """The trait was drawn on the masked calls (each the SNP's mean), so its ceiling did not
    move with --missing-rate and missing calls cost a model nothing."""
    import pandas as pd

    from snpcnn.io import read_genotypes

    ceilings = {}
    for rate in (0.0, 0.5):
        out = tmp_path / f"m{rate}"
        r = _simulate(
            "--out", out, "--samples", 400, "--snps", 300, "--architecture", "sparse_additive",
            "--missing-rate", rate, "--format", "plink",
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        rec = json.loads((out / "simulation.json").read_text())
        ceilings[rate] = rec["ceiling"]
        assert rec["genotypes"]["missing_rate"] == rate and rec["genotypes"]["missing_seed"] == 2
        g = read_genotypes(out / "sim.bed")
        assert abs(float((np.asarray(g.dosages) < 0).mean()) - rate) < 0.02
    # the same genotypes and trait with and without missing calls: the truth does not
    # depend on which calls are masked
    assert ceilings[0.0] == ceilings[0.5]
    a = pd.read_csv(tmp_path / "m0.0" / "phenotypes.csv")
    b = pd.read_csv(tmp_path / "m0.5" / "phenotypes.csv")
    assert a.equals(b)
    d0 = np.asarray(read_genotypes(tmp_path / "m0.0" / "sim.bed").dosages)
    d5 = np.asarray(read_genotypes(tmp_path / "m0.5" / "sim.bed").dosages)
    seen = d5 >= 0
    assert np.array_equal(d0[seen], d5[seen])
    # a fit on the masked genotypes loses against the complete ones: the calls carried the
    # signal (least squares on the causal SNPs, mean-imputed)
    causal = pd.read_csv(tmp_path / "m0.5" / "causal.csv")["index"].to_numpy()
    y = a.iloc[:, 1].to_numpy()

    def r2(d):
        x = d[:, causal].astype(float)
        for j in range(x.shape[1]):
            col = x[:, j]
            col[col < 0] = col[col >= 0].mean()
        x = np.column_stack([np.ones(len(x)), x])
        fit = x @ np.linalg.lstsq(x, y, rcond=None)[0]
        return np.corrcoef(fit, y)[0, 1]

    assert r2(d5) < r2(d0) - 0.05


def test_mask_calls_checks_and_records():
    from snpcnn.simulate import mask_calls, simulate_genotypes

    g = simulate_genotypes(50, 40, seed=1)
    with pytest.raises(InputError, match="missing_rate"):
        mask_calls(g, 1.5)
    g = mask_calls(g, 0.2, seed=4)
    assert g.report["simulation"]["missing_rate"] == 0.2
    assert g.report["simulation"]["missing_seed"] == 4


def test_simulate_messages_name_the_option_and_the_real_limit(tmp_path):
    r = _simulate("--out", tmp_path / "a", "--h2", "nan")
    assert r.exit_code == 1 and r.output.strip() == (
        "Error: --h2 nan: give a number (see snpcnn simulate --help)"
    )
    r = _simulate("--out", tmp_path / "a", "--samples", 20, "--snps", 10)
    # 10 groups of 2 cannot come from 10 SNPs (it said "give 1 to 9", and 9 failed too)
    assert "--loci 10: give 1 to " in r.output and "groups of 2 SNPs among" in r.output
    most = int(r.output.split("give 1 to ")[1].split()[0])
    assert most <= 5
    r = _simulate("--out", tmp_path / "a", "--samples", 20, "--snps", 10, "--loci", 6,
                  "--architecture", "mixed")  # fmt: skip
    assert "additive SNPs and as many groups of 2" in r.output
    assert not (tmp_path / "a").exists()
    r = _simulate("--out", f"{tmp_path / 'my sim'}/", "--samples", 60, "--snps", 60)
    assert r.exit_code == 0, r.output
    assert f"--out '{tmp_path / 'my sim'}_results'" in r.output and "//" not in r.output
