"""Multi-trait GBLUP does not depend on the traits' units (t/ha beside kg/ha)."""

from __future__ import annotations

import numpy as np

from snpcnn.multitrait import MultiTraitGBLUP
from snpcnn.simulate import simulate_genotypes, simulate_phenotype


def test_multitrait_gblup_gives_the_same_fit_in_any_units():
    """The jitter was a share of the mean variance over all traits and the covariance floor
    absolute: a trait in kg beside one in t moved the first's test r from 0.41 to 0.37-0.40,
    and traits of scale 1e-6 and 1e6 gave the first a genetic variance of 1e-4 of its own (a
    checking helper, session 41)."""
    g = simulate_genotypes(150, 300, n_chrom=2, seed=3)
    y1, _ = simulate_phenotype(g, n_causal=30, h2=0.5, seed=4)
    rng = np.random.default_rng(5)
    y2 = 0.6 * y1.to_numpy() + 0.8 * rng.normal(size=len(y1))
    Y = np.column_stack([y1.to_numpy(), y2])
    Y[rng.random(Y.shape) < 0.1] = np.nan  # some cells not observed
    X = np.asarray(g.dosages, dtype=np.float64)
    tr = np.arange(150) % 3 != 0
    ref = MultiTraitGBLUP().fit(X[tr], Y[tr])
    p_ref = ref.predict(X[~tr])
    for s in ([1.0, 1000.0], [1e-6, 1e6], [1e3, 1e3]):
        s = np.asarray(s)
        m = MultiTraitGBLUP().fit(X[tr], Y[tr] * s + np.array([0.0, 5000.0]))
        np.testing.assert_allclose(
            (m.predict(X[~tr]) - [0.0, 5000.0]) / s, p_ref, rtol=1e-4, atol=1e-6
        )
        np.testing.assert_allclose(m.Sg_ / np.outer(s, s), ref.Sg_, rtol=1e-4, atol=1e-8)
        np.testing.assert_allclose(m.genetic_correlations, ref.genetic_correlations, atol=1e-5)
    # without standardising, the units matter (what the test guards against)
    raw = MultiTraitGBLUP(standardize=False).fit(X[tr], Y[tr] * [1e-6, 1e6])
    assert not np.allclose(raw.Sg_[0, 0] / 1e-12, ref.Sg_[0, 0], rtol=0.1)
