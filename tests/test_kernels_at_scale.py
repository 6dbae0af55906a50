"""The kernel baselines at scale (snpcnn.baselines.kernels_at_scale): kernels from column
blocks (lazy rows, streamed folds) equal the in-memory fit; the Nystrom path is the exact fit
when every training row is a landmark, close to it with fewer, runs on lazy rows, and needs
only the landmarks to predict."""

from __future__ import annotations

import numpy as np
import pytest

from snpcnn.baselines import CNNGP, EGBLUP, GBLUPAD, MLPGP, RKHS, kernels_at_scale
from snpcnn.datapath import DosageRows
from snpcnn.errors import InputError
from snpcnn.genotypes import Genotypes
from snpcnn.preprocess import GenotypePreprocessor

KINDS = {
    "RKHS": lambda **kw: RKHS(**kw),
    "GBLUP-AD": lambda **kw: GBLUPAD(**kw),
    "EG-BLUP": lambda **kw: EGBLUP(**kw),
    "CNN-GP": lambda **kw: CNNGP(depths=(0, 1, 2), **kw),
    "MLP-GP": lambda **kw: MLPGP(depths=(0, 1), **kw),
}
BLOCKED = ("RKHS", "GBLUP-AD", "EG-BLUP")  # the column-block path (lazy or large input)


def _data(n=260, m=240, seed=0, missing=0.0):
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, rng.uniform(0.15, 0.5, m), size=(n, m)).astype(np.int8)
    if missing:
        x[rng.random((n, m)) < missing] = -1
    d = np.where(x < 0, 1, x).astype(float)
    g = d[:, 0] * d[:, 1] - 1.5 * (d[:, 7] == 1) + 0.6 * d[:, 20] + 0.5 * (d[:, 40] == 1)
    y = g + rng.normal(scale=float(np.std(g)), size=n)
    C = rng.normal(size=(n, 1))
    return x, y + 0.8 * C[:, 0], C


@pytest.fixture()
def small_blocks(monkeypatch):
    """Column blocks of a few SNPs, and every input above the in-memory limit."""
    monkeypatch.setattr(kernels_at_scale, "BLOCK_BYTES", 8 * 260 * 17)
    monkeypatch.setattr(kernels_at_scale, "INMEMORY_BYTES", 1)


@pytest.mark.parametrize("kind", BLOCKED)
def test_column_blocks_equal_the_in_memory_fit(kind, monkeypatch):
    x, y, C = _data()
    X = x.astype(np.float64)
    tr, te = slice(0, 200), slice(200, None)
    mem = KINDS[kind]().fit(X[tr], y[tr], C[tr])
    p_mem = mem.predict(X[te], C[te])
    monkeypatch.setattr(kernels_at_scale, "BLOCK_BYTES", 8 * 260 * 17)
    monkeypatch.setattr(kernels_at_scale, "INMEMORY_BYTES", 1)
    blk = KINDS[kind]().fit(x[tr], y[tr], C[tr])  # int8, 15 column blocks
    assert blk.solver_ == "exact"
    assert blk.loglik_ == pytest.approx(mem.loglik_, rel=1e-9, abs=1e-9)
    np.testing.assert_allclose(blk.predict(x[te], C[te]), p_mem, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", BLOCKED + ("CNN-GP", "MLP-GP"))
def test_lazy_rows_fit_as_in_memory(kind, small_blocks):
    """A streamed fold's rows (DosageRows: training-mean imputed, read by columns) give the
    in-memory fit of the same matrix; predictions of lazy test rows too."""
    x, y, C = _data(missing=0.02)
    geno = Genotypes(x, [f"s{i}" for i in range(len(x))])
    train, test = np.arange(200), np.arange(200, len(x))
    pre = GenotypePreprocessor().fit(geno, train)
    mem = KINDS[kind]().fit(pre.dosage_matrix(geno, train), y[train], C[train])
    lazy = KINDS[kind]().fit(DosageRows(geno, pre, train), y[train], C[train])
    p_mem = mem.predict(pre.dosage_matrix(geno, test), C[test])
    np.testing.assert_allclose(
        lazy.predict(DosageRows(geno, pre, test), C[test]), p_mem, rtol=1e-6, atol=1e-7
    )


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nystrom_with_every_row_a_landmark_is_the_exact_fit(kind, monkeypatch):
    # row blocks of 7 rows for the kernel against the landmarks (fit and prediction)
    monkeypatch.setattr(kernels_at_scale, "CROSS_BLOCK_ELEMENTS", 200 * 7)
    x, y, C = _data()
    tr, te = slice(0, 200), slice(200, None)
    exact = KINDS[kind](solver="exact").fit(x[tr].astype(float), y[tr], C[tr])
    full = KINDS[kind](solver="nystrom", landmarks=200).fit(x[tr], y[tr], C[tr])
    assert exact.solver_ == "exact" and full.solver_ == "nystrom"
    np.testing.assert_allclose(
        full.predict(x[te], C[te]), exact.predict(x[te].astype(float), C[te]), atol=1e-6
    )
    assert full.delta_ == pytest.approx(exact.delta_, rel=1e-5)
    assert any("Nystrom approximation" in note for note in full.notes_)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_nystrom_with_fewer_landmarks_predicts_close_to_the_exact_fit(kind):
    x, y, C = _data(n=700, m=200, seed=2)
    tr, te = slice(0, 550), slice(550, None)
    exact = KINDS[kind](solver="exact").fit(x[tr].astype(float), y[tr], C[tr])
    few = KINDS[kind](solver="nystrom", landmarks=150).fit(x[tr], y[tr], C[tr])
    r_exact = np.corrcoef(exact.predict(x[te].astype(float), C[te]), y[te])[0, 1]
    r_few = np.corrcoef(few.predict(x[te], C[te]), y[te])[0, 1]
    assert r_few > r_exact - 0.1 and r_few > 0.3, (r_few, r_exact)
    assert len(few.landmark_rows_) == 150 and len(few.dual_coef_) == 550
    if kind != "GBLUP-AD":  # GBLUP-AD predicts through marker effects
        with pytest.raises(InputError, match="keeps no training rows"):
            few.kernel(x[te])
    with pytest.raises(InputError, match="SNP columns"):
        few.predict(x[te, :10], C[te])


@pytest.mark.parametrize("kind", ("RKHS", "GBLUP-AD", "CNN-GP"))
def test_nystrom_on_lazy_rows(kind, small_blocks):
    """Large n on a streamed fold: landmarks read from the lazy rows, the same fit as on
    the in-memory matrix."""
    x, y, C = _data(n=320, m=200, seed=3, missing=0.01)
    geno = Genotypes(x, [f"s{i}" for i in range(len(x))])
    train, test = np.arange(260), np.arange(260, 320)
    pre = GenotypePreprocessor().fit(geno, train)
    kw = {"solver": "nystrom", "landmarks": 120}
    mem = KINDS[kind](**kw).fit(pre.dosage_matrix(geno, train), y[train], C[train])
    lazy = KINDS[kind](**kw).fit(DosageRows(geno, pre, train), y[train], C[train])
    np.testing.assert_allclose(
        lazy.predict(DosageRows(geno, pre, test), C[test]),
        mem.predict(pre.dosage_matrix(geno, test), C[test]),
        rtol=1e-6,
        atol=1e-7,
    )


def test_solver_and_landmarks_are_checked():
    x, y, _ = _data(n=60, m=60)
    for make in KINDS.values():
        with pytest.raises(InputError, match="solver must be one of"):
            make(solver="fast").fit(x, y)
        with pytest.raises(InputError, match="landmarks must be at least 10"):
            make(solver="nystrom", landmarks=3).fit(x, y)


def test_the_auto_solver_switches_above_exact_max_n(monkeypatch):
    monkeypatch.setattr(kernels_at_scale, "EXACT_MAX_N", 150)
    monkeypatch.setattr(kernels_at_scale, "LANDMARKS", 100)
    x, y, C = _data(n=200, m=60)
    assert EGBLUP(landmarks=100).fit(x[:150], y[:150]).solver_ == "exact"
    assert EGBLUP(landmarks=100).fit(x, y).solver_ == "nystrom"
