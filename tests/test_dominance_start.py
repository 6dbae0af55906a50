"""GBLUP-AD as a third start that REML may propose (v6: the default since session 17, measured as
the candidate preset snpcnn_default_v6)."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.baselines.gblup import dominance_codes
from snpcnn.errors import InputError
from snpcnn.models import load_architecture
from snpcnn.training import (
    TrainConfig,
    _choose_start,
    _dominance_block,
    _DominanceStart,
    _LassoStart,
    train_cnn,
)

V6 = "snpcnn_default_v6"


def test_v6_is_the_previous_default():
    """v6 (the default of session 17) is v7 (sessions 18-20) without the LASSO."""
    a, b = load_architecture("snpcnn_default_v7"), load_architecture(V6)
    assert a.pop("name") == "snpcnn_default_v7" and b.pop("name") == V6
    a.pop("description"), b.pop("description")
    assert a["linear"].pop("kernel") == ["cnn_gp", "gblup_ad", "lasso"]
    assert b["linear"].pop("kernel") == ["cnn_gp", "gblup_ad"]
    assert a == b
    v5 = load_architecture("snpcnn_default_v5")
    assert v5["linear"]["kernel"] == "cnn_gp" and v5["name"] == "snpcnn_default_v5"


def _data(kind: str, seed: int = 0, n: int = 240, m: int = 60):
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    if kind == "dominance":  # heterozygote advantage at 10 loci
        g = (x[:, :10] == 1.0) @ rng.uniform(0.5, 1.5, size=10)
    else:
        g = x[:, :20] @ rng.normal(size=20)
    y = g + rng.normal(scale=g.std() * 0.6, size=n)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    return z, ((y - y.mean()) / y.std()).astype(np.float32)[:, None]


def _residual(v: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per column, ``v`` minus its least-squares fit on an intercept and ``x``."""
    out = np.empty_like(v)
    for j in range(v.shape[1]):
        a = np.column_stack([np.ones(len(x)), x[:, j]])
        out[:, j] = v[:, j] - a @ np.linalg.lstsq(a, v[:, j], rcond=None)[0]
    return out


def test_dominance_block_is_the_vitezica_code_up_to_its_additive_part():
    """The codes are x^2 minus its regression on x: orthogonal to 1 and x, and equal to minus
    the Vitezica et al. (2013) codes once their additive part is removed the same way."""
    rng = np.random.default_rng(0)
    x = rng.binomial(2, rng.uniform(0.1, 0.9, size=25), size=(200, 25)).astype(float)
    xc = x - x.mean(0)
    w, a, b = _dominance_block(xc.copy())
    np.testing.assert_allclose(w.mean(0), 0.0, atol=1e-10)
    np.testing.assert_allclose((w * xc).mean(0), 0.0, atol=1e-10)
    np.testing.assert_allclose(w, -_residual(dominance_codes(x), x), atol=1e-10)
    np.testing.assert_allclose(w, xc**2 - a - b * xc, atol=1e-12)
    # inbred lines (two genotype classes): no dominance code at all
    inbred = rng.choice([0.0, 2.0], size=(50, 8))
    w2, _, _ = _dominance_block(inbred - inbred.mean(0))
    np.testing.assert_allclose(w2, 0.0, atol=1e-10)


def test_reml_proposes_gblup_ad_on_dominance_and_its_effects_are_exact():
    """On a dominance trait REML proposes GBLUP-AD; its two marker-effect vectors reproduce
    the mixed model's in-sample fit, and y + shift - fitted is its exact leave-one-out
    residual (checked against refits without the row, kernel and delta fixed)."""
    from snpcnn.baselines.reml import _best_kernel

    x, y = _data("dominance", seed=1)
    start, info = _choose_start(x, y, TrainConfig(model=V6), "regression")
    assert isinstance(start, _DominanceStart)
    assert info["candidates"] == ["ridge", "cnn_gp", "gblup_ad"]
    assert info["chosen"] == info["reml_choice"] == info["best_alternative"] == "gblup_ad"
    assert info["loglik"]["gblup_ad"] > info["loglik"]["cnn_gp"]
    assert info["loglik_gain"] == pytest.approx(info["loglik"]["gblup_ad"] - info["loglik_ridge"])
    assert info["loglik_gain"] > info["threshold"] and 0 < info["gblup_ad_share"] <= 1
    np.testing.assert_allclose(start.predict(x), start.fitted, atol=1e-8)
    # brute-force leave-one-out for a few rows
    n = len(x)
    xc = x.reshape(n, -1).astype(np.float64)
    xc -= xc.mean(0)
    g = xc @ xc.T
    g /= np.mean(np.diag(g))
    w, _, _ = _dominance_block(xc.copy())
    d = w @ w.T
    d /= np.mean(np.diag(d))
    share = start.share
    k = (1 - share) * g + share * d
    yv = y[:, 0].astype(np.float64)
    _, fit, _ = _best_kernel([0], lambda _: k, yv, np.ones((n, 1)), -10.0, 10.0, 100)
    loo = (y + start.shift - start.fitted)[:, 0]
    for i in (0, 17, 101):
        o = np.arange(n) != i
        hi = np.linalg.inv(k[np.ix_(o, o)] + fit.delta * np.eye(n - 1))
        one = np.ones(n - 1)
        b = (one @ hi @ yv[o]) / (one @ hi @ one)
        pred = b + k[i, o] @ hi @ (yv[o] - b)
        assert loo[i] == pytest.approx(yv[i] - pred, abs=1e-4)


def test_gblup_ad_start_drives_the_saved_model(tmp_path):
    """With the correction dropped (epochs = 0) the v6 model predicts exactly its GBLUP-AD
    start, also after a reload; the run records which start it was."""
    from snpcnn.datapath import predict_rows
    from snpcnn.models import load_model

    x, y = _data("dominance", seed=1)
    events = []
    res = train_cnn(
        x[:200],
        y[:200],
        TrainConfig(model=V6, epochs=0),
        seed=0,
        on_event=lambda k, **i: events.append((k, i)),
    )
    choice = res.conv["start_choice"]
    assert events and events[0][1]["start"] == "the GBLUP-AD"
    assert choice["reml_choice"] == "gblup_ad"
    assert set(choice["oof_mse"]) == {"ridge", "gblup_ad"}
    assert choice["chosen"] == res.conv["start"] == "gblup_ad"  # OOF: far lower error
    got = np.asarray(predict_rows(res.model, x[200:], 256))[:, 0]
    want = res.start.predict(x[200:])[:, 0]
    np.testing.assert_allclose(got, want, atol=1e-4 * np.abs(want).max())
    path = tmp_path / "m.keras"
    res.model.save(path)
    again = np.asarray(load_model(path, compile=False).predict(x[200:], verbose=0))[:, 0]
    np.testing.assert_allclose(again, got, atol=1e-5 * np.abs(want).max())


def test_additive_trait_keeps_the_v5_choice():
    """On an additive trait v6 proposes nothing, and where GBLUP-AD is not offered the record
    is v5's (one alternative: loglik_kernel)."""
    x, y = _data("additive")
    start, info = _choose_start(x, y, TrainConfig(model=V6), "regression")
    assert start is None and info["chosen"] == "ridge"
    assert info["loglik_gain"] <= info["threshold"]
    _, v5 = _choose_start(x, y, TrainConfig(model="snpcnn_default_v5"), "regression")
    assert v5["candidates"] == ["ridge", "cnn_gp"] and "loglik_kernel" in v5
    assert v5["loglik_ridge"] == info["loglik_ridge"]
    assert v5["loglik_kernel"] == info["loglik"]["cnn_gp"]


def test_inbred_lines_skip_gblup_ad_with_a_note():
    rng = np.random.default_rng(2)
    x = rng.choice([0.0, 2.0], size=(120, 40))
    y = x[:, :5].sum(1) + rng.normal(size=120)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    spec = load_architecture(V6)
    spec["linear"]["kernel"] = "gblup_ad"
    start, info = _choose_start(
        z, y[:, None].astype(np.float32), TrainConfig(model=spec), "regression"
    )
    assert start is None and info["chosen"] == "ridge"
    assert "inbred" in info["gblup_ad_skipped"]


@pytest.mark.parametrize("bad", [["cnn_gp", "cnn_gp"], [], ["cnn_gp", "rkhs"], "rkhs", 3, ["none"]])
def test_kernel_list_is_validated(bad):
    spec = {
        "name": "k",
        "linear": {"l2": 1e-3, "penalty": "reml", "kernel": bad},
        "blocks": [{"name": "f", "type": "flatten"}],
    }
    with pytest.raises(InputError, match="kernel") as exc:
        load_architecture(spec)
    assert "\n" not in str(exc.value)


def test_start_row_names_and_report_text():
    from snpcnn.cv import KERNEL_START_NAME, start_label, start_name_for
    from snpcnn.report import _kernel_start_text

    assert start_label("snpcnn_default_v5") == KERNEL_START_NAME
    assert start_label(V6) == "CNN start (RR-BLUP, CNN-GP or GBLUP-AD, by REML)"
    assert start_name_for(("gblup_ad",)) == "CNN start (RR-BLUP or GBLUP-AD, by REML)"
    c = {"conv_folds": 5, "conv_gate": 0.05}
    starts = {"RR-BLUP": 2, "CNN-GP": 1, "GBLUP-AD": 2}
    short = _kernel_start_text(1, 5, starts, c, short=True)
    assert "GBLUP-AD (additive + dominance GBLUP" in short and "in 2" in short
    assert "RR-BLUP (= GBLUP) in 2" in short and "kept in 1 of 5" in short
    long = _kernel_start_text(1, 5, starts, c, short=False)
    assert "**2 of 5**" in long and "CNN start (RR-BLUP, CNN-GP or GBLUP-AD, by REML)" in long
    # v5 (no GBLUP-AD offered): v5's wording
    v5 = _kernel_start_text(1, 5, {"RR-BLUP": 4, "CNN-GP": 1}, c, short=True)
    assert "GBLUP-AD" not in v5 and "the CNN-GP (infinite-width CNN" in v5


def test_above_kernel_max_samples_gblup_ad_comes_from_a_subsample_and_cg(monkeypatch):
    """A training part above kernel_max_samples: REML compares the ridge and GBLUP-AD on a
    subsample (here every row, so the same choice, share and delta as the exact path), and
    GBLUP-AD's marker effects come from the large-n ridge solver on the augmented features:
    the exact path's predictions to the CG tolerance, with out-of-fold residuals.  On an
    additive trait the start stays the ridge."""
    from snpcnn.baselines import large_n

    x, y = _data("dominance", seed=1, n=300)
    # v16: since v17 the default's LASSO start with heterozygote indicators takes this trait
    # (checked at the end)
    arch = load_architecture("snpcnn_default_v16")
    arch["linear"]["kernel_max_samples"] = 100
    cfg = TrainConfig(model=arch)
    exact, _ = _choose_start(x, y, TrainConfig(model="snpcnn_default_v6"), "regression")
    assert isinstance(exact, _DominanceStart)
    monkeypatch.setattr(large_n, "SUBSAMPLE", 1000)  # every row: the exact path's REML
    start, info = _choose_start(x, y, cfg, "regression")
    assert isinstance(start, _DominanceStart) and info["chosen"] == "gblup_ad"
    assert info["subsample"] == 300
    assert info["candidates"] == ["ridge", "gblup_ad", "cnn_gp", "lasso"]
    assert not info["not_offered"] and "lasso_cv_mse" in info
    assert start.share == exact.share and start.delta == pytest.approx(exact.delta)
    x2 = x.reshape(len(x), -1)
    scale = float(np.abs(exact.predict(x2)).max())
    np.testing.assert_allclose(start.predict(x2), exact.predict(x2), atol=2e-4 * scale)
    # out-of-fold residuals: larger than in-sample ones, near the exact leave-one-out ones
    oof = y - start.fitted + start.shift
    loo = y - exact.fitted + exact.shift
    assert np.mean(oof**2) > np.mean((y - start.fitted) ** 2)
    assert np.corrcoef(oof[:, 0], loo[:, 0])[0, 1] > 0.9
    # a subsample of the rows: the same kind of start, effects on all rows
    monkeypatch.setattr(large_n, "SUBSAMPLE", 150)
    start, info = _choose_start(x, y, cfg, "regression")
    assert info["subsample"] == 150 and isinstance(start, _DominanceStart)
    # additive (20 of 60 markers): REML keeps the ridge, and no n x n matrix of all rows
    # was needed; the LASSO may be proposed on such a sparse trait
    xa, ya = _data("additive", seed=2, n=300)
    start, info = _choose_start(xa, ya, cfg, "regression")
    assert info["reml_choice"] == "ridge" and info["chosen"] in ("ridge", "lasso")
    assert (start is None) == (info["chosen"] == "ridge")
    # the default (v17): on the dominance trait the LASSO with heterozygote indicators, fitted
    # on every row of the large training part, its effects on the inputs and their squares
    arch17 = load_architecture("snpcnn_default")
    arch17["linear"]["kernel_max_samples"] = 100
    start, info = _choose_start(x, y, TrainConfig(model=arch17), "regression")
    assert isinstance(start, _LassoStart) and info["chosen"] == "lasso"
    assert info["lasso_dominance_used"] is True and start.quad_coef is not None
    assert np.any(start.quad_coef != 0)


def test_above_kernel_max_samples_the_cnn_gp_start_is_its_nystrom_fit(monkeypatch):
    """Where REML prefers the CNN-GP on the subsample of a large training part, the start is
    the CNN-GP's Nystrom fit on every row through the subsample's rows as landmarks; the
    Keras layer that carries it holds the landmarks and predicts what the start predicts."""
    import keras

    from snpcnn.baselines import large_n
    from snpcnn.training import _KernelStart, _start_output

    rng = np.random.default_rng(3)
    n, m = 300, 60
    x = rng.binomial(2, 0.5, size=(n, m)).astype(np.float64)
    g = np.tanh((x - 1.0) @ rng.normal(size=m) / 3.0) * 3.0 + ((x[:, :30] - 1.0) ** 2).sum(1) * 0.5
    y = g + rng.normal(scale=g.std() * 0.6, size=n)
    z = (x - x.mean(0)).astype(np.float32)[..., None]
    yy = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    arch = load_architecture("snpcnn_default")
    arch["linear"]["kernel_max_samples"] = 100
    monkeypatch.setattr(large_n, "SUBSAMPLE", 200)
    start, info = _choose_start(z, yy, TrainConfig(model=arch), "regression")
    assert isinstance(start, _KernelStart) and info["chosen"] == "cnn_gp"
    assert start.gp.solver_ == "nystrom" and info["cnn_gp_landmarks"] == 200
    assert not info["not_offered"] and info["subsample"] == 200
    inp = keras.Input(shape=z.shape[1:])
    model = keras.Model(inp, _start_output(start, inp))
    np.testing.assert_allclose(
        model.predict(z, verbose=0).reshape(-1), start.predict(z).reshape(-1), atol=2e-4
    )
    # the subsample's CNN-GP served as the landmark model: the same fit as refitting it
    from snpcnn.baselines import CNNGP

    again = CNNGP(solver="nystrom", landmarks=200).fit(z.reshape(n, -1), yy[:, 0].astype(float))
    np.testing.assert_allclose(
        again.genomic_values(z.reshape(n, -1)), start.gp.genomic_values(z.reshape(n, -1)),
        rtol=1e-9, atol=1e-12,
    )  # fmt: skip
    # the leave-one-out shift is that of the Nystrom model's REML fit
    loo = yy[:, 0] - start.fitted[:, 0] + start.shift[:, 0]
    np.testing.assert_allclose(loo, start.gp.loo_residuals_, atol=1e-5)
