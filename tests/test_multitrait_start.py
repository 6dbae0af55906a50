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
        V = np.block(
            [
                [m.Sg_[a, b] * G[np.ix_(cells[a], cells[b])]
                 + m.Se_[a, b] * (cells[a][:, None] == cells[b][None, :]) for b in range(2)]
                for a in range(2)
            ]
        )  # fmt: skip
        alpha = np.linalg.solve(V, np.concatenate([r[cells[j], j] for j in range(2)]))
        for j in np.flatnonzero(obs[i]):
            cov = np.concatenate([m.Sg_[j, b] * G[i, cells[b]] for b in range(2)])
            assert m.loo_residuals_[i, j] == pytest.approx(r[i, j] - cov @ alpha, abs=1e-9)
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
    from snpcnn.cv import MT_START_NAME, cross_validate, start_label
    from snpcnn.report import conv_kept_text

    g = simulate_genotypes(240, 150, n_chrom=1, seed=5)
    y = _traits(np.asarray(g.dosages, dtype=np.float64), 0.95, 4)
    pd.DataFrame({"A": y[:, 0], "B": y[:, 1]}, index=g.samples).to_csv(
        tmp_path / "y.csv", index_label="sample_id"
    )
    assert start_label("snpcnn_default", 2) == MT_START_NAME
    assert start_label("snpcnn_default_v12", 2) != MT_START_NAME  # the frozen v12: no change
    assert start_label("snpcnn_default") != MT_START_NAME  # one trait: no change
    res = cross_validate(
        g, tmp_path / "y.csv", ["A", "B"], folds=2, epochs=4, patience=2, conv_folds=2,
        baselines=["gblup", "mtgblup"], refit=False, cv_scheme="cv2",
    )  # fmt: skip
    assert res.models[1] == MT_START_NAME
    starts = [h["conv"]["start"] for h in res.histories]
    assert starts == ["mtgblup", "mtgblup"]
    assert res.start_counts()["MT-GBLUP"] == 2
    text = conv_kept_text(res)
    assert "multi-trait GBLUP" in text and "**2 of 2**" in text
    m = res.metrics[res.metrics.metric == "pearson_r"].groupby("model")["value"].mean()
    assert m[MT_START_NAME] > m["GBLUP"] + 0.05  # it borrows from the other trait


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
