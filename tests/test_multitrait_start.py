"""The default network fitted on several traits starts at the multi-trait GBLUP where a
likelihood-ratio test prefers it (session 34): its start is MT-GBLUP on the CNN's input, with
an exact leave-one-line-out shift, and the reports name it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.multitrait import MultiTraitGBLUP, _leave_line_out
from snpcnn.simulate import simulate_genotypes
from snpcnn.training import _multitrait_start


def _traits(x, rho, seed, missing=0.0):
    rng = np.random.default_rng(seed)
    z = x - x.mean(0)
    u1 = rng.normal(size=x.shape[1])
    u2 = rho * u1 + np.sqrt(1 - rho**2) * rng.normal(size=x.shape[1])
    g = np.column_stack([z @ u1, z @ u2])
    g /= g.std(0)
    y = g + rng.normal(size=g.shape)
    y[rng.random(y.shape) < missing] = np.nan
    return y


@pytest.fixture(scope="module")
def x():
    g = simulate_genotypes(240, 150, n_chrom=1, seed=5)
    d = np.asarray(g.dosages, dtype=np.float64)
    return (d - d.mean(0)) / d.std(0)  # the CNN's input: standardised dosages


def _genetic_blup(m, G, r, cells, i, j):
    """By brute force: the BLUP of line i's genetic value in trait j from the residuals ``r``
    of the observed ``cells`` (per trait), with m's covariances and the kernel G."""
    V = np.block(
        [
            [m.Sg_[a, b] * G[np.ix_(cells[a], cells[b])]
             + m.Se_[a, b] * (cells[a][:, None] == cells[b][None, :]) for b in range(2)]
            for a in range(2)
        ]
    )  # fmt: skip
    alpha = np.linalg.solve(V, np.concatenate([r[cells[b], b] for b in range(2)]))
    cov = np.concatenate([m.Sg_[j, b] * G[i, cells[b]] for b in range(2)])  # genetic only
    return cov @ alpha


def test_leave_line_out_residuals_equal_refitting_without_the_line(x):
    y = _traits(x, 0.9, 1, missing=0.3)
    m = MultiTraitGBLUP(loo=True, jitter=0.0, scale=float(x.shape[1])).fit(x, y)
    obs = ~np.isnan(y)
    r = np.where(obs, y - np.array([c[0] for c in m.coef_]), np.nan)
    z = x - x.mean(0)
    G = z @ z.T / m.scale_
    for i in (0, 7, 100, 239):
        keep = np.arange(len(y)) != i
        cells = [np.flatnonzero(obs[:, j] & keep) for j in range(2)]
        for j in np.flatnonzero(obs[i]):
            want = r[i, j] - _genetic_blup(m, G, r, cells, i, j)
            assert m.loo_residuals_[i, j] == pytest.approx(want, abs=1e-9)
    assert np.isnan(m.loo_residuals_[~obs]).all()
    with pytest.raises(Exception, match="exact solver"):
        MultiTraitGBLUP(loo=True, solver="iterative", scale=150.0).fit(x, y)
    assert callable(_leave_line_out)


def test_the_start_is_mt_gblup_where_the_traits_are_correlated(x):
    y = _traits(x, 0.9, 2, missing=0.25)
    start, info = _multitrait_start(x, y.astype(np.float32))
    assert info["chosen"] == "mtgblup" and start is not None and start.kind == "mtgblup"
    assert info["loglik_gain"] > info["threshold"] > 0 and info["df"] == 2
    # the start's linear path predicts exactly MT-GBLUP on the same input
    mt = MultiTraitGBLUP(scale=float(np.sum(x.var(0)))).fit(x, y)
    np.testing.assert_allclose(start.predict(x), mt.predict(x), rtol=1e-4, atol=1e-4)
    # shift = in-sample prediction minus the leave-one-line-out prediction, 0 where missing
    obs = ~np.isnan(y)
    assert (start.shift[~obs] == 0).all()
    mt_loo = MultiTraitGBLUP(scale=float(np.sum(x.var(0))), loo=True).fit(x, y)
    loo_pred = y - mt_loo.loo_residuals_
    np.testing.assert_allclose(
        start.shift[obs], (mt.predict(x) - loo_pred)[obs], rtol=1e-3, atol=1e-4
    )


def test_independent_traits_keep_the_ridge_start(x):
    rng = np.random.default_rng(3)
    z = x - x.mean(0)
    g = np.column_stack([z @ rng.normal(size=x.shape[1]) for _ in range(2)])
    y = g / g.std(0) + rng.normal(size=g.shape)
    start, info = _multitrait_start(x, y)
    assert start is None and info["chosen"] == "ridge"
    assert info["loglik_gain"] < info["threshold"]


def test_cross_validate_cv2_names_and_uses_the_multitrait_start(x, tmp_path):
    """The default on two correlated traits under CV2: the start row is MT-GBLUP where the
    test chose it, and it predicts a test cell from the line's other trait."""
    from snpcnn.cv import (
        MT_KERNEL_START_NAME,
        MT_START_NAME,
        MT_TRAIT_START_NAME,
        cross_validate,
        start_label,
    )
    from snpcnn.report import conv_kept_text

    g = simulate_genotypes(240, 150, n_chrom=1, seed=5)
    y = _traits(np.asarray(g.dosages, dtype=np.float64), 0.95, 4)
    pd.DataFrame({"A": y[:, 0], "B": y[:, 1]}, index=g.samples).to_csv(
        tmp_path / "y.csv", index_label="sample_id"
    )
    assert start_label("snpcnn_default", 2) == MT_KERNEL_START_NAME  # v14 (session 35)
    assert start_label("snpcnn_default_mt_trait", 2) == MT_TRAIT_START_NAME  # session 36
    assert start_label("snpcnn_default_v13", 2) == MT_START_NAME  # session 34's default
    assert start_label("snpcnn_default_v12", 2) != MT_START_NAME  # the frozen v12: no change
    assert start_label("snpcnn_default") != MT_START_NAME  # one trait: no change
    res = cross_validate(
        g, tmp_path / "y.csv", ["A", "B"], folds=2, epochs=4, patience=2, conv_folds=2,
        baselines=["gblup", "mtgblup"], refit=False, cv_scheme="cv2",
    )  # fmt: skip
    assert res.models[1] == MT_KERNEL_START_NAME
    starts = [h["conv"]["start"] for h in res.histories]
    assert starts == ["mtgblup", "mtgblup"]
    assert res.start_counts()["MT-GBLUP"] == 2
    text = conv_kept_text(res)
    assert "multi-trait GBLUP" in text and "**2 of 2**" in text
    m = res.metrics[res.metrics.metric == "pearson_r"].groupby("model")["value"].mean()
    assert m[MT_KERNEL_START_NAME] > m["GBLUP"] + 0.05  # it borrows from the other trait
    assert res.trait_own_starts() is None  # the multi-trait CNN-GP was not the start


def test_checking_helper_findings_dominance_copies_and_the_explain_note(x):
    """Session 34's checking helper: multitrait with a dominance block crashed deep in Keras
    (now refused by the architecture check); two traits that are copies of each other gave a
    non-converged fit whose fallback was credited to the test (now a 'skipped' reason); explain
    named the start of a several-trait model RR-BLUP."""
    import keras

    from snpcnn.errors import InputError
    from snpcnn.explain import _start_of
    from snpcnn.models import load_architecture

    base = {"name": "t", "blocks": [{"type": "conv", "filters": 2, "kernel_size": 3}]}
    with pytest.raises(InputError, match="multitrait = true .* no dominance block"):
        load_architecture({**base, "linear": {"multitrait": True, "dominance": True}})
    y = _traits(x, 0.9, 5)
    start, info = _multitrait_start(x, np.column_stack([y[:, 0], y[:, 0]]))
    assert info["converged"] is False and info["loglik_gain"] > info["threshold"]
    assert start is None and "did not converge" in info["skipped"]
    inp = keras.Input((10, 1))
    two = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    one = keras.Model(inp, keras.layers.Dense(1)(keras.layers.Flatten()(inp)))
    assert "multi-trait GBLUP" in _start_of(two) and _start_of(one) == "RR-BLUP"


def test_a_refit_above_the_cell_limit_says_it_starts_elsewhere(x, tmp_path, monkeypatch):
    """Every training part under the multi-trait start's cell limit, all lines above it:
    the saved model started at RR-BLUP while the folds scored MT-GBLUP, and only run.json's
    refit_start said so (reasoned in session 34).  Now a note says it, and summary.md's
    model.keras line names the saved model's start."""
    import snpcnn.multitrait
    from snpcnn.cv import cross_validate
    from snpcnn.report import summary_markdown

    g = simulate_genotypes(240, 150, n_chrom=1, seed=5)
    y = _traits(np.asarray(g.dosages, dtype=np.float64), 0.95, 4)
    pd.DataFrame({"A": y[:, 0], "B": y[:, 1]}, index=g.samples).to_csv(
        tmp_path / "y.csv", index_label="sample_id"
    )
    monkeypatch.setattr(snpcnn.multitrait, "EXACT_MAX_CELLS", 300)  # folds 240, all 480
    res = cross_validate(
        g, tmp_path / "y.csv", ["A", "B"], folds=2, epochs=3, patience=2, conv_folds=2,
        baselines=["gblup"], refit=True,
    )  # fmt: skip
    assert [h["conv"]["start"] for h in res.histories] == ["mtgblup", "mtgblup"]
    assert res.config["refit_start"] == "RR-BLUP"
    assert "480 observed training cells" in res.config["refit_start_skipped"]
    [note] = [n for n in res.notes if "saved model" in n]
    assert "starts at RR-BLUP (480 observed training cells" in note
    assert "started at MT-GBLUP in 2 of 2" in note
    md = summary_markdown(res)
    assert "(its start: RR-BLUP; its convolutions' correction" in md
    assert note in md


# ------------------------------------------------ the multi-trait CNN-GP start (session 35)
def _epistatic(x, seed, rho=0.9, missing=0.0):
    """Two correlated traits from products of adjacent SNPs (a kernel's signal, not G's)."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(size=x.shape[1] // 2)
    w2 = rho * w1 + np.sqrt(1 - rho**2) * rng.normal(size=len(w1))
    p = x[:, 0::2] * x[:, 1::2]
    g = np.column_stack([p @ w1, p @ w2])
    y = g / g.std(0) + 0.6 * rng.normal(size=g.shape)
    y[rng.random(y.shape) < missing] = np.nan
    return y


def test_a_given_kernel_equal_to_g_is_the_genomic_fit(x):
    y = _traits(x, 0.8, 6, missing=0.2)
    scale = float(np.sum(x.var(0)))
    m = MultiTraitGBLUP(loo=True, scale=scale).fit(x, y)
    z = x - x.mean(0)
    k = MultiTraitGBLUP(loo=True).fit(x, y, kernel=z @ z.T / scale)
    np.testing.assert_allclose(k.Sg_, m.Sg_, rtol=1e-6)
    np.testing.assert_allclose(k.dual_, m.dual_, rtol=1e-6, atol=1e-10)
    np.testing.assert_allclose(k.loo_residuals_, m.loo_residuals_, rtol=1e-6, atol=1e-9)
    assert k.loglik_gain_ == pytest.approx(m.loglik_gain_, rel=1e-6)
    with pytest.raises(Exception, match="kernel must be 240 x 240"):
        MultiTraitGBLUP().fit(x, y, kernel=np.eye(3))
    with pytest.raises(Exception, match="kernel\\(new, train\\) @ dual_"):
        k.predict(x)


def test_the_start_is_the_multitrait_cnn_gp_where_its_likelihood_wins(x):
    """Correlated epistatic traits: the default (v14) takes the multi-trait CNN-GP; its start
    predicts kernel(new, train) @ dual + intercept, with its exact leave-one-line-out shift;
    v13 does not offer it; additive traits keep MT-GBLUP."""
    import keras

    from snpcnn.baselines import CNNGP
    from snpcnn.training import TrainConfig, _start_output

    y = _epistatic(x, 1, missing=0.2)
    start, info = _multitrait_start(x, y.astype(np.float32), TrainConfig())
    assert info["chosen"] == "mt_cnn_gp" and start.kind == "mt_cnn_gp"
    assert info["candidates"] == ["ridge", "mtgblup", "mt_cnn_gp"]
    ll = info["loglik"]
    assert info["kernel_gain"] == pytest.approx(ll["mt_cnn_gp"] - max(ll["mtgblup"], ll["ridge"]))
    assert info["kernel_gain"] > info["kernel_threshold"] == 1.92
    assert info["mt_cnn_gp_loglik_gain"] > 0.5 * 5.99  # the correlations' test: chi2(2 df) / 2
    # the same model by hand: the depth with the highest summed one-trait REML likelihood
    by_depth = {}
    for d in CNNGP().depths:
        total = 0.0
        for j in range(2):
            o = ~np.isnan(y[:, j])
            total += CNNGP(solver="exact", depths=(d,)).fit(x[o], y[o, j]).loglik_
        by_depth[d] = total
    assert max(by_depth, key=by_depth.get) == info["kernel_depth"]
    gp = CNNGP(solver="exact", depths=(info["kernel_depth"],)).fit(
        x, np.zeros(len(y)) + 0.1 * x[:, 0]
    )
    K = gp.kernel(x)
    mt = MultiTraitGBLUP(scale=float(np.sum(x.var(0))), standardize=False).fit(x, y)
    # started at the genomic fit's covariances (from independent traits ML stopped at a
    # worse optimum here: -log L 179.7 against 174.2)
    mk = MultiTraitGBLUP(loo=True, standardize=False).fit(
        x, y, kernel=K, init=(mt.Sg_ / np.mean(np.diag(K)), mt.Se_)
    )
    default = MultiTraitGBLUP(standardize=False).fit(x, y, kernel=K)
    assert mk.optimizer_["nll"] < default.optimizer_["nll"] - 1.0
    new = x[:7] + 0.1
    want = gp.kernel(new) @ mk.dual_ + np.array([c[0] for c in mk.coef_])
    np.testing.assert_allclose(start.predict(new), want, rtol=1e-5, atol=1e-6)
    obs = ~np.isnan(y)
    loo_pred = y - mk.loo_residuals_
    np.testing.assert_allclose(
        start.shift[obs], (start.predict(x) - loo_pred)[obs], rtol=1e-3, atol=1e-4
    )
    assert (start.shift[~obs] == 0).all()
    # the saved model's layer: one output per trait, the start's predictions
    inp = keras.Input((x.shape[1],))
    model = keras.Model(inp, _start_output(start, inp))
    np.testing.assert_allclose(
        model.predict(new.astype(np.float32), verbose=0), want, rtol=1e-4, atol=1e-4
    )
    # v13 (session 34's default) offers MT-GBLUP only
    _, info13 = _multitrait_start(x, y, TrainConfig(model="snpcnn_default_v13"))
    assert info13["chosen"] == "mtgblup" and "loglik" not in info13
    # additive traits: the kernel does not win
    _, add = _multitrait_start(x, _traits(x, 0.9, 2, missing=0.25), TrainConfig())
    assert add["chosen"] == "mtgblup" and add["kernel_gain"] < 1.92


def test_checking_helper_near_copies_and_a_flipped_trait(x):
    """Session 35's checking helper: two traits that are near copies gave the multi-trait
    CNN-GP an unbounded likelihood (gains of 258-337) and a constant start; the depth was
    chosen on the traits' mean, which a trait's sign changes."""
    from snpcnn.training import TrainConfig

    y = _epistatic(x, 1, missing=0.2)
    _, a = _multitrait_start(x, y, TrainConfig())
    _, b = _multitrait_start(x, y * np.array([1.0, -1.0]), TrainConfig())
    assert a["kernel_depth"] == b["kernel_depth"]
    assert a["chosen"] == b["chosen"] == "mt_cnn_gp"
    rng = np.random.default_rng(0)
    copies = np.column_stack([y[:, 0], y[:, 0] + 1e-4 * rng.normal(size=len(y))])
    start, info = _multitrait_start(x, copies, TrainConfig())
    assert info["chosen"] != "mt_cnn_gp" and (start is None or start.kind != "mt_cnn_gp")
    assert "near copies" in info.get("mt_cnn_gp_skipped", "") or "did not converge" in info.get(
        "skipped", ""
    )


def test_leave_cell_out_residuals_equal_hiding_the_cell(x):
    """loo_cell_residuals_: each observed cell's value minus the BLUP of its genetic value
    from every other cell, its own line's other traits included (CV2's prediction)."""
    y = _traits(x, 0.7, 3, missing=0.3)
    m = MultiTraitGBLUP(loo=True, loo_cells=True, jitter=0.0, scale=float(x.shape[1])).fit(x, y)
    plain = MultiTraitGBLUP(loo=True, scale=float(x.shape[1])).fit(x, y)
    assert not hasattr(plain, "loo_cell_residuals_")  # only on request
    obs = ~np.isnan(y)
    r = np.where(obs, y - np.array([c[0] for c in m.coef_]), np.nan)
    z = x - x.mean(0)
    G = z @ z.T / m.scale_
    for i, j in [(i, j) for i in (0, 5, 100, 239) for j in range(2) if obs[i, j]]:
        cells = [
            np.flatnonzero(obs[:, b] & ((np.arange(len(y)) != i) | (b != j))) for b in range(2)
        ]
        want = r[i, j] - _genetic_blup(m, G, r, cells, i, j)
        assert m.loo_cell_residuals_[i, j] == pytest.approx(want, abs=1e-9)
    assert np.isnan(m.loo_cell_residuals_[~obs]).all()


def test_a_trait_better_alone_is_predicted_by_its_own_cnn_gp(x, monkeypatch):
    """[linear] multitrait_trait_choice (preset snpcnn_default_mt_trait, session 36): where a
    trait's one-trait CNN-GP has the lower exact leave-one-out error, the multi-trait start
    predicts it with that fit (its own depth); the other traits keep the joint fit, and the
    saved layer computes both.  The key's value below 1 is a paired test's p threshold."""
    import keras

    import snpcnn.training as tr
    from snpcnn.models.layers import KernelPrediction
    from snpcnn.training import TrainConfig, _start_output

    y = _epistatic(x, 1, rho=0.3, missing=0.2)
    y[:, 1] = 0.5 * y[:, 1] + 0.8 * _traits(x, 0.5, 1)[:, 0]  # trait 2 partly additive
    # the default: no per-trait choice
    _, plain = _multitrait_start(x, y.astype(np.float32), TrainConfig())
    assert plain["chosen"] == "mt_cnn_gp" and "trait_starts" not in plain
    # trait 2's own fit is better by 0.5 % (p 0.37): a 5 % test keeps the joint fit
    real = tr._linear_spec
    with monkeypatch.context() as mp:
        mp.setattr(tr, "_linear_spec", lambda c: {**real(c), "multitrait_trait_choice": 0.05})
        _, gated = _multitrait_start(x, y.astype(np.float32), TrainConfig())
    assert gated["trait_starts"] == ["mt_cnn_gp", "mt_cnn_gp"]
    assert 0.05 < gated["trait_p_value"][1] < 0.5
    # the preset (1.0: the lower error wins): trait 2 takes its own fit
    mt_trait = TrainConfig(model="snpcnn_default_mt_trait")
    start, info = _multitrait_start(x, y.astype(np.float32), mt_trait)
    assert info["chosen"] == "mt_cnn_gp" and info["trait_starts"] == ["mt_cnn_gp", "cnn_gp"]
    mse = info["trait_loo_mse"]
    assert mse["cnn_gp"][1] < mse["mt_cnn_gp"][1] and mse["cnn_gp"][0] >= mse["mt_cnn_gp"][0]
    assert info["trait_p_value"] == gated["trait_p_value"]
    # 20 % of the lines lack a trait but have the other: the joint fit is scored cell by cell
    assert info["trait_loo_unit"] == ["cell", "cell"]
    # one such line is no CV2: still scored by line (one missing cell switched every cell's
    # unit, and with it the choice; a checking helper, session 36)
    full = _epistatic(x, 1, rho=0.3)
    full[:, 1] = 0.5 * full[:, 1] + 0.8 * _traits(x, 0.5, 1)[:, 0]
    full[7, 0] = np.nan
    _, one = _multitrait_start(x, full.astype(np.float32), mt_trait)
    assert one["chosen"] == "mt_cnn_gp" and one["trait_loo_unit"] == ["line", "line"]
    d1, fit1, rows1 = start.gp.trait_fits_[1]
    assert start.depths == [info["kernel_depth"], d1] and d1 != info["kernel_depth"]
    # trait 2: its own REML fit (in-sample g = y - delta H^-1 r at its depth), its exact LOO
    np.testing.assert_allclose(
        start.fitted[rows1, 1], y[rows1, 1] - fit1.delta * fit1.hinv_resid, atol=1e-4
    )
    resid = y[rows1, 1] - start.fitted[rows1, 1]
    np.testing.assert_allclose(start.shift[rows1, 1], fit1.loo_resid - resid, atol=1e-4)
    # trait 1: the joint fit, as without the choice (the default)
    v14, _ = _multitrait_start(x, y.astype(np.float32), TrainConfig())
    new = x[:9] + 0.1
    np.testing.assert_allclose(start.predict(new)[:, 0], v14.predict(new)[:, 0], rtol=1e-6)
    np.testing.assert_allclose(start.predict(x), start.fitted, rtol=1e-5, atol=1e-5)
    # the saved model's layer: one output per trait, each at its depth
    inp = keras.Input((x.shape[1],))
    model = keras.Model(inp, _start_output(start, inp))
    np.testing.assert_allclose(
        model.predict(new.astype(np.float32), verbose=0), start.predict(new), rtol=1e-4, atol=1e-4
    )
    layer = model.get_layer("mt_cnn_gp_start")
    assert KernelPrediction.from_config(layer.get_config()).depths == start.depths
    with pytest.raises(Exception, match="depths"):
        KernelPrediction(10, 5, 5, "relu", 2, 0.0, n_outputs=2, depths=[1])


def test_the_report_counts_the_traits_predicted_by_their_own_cnn_gp():
    from types import SimpleNamespace

    from snpcnn.cv import CVResults
    from snpcnn.report import _own_trait_text

    fits = [["cnn_gp", "mt_cnn_gp"], ["cnn_gp", "mt_cnn_gp"], None, ["mt_cnn_gp", "mt_cnn_gp"]]
    hist = [
        {"conv": {"start_choice": {"chosen": "mt_cnn_gp", "trait_starts": f} if f else {}}}
        for f in fits
    ]
    res = SimpleNamespace(histories=hist, traits=["E1", "E2"])
    own = CVResults.trait_own_starts(res)
    assert own == {"fits": 3, "own": {"E1": 2, "E2": 0}}
    text = _own_trait_text(own, short=True)
    assert text.startswith("; of the 3 fits started at the multi-trait CNN-GP, a trait was")
    assert text.endswith(": E1 in 2, E2 in 0")
    assert _own_trait_text(None, short=False) == ""
    assert CVResults.trait_own_starts(SimpleNamespace(histories=[{}], traits=["A"])) is None
