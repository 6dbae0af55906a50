"""The LASSO as a start that inner CV may propose (v7: the default of sessions 18-20, measured as
the candidate preset snpcnn_default_v7; v8, the default since, keeps it)."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.baselines.lasso import Lasso, cross_validated_lasso, lasso_path
from snpcnn.models import load_architecture
from snpcnn.training import TrainConfig, _choose_start, _LassoStart, train_cnn

V7 = "snpcnn_default_v7"


def _data(kind: str, seed: int = 0, n: int = 240, m: int = 120):
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    if kind == "sparse":  # 4 large effects among 120 markers
        g = x[:, [3, 40, 77, 100]] @ np.array([1.0, -1.0, 0.8, 0.7])
    else:  # every marker a small effect
        g = x @ rng.normal(size=m)
    y = g + rng.normal(scale=g.std() * 0.7, size=n)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    return z, ((y - y.mean()) / y.std()).astype(np.float32)[:, None]


def test_default_is_v7_with_its_windows_in_ld_order():
    """The default (v12 since session 27) is v7 apart from its name, the screen's SNP order,
    pair reach and pair-led windows (tests/test_ldorder.py), the second stage over triples,
    (session 34) the multi-trait start for several traits, (session 53) the screen's
    forward selection, (session 55) the GBLUP start and (session 56) the LASSO start refitted
    around kept convolutions."""
    a, b = load_architecture("snpcnn_default"), load_architecture(V7)
    assert a.pop("name") == "snpcnn_default" and b.pop("name") == V7
    a.pop("description"), b.pop("description")
    assert a.pop("triple_stage")["model"] == "snpcnn_triples_lead"
    assert a["screen"].pop("order") == "auto" and a["screen"].pop("ld_reach") == 16
    assert a["screen"].pop("all_pairs") is True
    assert a["screen"].pop("pairs") == "lead"
    assert a["screen"].pop("map_reach") == 16  # v15 (session 47)
    assert a["screen"].pop("map_all_pairs") is True  # v16 (session 48)
    assert a["linear"]["lasso_dominance"] is True  # v17 (session 51)
    assert a["screen"].pop("conditional") is True  # v19 (session 53)
    assert a["screen"].pop("conditional_alpha") == 0.05
    assert a["screen"].pop("conditional_fill") == "repeat"
    assert a["linear"].pop("backfit") == 2 and b["linear"].pop("backfit") == 0  # v20 (s55)
    assert a["linear"].pop("backfit_lasso") and not b["linear"].pop("backfit_lasso")  # v21 (s56)
    a["linear"]["lasso_dominance"] = b["linear"]["lasso_dominance"]
    assert a["linear"].pop("multitrait") is True and b["linear"].pop("multitrait") is False
    assert a["linear"].pop("multitrait_cnn_gp") is True  # v14 (session 35)
    b["linear"].pop("multitrait_cnn_gp")
    assert a == b and a["linear"]["kernel"] == ["cnn_gp", "gblup_ad", "lasso"]


def test_inner_cv_proposes_the_lasso_on_a_sparse_trait_with_cross_fitted_residuals():
    """On a sparse trait the LASSO's inner-CV error is below GBLUP's leave-one-out error, so
    it is proposed; y + shift - fitted is each row's prediction error by the fold model not
    fitted on it (recomputed here fold by fold), and its effects reproduce its fit."""
    x, y = _data("sparse")
    start, info = _choose_start(x, y, TrainConfig(model=V7), "regression")
    assert isinstance(start, _LassoStart) and info["chosen"] == "lasso"
    assert info["candidates"] == ["ridge", "cnn_gp", "gblup_ad", "lasso"]
    assert info["lasso_cv_mse"] < min(info["loo_mse"].values())
    assert 4 <= info["lasso_n_selected"] < 60
    yv = y[:, 0].astype(np.float64)
    x2 = x.reshape(len(x), -1).astype(np.float64)
    np.testing.assert_allclose(start.predict(x)[:, 0], start.fitted[:, 0], atol=1e-8)
    # the cross-fitted residual, refitted by hand on the same folds at the chosen penalty
    xc = x2 - x2.mean(0)
    fit = cross_validated_lasso(xc, yv, seed=0)
    order = np.random.default_rng(0).permutation(len(yv))
    test = np.array_split(order, 5)[2]
    train = np.setdiff1d(order, test)
    m_f, y_f = xc[train].mean(0), yv[train].mean()
    coefs = lasso_path(xc[train] - m_f, yv[train] - y_f, fit.alphas[: fit.best + 1], 1.0, 1e-4, 50)
    pred = (xc[test] - m_f) @ coefs[:, -1] + y_f
    resid = yv + start.shift[:, 0] - start.fitted[:, 0]
    np.testing.assert_allclose(resid[test], yv[test] - pred, atol=1e-4)
    # the markers that carry the trait are among the selected ones
    assert np.all(np.abs(start.lin[[3, 40, 77, 100]]) > 0)


def test_above_kernel_max_samples_the_lasso_is_proposed_on_the_subsample(monkeypatch):
    """A large training part: inner CV proposes the LASSO on the subsample as below
    kernel_max_samples, and the start is then the LASSO fitted on every row (its penalty by
    inner CV of every row): the in-memory start's numbers, from a float64 copy or, above
    START_DENSE_BYTES, from column blocks of the float32 input (no float64 copy)."""
    from snpcnn import datapath
    from snpcnn.baselines import large_n

    x, y = _data("sparse", seed=4, n=400)
    arch = load_architecture("snpcnn_default")
    arch["linear"]["kernel_max_samples"] = 100
    cfg = TrainConfig(model=arch)
    monkeypatch.setattr(large_n, "SUBSAMPLE", 200)
    start, info = _choose_start(x, y, cfg, "regression")
    assert isinstance(start, _LassoStart) and info["chosen"] == "lasso"
    assert info["subsample"] == 200 and not info["not_offered"]
    # the default since v17 also fits the LASSO with heterozygote indicators; on an additive
    # trait they are not kept (the plain LASSO's numbers, as below)
    assert set(info["lasso_subsample"]) == {
        "lasso_alpha",
        "lasso_n_selected",
        "lasso_penalty_index",
        "lasso_dominance_columns",
        "lasso_cv_mse_plain",
        "lasso_cv_mse_dominance",
        "lasso_dominance_p",
        "lasso_dominance_used",
    }
    assert info["lasso_subsample"]["lasso_dominance_used"] is False
    # every row: what the start below kernel_max_samples fits on these rows
    arch["linear"]["kernel_max_samples"] = 10_000
    whole, _ = _choose_start(x, y, TrainConfig(model=arch), "regression")
    assert isinstance(whole, _LassoStart) and info["lasso_alpha"] == whole.alpha
    np.testing.assert_allclose(start.lin, whole.lin, atol=1e-12)
    np.testing.assert_allclose(start.shift, whole.shift, atol=1e-6)
    assert np.all(np.abs(start.lin[[3, 40, 77, 100]]) > 0)
    # above START_DENSE_BYTES: column blocks of the float32 input, the same fit
    monkeypatch.setattr(datapath, "START_DENSE_BYTES", 1)
    blocks, info2 = _choose_start(x, y, cfg, "regression")
    assert isinstance(blocks, _LassoStart) and info2["lasso_alpha"] == start.alpha
    np.testing.assert_allclose(blocks.lin, start.lin, atol=1e-6)
    np.testing.assert_allclose(blocks.fitted, start.fitted, atol=1e-5)


def test_array_columns_read_what_the_array_holds():
    """ArrayColumns: columns, column sets and lazy row subsets of a 3-d float32 input."""
    from snpcnn.datapath import ArrayColumns

    x = np.random.default_rng(0).normal(size=(7, 5, 2)).astype(np.float32)
    flat = x.reshape(7, -1)
    a = ArrayColumns(x)
    assert len(a) == 7 and a.n_features == 10
    np.testing.assert_array_equal(a.columns(3, 8), flat[:, 3:8])
    np.testing.assert_array_equal(a.take_columns(np.array([9, 0, 4])), flat[:, [9, 0, 4]])
    sub = a[np.array([5, 1, 2])][np.array([2, 0])]
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.columns(0, 10), flat[[2, 5]])
    assert [b for b in a.column_blocks()] == [(0, 10)]


def test_polygenic_trait_keeps_the_v6_choice():
    """Where every marker has a small effect the LASSO is not proposed and the record holds
    what v6 decided (same REML numbers)."""
    x, y = _data("polygenic", seed=3)
    start, info = _choose_start(x, y, TrainConfig(model=V7), "regression")
    _, v6 = _choose_start(x, y, TrainConfig(model="snpcnn_default_v6"), "regression")
    assert info["lasso_cv_mse"] >= min(info["loo_mse"].values())
    assert info["chosen"] == v6["chosen"] and (start is None) == (v6["chosen"] == "ridge")
    assert info["loglik"] == v6["loglik"] and info["loglik_ridge"] == v6["loglik_ridge"]


def test_lasso_start_drives_the_saved_model_and_is_deterministic(tmp_path):
    """With the correction dropped (epochs = 0) the v7 model predicts exactly its LASSO start,
    also after a reload; the pipeline test recorded both errors; a second run is identical."""
    from snpcnn.datapath import predict_rows
    from snpcnn.models import load_model

    x, y = _data("sparse", seed=1)
    events = []
    cfg = TrainConfig(model=V7, epochs=0)
    res = train_cnn(x[:200], y[:200], cfg, seed=0, on_event=lambda k, **i: events.append((k, i)))
    choice = res.conv["start_choice"]
    assert events and events[0][1]["start"] == "the LASSO"
    assert "inner cross-validation prefers the LASSO" in events[0][1]["basis"]
    assert set(choice["oof_mse"]) == {"ridge", "lasso"}
    assert choice["chosen"] == res.conv["start"] == "lasso"  # far lower out-of-fold error
    got = np.asarray(predict_rows(res.model, x[200:], 256))[:, 0]
    want = res.start.predict(x[200:])[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    path = tmp_path / "m.keras"
    res.model.save(path)
    loaded = load_model(path, compile=False)
    again = np.asarray(loaded.predict(x[200:], verbose=0))[:, 0]
    np.testing.assert_allclose(again, got, atol=1e-5 * np.abs(want).max())
    # a linear start: its layer skips the squared inputs (no batch-sized temporary)
    assert loaded.get_layer("lasso_start").squares is False
    res2 = train_cnn(x[:200], y[:200], cfg, seed=0)
    np.testing.assert_array_equal(res2.start.lin, res.start.lin)


def test_path_early_stop_finds_the_full_grid_choice():
    """The per-fold early stop of the penalty path (patience 4) chooses the penalty that the
    whole grid chooses, on a sparse and a polygenic trait."""
    for kind, seed in (("sparse", 0), ("polygenic", 3)):
        x, y = _data(kind, seed=seed)
        x2 = x.reshape(len(x), -1).astype(np.float64)
        yv = y[:, 0].astype(np.float64)
        short = cross_validated_lasso(x2, yv, patience=4)
        full = cross_validated_lasso(x2, yv, patience=0)
        assert short.best == full.best
        np.testing.assert_allclose(short.coef, full.coef)
        assert len(full.cv_mse) == 20 and len(short.cv_mse) <= 20


def test_solver_matches_scikit_learn_on_a_small_problem():
    """The warm-started path reaches scikit-learn's coordinate-descent optimum (tight tolerance)."""
    from sklearn.linear_model import Lasso as SkLasso

    x, y = _data("sparse", seed=5)
    x2 = x.reshape(len(x), -1).astype(np.float64)
    yv = y[:, 0].astype(np.float64) - y[:, 0].mean()
    a = 0.05
    ours = lasso_path(x2, yv, np.array([0.2, a]), 1.0, 1e-8, 200)[:, -1]
    sk = SkLasso(alpha=a, fit_intercept=False, tol=1e-10, max_iter=100000).fit(x2, yv).coef_
    np.testing.assert_allclose(ours, sk, atol=1e-5)


@pytest.mark.parametrize("model", [V7, "snpcnn_default"])
def test_start_row_name_and_report_text(model):
    from snpcnn.cv import start_label
    from snpcnn.report import _kernel_start_text

    assert (
        start_label(model) == "CNN start (RR-BLUP, CNN-GP, GBLUP-AD or LASSO, by REML or inner CV)"
    )
    c = {"conv_folds": 5, "conv_gate": 0.05}
    starts = {"RR-BLUP": 3, "CNN-GP": 0, "GBLUP-AD": 0, "LASSO": 2}
    short = _kernel_start_text(1, 5, starts, c, short=True)
    assert "the LASSO (sparse linear model" in short and "REML or inner CV" in short
    long = _kernel_start_text(1, 5, starts, c, short=False)
    assert "**2 of 5**" in long and "5-fold cross-fitted" in long
    assert "inner-CV squared error" in long


def test_lasso_baseline_unchanged_api():
    """The baseline keeps its attributes, now on the shared inner-CV path."""
    x, y = _data("sparse", seed=2)
    m = Lasso().fit(x.reshape(len(x), -1), y[:, 0])
    assert m.alpha_ in m.alphas_ and m.n_selected_ >= 4
    assert len(m.cv_mse_) <= len(m.alphas_)
    r = np.corrcoef(m.predict(x.reshape(len(x), -1)), y[:, 0])[0, 1]
    assert r > 0.7


def test_proposal_margin_withdraws_coin_toss_proposals_on_a_trait_without_signal():
    """On a trait that the genotypes do not carry, the LASSO's inner-CV error and GBLUP's
    leave-one-out error are both about the variance, and v7's rule (any lower mean) proposes
    the LASSO by a hair in some draws; with ``lasso_proposal_p`` the proposal also needs the
    row-by-row paired test, which a coin toss rarely passes.  The sparse trait still passes."""
    spec = load_architecture(V7)
    spec["linear"]["kernel"] = "lasso"
    spec["linear"]["lasso_proposal_p"] = 0.05
    cfg = TrainConfig(model=spec)
    withdrawn = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        x = rng.binomial(2, 0.4, size=(200, 80)).astype(np.float32)
        x = (x - x.mean(0))[..., None]
        y = rng.normal(size=(200, 1)).astype(np.float32)
        start, info = _choose_start(x, y, cfg, "regression")
        p = info["lasso_proposal_p"]
        assert 0.0 <= p <= 1.0
        v7_proposes = info["lasso_cv_mse"] < min(info["loo_mse"].values())
        assert (info["chosen"] == "lasso") == (v7_proposes and p < 0.05)
        assert (start is not None) == (info["chosen"] == "lasso")
        withdrawn += v7_proposes and p >= 0.05
    assert withdrawn >= 1  # the draws include v7 coin tosses that the margin withdraws
    x, y = _data("sparse")
    start, info = _choose_start(x, y, cfg, "regression")
    assert info["chosen"] == "lasso" and info["lasso_proposal_p"] < 1e-3


@pytest.mark.parametrize("bad", [0, -0.1, 1.5, "x"])
def test_proposal_p_must_be_a_probability(bad):
    from snpcnn.errors import InputError
    from snpcnn.models.spec import validate_architecture

    spec = load_architecture(V7)
    spec["linear"]["lasso_proposal_p"] = bad
    with pytest.raises(InputError, match="lasso_proposal_p"):
        validate_architecture(spec)
