"""The LASSO baseline on streamed folds (snpcnn.datapath.DosageRows): the same penalty search
from column-block passes, with and without covariates, and in cross_validate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from snpcnn.baselines.lasso import Lasso
from snpcnn.datapath import DosageRows
from snpcnn.genotypes import Genotypes
from snpcnn.preprocess import GenotypePreprocessor


def _data(n=160, m=300, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.binomial(2, rng.uniform(0.1, 0.5, m), size=(n, m)).astype(np.int8)
    x[rng.random((n, m)) < 0.01] = -1  # missing: imputed by the training mean
    eff = np.zeros(m)
    eff[[5, 50, 120, 200, 280]] = [1.0, -0.8, 0.9, 0.7, -1.1]
    g = np.where(x < 0, 0, x) @ eff
    y = g + rng.normal(scale=g.std(), size=n)
    return Genotypes(x, [f"s{i}" for i in range(n)]), y


@pytest.mark.parametrize("covariates", [False, True])
def test_streamed_lasso_equals_the_in_memory_fit(covariates):
    geno, y = _data()
    rows = np.arange(0, 160)
    train, test = rows[:120], rows[120:]
    pre = GenotypePreprocessor().fit(geno, train)
    C = None
    if covariates:
        c = np.random.default_rng(1).normal(size=(160, 2))
        y = y + 2.0 * c[:, 0]
        C = c
    mem = Lasso().fit(pre.dosage_matrix(geno, train), y[train], None if C is None else C[train])
    lazy = Lasso().fit(DosageRows(geno, pre, train), y[train], None if C is None else C[train])
    assert lazy.alpha_ == pytest.approx(mem.alpha_, rel=1e-12)
    np.testing.assert_allclose(lazy.cv_mse_, mem.cv_mse_, rtol=1e-7)
    np.testing.assert_allclose(lazy.coef_, mem.coef_, atol=1e-7)
    np.testing.assert_allclose(lazy.beta_, mem.beta_, atol=1e-6)
    assert lazy.n_selected_ == mem.n_selected_ >= 3
    p_mem = mem.predict(pre.dosage_matrix(geno, test), None if C is None else C[test])
    p_lazy = lazy.predict(DosageRows(geno, pre, test), None if C is None else C[test])
    np.testing.assert_allclose(p_lazy, p_mem, atol=1e-6)


def test_streamed_lasso_refuses_monomorphic_input_and_fits_a_constant_trait():
    from snpcnn.errors import InputError

    geno = Genotypes(np.ones((40, 20), dtype=np.int8), [f"s{i}" for i in range(40)])
    pre = GenotypePreprocessor(drop_monomorphic=False).fit(geno, np.arange(40))
    y = np.random.default_rng(0).normal(size=40)
    with pytest.raises(InputError, match="monomorphic"):
        Lasso().fit(DosageRows(geno, pre, np.arange(40)), y)
    geno, _ = _data(n=40)
    pre = GenotypePreprocessor().fit(geno, np.arange(40))
    # a constant trait: fitted as in memory (no effect; it predicts the constant)
    rows = DosageRows(geno, pre, np.arange(40))
    const = Lasso().fit(rows, np.ones(40))
    np.testing.assert_allclose(const.predict(rows), 1.0)
    assert const.n_selected_ == 0


def test_cross_validate_runs_the_lasso_baseline_on_streamed_folds(tmp_path, monkeypatch):
    from snpcnn.cv import cross_validate

    geno, y = _data(n=150, seed=3)
    pheno = tmp_path / "pheno.csv"
    pd.DataFrame({"sample_id": geno.samples, "trait": y}).to_csv(pheno, index=False)
    kw = dict(folds=3, baselines=["gblup", "lasso"], cnn=False, refit=False)
    runs = {}
    for stream in ("0", "1"):
        monkeypatch.setenv("SNPCNN_STREAM", stream)
        runs[stream] = cross_validate(geno, str(pheno), "trait", **kw)
    key = ["model", "repeat", "fold", "sample_id"]
    a = runs["0"].predictions.sort_values(key).reset_index(drop=True)
    b = runs["1"].predictions.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key]) and set(a["model"]) == {"GBLUP", "LASSO"}
    np.testing.assert_allclose(b["predicted"].to_numpy(), a["predicted"].to_numpy(), atol=1e-5)
