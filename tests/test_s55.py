"""Session 55: the all-pairs screen's in-place block arithmetic."""

from __future__ import annotations

import json

import numpy as np


def test_far_pair_scores_blocks_hold_every_pair_beyond_reach_once(monkeypatch):
    """Blocks narrower than the data (the reach mask is each block's lower triangle): every
    pair at least ``reach`` apart is scored once with the dense screen's score, none closer."""
    import snpcnn.training as tr

    monkeypatch.setattr(tr, "ALL_PAIRS_BLOCK", 7)
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(150, 50)).astype(np.float32)
    x[:, 11] = 1.0  # a constant column scores 0, not NaN
    r = np.column_stack([rng.normal(size=150), rng.normal(size=150)])
    r[:9, 1] = np.nan
    dense = tr.screen_scores(x, r, 50)
    for reach in (1, 5, 12, 49):
        j, d, s, n = tr.far_pair_scores(x, r, reach, keep=10**6)
        assert n == len(s) == (50 - reach) * (51 - reach) // 2
        assert d.min() == reach and (j + d).max() == 49
        assert len(set(zip(j.tolist(), d.tolist()))) == len(s)
        np.testing.assert_allclose(s, dense[j, d], atol=1e-6)
        assert np.all(s[j == 11] == 0) and np.all(np.isfinite(s))


def _additive_plus_pair(n=400, p=60, seed=0, pair=1.0):
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, 0.4, size=(n, p)).astype(np.float64)
    x -= x.mean(0)
    z = x / x.std(0)
    b = np.zeros(p)
    b[rng.choice(p, 15, replace=False)] = rng.normal(scale=0.35, size=15)
    prod = z[:, 20] * z[:, 22]
    prod -= prod.mean()
    y = z @ b + pair * prod + rng.normal(scale=0.7, size=n)
    return x.astype(np.float32)[..., None], y[:, None].astype(np.float32), z @ b, prod


def test_backfit_refits_the_start_around_the_correction():
    """[linear] backfit: the ridge start, fitted on the whole target, treats the pair's
    signal as noise and shrinks the additive effects too far; refitted on the target minus
    the correction it recovers them, the out-of-fold errors fall and the refit is kept.
    A correction that carries nothing changes nothing."""
    from snpcnn.training import TrainConfig, _backfit, _fit_ridge

    x, y, g_add, prod = _additive_plus_pair()
    cfg = TrainConfig(model=_screened(2))
    ridge = _fit_ridge(x, y, False, "reml")
    resid = (y + ridge.shift - ridge.predict(x)).astype(np.float64)
    corr = (prod + np.random.default_rng(1).normal(scale=0.2, size=len(y)))[:, None]
    a = float(np.clip(corr[:, 0] @ resid[:, 0] / (corr[:, 0] @ corr[:, 0]), 0, 1))
    out, rec = _backfit(cfg, x, y, ridge, corr, np.array([a]), resid - a * corr, 2)
    assert rec["adopted"] and out is not None and rec["p_value"] < 0.05
    assert rec["oof_mse_after"] < rec["oof_mse_before"]
    refit, after, weight = out
    np.testing.assert_allclose(np.mean(after**2), rec["oof_mse_after"])
    assert 0 < weight[0] <= 1 and rec["weight_before"] == [a]
    r_before = np.corrcoef(ridge.predict(x)[:, 0], g_add)[0, 1]
    r_after = np.corrcoef(refit.predict(x)[:, 0], g_add)[0, 1]
    assert r_after > r_before + 0.01
    # a correction of pure noise: not kept
    noise = np.random.default_rng(2).normal(size=(len(y), 1))
    out, rec = _backfit(cfg, x, y, ridge, noise, np.array([0.05]), resid - 0.05 * noise, 2)
    assert out is None and not rec["adopted"]


def _screened(backfit: int) -> dict:
    """test_crossfit's tiny screened network, its start GBLUP (REML) with ``backfit``."""
    from test_crossfit import SCREENED

    return {
        **SCREENED,
        "name": "screened_backfit",
        "linear": {"l2": 1e-3, "penalty": "reml", "backfit": backfit},
    }


def _cfg(backfit: int):
    from snpcnn.training import TrainConfig

    return TrainConfig(
        model=_screened(backfit),
        epochs=60,
        patience=10,
        learning_rate=3e-3,
        linear_init="ridge_loo",
        conv_folds=3,
    )


def test_backfit_in_the_crossfit_keeps_the_model_consistent_and_changes_nothing_when_dropped():
    from snpcnn.training import train_cnn

    x, y, _, _ = _additive_plus_pair(n=450)
    tr, te = slice(0, 380), slice(380, None)
    plain = train_cnn(x[tr], y[tr], _cfg(0), seed=0)
    refit = train_cnn(x[tr], y[tr], _cfg(2), seed=0)
    assert plain.conv["kept"] == [True] and "backfit" not in plain.conv
    rec = refit.conv["backfit"]
    assert rec["steps"] == 2 and rec["adopted"]
    assert refit.conv["oof_mse"] == rec["oof_mse_after"] < plain.conv["oof_mse"]
    assert refit.conv["weight"] == rec["weight_after"]
    # the members' linear paths hold the refit, not the start (which stays the start
    # fitted alone: the report's start row)
    members = [m for m in refit.model.layers if hasattr(m, "get_layer")] or [refit.model]
    coef = members[0].get_layer("linear").get_weights()[0]
    assert not np.allclose(coef, refit.start.coef)
    np.testing.assert_array_equal(refit.start.coef, plain.start.coef)
    p = refit.model.predict(x[te], verbose=0)[:, 0]
    assert np.isfinite(p).all() and np.corrcoef(p, y[te, 0])[0, 1] > 0.3
    # the same networks (the refit comes after training): the plain model is start +
    # w_before * correction, the refitted one refit + w_after * the same correction
    assert rec["weight_before"] == plain.conv["weight"]
    p0 = plain.model.predict(x[te], verbose=0)[:, 0].astype(np.float64)
    corr = (p0 - plain.start.predict(x[te])[:, 0]) / rec["weight_before"][0]
    linear = x[te].reshape(len(p), -1).astype(np.float64) @ coef[:, 0] + rec["bias_after"][0]
    np.testing.assert_allclose(p, linear + rec["weight_after"][0] * corr, atol=2e-4)
    # no signal for the convolutions: dropped, no refit, the same model bit for bit
    rng = np.random.default_rng(7)
    y0 = (x[:, :, 0] @ rng.normal(scale=0.2, size=60) + rng.normal(size=450))[:, None]
    y0 = y0.astype(np.float32)
    a = train_cnn(x[tr], y0[tr], _cfg(0), seed=1)
    b = train_cnn(x[tr], y0[tr], _cfg(2), seed=1)
    assert a.conv["kept"] == [False] and "backfit" not in b.conv
    np.testing.assert_array_equal(
        a.model.predict(x[te], verbose=0), b.model.predict(x[te], verbose=0)
    )


def test_backfit_value_is_checked():
    import pytest

    from snpcnn.errors import InputError
    from snpcnn.models import load_architecture

    assert load_architecture(_screened(0))["linear"]["backfit"] == 0
    assert load_architecture("snpcnn_default_v20")["linear"]["backfit"] == 2
    for bad in (-1, 11, 1.5, "2", True):
        with pytest.raises(InputError, match="argument `backfit`"):
            load_architecture(_screened(bad))


def test_reports_say_where_the_start_was_refitted():
    from types import SimpleNamespace

    from snpcnn.cv import CVResults
    from snpcnn.report import _backfit_text

    hist = [{"conv": {"backfit": {"adopted": k < 3}}} for k in range(5)] + [{"conv": {}}]
    refits = CVResults.backfits(SimpleNamespace(histories=hist))
    assert refits == {"fits": 5, "refitted": 3}
    text = _backfit_text(refits, short=False)
    assert "In 3 of the 5 fits" in text and "refitted" in text and text.startswith(" Note: In")
    assert _backfit_text({"fits": 4, "refitted": 0}, short=True) == ""
    assert _backfit_text(None, short=True) == ""


def test_an_interrupt_swallowed_while_writing_stops_the_commit(tmp_path):
    """A Ctrl-C or SIGTERM whose exception was lost inside a write (numpy's string join in
    simulate's VCF writer) is raised again before the output replaces anything: the old
    output stays, nothing half-written is left, and the command does not exit 0."""
    import signal

    import pytest

    from snpcnn import _signals
    from snpcnn.report import atomic_directory, atomic_write_text

    out = tmp_path / "res"
    out.mkdir()
    old = '{"snpcnn_version": "0", "old": 1}'
    (out / "run.json").write_text(old)
    restore = _signals.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            with atomic_directory(out, force=True, marker="run.json") as tmp:
                (tmp / "run.json").write_text("{}")
                _signals._pending.append(signal.SIGINT)  # the handler ran; its error was lost
        assert (out / "run.json").read_text() == old
        assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
        _signals._pending.append(signal.SIGTERM)
        with pytest.raises(_signals.Terminated):
            atomic_write_text(tmp_path / "notes.txt", "x")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]
    finally:
        restore()
    # outside the command line nothing is pending: the same write goes through
    atomic_write_text(tmp_path / "notes.txt", "x")
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_simulate_on_a_table_takes_its_coding_and_names_its_own_options(tmp_path):
    """simulate --genotypes: a 0/1/2 table whose sample of genotypes holds no 2 is read with
    --genotypes-coding 012 (the reader's advice names that option, not fit's --coding), and
    a wrong --genotypes-format is answered with --genotypes-format."""
    import pandas as pd
    from click.testing import CliRunner

    from snpcnn.cli import main

    rng = np.random.default_rng(0)
    geno = pd.DataFrame(
        rng.integers(0, 2, size=(40, 30)),
        index=[f"s{i}" for i in range(40)],
        columns=[f"m{j}" for j in range(30)],
    )
    table = tmp_path / "g.csv"
    geno.to_csv(table, index_label="sample_id")
    args = ["simulate", "--genotypes", str(table), "--architecture", "sparse_additive"]
    args += ["--loci", "3"]
    res = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "--genotypes-coding 012" in res.output and "--coding 012" not in res.output
    res = CliRunner().invoke(
        main, [*args, "--genotypes-coding", "012", "--out", str(tmp_path / "b")]
    )
    assert res.exit_code == 0, res.output
    assert "presence/absence" not in res.output
    rec = json.loads((tmp_path / "b" / "simulation.json").read_text())
    assert rec["genotypes"]["coding"] == "012"
    res = CliRunner().invoke(
        main, [*args, "--genotypes-format", "plink", "--out", str(tmp_path / "c")]
    )
    assert res.exit_code != 0 and "--genotypes-format" in res.output
    assert "--format " not in res.output.replace("--genotypes-format", "")
    res = CliRunner().invoke(
        main, ["simulate", "--genotypes-coding", "012", "--out", str(tmp_path / "d")]
    )
    assert res.exit_code != 0 and "give --genotypes FILE" in res.output
    assert not (tmp_path / "d").exists()


def test_backfit_is_for_one_output_only():
    """Several outputs share the start's dominance weight, and one pooled test could carry an
    output whose own gate dropped its correction: no refit there (the plain v19 pipeline)."""
    from snpcnn.training import train_cnn

    x, y, _, prod = _additive_plus_pair(n=300)
    y2 = np.column_stack([y[:, 0], y[:, 0] * 0.5 + prod.astype(np.float32)])
    res = train_cnn(x, y2, _cfg(2), seed=0)
    assert res.conv["kept"] == [True, True] and "backfit" not in res.conv
