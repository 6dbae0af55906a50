"""The default's start choice on streamed genotypes (large data, snpcnn.datapath): GBLUP,
GBLUP-AD and the LASSO from column-block passes, as in memory (session 19), and the CNN-GP
since session 28 (tests/test_streamed_cnn_gp.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn import datapath
from snpcnn.baselines.lasso import StreamedColumns, cross_validated_lasso
from snpcnn.datapath import EncodedRows
from snpcnn.preprocess import GenotypePreprocessor
from snpcnn.simulate import simulate_genotypes, simulate_trait
from snpcnn.training import TrainConfig, _choose_start, _LassoStart


@pytest.fixture(scope="module")
def data():
    g = simulate_genotypes(300, 600, missing_rate=0.02, seed=4)
    sparse, _ = simulate_trait(g, architecture="sparse_additive", n_loci=5, h2=0.6, seed=1)
    poly, _ = simulate_trait(g, architecture="polygenic", n_loci=300, h2=0.5, seed=2)
    return g, np.asarray(sparse, float), np.asarray(poly, float)


@pytest.fixture()
def small_blocks(monkeypatch):
    """Blocks of a few columns, so that every pass really is many blocks."""
    monkeypatch.setattr(datapath, "BLOCK_BYTES", 16 * 1024)


def _inputs(g, rows):
    pre = GenotypePreprocessor(scaling="center").fit(g, rows)
    return pre, pre.transform(g, rows)


def test_take_columns_equals_the_columns(data):
    g, _, _ = data
    rows = np.array([9, 2, 150, 40, 41])
    pre, dense = _inputs(g, np.arange(200))
    src = EncodedRows(g, pre, rows)
    flat = pre.transform(g, rows).reshape(len(rows), -1)
    cols = np.array([599, 0, 17, 16, 300])
    np.testing.assert_array_equal(src.take_columns(cols), flat[:, cols])


def test_streamed_lasso_search_equals_in_memory(data, small_blocks):
    """The same penalty, effects and cross-fitted predictions, read in column blocks (float
    rounding apart: the sums over blocks)."""
    g, y, _ = data
    rows = np.arange(250)
    pre, dense = _inputs(g, rows)
    x = dense.reshape(len(rows), -1).astype(np.float64)
    want = cross_validated_lasso(x - x.mean(axis=0), y[rows])
    src = StreamedColumns(EncodedRows(g, pre, rows), cache_bytes=8 * 250 * 7)
    assert len(list(src.x.column_blocks())) > 10
    got = cross_validated_lasso(src, y[rows])
    assert got.best == want.best and np.count_nonzero(want.coef) >= 5
    np.testing.assert_allclose(got.coef, want.coef, atol=1e-10)
    np.testing.assert_allclose(got.oof, want.oof, atol=1e-10)
    assert got.intercept == pytest.approx(want.intercept, abs=1e-10)


@pytest.mark.parametrize("trait, chosen", [("sparse", "lasso"), ("polygenic", "ridge")])
def test_streamed_start_choice(data, small_blocks, trait, chosen):
    """Streamed rows: the REML numbers and errors of the in-memory choice (the CNN-GP's
    likelihood bit for bit); the LASSO start predicts streamed rows as in memory."""
    g, sparse, poly = data
    y = {"sparse": sparse, "polygenic": poly}[trait]
    rows = np.arange(260)
    pre, dense = _inputs(g, rows)
    yt = ((y[rows] - y[rows].mean()) / y[rows].std()).astype(np.float32)[:, None]
    cfg = TrainConfig(model="snpcnn_default")
    start, info = _choose_start(EncodedRows(g, pre, rows), yt, cfg, "regression")
    mem_start, mem = _choose_start(dense, yt, cfg, "regression")
    assert info["candidates"] == ["ridge", "cnn_gp", "gblup_ad", "lasso"]
    assert "skipped" not in info and "not_offered" not in info
    assert info["loglik"]["cnn_gp"] == mem["loglik"]["cnn_gp"]
    assert info["loglik"]["gblup_ad"] == pytest.approx(mem["loglik"]["gblup_ad"], rel=1e-8)
    assert info["chosen"] == chosen
    assert info["loo_mse"]["ridge"] == pytest.approx(mem["loo_mse"]["ridge"], rel=1e-8)
    assert info["lasso_cv_mse"] == pytest.approx(mem["lasso_cv_mse"], rel=1e-8)
    assert info["loglik_ridge"] == pytest.approx(mem["loglik_ridge"], rel=1e-8)
    if chosen == "ridge":
        assert start is None
        return
    assert isinstance(start, _LassoStart) and isinstance(mem_start, _LassoStart)
    np.testing.assert_allclose(start.fitted, mem_start.fitted, atol=1e-8)
    np.testing.assert_allclose(start.shift, mem_start.shift, atol=1e-6)
    test = np.arange(260, 300)
    np.testing.assert_allclose(
        start.predict(EncodedRows(g, pre, test)),
        mem_start.predict(pre.transform(g, test)),
        atol=1e-8,
    )


def in_memory_and_streamed(g, y, tmp_path, monkeypatch, epochs, baselines):
    """2-fold cross-validation of the default (``epochs``, 2 cross-fitting parts) with
    ``baselines``, in memory (SNPCNN_STREAM=0) and streamed (=1): the two results and their
    predictions, sorted alike."""
    from snpcnn.cv import cross_validate

    pheno = tmp_path / "pheno.csv"
    pd.DataFrame({"sample_id": g.samples, "t": y}).to_csv(pheno, index=False)
    runs = {}
    for stream in ("0", "1"):
        monkeypatch.setenv(datapath.STREAM_ENV, stream)
        runs[stream] = cross_validate(
            g,
            str(pheno),
            "t",
            folds=2,
            epochs=epochs,
            patience=epochs,
            conv_folds=2,
            baselines=baselines,
            refit=False,
            seed=3,
        )
    key = ["model", "repeat", "fold", "sample_id"]
    a = runs["0"].predictions.sort_values(key).reset_index(drop=True)
    b = runs["1"].predictions.sort_values(key).reset_index(drop=True)
    return runs, a, b


def test_streamed_cross_validation_with_the_lasso_start(data, tmp_path, monkeypatch):
    """The default on a sparse trait, streamed (SNPCNN_STREAM=1) and in memory: the LASSO
    start in both, the same predictions (float rounding apart), every start offered in both;
    the report says which starts a streamed fit could not offer (here none)."""
    g, y, _ = data
    runs, a, b = in_memory_and_streamed(g, y, tmp_path, monkeypatch, epochs=3, baselines=["gblup"])
    key = ["model", "repeat", "fold", "sample_id"]
    assert a[key].equals(b[key])
    chosen = {}
    for stream, res in runs.items():
        fits = [h["conv"] for h in res.histories if (h.get("conv") or {}).get("start_choice")]
        chosen[stream] = [(c["start"], c["start_choice"]["candidates"]) for c in fits]
    assert [s for s, _ in chosen["0"]] == [s for s, _ in chosen["1"]] == ["lasso", "lasso"]
    assert all(c == ["ridge", "cnn_gp", "gblup_ad", "lasso"] for _, c in chosen["1"])
    assert runs["1"].starts_not_offered() == runs["0"].starts_not_offered() == {}
    from snpcnn.report import _not_offered_text, conv_kept_text

    assert "not offered" not in conv_kept_text(runs["1"], short=True)
    assert "these starts were not offered: the LASSO in 2 fits" in _not_offered_text(
        {"LASSO": 2}, short=True
    )
    for model in sorted(set(a["model"])):
        if model.startswith("CNN"):
            m = a["model"] == model
            np.testing.assert_allclose(b.loc[m, "predicted"], a.loc[m, "predicted"], atol=1e-4)


def test_streamed_lasso_has_a_size_limit(data):
    """Above ``[linear] lasso_max_streamed`` training genotypes a streamed fit does not offer
    the LASSO (each of its iterations reads them all) and says why; GBLUP-AD and the CNN-GP
    still are."""
    from snpcnn.models import load_architecture

    g, y, _ = data
    rows = np.arange(260)
    pre, _ = _inputs(g, rows)
    yt = ((y[rows] - y[rows].mean()) / y[rows].std()).astype(np.float32)[:, None]
    arch = load_architecture("snpcnn_default")
    arch["linear"]["lasso_max_streamed"] = 1000
    start, info = _choose_start(
        EncodedRows(g, pre, rows), yt, TrainConfig(model=arch), "regression"
    )
    assert "lasso_max_streamed (1000)" in info["not_offered"]["lasso"]
    assert info["candidates"] == ["ridge", "cnn_gp", "gblup_ad"] and "lasso_cv_mse" not in info
    assert set(info["loglik"]) == {"cnn_gp", "gblup_ad"} and not isinstance(start, _LassoStart)


def test_streamed_gblup_ad_start_equals_in_memory(small_blocks):
    """GBLUP-AD's REML fit and marker effects from two column-block passes, on a trait with
    dominance (heterozygote advantage), as in memory."""
    from snpcnn.baselines import CNNGP
    from snpcnn.baselines.reml import _reml_bounds
    from snpcnn.datapath import centered_gram
    from snpcnn.training import _fit_dominance_start

    g = simulate_genotypes(240, 400, seed=9)
    y, _ = simulate_trait(g, architecture="dominance", n_loci=6, h2=0.6, seed=3)
    rows = np.arange(240)
    pre, dense = _inputs(g, rows)
    x = dense.reshape(240, -1).astype(np.float64)
    xc = x - x.mean(axis=0)
    gram = xc @ xc.T
    gram /= np.mean(np.diag(gram))
    gp = CNNGP()
    lo, hi = _reml_bounds(gp.log_delta_bounds, gp.n_grid)
    yv = np.asarray(y, float)
    shares = [0.25, 0.5, 0.75]
    want, ll_w, _ = _fit_dominance_start(xc, x.mean(axis=0), gram, yv, lo, hi, 20, shares)
    src = StreamedColumns(EncodedRows(g, pre, rows))
    sgram = centered_gram(src.x)
    sgram /= np.mean(np.diag(sgram))
    got, ll_g, _ = _fit_dominance_start(src, src.mean, sgram, yv, lo, hi, 20, shares)
    assert ll_g == pytest.approx(ll_w, rel=1e-10) and got.share == want.share
    for a, b in ((got.lin, want.lin), (got.quad, want.quad), (got.fitted, want.fitted)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-7)  # REML optimum: 1e-6
    assert got.const == pytest.approx(want.const, rel=1e-5)


def test_kernel_baselines_run_on_streamed_folds(data, tmp_path, monkeypatch):
    """RKHS, GBLUP-AD, EG-BLUP and MLP-GP run on streamed folds from column blocks (small
    blocks, so that every kernel is a sum of many) and predict as in memory (float rounding
    apart); nothing is skipped, so neither run has a "not run" note."""
    from snpcnn.baselines import kernels_at_scale

    monkeypatch.setattr(kernels_at_scale, "BLOCK_BYTES", 300 * 8 * 50)  # 50 columns
    g, y, _ = data
    runs, a, b = in_memory_and_streamed(
        g, y, tmp_path, monkeypatch, 1, ["gblup", "rkhs", "gblup_ad", "egblup", "mlp_gp"]
    )
    # MLP-GP's window products: float32 in memory, float64 sums over blocks when streamed
    for model, tol in (("RKHS", 1e-6), ("GBLUP-AD", 1e-6), ("EG-BLUP", 1e-6), ("MLP-GP", 1e-4)):
        pa, pb = a[a.model == model], b[b.model == model]
        assert len(pa) == len(pb) == len(y)
        np.testing.assert_allclose(pb["predicted"], pa["predicted"], rtol=tol, atol=tol)
    assert not any("not run" in n for r in runs.values() for n in r.notes)


def test_every_baseline_streams():
    """A new baseline must be taught to read streamed rows (or be skipped there with a note:
    tests/test_streamed_start.py::test_a_baseline_that_cannot_stream_is_named)."""
    from snpcnn.baselines import BASELINES
    from snpcnn.cv import MT_BASELINE
    from snpcnn.datapath import STREAMED_BASELINES

    assert {b.replace("_", "") for b in (*BASELINES, MT_BASELINE)} <= set(STREAMED_BASELINES)


def test_a_baseline_that_cannot_stream_is_named(data, tmp_path, monkeypatch):
    """Where a baseline could not read streamed rows, summary.md's notes say so once, with
    the way to run it; the in-memory run has no such note."""
    from snpcnn import datapath
    from snpcnn.report import summary_markdown

    monkeypatch.setattr(
        datapath, "STREAMED_BASELINES", tuple(set(datapath.STREAMED_BASELINES) - {"mlpgp"})
    )
    g, y, _ = data
    runs, a, b = in_memory_and_streamed(g, y, tmp_path, monkeypatch, 1, ["gblup", "mlp_gp"])
    assert "MLP-GP" in set(a["model"]) and "MLP-GP" not in set(b["model"])
    said = [n for n in runs["1"].notes if n.startswith("MLP-GP not run: this fold was streamed")]
    assert len(said) == 1 and "SNPCNN_STREAM=0" in said[0]
    assert not any("not run" in n for n in runs["0"].notes)
    assert said[0] in summary_markdown(runs["1"])
