"""[linear] backfit_lasso (session 56, candidate snpcnn_default_v21): the LASSO start refitted
around kept convolutions, as v20 refits the GBLUP start."""

import numpy as np
import pytest
from test_crossfit import SCREENED
from test_s55 import _additive_plus_pair, _screened


def _centred(x):
    xc = x.reshape(len(x), -1).astype(np.float64)
    mean = xc.mean(axis=0)
    return xc - mean, mean


def test_lasso_backfit_recovers_the_additive_effects_and_ignores_noise():
    """The LASSO fitted on the whole target counts the pair's signal as noise, so inner CV
    picks a heavier penalty; refitted on the target minus the correction it recovers the
    additive effects better, the out-of-fold errors fall and the refit is kept.  A
    correction of pure noise gets weight 0 and changes nothing."""
    from snpcnn.training import TrainConfig, _backfit, _fit_lasso_start, _lasso_refitter

    x, y, g_add, prod = _additive_plus_pair(seed=0)
    cfg = TrainConfig(model=_screened(2))
    xc, mean = _centred(x)
    start, _ = _fit_lasso_start(xc, mean, y[:, 0].astype(np.float64), seed=0)
    resid = (y + start.shift - start.fitted).astype(np.float64)
    corr = (prod + np.random.default_rng(1).normal(scale=0.2, size=len(y)))[:, None]
    a = float(np.clip(corr[:, 0] @ resid[:, 0] / (corr[:, 0] @ corr[:, 0]), 0, 1))
    refitter = _lasso_refitter(x, start)
    out, rec = _backfit(cfg, x, y, start, corr, np.array([a]), resid - a * corr, 2, refitter)
    assert rec["adopted"] and out is not None and rec["p_value"] < 0.05
    assert rec["start"] == "lasso" and rec["steps_run"] == 2
    assert rec["oof_mse_after"] < rec["oof_mse_before"]
    assert "bias_after" not in rec  # the ridge's fields only
    refit, after, weight = out
    np.testing.assert_allclose(np.mean(after**2), rec["oof_mse_after"])
    # the refit's out-of-fold residuals: y minus its cross-fitted prediction minus the
    # weighted correction
    oof = refit.fitted - refit.shift
    np.testing.assert_allclose(after, y - oof - weight[0] * corr, atol=1e-5)
    assert rec["lasso_n_selected_after"] == np.count_nonzero(refit.lin)
    # the weight re-estimated on the refit's out-of-fold residuals (least squares in [0, 1])
    e = (y - oof)[:, 0].astype(np.float64)
    ls = float(np.clip(corr[:, 0] @ e / (corr[:, 0] @ corr[:, 0]), 0.0, 1.0))
    assert weight[0] == pytest.approx(ls, abs=1e-9) and weight[0] != pytest.approx(a, abs=1e-3)
    r_before = np.corrcoef(start.predict(x)[:, 0], g_add)[0, 1]
    r_after = np.corrcoef(refit.predict(x)[:, 0], g_add)[0, 1]
    assert r_after > r_before + 0.01
    noise = np.random.default_rng(2).normal(size=(len(y), 1))
    out, rec = _backfit(
        cfg, x, y, start, noise, np.array([0.05]), resid - 0.05 * noise, 2, refitter
    )
    assert out is None and not rec["adopted"]


def test_lasso_refitter_keeps_the_starts_kind_and_skips_streamed_rows():
    from snpcnn.training import (
        _fit_lasso_dominance_start,
        _fit_lasso_start,
        _lasso_refitter,
    )

    rng = np.random.default_rng(3)
    x = rng.binomial(2, 0.5, size=(300, 40)).astype(np.float32)[..., None]
    het = (x[:, :, 0] == 1).astype(np.float64)
    y = (x[:, 3, 0] + 1.5 * het[:, 7] + rng.normal(scale=0.5, size=300))[:, None]
    xc, mean = _centred(x)
    plain, _ = _fit_lasso_start(xc, mean, y[:, 0], seed=0)
    dom, _ = _fit_lasso_dominance_start(xc, mean, y[:, 0], seed=0)
    assert plain.quad_coef is None and dom.quad_coef is not None
    # refitted on the same target: the same fit, of the same kind
    for start in (plain, dom):
        again, notes = _lasso_refitter(x, start)(y.astype(np.float32))
        np.testing.assert_allclose(again.lin, start.lin, atol=1e-6)
        assert (again.quad_coef is None) == (start.quad_coef is None)
        # counted as the start's notes count them: additive SNPs and indicators apart
        assert ("lasso_n_dominance_selected" in notes) == (start.quad_coef is not None)
    # streamed rows (not an array): no refit
    assert _lasso_refitter(memoryview(b""), plain) is None


def _lasso_arch(backfit_lasso: bool) -> dict:
    return {
        **SCREENED,
        "name": "screened_lasso_backfit",
        "linear": {
            "l2": 1e-3,
            "penalty": "reml",
            "kernel": ["lasso"],
            "backfit": 2,
            "backfit_lasso": backfit_lasso,
        },
    }


def _cfg(backfit_lasso: bool):
    from snpcnn.training import TrainConfig

    return TrainConfig(
        model=_lasso_arch(backfit_lasso),
        epochs=60,
        patience=10,
        learning_rate=3e-3,
        linear_init="ridge_loo",
        conv_folds=3,
    )


def test_lasso_backfit_in_the_crossfit():
    """A sparse additive trait plus a pair: the convolutions are kept on both starts; with
    the LASSO refitted around them the LASSO pipeline's out-of-fold errors fall below the
    refitted GBLUP pipeline's and it is chosen.  The saved model holds the refitted LASSO;
    the result's start (the report's start row) stays the LASSO fitted alone."""
    import keras

    import snpcnn.training as T
    from snpcnn.training import _fit_lasso_start, train_cnn

    x, y, g_add, prod = _additive_plus_pair(n=450, seed=0)
    x = x + 1.0  # dosage-like, uncentred: the refit's intercept must move with the input's mean
    tr, te = slice(0, 380), slice(380, None)
    refits = []

    def capture(*args, **kwargs):
        out, rec = backfit(*args, **kwargs)
        if rec.get("start") == "lasso":
            refits.append(out)
        return out, rec

    backfit, T._backfit = T._backfit, capture
    try:
        res = train_cnn(x[tr], y[tr], _cfg(True), seed=0)
    finally:
        T._backfit = backfit
    assert res.conv["start"] == "lasso" and res.conv["kept"] == [True]
    rec = res.conv["backfit"]
    assert rec["start"] == "lasso" and rec["adopted"]
    assert res.conv["oof_mse"] == rec["oof_mse_after"] < rec["oof_mse_before"]
    assert res.conv["weight"] == rec["weight_after"]
    assert "start_used" not in res.conv  # an object for the triple stage only
    choice = res.conv["start_choice"]
    assert choice["chosen"] == "lasso" and choice["oof_mse"]["lasso"] == rec["oof_mse_after"]
    # the result's start: the LASSO fitted alone on these rows
    xc, mean = _centred(x[tr])
    alone, _ = _fit_lasso_start(xc, mean, y[tr, 0].astype(np.float64), seed=0)
    np.testing.assert_array_equal(res.start.lin, alone.lin)
    # the model's start layer: the refit (it predicts the additive part better)
    layer = keras.Model(res.model.input, res.model.get_layer("lasso_start").output)
    held = layer.predict(x[te], verbose=0)[:, 0].astype(np.float64)
    assert not np.allclose(held, res.start.predict(x[te])[:, 0], atol=1e-3)
    r_alone = np.corrcoef(res.start.predict(x[te])[:, 0], g_add[te])[0, 1]
    assert np.corrcoef(held, g_add[te])[0, 1] > r_alone
    # ... exactly the refit (its level included): its prediction from the uncentred input is
    # its fitted values on the training rows, and the model's layer predicts the same
    ((refit, _, _),) = refits
    np.testing.assert_allclose(refit.predict(x[tr]), refit.fitted, atol=1e-5)
    np.testing.assert_allclose(held, refit.predict(x[te])[:, 0], atol=1e-5)
    p = res.model.predict(x[te], verbose=0)[:, 0]
    assert np.isfinite(p).all() and np.corrcoef(p, (g_add + prod)[te])[0, 1] > 0.8
    # without backfit_lasso the LASSO is not refitted (v20): its pipeline is not chosen here
    plain = train_cnn(x[tr], y[tr], _cfg(False), seed=0)
    assert plain.conv["start"] == "ridge" and plain.conv["backfit"].get("start") is None


def test_the_triple_stage_builds_on_the_refitted_lasso(tmp_path):
    """With a [triple_stage], the second correction is trained on the refitted pipeline's
    out-of-fold residuals and assembled on the refitted LASSO (the start the model holds)."""
    from test_crossfit import TRIPLES_TOML, _triple

    import snpcnn.training as T

    xx, _ = _triple(n=900)
    z = (xx - xx.mean(0)) / xx.std(0)
    c = xx - 1.0
    rng = np.random.default_rng(11)
    yy = c[:, 40] * c[:, 42] * c[:, 44] + 0.9 * z[:, 10] * z[:, 12] + 0.7 * z[:, 3]
    yy += -0.6 * z[:, 50] + 0.5 * z[:, 30] + rng.normal(scale=0.5, size=900)
    x = z.astype(np.float32)[..., None]
    y = ((yy - yy.mean()) / yy.std()).astype(np.float32)[:, None]
    (tmp_path / "triples_tiny.toml").write_text(TRIPLES_TOML)
    cfg = _cfg(True)
    cfg.model["triple_stage"] = {
        "model": str(tmp_path / "triples_tiny.toml"),
        "learning_rate": 3e-3,
    }
    seen = {}
    backfit, stage = T._backfit, T._triple_stage

    def capture(*args, **kwargs):
        out, rec = backfit(*args, **kwargs)
        if rec.get("start") == "lasso":
            seen["refit"] = out
        return out, rec

    def capture_stage(config, spec, x, y, start, members, info, *rest):
        seen["start"], seen["resid"] = start, np.array(info["oof_resid"])
        return stage(config, spec, x, y, start, members, info, *rest)

    T._backfit, T._triple_stage = capture, capture_stage
    try:
        res = T.train_cnn(x[:700], y[:700], cfg, seed=0)
    finally:
        T._backfit, T._triple_stage = backfit, stage
    assert res.conv["start"] == "lasso" and res.conv["backfit"]["adopted"]
    assert res.conv["triple_stage"]["ran"] and res.conv["triple_stage"]["kept"]
    refit, after, _ = seen["refit"]
    assert seen["start"] is refit
    np.testing.assert_array_equal(seen["resid"], after[:, 0])
    import keras

    layer = keras.Model(res.model.input, res.model.get_layer("lasso_start").output)
    held = layer.predict(x[700:], verbose=0)[:, 0]
    np.testing.assert_allclose(held, refit.predict(x[700:])[:, 0], atol=1e-5)


@pytest.mark.parametrize(
    "linear",
    [{"kernel": ["cnn_gp"], "backfit": 2}, {"kernel": ["lasso"], "backfit": 0}],
)
def test_backfit_lasso_needs_a_lasso_start_and_backfit(linear):
    from snpcnn.errors import InputError
    from snpcnn.models import load_architecture

    arch = _lasso_arch(True)
    arch["linear"].update(linear)
    with pytest.raises(InputError, match="backfit_lasso = true refits the LASSO start"):
        load_architecture(arch)


def test_a_skipped_refit_is_not_counted_as_a_fit():
    from types import SimpleNamespace

    from snpcnn.cv import CVResults

    skipped = {"adopted": False, "start": "lasso", "skipped": "streamed or too large genotypes"}
    hist = [{"conv": {"backfit": skipped}}, {"conv": {"backfit": {"adopted": True}}}]
    assert CVResults.backfits(SimpleNamespace(histories=hist)) == {"fits": 1, "refitted": 1}
    assert CVResults.backfits(SimpleNamespace(histories=hist[:1])) is None


@pytest.mark.parametrize("bad", [2, "yes"])
def test_backfit_lasso_value_is_checked(bad):
    from snpcnn.errors import InputError
    from snpcnn.models import load_architecture

    arch = _lasso_arch(True)
    arch["linear"]["backfit_lasso"] = bad
    with pytest.raises(InputError, match="backfit_lasso"):
        load_architecture(arch)
    assert load_architecture("snpcnn_default_v21")["linear"]["backfit_lasso"] is True
    assert load_architecture("snpcnn_default_v20")["linear"]["backfit_lasso"] is False


def test_reports_name_the_refitted_starts():
    from types import SimpleNamespace

    from snpcnn.cv import CVResults
    from snpcnn.report import _backfit_text

    hist = [{"conv": {"backfit": {"adopted": True, "start": "lasso"}}}]
    hist += [{"conv": {"backfit": {"adopted": False}}}]
    refits = CVResults.backfits(SimpleNamespace(histories=hist))
    assert refits == {"fits": 2, "refitted": 1, "starts": ["RR-BLUP", "LASSO"]}
    assert "kept on the RR-BLUP or LASSO start" in _backfit_text(refits, short=True)
    lasso_only = CVResults.backfits(SimpleNamespace(histories=hist[:1]))
    text = _backfit_text(lasso_only, short=False)
    assert "kept on the LASSO start" in text and "RR-BLUP" not in text
