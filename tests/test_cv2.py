"""Issue 14 item 13: CV1/CV2 schemes and the multi-trait GBLUP baseline."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from snpcnn.cli import main
from snpcnn.cv import MT_LABEL, cross_validate
from snpcnn.errors import InputError
from snpcnn.folds import make_cell_folds
from snpcnn.io import read_genotypes
from snpcnn.multitrait import MultiTraitGBLUP

ROOT = Path(__file__).resolve().parents[1]
BED = ROOT / "example_data" / "wheat.bed"


@pytest.fixture(scope="module")
def correlated(tmp_path_factory):
    """Two traits with genetic correlation 0.9 on the wheat genotypes (h2 0.5), 300 lines."""
    g = read_genotypes(BED)
    X = np.asarray(g.dosages[:300], dtype=np.float64)
    Z = X - X.mean(0)
    rng = np.random.default_rng(1)
    u1 = rng.normal(size=X.shape[1])
    u2 = 0.9 * u1 + np.sqrt(1 - 0.81) * rng.normal(size=X.shape[1])
    gv = np.column_stack([Z @ u1, Z @ u2])
    gv /= gv.std(0)
    y = gv + rng.normal(size=gv.shape)
    ids = g.samples.astype(str)[:300]
    path = tmp_path_factory.mktemp("mt") / "ph.csv"
    pd.DataFrame({"sample_id": ids, "A": y[:, 0], "B": y[:, 1]}).to_csv(path, index=False)
    return X, y, path, gv


def test_cell_folds_put_each_line_in_distinct_folds():
    ids = np.array([f"s{i}" for i in range(50)])
    obs = np.ones((50, 3), dtype=bool)
    obs[0, 1:] = False
    t = make_cell_folds(ids, obs, ["a", "b", "c"], k=4, repeats=2, seed=5)
    assert len(t) == 2 * int(obs.sum())
    per_line = t[t.repeat == 0].groupby("sample_id")["fold"].nunique()
    assert (per_line.drop("s0") == 3).all()  # three traits, three different folds
    assert t[t.repeat == 0]["fold"].value_counts().min() >= 0.7 * (obs.sum() / 4)
    again = make_cell_folds(ids, obs, ["a", "b", "c"], k=4, repeats=2, seed=5)
    pd.testing.assert_frame_equal(t, again)
    with pytest.raises(InputError, match="at least 2 traits"):
        make_cell_folds(ids, obs[:, :1], ["a"], k=4)


def test_multitrait_gblup_recovers_the_genetic_correlation(correlated):
    X, y, _, gv = correlated
    m = MultiTraitGBLUP().fit(X, y)
    assert m.genetic_correlations[0, 1] > 0.7
    # CV2 on trait A: hidden for a third of the lines, B observed for them
    test = np.arange(len(y)) % 3 == 0
    ytr = y.copy()
    ytr[test, 0] = np.nan
    mt = MultiTraitGBLUP().fit(X, ytr).predict(X[test])[:, 0]
    from snpcnn.baselines import GBLUP

    st = GBLUP().fit(X[~test], y[~test, 0]).predict(X[test])
    # accuracy = r with the true genetic values (r with y is capped by sqrt(h2) = 0.71)
    r_mt, r_st = (np.corrcoef(p, gv[test, 0])[0, 1] for p in (mt, st))
    assert r_mt > r_st + 0.03


def test_multitrait_gblup_estimates_on_every_observed_cell(correlated):
    """Unbalanced data: A observed on lines 0-179, B on lines 120-299, so 60 lines are
    complete.  The covariances come from every observed cell (360 of the 600), and equal the
    rotated complete-line estimate on complete data; until session 33 only complete lines
    entered (with fewer than 20 the fit refused)."""
    X, y, _, gv = correlated
    m = MultiTraitGBLUP()
    G = (X - X.mean(0)) @ (X - X.mean(0)).T / X.shape[1]
    r = y - y.mean(0)
    from snpcnn.multitrait import _eigh, _own_ml

    rotated = m._estimate(r, *_eigh(G))
    cells = m._estimate_cells(G, r, _own_ml(G, r)[:2])
    for a, b in zip(rotated, cells):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    part = y.copy()
    part[180:, 0] = np.nan
    part[:120, 1] = np.nan
    m.fit(X, part)
    assert (m.complete_, m.n_estimate_lines_, m.n_estimate_cells_) == (False, 300, 360)
    assert m.genetic_correlations[0, 1] > 0.7
    # few complete lines: 10 (the old estimator refused below 20)
    few = y.copy()
    few[150:, 0] = np.nan
    few[:140, 1] = np.nan
    m = MultiTraitGBLUP().fit(X, few)
    assert m.genetic_correlations[0, 1] > 0.5
    # the lines whose A is hidden borrow from B through the genetic correlation
    hidden = np.arange(150, 300)
    r_mt = np.corrcoef(m.predict(X[hidden])[:, 0], gv[hidden, 0])[0, 1]
    from snpcnn.baselines import GBLUP

    st = GBLUP().fit(X[:150], y[:150, 0]).predict(X[hidden])
    assert r_mt > np.corrcoef(st, gv[hidden, 0])[0, 1] + 0.05


def test_cv2_needs_as_many_folds_as_traits():
    ids = np.array([f"s{i}" for i in range(40)])
    with pytest.raises(InputError, match="needs folds >= 4, got 3"):
        make_cell_folds(ids, np.ones((40, 4), dtype=bool), list("abcd"), k=3)


def _cv2(path, baselines=("gblup", "mtgblup")):
    return cross_validate(
        BED, path, ["A", "B"], folds=3, cnn=False, baselines=list(baselines),
        refit=False, cv_scheme="cv2", seed=2,
    )  # fmt: skip


def test_cv2_never_uses_the_hidden_cells(correlated, tmp_path):
    """Poisoning: the cells of fold 1 replaced by huge values; fold 1's predictions of every
    model are unchanged (those cells are hidden there), the other folds' do change."""
    _, _, path, _ = correlated
    clean = _cv2(path)
    fold1 = clean.folds[clean.folds.fold == 1]
    ph = pd.read_csv(path, dtype={"sample_id": str}).set_index("sample_id")
    for sid, trait in zip(fold1.sample_id, fold1.trait):
        ph.loc[sid, trait] = 1e4
    poisoned_path = tmp_path / "poisoned.csv"
    ph.reset_index().to_csv(poisoned_path, index=False)
    poisoned = _cv2(poisoned_path)
    key = ["sample_id", "trait", "model", "fold"]
    a = clean.predictions.set_index(key)["predicted"].sort_index()
    b = poisoned.predictions.set_index(key)["predicted"].sort_index()
    f1 = a.index.get_level_values("fold") == 1
    np.testing.assert_allclose(a[f1], b[f1], rtol=1e-6, atol=1e-9)
    assert not np.allclose(a[~f1], b[~f1])
    # scored cells: exactly the hidden ones, each once per model
    n_cells = int(np.isfinite(ph.to_numpy()).sum())
    assert clean.predictions.groupby("model").size().eq(n_cells).all()


def test_cv2_multitrait_beats_single_trait(correlated):
    _, _, path, _ = correlated
    res = _cv2(path)
    m = res.metrics[res.metrics.metric == "pearson_r"]
    mean = m.groupby("model")["value"].mean()
    assert mean[MT_LABEL] > mean["GBLUP"] + 0.03
    assert res.config["cv_scheme"] == "cv2"


def test_multitrait_gblup_streams_as_in_memory(correlated, monkeypatch):
    """Streamed folds (SNPCNN_STREAM=1: int8 rows read in column blocks) run the multi-trait
    GBLUP too, with the in-memory predictions; the model keeps marker effects, not rows."""
    from snpcnn.baselines import kernels_at_scale

    _, _, path, _ = correlated
    monkeypatch.setenv("SNPCNN_STREAM", "0")
    dense = _cv2(path, ("mtgblup",))
    monkeypatch.setenv("SNPCNN_STREAM", "1")
    monkeypatch.setattr(kernels_at_scale, "BLOCK_BYTES", 8 * 300 * 97)  # several blocks
    streamed = _cv2(path, ("mtgblup",))
    assert not [n for n in streamed.notes if "not run" in n]
    key = ["sample_id", "trait", "model", "fold"]
    a = dense.predictions.set_index(key)["predicted"].sort_index()
    b = streamed.predictions.set_index(key)["predicted"].sort_index()
    assert len(a) == len(b) > 0 and (a.index == b.index).all()
    # other column blocks, other float rounding of G; the likelihood's exact gradient takes
    # both fits to the same optimum
    np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7)
    # the iterative path on the streamed rows (row blocks of the int8 genotypes)
    from snpcnn import multitrait

    monkeypatch.setattr(multitrait, "EXACT_MAX_CELLS", 10)
    calls = []
    solve = multitrait._snp_blup
    monkeypatch.setattr(multitrait, "_snp_blup", lambda *a: calls.append(1) or solve(*a))
    it = _cv2(path, ("mtgblup",)).predictions.set_index(key)["predicted"].sort_index()
    assert len(calls) == 3  # one per fold
    np.testing.assert_allclose(it, a, atol=1e-5 * np.abs(a).max())
    m = MultiTraitGBLUP().fit(correlated[0][:50], correlated[1][:50])
    assert m.effects_.shape == (correlated[0].shape[1], 2) and not hasattr(m, "Z_")


def _dense_blup(G, Sg, Se, R, obs):
    """The two-trait BLUP of the genetic values for covariances Sg, Se, computed densely:
    ``[Sg (x) G][:, obs] V_obs^-1 r_obs`` (the independent reference for the CG path)."""
    cells = [np.flatnonzero(obs[:, j]) for j in range(2)]
    V = np.block(
        [
            [Sg[a, b] * G[np.ix_(cells[a], cells[b])]
             + Se[a, b] * (cells[a][:, None] == cells[b][None, :]) for b in range(2)]
            for a in range(2)
        ]
    )  # fmt: skip
    alpha = np.linalg.solve(V, np.concatenate([R[cells[j], j] for j in range(2)]))
    return sum(
        Sg[:, b][None, :] * (G[:, cells[b]] @ alpha[len(cells[0]) * b :][: len(cells[b])])[:, None]
        for b in range(2)
    )


def test_iterative_multitrait_gblup_is_the_exact_blup(correlated):
    """The large-n path (covariances from a subsample of lines, on their observed cells;
    marker effects by CG, no n x n matrix): with every line in the subsample, the exact fit's
    predictions to the CG tolerance, missing cells and a CV2 line included; on lazy rows
    too.  A genetic covariance on the boundary (rank 1: correlation 1) is solved without
    inverting it."""
    from snpcnn.multitrait import _snp_blup

    X, y, _, _ = correlated
    Y = y.copy()
    rng = np.random.default_rng(3)
    Y[rng.random(Y.shape) < 0.25] = np.nan
    Y[0, 0] = np.nan
    Y[0, 1] = 1.0  # a CV2 line: trait A hidden, B observed
    exact = MultiTraitGBLUP(solver="exact", jitter=0.0).fit(X, Y)
    it = MultiTraitGBLUP(solver="iterative", tol=1e-10).fit(X, Y)
    assert exact.solver_ == "exact" and it.solver_ == "iterative"
    assert it.n_subsample_ == int((~np.isnan(Y)).any(axis=1).sum()) == it.n_estimate_lines_
    np.testing.assert_allclose(it.Sg_, exact.Sg_, rtol=1e-6, atol=1e-9)
    scale = np.abs(exact.predict(X)).max()
    np.testing.assert_allclose(it.predict(X), exact.predict(X), atol=1e-6 * scale)
    # a subsample of the lines: the same model, covariances estimated on fewer
    sub = MultiTraitGBLUP(solver="iterative", subsample=60).fit(X, Y)
    assert sub.n_subsample_ == 60 and sub.cg_["converged"]
    assert np.corrcoef(sub.predict(X)[:, 0], exact.predict(X)[:, 0])[0, 1] > 0.95
    # Sg of rank 1: the exact BLUP for that Sg (computed densely here)
    Sg = np.array([[1.0, 1.0], [1.0, 1.0]]) * 0.3
    Se = np.array([[1.0, 0.2], [0.2, 1.0]])
    obs = ~np.isnan(Y)
    mean = X.mean(0)
    R = np.where(obs, Y - np.nanmean(Y, 0), np.nan)
    B, info = _snp_blup(X, mean, R, obs, Sg, Se, exact.scale_, 1e-12)
    Z = X - mean
    G = Z @ Z.T / exact.scale_
    g = _dense_blup(G, Sg, Se, R, obs)
    assert info["converged"]
    np.testing.assert_allclose(Z @ B, g, atol=1e-8 * np.abs(g).max())


def test_scheme_errors(correlated):
    _, _, path, _ = correlated
    with pytest.raises(InputError, match="at least 2 different quantitative traits"):
        cross_validate(BED, path, ["A"], folds=3, cnn=False, baselines=["gblup"], cv_scheme="cv2")
    with pytest.raises(InputError, match="cv2' does not combine with stratify"):
        cross_validate(
            BED, path, ["A", "B"], folds=3, cnn=False, baselines=["gblup"], cv_scheme="cv2",
            stratify=True,
        )  # fmt: skip
    with pytest.raises(InputError, match="mtgblup"):
        cross_validate(BED, path, ["A"], folds=3, cnn=False, baselines=["mtgblup"])
    with pytest.raises(InputError, match="cv_scheme must be one of"):
        cross_validate(BED, path, ["A", "B"], folds=3, cnn=False, cv_scheme="cv3")


def test_cli_cv2_with_a_cnn(correlated, tmp_path):
    _, _, path, _ = correlated
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(
        'name = "tiny"\n[[blocks]]\ntype = "conv"\nfilters = 2\nkernel_size = 8\nstrides = 8\n'
        '[[blocks]]\ntype = "flatten"\n'
    )
    out = tmp_path / "run"
    r = CliRunner().invoke(
        main,
        [
            "fit", str(BED), str(path), "--trait", "A", "--trait", "B", "--cv-scheme", "cv2",
            "--model", str(tiny), "--epochs", "2", "--folds", "3", "--no-refit",
            "--baselines", "gblup,mtgblup", "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "scheme CV2" in (out / "summary.md").read_text()
    p = pd.read_csv(out / "predictions.csv")
    assert set(p.model) >= {"CNN", "GBLUP", MT_LABEL}
    r = CliRunner().invoke(
        main,
        ["fit", str(BED), str(path), "--trait", "A", "--cv-scheme", "cv2", "--out", str(out / "x")],
    )
    assert r.exit_code != 0 and "at least 2 different quantitative traits" in r.output


def test_iterative_path_survives_a_singular_residual_covariance():
    """Small data often put ML's Se on the boundary (singular). The iterative path inverted it
    per line: on complete data it crashed (LinAlgError), on incomplete data CG 'converged'
    3.3 away from the exact BLUP (a checking helper, session 33). It now adds the exact
    path's jitter to Se."""
    rng = np.random.default_rng(20)
    n, t, p = 80, 2, 300
    X = rng.binomial(2, rng.uniform(0.05, 0.5, p), size=(n, p)).astype(float)
    freq = X.mean(0) / 2
    Z = X - 2 * freq
    G = Z @ Z.T / (2 * np.sum(freq * (1 - freq)))
    A, B = rng.normal(size=(t, t)), rng.normal(size=(t, t))
    Sg, Se = A @ A.T / t + 0.3 * np.eye(t), B @ B.T / t + 0.3 * np.eye(t)
    g = (
        np.linalg.cholesky(G + 1e-6 * np.eye(n))
        @ rng.normal(size=(n, t))
        @ np.linalg.cholesky(Sg).T
    )
    Y = 1.0 + np.arange(t) + g + rng.normal(size=(n, t)) @ np.linalg.cholesky(Se).T
    for missing in (0.0, 0.35):
        Ym = Y.copy()
        Ym[rng.random(Y.shape) < missing] = np.nan
        exact = MultiTraitGBLUP(solver="exact").fit(X, Ym)
        it = MultiTraitGBLUP(solver="iterative", tol=1e-10).fit(X, Ym)
        pe, pi = exact.predict(X), it.predict(X)
        assert np.all(np.isfinite(pi))
        assert np.max(np.abs(pi - pe)) < 0.1 * pe.std(), missing


def test_a_covariance_estimate_that_did_not_converge_is_a_note(correlated, monkeypatch):
    """Where MT-GBLUP's likelihood has no proper maximum the optimiser stops at maxiter; that
    was said only in optimizer_ (a checking helper, session 33). Forced here with maxiter 1."""
    _, _, path, _ = correlated
    init = MultiTraitGBLUP.__init__

    def one_iteration(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.maxiter = 1

    monkeypatch.setattr(MultiTraitGBLUP, "__init__", one_iteration)
    res = _cv2(path)
    said = [n for n in res.notes if "covariance estimate did not converge" in n]
    assert len(said) == 3 and all(MT_LABEL in n for n in said)


def test_iterative_multitrait_gblup_with_a_boundary_residual_covariance(correlated):
    """ML can put Se on the boundary (a residual variance of 0): the per-line precisions are
    then huge in one direction and CG at relative residual 1e-6 stopped 6e-2 away from the
    exact BLUP (session 33's open item). The tolerance now shrinks with Se's conditioning."""
    from snpcnn.multitrait import _cg_tolerance, _snp_blup

    X, y, _, _ = correlated
    rng = np.random.default_rng(4)
    Y = np.where(rng.random(y.shape) < 0.25, np.nan, y)
    obs = ~np.isnan(Y)
    mean = X.mean(0)
    Z = X - mean
    scale = float(np.sum(Z**2) / len(Z))
    R = np.where(obs, Y - np.nanmean(Y, 0), np.nan)
    G = Z @ Z.T / scale
    Sg = np.array([[0.5, 0.45], [0.45, 0.5]])
    Se = np.array([[0.5, 0.0], [0.0, 1e-9]]) + 1e-6 * np.eye(2)
    assert _cg_tolerance(1e-6, np.eye(2)) == 1e-6 and _cg_tolerance(1e-6, Se) == 1e-10
    g = _dense_blup(G, Sg, Se, R, obs)
    B, info = _snp_blup(X, mean, R, obs, Sg, Se, scale, _cg_tolerance(1e-6, Se))
    assert info["converged"]
    np.testing.assert_allclose(Z @ B, g, atol=1e-4 * np.abs(g).max())
    B_old, _ = _snp_blup(X, mean, R, obs, Sg, Se, scale, 1e-6)  # the tolerance used before
    assert np.abs(Z @ B_old - g).max() > 1e-3 * np.abs(g).max()
