"""Recompute every claim of `snpcnn explain`: importance.csv, explain.json and the console
against the genotypes, the phenotypes and the model they describe.

One tiny default fit (PLINK, 90 x 40, covariate sex, 3 epochs, refitted on all samples), then
`snpcnn explain` twice: on the training file, and on a copy that lacks 4 of the model's SNPs
and counts the other allele at 5 (alleles swapped, dosages 2 - x).

- the top list on the console is importance.csv's order, with absent SNPs marked;
- the marginal scan (beta, p) is least squares of the trait on the SNP and the covariates
  over the phenotyped samples; the Spearman correlations are those of importance.csv's
  columns; SNPs absent from the file have no scan and stay out of the correlation;
- the SNP-match counts and the `imputed` column agree with what the second file lacks;
- the refit predicts its start (a linear model of the encoded input) where its correction
  was dropped: then integrated gradients equal gradient x input, gradient x input equals
  saliency times the mean |encoded dosage|, and Grad-CAM is skipped with a note; a SNP with
  its alleles swapped gets the importance it had in the training file.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bed_reader import to_bed
from click.testing import CliRunner
from scipy import stats

from snpcnn.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")

N, M, N_GENO_ONLY = 90, 40, 3
DROP = [5, 17, 30, 38]
SWAP = [2, 7, 11, 20, 25]
METHODS = ["saliency", "gradxinput", "integrated_gradients"]
TOP_K = 8


def _write_bed(path: Path, g: np.ndarray, ids, sids, pos, a1, a2) -> None:
    to_bed(
        path,
        g.astype(np.float32),
        properties={
            "fid": ids,
            "iid": ids,
            "sid": sids,
            "chromosome": ["1"] * len(sids),
            "bp_position": pos,
            "allele_1": a1,
            "allele_2": a2,
        },
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("claims_explain")
    rng = np.random.default_rng(7)
    n_all = N + N_GENO_ONLY
    g = rng.binomial(2, 0.4, size=(n_all, M))
    sex = rng.choice(["F", "M"], size=N)
    beta = np.zeros(M)
    beta[[2, 7, 11, 20, 33]] = [0.8, -0.6, 0.5, 0.7, -0.4]
    y = g[:N] @ beta + 1.5 * (sex == "M") + rng.normal(size=N)
    ids = [f"s{i}" for i in range(n_all)]
    sids = [f"rs{j}" for j in range(M)]
    a1, a2 = ["A"] * M, ["G"] * M
    pos = [1000 * (j + 1) for j in range(M)]
    _write_bed(d / "train.bed", g, ids, sids, pos, a1, a2)
    pd.DataFrame({"sample_id": ids[:N], "y": 10.0 + y, "sex": sex}).to_csv(
        d / "pheno.csv", index=False
    )
    # the second file: 4 SNPs absent, 5 with the other allele counted
    keep = [j for j in range(M) if j not in DROP]
    g2 = g.copy()
    g2[:, SWAP] = 2 - g2[:, SWAP]
    b1, b2 = list(a1), list(a2)
    for j in SWAP:
        b1[j], b2[j] = a2[j], a1[j]
    _write_bed(
        d / "new.bed",
        g2[:, keep],
        ids,
        [sids[j] for j in keep],
        [pos[j] for j in keep],
        [b1[j] for j in keep],
        [b2[j] for j in keep],
    )
    cli = CliRunner()
    r = cli.invoke(
        main,
        [
            "fit",
            str(d / "train.bed"),
            str(d / "pheno.csv"),
            "--trait",
            "y",
            "--covariates",
            "sex",
            "--categorical",
            "sex",
            "--epochs",
            "3",
            "--folds",
            "3",
            "--baselines",
            "gblup",
            "--out",
            str(d / "fit"),
        ],
    )
    assert r.exit_code == 0, r.output
    out = {"dir": d, "g": g, "sex": sex, "y": 10.0 + y, "fit": d / "fit"}
    for name, bed in (("same", "train.bed"), ("new", "new.bed")):
        r = cli.invoke(
            main,
            [
                "explain",
                str(d / "fit" / "model.keras"),
                str(d / bed),
                str(d / "pheno.csv"),
                "--out",
                str(d / name),
                "--top-k",
                str(TOP_K),
            ],
        )
        assert r.exit_code == 0, r.output
        out[name] = {
            "stdout": r.stdout,
            "stderr": r.stderr,
            "imp": pd.read_csv(d / name / "importance.csv"),
            "info": json.loads((d / name / "explain.json").read_text()),
        }
    out["run"] = json.loads((d / "fit" / "run.json").read_text())
    return out


@pytest.fixture(params=["same", "new"])
def explained(request, runs):
    return request.param, runs[request.param], runs


def test_importance_has_every_model_snp_once(explained):
    name, e, _ = explained
    imp = e["imp"]
    assert list(imp["id"]) == [f"rs{j}" for j in range(M)]
    assert list(imp.columns[3 : 3 + len(METHODS)]) == METHODS == e["info"]["methods"]
    want = np.isin(np.arange(M), DROP) if name == "new" else np.zeros(M, bool)
    np.testing.assert_array_equal(imp["imputed"].to_numpy(bool), want)


def test_top_list_is_the_importance_order_with_absent_snps_marked(explained):
    name, e, _ = explained
    imp = e["imp"]
    top = imp.sort_values("saliency", ascending=False, kind="stable").head(TOP_K)
    m = re.search(rf"^top {TOP_K} SNPs by saliency: (.*)$", e["stdout"], re.M)
    assert m, e["stdout"]
    listed = m[1].split(", ")
    want = [f"{i} (absent from the file)" if a else i for i, a in zip(top["id"], top["imputed"])]
    # ties in the 6 printed digits may order either way
    assert sorted(listed) == sorted(want) or listed == want
    assert [x.split(" ")[0] for x in listed][:3] == list(top["id"])[:3]
    if name == "new":
        assert any("(absent from the file)" in x for x in listed) == bool(top["imputed"].any())


def test_snp_match_counts_agree_with_the_file(explained):
    name, e, _ = explained
    sm = e["info"]["snp_match"]
    assert sm["n_model_snps"] == M
    if name == "same":
        assert (sm["n_missing"], sm["n_flipped"], sm["n_by_id"]) == (0, 0, M)
    else:
        assert (sm["n_missing"], sm["n_flipped"]) == (len(DROP), len(SWAP))
        assert sm["n_by_id"] + sm["n_by_position"] == M - len(DROP)
    assert e["info"]["n_snps"] == M
    # the phenotyped samples are explained (not the genotyped-only ones)
    assert e["info"]["n_samples_explained"] == N


def test_marginal_scan_recomputed(explained):
    name, e, runs = explained
    imp = e["imp"].set_index("id")
    g = runs["g"][:N].astype(float)
    male = (runs["sex"] == "M").astype(float)
    y = runs["y"]
    assert e["info"]["marginal_adjusted_for"] == ["sex"]
    for j in range(M):
        row = imp.loc[f"rs{j}"]
        if name == "new" and j in DROP:
            # absent from the file: no scan of it
            assert np.isnan(row["marginal_p"]) and np.isnan(row["marginal_beta"]), j
            continue
        X = np.column_stack([np.ones(N), male, g[:, j]])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ coef
        df = N - 3
        se = np.sqrt(resid @ resid / df * np.linalg.inv(X.T @ X)[2, 2])
        p = 2 * stats.t.sf(abs(coef[2] / se), df)
        # the scan counts the allele the model counts, whatever the file counts
        assert row["marginal_beta"] == pytest.approx(coef[2], rel=1e-4, abs=1e-6), j
        assert row["marginal_p"] == pytest.approx(p, rel=1e-4, abs=1e-12), j


def test_spearman_recomputed_over_the_snps_in_the_file(explained):
    name, e, _ = explained
    imp = e["imp"]
    present = ~imp["imputed"].to_numpy(bool)
    for method, rho in e["info"]["spearman_vs_marginal"].items():
        want = stats.spearmanr(
            imp.loc[present, method], imp.loc[present, "marginal_neglog10p"]
        ).statistic
        assert rho == pytest.approx(want, abs=1e-3), method  # importance.csv has 6 digits


def test_a_dropped_correction_explains_a_linear_model(runs):
    """The refit's correction was dropped (run.json): the model is its start, linear in the
    encoded input, and the attributions say so exactly."""
    from snpcnn.bundle import load_bundle
    from snpcnn.io import read_genotypes

    assert runs["run"]["config"]["refit_conv_kept"] is False
    bundle = load_bundle(runs["fit"] / "model.keras")
    geno = read_genotypes(runs["dir"] / "train.bed")
    X, _ = bundle.encode(geno.subset(samples=np.arange(N)))
    mean_abs = np.abs(X).sum(axis=2).mean(axis=0)
    imp = runs["same"]["imp"]
    np.testing.assert_allclose(imp["integrated_gradients"], imp["gradxinput"], rtol=1e-3)
    np.testing.assert_allclose(imp["gradxinput"], imp["saliency"] * mean_abs, rtol=2e-3)
    # Grad-CAM and HiResCAM: skipped, with the reason, on stderr and in explain.json
    for e in (runs["same"], runs["new"]):
        assert "dropped" in e["info"]["skipped"]["grad_cam"]
        assert "dropped" in e["info"]["skipped"]["hirescam"]
        assert (
            "Grad-CAM and HiResCAM skipped: the convolutions' correction was dropped" in e["stderr"]
        )
        assert "the kernels in filters.png do not affect the predictions" in e["stdout"]


def test_a_swapped_snp_keeps_its_importance(runs):
    """Same samples, same model: a SNP read with its alleles swapped is flipped back, so its
    attributions are those of the training file; an absent SNP is filled with its training
    mean, which a linear model's other SNPs do not see."""
    a = runs["same"]["imp"].set_index("id")
    b = runs["new"]["imp"].set_index("id")
    present = [f"rs{j}" for j in range(M) if j not in DROP]
    for m in METHODS:
        np.testing.assert_allclose(b.loc[present, m], a.loc[present, m], rtol=2e-3, atol=1e-7)
    swapped = [f"rs{j}" for j in SWAP]
    assert (a.loc[swapped, "saliency"] > 0).all()


def test_plots_exist(explained):
    name, _, runs = explained
    for m in METHODS:
        assert (runs["dir"] / name / f"manhattan_{m}.png").is_file(), m
