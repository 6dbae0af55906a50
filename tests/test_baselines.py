"""GBLUP, ridge, RKHS, GBLUP-AD and EG-BLUP baselines checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy.linalg import cho_factor, cho_solve

from snpcnn.baselines import (
    EGBLUP,
    GBLUP,
    GBLUPAD,
    RKHS,
    RidgeRegression,
    dominance_codes,
    dominance_fill,
    dominance_grm,
    make_baseline,
    vanraden_grm,
)
from snpcnn.errors import InputError


@pytest.fixture(scope="module")
def wheat(shared_data):
    """Wheat dosages (599 x 1279, float) and GY_E1, read from the PLINK files."""
    bed_reader = pytest.importorskip("bed_reader")
    import pandas as pd

    with bed_reader.open_bed(shared_data / "wheat" / "wheat.bed", count_A1=True) as bed:
        X = bed.read(dtype="int8").astype(np.float64)
        iid = np.asarray(bed.iid, dtype=str)
    ph = pd.read_csv(shared_data / "wheat" / "wheat_phenotypes.csv", dtype={"sample_id": str})
    y = ph.set_index("sample_id").loc[iid, "GY_E1"].to_numpy(dtype=np.float64)
    return X, y


def _reml_direct(G: np.ndarray, F: np.ndarray, y: np.ndarray, sg2: float, se2: float) -> float:
    """-1/2 [(n-q) log 2pi + log|V| + log|F'V^-1F| + y'Py] with full matrices."""
    n, q = F.shape
    V = sg2 * G + se2 * np.eye(n)
    factor = cho_factor(V)
    Vi_F, Vi_y = cho_solve(factor, F), cho_solve(factor, y)
    FViF = F.T @ Vi_F
    b = np.linalg.solve(FViF, F.T @ Vi_y)
    yPy = y @ Vi_y - (F.T @ Vi_y) @ b  # y'Py with P = V^-1 - V^-1 F (F'V^-1F)^-1 F'V^-1
    logdet_V = 2 * np.sum(np.log(np.diag(factor[0])))
    logdet_FViF = np.linalg.slogdet(FViF)[1]
    return -0.5 * ((n - q) * np.log(2 * np.pi) + logdet_V + logdet_FViF + yPy)


def test_reml_matches_direct_full_matrix_optimisation(wheat):
    X, y = wheat
    rng = np.random.default_rng(1)
    C = rng.normal(size=(len(y), 1))  # one covariate, so F has two columns
    model = GBLUP().fit(X, y, C)
    G = vanraden_grm(X)
    F = np.column_stack([np.ones(len(y)), C])

    def neg(theta):
        return -_reml_direct(G, F, y, np.exp(theta[0]), np.exp(theta[1]))

    res = optimize.minimize(
        neg,
        x0=np.log([0.5, 0.5]),
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000},
    )
    sg2, se2 = np.exp(res.x)
    assert model.sigma_g2_ == pytest.approx(sg2, rel=1e-4)
    assert model.sigma_e2_ == pytest.approx(se2, rel=1e-4)
    assert model.h2_ == pytest.approx(sg2 / (sg2 + se2), rel=1e-4)
    # loglik_ is the likelihood of orthonormal error contrasts: direct + 1/2 log|F'F|
    direct_at_ours = _reml_direct(G, F, y, model.sigma_g2_, model.sigma_e2_)
    log_ff = np.linalg.slogdet(F.T @ F)[1]
    assert model.loglik_ == pytest.approx(direct_at_ours + 0.5 * log_ff, abs=1e-6)
    assert model.loglik_ >= -res.fun + 0.5 * log_ff - 1e-6
    assert model.converged_ and not model.at_bound_


def test_predictions_match_henderson_mme(wheat):
    X, y = wheat
    train, test = np.arange(0, 450), np.arange(450, 599)
    jitter = 0.01  # G of centred markers is singular; G + 0.01 I has an inverse for the MME
    model = GBLUP(jitter=jitter).fit(X[train], y[train])
    p = X[train].mean(0) / 2
    G_tt = vanraden_grm(X[train], p) + jitter * np.eye(len(train))
    G_nt = vanraden_grm(X[train], p, X_other=X[test])
    n = len(train)
    F = np.ones((n, 1))
    delta = model.delta_
    Ginv = np.linalg.inv(G_tt)
    lhs = np.block([[F.T @ F, F.T], [F, np.eye(n) + delta * Ginv]])
    rhs = np.concatenate([F.T @ y[train], y[train]])
    sol = np.linalg.solve(lhs, rhs)
    b, g_hat = sol[:1], sol[1:]
    expected = G_nt @ np.linalg.solve(G_tt, g_hat) + b[0]
    np.testing.assert_allclose(model.predict(X[test]), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(model.beta_, b, atol=1e-6)


def test_predictions_match_gls_blup_without_jitter(wheat):
    X, y = wheat
    train, test = np.arange(100, 599), np.arange(0, 100)
    sex = (np.arange(len(y)) % 2).astype(float)[:, None]
    model = GBLUP().fit(X[train], y[train], sex[train])
    p = X[train].mean(0) / 2
    G = vanraden_grm(X[train], p)
    G_nt = vanraden_grm(X[train], p, X_other=X[test])
    F = np.column_stack([np.ones(len(train)), sex[train]])
    V = G + model.delta_ * np.eye(len(train))
    Vi_F, Vi_y = np.linalg.solve(V, F), np.linalg.solve(V, y[train])
    b = np.linalg.solve(F.T @ Vi_F, F.T @ Vi_y)
    g_new = G_nt @ np.linalg.solve(V, y[train] - F @ b)
    F_new = np.column_stack([np.ones(len(test)), sex[test]])
    np.testing.assert_allclose(model.predict(X[test], sex[test]), g_new + F_new @ b, atol=1e-8)
    np.testing.assert_allclose(model.genomic_values(X[test]), g_new, atol=1e-8)


def test_gblup_equals_ridge_with_lambda_delta_times_scale(wheat):
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y = wheat
    train, test = np.arange(0, 500), np.arange(500, 599)
    model = GBLUP().fit(X[train], y[train])
    ridge = sklearn_linear.Ridge(alpha=model.delta_ * model.scale_).fit(X[train], y[train])
    np.testing.assert_allclose(model.predict(X[test]), ridge.predict(X[test]), atol=1e-8)


def test_ridge_alpha_and_predictions_match_sklearn(wheat):
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    X, y = wheat
    train, test = np.arange(0, 400), np.arange(400, 599)
    alphas = np.logspace(1, 5, 25)
    ours = RidgeRegression(alphas=alphas).fit(X[train], y[train])
    ref = sklearn_linear.RidgeCV(alphas=alphas, store_cv_results=True).fit(X[train], y[train])
    assert ours.alpha_ == ref.alpha_
    np.testing.assert_allclose(ours.cv_mse_, ref.cv_results_.mean(axis=0), rtol=1e-6)
    plain = sklearn_linear.Ridge(alpha=ours.alpha_).fit(X[train], y[train])
    np.testing.assert_allclose(ours.predict(X[test]), plain.predict(X[test]), atol=1e-8)
    np.testing.assert_allclose(ours.coef_, plain.coef_, atol=1e-10)
    assert ours.intercept_ == pytest.approx(plain.intercept_, abs=1e-8)


def _penalised_lstsq(X, y, F, alpha):
    """Minimise ||y - F b - X beta||^2 + alpha ||beta||^2 by an augmented least-squares solve."""
    m, q = X.shape[1], F.shape[1]
    A = np.block([[F, X], [np.zeros((m, q)), np.sqrt(alpha) * np.eye(m)]])
    sol, *_ = np.linalg.lstsq(A, np.concatenate([y, np.zeros(m)]), rcond=None)
    return sol[:q], sol[q:]


def test_ridge_loo_with_covariates_matches_brute_force():
    rng = np.random.default_rng(3)
    n, m = 30, 40
    X = rng.binomial(2, 0.4, size=(n, m)).astype(float)
    C = np.column_stack([rng.normal(size=n), rng.integers(0, 2, size=n)])
    y = X[:, :5].sum(1) + 2 * C[:, 1] + rng.normal(size=n)
    alphas = np.logspace(-1, 3, 9)
    model = RidgeRegression(alphas=alphas).fit(X, y, C)
    F = np.column_stack([np.ones(n), C])
    brute = []
    for alpha in alphas:
        errs = []
        for i in range(n):
            keep = np.arange(n) != i
            b, beta = _penalised_lstsq(X[keep], y[keep], F[keep], alpha)
            errs.append(y[i] - F[i] @ b - X[i] @ beta)
        brute.append(np.mean(np.square(errs)))
    np.testing.assert_allclose(model.cv_mse_, brute, rtol=1e-8)
    assert model.alpha_ == alphas[int(np.argmin(brute))]
    b, beta = _penalised_lstsq(X, y, F, model.alpha_)
    np.testing.assert_allclose(model.beta_, b, atol=1e-8)
    np.testing.assert_allclose(model.coef_, beta, atol=1e-8)


@pytest.mark.parametrize("name", ["gblup", "ridge", "rkhs"])
def test_no_leakage_from_test_individuals(wheat, name):
    X, y = wheat
    train, test = np.arange(0, 500), np.arange(500, 599)
    model = make_baseline(name).fit(X[train], y[train])
    before = model.predict(X[test])
    X2 = X.copy()
    changed = test[:10]
    X2[changed] = 2.0 - X2[changed]  # flip the counted allele of ten test lines
    refit = make_baseline(name).fit(X2[train], y[train])
    after = refit.predict(X2[test])
    for attr in ("sigma_g2_", "sigma_e2_", "alpha_", "coef_", "dual_coef_", "bandwidth_", "beta_"):
        if hasattr(model, attr):
            np.testing.assert_array_equal(getattr(model, attr), getattr(refit, attr))
    np.testing.assert_array_equal(before[10:], after[10:])
    assert np.all(np.abs(before[:10] - after[:10]) > 1e-6)


@pytest.mark.parametrize("name", ["gblup", "ridge", "rkhs"])
def test_covariate_effect_is_recovered(wheat, name):
    X, y_real = wheat
    rng = np.random.default_rng(5)
    sex = rng.integers(0, 2, size=len(y_real)).astype(float)
    y = y_real + 3.0 * sex
    model = make_baseline(name).fit(X, y, sex[:, None])
    assert model.beta_[1] == pytest.approx(3.0, abs=0.25)
    assert model.fixed_effect_names_ == ["intercept", "C0"]
    # without the covariate the model would not carry a sex term at all
    assert len(make_baseline(name).fit(X, y).beta_) == 1


def test_constant_and_collinear_covariates_are_dropped_with_a_note():
    rng = np.random.default_rng(2)
    X = rng.binomial(2, 0.3, size=(40, 60)).astype(float)
    y = rng.normal(size=40)
    a = rng.normal(size=40)
    C = np.column_stack([np.full(40, 7.0), a, 2 * a + 1])
    for model in (GBLUP(), RidgeRegression(), RKHS()):
        model.fit(X, y, C)
        assert len(model.beta_) == 2
        assert any("constant" in note for note in model.notes_)
        assert any("collinear" in note for note in model.notes_)
        assert model.predict(X[:3], C[:3]).shape == (3,)


@pytest.mark.parametrize("h2", [0.2, 0.6])
def test_simulated_heritability_is_recovered(h2):
    rng = np.random.default_rng(42)
    n, m = 1000, 1000
    freq = rng.uniform(0.05, 0.5, size=m)
    X = rng.binomial(2, freq, size=(n, m)).astype(float)
    p = X.mean(0) / 2
    scale = 2 * np.sum(p * (1 - p))
    u = rng.normal(scale=np.sqrt(h2 / scale), size=m)  # g = Z u ~ N(0, h2 G)
    g = (X - 2 * p) @ u
    y = 1.0 + g + rng.normal(scale=np.sqrt(1 - h2), size=n)
    model = GBLUP().fit(X, y)
    assert model.h2_ == pytest.approx(h2, abs=0.12)
    assert model.sigma_g2_ + model.sigma_e2_ == pytest.approx(1.0, abs=0.2)


def test_errors_are_clear():
    X = np.zeros((5, 3))
    with pytest.raises(InputError, match="valid names: gblup, ridge"):
        make_baseline("bayesB")
    with pytest.raises(InputError, match="not fitted"):
        GBLUP().predict(X)
    Xn = np.ones((6, 4))
    Xn[0, 0] = np.nan
    with pytest.raises(InputError, match="impute"):
        RidgeRegression().fit(Xn, np.ones(6))
    with pytest.raises(InputError, match="monomorphic"):
        GBLUP().fit(np.ones((6, 4)), np.arange(6.0))
    rng = np.random.default_rng(0)
    Xr = rng.binomial(2, 0.5, size=(20, 30)).astype(float)
    model = GBLUP().fit(Xr, rng.normal(size=20), rng.normal(size=(20, 1)))
    with pytest.raises(InputError, match="pass C_new"):
        model.predict(Xr)
    with pytest.raises(InputError, match="30"):
        model.predict(Xr[:, :10], np.zeros((20, 1)))


def test_covariate_names_come_from_a_dataframe():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    X = rng.binomial(2, 0.3, size=(30, 50)).astype(float)
    C = pd.DataFrame({"GENDER[M]": rng.integers(0, 2, size=30).astype(float)})
    model = RidgeRegression().fit(X, rng.normal(size=30), C)
    assert model.fixed_effect_names_ == ["intercept", "GENDER[M]"]
    np.testing.assert_allclose(model.predict(X, C), model.predict(X, C.to_numpy()))


def test_ridge_loo_residuals_equal_explicit_leave_one_out_refits():
    rng = np.random.default_rng(11)
    X = rng.binomial(2, 0.4, size=(30, 50)).astype(float)
    y = X[:, :5].sum(1) + rng.normal(size=30)
    full = RidgeRegression().fit(X, y)
    for i in (0, 7, 29):
        keep = np.arange(30) != i
        one = RidgeRegression(alphas=[full.alpha_]).fit(X[keep], y[keep])
        expected = y[i] - one.predict(X[i : i + 1])[0]
        assert abs(full.loo_residuals_[i] - expected) < 1e-8


# ---------------------------------------------------------------------------------- RKHS
def _gaussian_kernel(A, B, theta, med):
    """exp(-mean squared dosage difference / (theta * med)), straight from the definition."""
    d2 = ((A[:, None, :] - B[None, :, :]) ** 2).mean(axis=2)
    return np.exp(-d2 / (theta * med))


def test_rkhs_matches_the_kernel_blup_and_reml_computed_directly():
    rng = np.random.default_rng(21)
    n, m = 70, 40
    X = rng.binomial(2, 0.35, size=(n + 10, m)).astype(float)
    C = rng.normal(size=(n + 10, 1))
    y = X[:n, 0] * X[:n, 1] - X[:n, 2] + 0.5 * C[:n, 0] + rng.normal(size=n)
    model = RKHS().fit(X[:n], y, C[:n])
    d2 = ((X[:n, None, :] - X[None, :n, :]) ** 2).mean(axis=2)
    med = np.median(d2[np.triu_indices(n, 1)])
    assert model.median_sq_distance_ == pytest.approx(med, rel=1e-10)
    K = _gaussian_kernel(X[:n], X[:n], model.bandwidth_, med)
    F = np.column_stack([np.ones(n), C[:n]])
    # the REML log-likelihood at the estimates equals the full-matrix one (orthonormal
    # error contrasts: + 1/2 log|F'F|, as for GBLUP)
    ll = _reml_direct(K, F, y, model.sigma_g2_, model.sigma_e2_)
    assert model.loglik_ == pytest.approx(ll + 0.5 * np.linalg.slogdet(F.T @ F)[1], abs=1e-6)
    # the estimates maximise it: nudging either variance component lowers it
    for f in (0.9, 1.1):
        assert _reml_direct(K, F, y, model.sigma_g2_ * f, model.sigma_e2_) < ll + 1e-9
        assert _reml_direct(K, F, y, model.sigma_g2_, model.sigma_e2_ * f) < ll + 1e-9
    # BLUP at new individuals: K_new (K + delta I)^-1 (y - F b), b by GLS
    H = K + model.delta_ * np.eye(n)
    Hi_F, Hi_y = np.linalg.solve(H, F), np.linalg.solve(H, y)
    b = np.linalg.solve(F.T @ Hi_F, F.T @ Hi_y)
    np.testing.assert_allclose(model.beta_, b, atol=1e-8)
    K_new = _gaussian_kernel(X[n:], X[:n], model.bandwidth_, med)
    F_new = np.column_stack([np.ones(10), C[n:]])
    expected = K_new @ np.linalg.solve(H, y - F @ b) + F_new @ b
    np.testing.assert_allclose(model.predict(X[n:], C[n:]), expected, atol=1e-8)


def test_rkhs_picks_the_bandwidth_with_the_highest_reml_likelihood():
    rng = np.random.default_rng(8)
    X = rng.binomial(2, 0.3, size=(80, 60)).astype(float)
    y = X[:, 0] * X[:, 1] + rng.normal(size=80)
    model = RKHS(bandwidths=(0.25, 1.0, 4.0)).fit(X, y)
    singles = {t: RKHS(bandwidths=(t,)).fit(X, y).loglik_ for t in (0.25, 1.0, 4.0)}
    assert model.loglik_by_bandwidth_ == pytest.approx(singles, abs=1e-9)
    assert model.bandwidth_ == max(singles, key=singles.get)
    assert model.loglik_ == pytest.approx(max(singles.values()), abs=1e-9)


def test_rkhs_captures_epistasis_that_gblup_misses():
    """A purely epistatic trait (products of loci pairs): the Gaussian kernel predicts it,
    the additive GBLUP much less well."""
    rng = np.random.default_rng(3)
    n, m = 500, 30
    X = rng.binomial(2, 0.5, size=(n, m)).astype(float)
    Z = X - 1.0
    g = sum(Z[:, 2 * k] * Z[:, 2 * k + 1] for k in range(3))
    y = g / g.std() + rng.normal(scale=0.5, size=n)
    train, test = np.arange(400), np.arange(400, n)
    r = {}
    for model in (RKHS(), GBLUP()):
        pred = model.fit(X[train], y[train]).predict(X[test])
        r[model.name] = np.corrcoef(pred, y[test])[0, 1]
    assert r["RKHS"] > r["GBLUP"] + 0.1, r


def test_rkhs_errors_are_clear():
    rng = np.random.default_rng(0)
    X = rng.binomial(2, 0.5, size=(20, 30)).astype(float)
    with pytest.raises(InputError, match="bandwidths must be positive"):
        RKHS(bandwidths=(0.5, -1.0)).fit(X, rng.normal(size=20))
    with pytest.raises(InputError, match="not fitted"):
        RKHS().predict(X)
    same = np.tile(X[:1], (20, 1))
    same[0, 0] = (same[0, 0] + 1) % 3  # one line differs, the rest are identical
    with pytest.raises(InputError, match="median distance .* is 0"):
        RKHS().fit(same, rng.normal(size=20))
    assert make_baseline("rkhs").name == "RKHS"


# ------------------------------------------------------------------ GBLUP-AD and EG-BLUP
def _vitezica_table(X, p):
    """Dominance codes by table lookup: genotype 0 / 1 / 2 -> -2p^2 / 2pq / -2q^2."""
    q = 1 - p
    table = np.stack([-2 * p**2, 2 * p * q, -2 * q**2])  # (3, m)
    return np.take_along_axis(table, X.astype(int), axis=0)


def _two_kernel_data(seed, n=90, n_new=15, m=50):
    rng = np.random.default_rng(seed)
    X = rng.binomial(2, rng.uniform(0.2, 0.8, size=m), size=(n + n_new, m)).astype(float)
    C = rng.normal(size=(n + n_new, 1))
    Z = X - 1.0
    y = (
        (X[:n, :6] == 1).sum(1)
        + Z[:n, 6] * Z[:n, 7]
        + Z[:n, 8] * Z[:n, 9]
        + 0.5 * X[:n, 10]
        + 0.7 * C[:n, 0]
        + rng.normal(size=n)
    )
    return X, C, y, n


def _check_against_full_matrices(model, K, K_new, X, C, y, n):
    """loglik_, beta_ and predictions of a fitted two-kernel model against V built in full."""
    F = np.column_stack([np.ones(n), C[:n]])
    ll = _reml_direct(K, F, y, model.sigma_g2_, model.sigma_e2_)
    ll += 0.5 * np.linalg.slogdet(F.T @ F)[1]  # orthonormal error contrasts, as for GBLUP
    assert model.loglik_ == pytest.approx(ll, rel=1e-6)
    # the estimates maximise it: nudging either variance component lowers it
    for f in (0.9, 1.1):
        assert _reml_direct(K, F, y, model.sigma_g2_ * f, model.sigma_e2_) < ll + 1e-9
        assert _reml_direct(K, F, y, model.sigma_g2_, model.sigma_e2_ * f) < ll + 1e-9
    V = model.sigma_g2_ * K + model.sigma_e2_ * np.eye(n)
    Vi_F, Vi_y = np.linalg.solve(V, F), np.linalg.solve(V, y)
    b = np.linalg.solve(F.T @ Vi_F, F.T @ Vi_y)
    np.testing.assert_allclose(model.beta_, b, rtol=1e-6)
    F_new = np.column_stack([np.ones(len(K_new)), C[n:]])
    expected = model.sigma_g2_ * K_new @ np.linalg.solve(V, y - F @ b) + F_new @ b
    np.testing.assert_allclose(model.predict(X[n:], C[n:]), expected, rtol=1e-6)


def test_gblup_ad_matches_the_full_matrix_reml_and_blup():
    X, C, y, n = _two_kernel_data(31)
    model = make_baseline("gblup_ad").fit(X[:n], y, C[:n])
    w = model.dominance_share_
    assert 0 < w < 1 and model.name == "GBLUP-AD"
    # G and D straight from their definitions (D by table lookup, not the polynomial)
    p = X[:n].mean(0) / 2
    Z, Z_new = X[:n] - 2 * p, X[n:] - 2 * p
    W, W_new = _vitezica_table(X[:n], p), _vitezica_table(X[n:], p)
    G, G_new = Z @ Z.T / (2 * np.sum(p * (1 - p))), Z_new @ Z.T / (2 * np.sum(p * (1 - p)))
    D, D_new = (
        W @ W.T / np.sum((2 * p * (1 - p)) ** 2),
        W_new @ W.T / np.sum((2 * p * (1 - p)) ** 2),
    )
    mg, md = np.mean(np.diag(G)), np.mean(np.diag(D))
    K = (1 - w) * G / mg + w * D / md
    K_new = (1 - w) * G_new / mg + w * D_new / md
    _check_against_full_matrices(model, K, K_new, X, C, y, n)
    # the share with the highest REML likelihood is kept; each is a single-share fit
    singles = {s: GBLUPAD(shares=(s,)).fit(X[:n], y, C[:n]).loglik_ for s in GBLUPAD.DEFAULT_SHARES}
    assert model.loglik_by_share_ == pytest.approx(singles, rel=1e-12)
    assert w == max(singles, key=singles.get)
    assert model.sigma_a2_ + model.sigma_d2_ == pytest.approx(model.sigma_g2_, rel=1e-12)
    assert model.sigma_d2_ == pytest.approx(w * model.sigma_g2_, rel=1e-12)


def test_egblup_matches_the_full_matrix_reml_and_blup():
    X, C, y, n = _two_kernel_data(32)
    model = make_baseline("EG-BLUP").fit(X[:n], y, C[:n])
    w = model.epistatic_share_
    assert 0 < w < 1 and model.name == "EG-BLUP"
    G = vanraden_grm(X[:n])
    G_new = vanraden_grm(X[:n], X_other=X[n:])
    GG, GG_new = G * G, G_new * G_new
    mg, mgg = np.mean(np.diag(G)), np.mean(np.diag(GG))
    K = (1 - w) * G / mg + w * GG / mgg
    K_new = (1 - w) * G_new / mg + w * GG_new / mgg
    _check_against_full_matrices(model, K, K_new, X, C, y, n)
    singles = {s: EGBLUP(shares=(s,)).fit(X[:n], y, C[:n]).loglik_ for s in (0.0, 0.5, 0.9)}
    three = EGBLUP(shares=(0.0, 0.5, 0.9)).fit(X[:n], y, C[:n])
    assert three.loglik_by_share_ == pytest.approx(singles, rel=1e-12)
    assert three.epistatic_share_ == max(singles, key=singles.get)


def test_dominance_codes_are_vitezica_and_quadratic_in_the_dosage():
    rng = np.random.default_rng(6)
    X = rng.binomial(2, 0.3, size=(40, 8)).astype(float)
    p = X.mean(0) / 2
    np.testing.assert_allclose(dominance_codes(X), _vitezica_table(X, p), atol=1e-14)
    # under Hardy-Weinberg the codes have mean 0 and no covariance with the dosage
    for f in (0.1, 0.3, 0.5, 0.8):
        probs = np.array([(1 - f) ** 2, 2 * f * (1 - f), f**2])
        w = dominance_codes(np.array([[0.0], [1.0], [2.0]]), np.array([f]))[:, 0]
        assert probs @ w == pytest.approx(0, abs=1e-14)
        assert probs @ (w * (np.arange(3) - 2 * f)) == pytest.approx(0, abs=1e-14)
    # a non-integer (mean-imputed) dosage is an unknown call: the SNP's mean code over its
    # whole-number calls, not the polynomial at 2p (= 2pq, a heterozygote's code)
    x = np.array([[0.0, 2.0], [1.0, 2.0], [2.0, 0.0], [1.0, 1.3], [0.6, 2.0]])
    pp = np.array([0.3, 0.65])
    w = dominance_codes(x, pp)
    known = _vitezica_table(x[[0, 1, 2]], pp)
    np.testing.assert_allclose(w[:3], known, atol=1e-14)
    np.testing.assert_allclose(w[4, 0], np.mean(_vitezica_table(x[:4, :1], pp[:1])), atol=1e-14)
    np.testing.assert_allclose(w[3, 1], np.mean(_vitezica_table(x[[0, 1, 2, 4], 1:], pp[1:])))
    assert abs(w[4, 0] - 2 * 0.3 * 0.7) > 0.1
    np.testing.assert_allclose(dominance_fill(x, pp), [w[4, 0], w[3, 1]], atol=1e-14)
    # a given fill (the training rows'): new rows' unknown calls get it
    np.testing.assert_allclose(
        dominance_codes(x[3:], pp, np.array([5.0, 7.0])),
        [[2 * 0.3 * 0.7, 7.0], [5.0, -2 * 0.35**2]],
        atol=1e-14,
    )
    D = dominance_grm(X)
    W = _vitezica_table(X, p)
    np.testing.assert_allclose(D, W @ W.T / np.sum((2 * p * (1 - p)) ** 2), atol=1e-12)
    # with imputed dosages GBLUP-AD fits and predicts finite values
    Xm = X.copy()
    Xm[::7, 2] = X[:, 2].mean()
    y = rng.normal(size=40)
    assert np.isfinite(GBLUPAD().fit(Xm[:30], y[:30]).predict(Xm[30:])).all()


def test_missing_calls_of_inbred_lines_are_no_dominance_signal():
    """Inbred lines (dosages 0 / 2) have codes linear in the dosage; their missing calls,
    imputed with the training mean, must stay on that line.  Coded as heterozygotes (the
    polynomial at 2p) they were the only non-additive part of D."""
    rng = np.random.default_rng(21)
    X = 2.0 * rng.binomial(1, rng.uniform(0.2, 0.8, 30), size=(120, 30))
    miss = rng.random(X.shape) < 0.15
    Xm = np.where(miss, np.nan, X)
    Xm = np.where(miss, np.nanmean(Xm, axis=0), Xm)
    W = dominance_codes(Xm)
    for j in range(W.shape[1]):
        A = np.column_stack([np.ones(len(Xm)), Xm[:, j]])
        resid = W[:, j] - A @ np.linalg.lstsq(A, W[:, j], rcond=None)[0]
        assert np.abs(resid).max() < 1e-10
    # GBLUP-AD predicts a new line's missing call with the training rows' unknown-call code
    y = X[:, :5].sum(1) + rng.normal(size=120)
    model = GBLUPAD().fit(Xm[:100], y[:100])
    np.testing.assert_allclose(model.dominance_fill_, dominance_fill(Xm[:100]), atol=1e-14)
    new = Xm[100:].copy()
    new[:, 3] = 2.0 * model.allele_freq_[3]
    expect = (new - 2 * model.allele_freq_) @ model.additive_coef_ + dominance_codes(
        new, model.allele_freq_, model.dominance_fill_
    ) @ model.dominance_coef_
    np.testing.assert_allclose(model.genomic_values(new), expect, atol=1e-10)


def test_a_missing_call_at_a_whole_number_mean_is_not_a_heterozygote():
    """Inbred lines half 0 and half 2 have a training mean of exactly 1: the imputed call
    was then 1.0, a heterozygote to GBLUP-AD, and counted as one by its inbred-lines check
    (a reviewer, session 42). The fill is now 1 + 1.2e-7, an unknown call."""
    from snpcnn.genotypes import Genotypes
    from snpcnn.preprocess import GenotypePreprocessor

    x = np.array([[0, 2], [2, 0], [0, 2], [2, 0], [-1, 2], [-1, 0]], dtype=np.int8)
    g = Genotypes(x, [f"s{i}" for i in range(6)])
    pre = GenotypePreprocessor().fit(g, np.arange(6))
    up = np.nextafter(np.float32(1), np.float32(2))
    assert pre.fill_[0] == up and pre.fill_[1] == up
    # the centring keeps the exact mean: data without missing calls encode as before
    centred = GenotypePreprocessor(scaling="center").fit(g, np.arange(6))
    assert list(centred.center_) == [1.0, 1.0] and centred.fill_[0] == up
    # every training call present, a test row's call missing: still not a heterozygote
    # (the fill was nudged only where training rows missed calls: a reviewer, session 42)
    full = GenotypePreprocessor().fit(g, np.arange(4))
    assert full.fill_[0] == up
    assert not np.any(full.dosage_matrix(g, np.array([4, 5])) == 1.0)
    D = pre.dosage_matrix(g).astype(np.float64)
    assert not np.any(D == 1.0)
    W = dominance_codes(D)
    A = np.column_stack([np.ones(6), D[:, 0]])
    resid = W[:, 0] - A @ np.linalg.lstsq(A, W[:, 0], rcond=None)[0]
    assert np.abs(resid).max() < 1e-6  # on the additive line: no dominance signal
    y = np.arange(6.0)
    assert GBLUPAD().fit(D, y).no_heterozygotes_


def test_the_fill_nudge_does_not_inflate_a_constant_column_when_standardising():
    """A SNP whose every call is 2, with missing calls, got a fill of 1.9999999 and an SD of
    1e-7 from the imputed calls alone, so standardising made it a missingness indicator (a
    reviewer, session 42). Only a mean of exactly 1 is nudged, and the spread ignores the
    imputed calls."""
    from snpcnn.genotypes import Genotypes
    from snpcnn.preprocess import GenotypePreprocessor

    rng = np.random.default_rng(2)
    x = rng.binomial(2, 0.5, size=(100, 3)).astype(np.int8)
    x[:, 1] = 2
    x[:, 2] = 1  # every call heterozygous: mean exactly 1, nudged
    x[::10, 1:] = -1
    g = Genotypes(x, [f"s{i}" for i in range(100)])
    pre = GenotypePreprocessor(drop_monomorphic=False, scaling="standardize").fit(g, np.arange(100))
    assert pre.fill_[1] == np.float32(2.0) and pre.scale_[1] == 1.0 and pre.scale_[2] == 1.0
    enc = pre.transform(g)[:, 1:, 0]
    assert np.abs(enc).max() < 1e-6


@pytest.mark.parametrize("cls", [GBLUPAD, EGBLUP])
def test_share_zero_is_gblup(cls):
    rng = np.random.default_rng(12)
    X = rng.binomial(2, 0.4, size=(100, 80)).astype(float)
    C = rng.normal(size=(100, 1))
    y = X[:, :10].sum(1) + C[:, 0] + rng.normal(size=100)
    gblup = GBLUP().fit(X[:80], y[:80], C[:80])
    zero = cls(shares=(0.0,)).fit(X[:80], y[:80], C[:80])
    assert zero.loglik_ == pytest.approx(gblup.loglik_, rel=1e-12, abs=1e-10)
    # the same variance components; sigma_g2 refers to G / mean(diag G) instead of G
    assert zero.sigma_e2_ == pytest.approx(gblup.sigma_e2_, rel=1e-5)
    assert zero.sigma_g2_ == pytest.approx(gblup.sigma_g2_ * zero.mean_diag_[0], rel=1e-5)
    np.testing.assert_allclose(zero.beta_, gblup.beta_, rtol=1e-5)
    np.testing.assert_allclose(
        zero.predict(X[80:], C[80:]), gblup.predict(X[80:], C[80:]), rtol=1e-5
    )
    # and the default grid never does worse than GBLUP in REML likelihood
    assert cls().fit(X[:80], y[:80], C[:80]).loglik_ >= gblup.loglik_ - 1e-9


def _test_r(models, X, y, n_train):
    r = {}
    for model in models:
        pred = model.fit(X[:n_train], y[:n_train]).predict(X[n_train:])
        r[model.name] = float(np.corrcoef(pred, y[n_train:])[0, 1])
    return r


def test_gblup_ad_captures_heterozygote_advantage_that_gblup_misses():
    """y = number of heterozygous loci among 10 SNPs + noise: at p = 0.5 this is pure
    dominance (no additive variance), invisible to GBLUP."""
    rng = np.random.default_rng(7)
    n, m = 400, 200
    X = rng.binomial(2, 0.5, size=(n, m)).astype(float)
    y = (X[:, :10] == 1).sum(1) + rng.normal(scale=np.sqrt(2.5), size=n)
    r = _test_r([GBLUP(), GBLUPAD()], X, y, 300)
    assert r["GBLUP-AD"] > r["GBLUP"] + 0.2, r
    assert r["GBLUP-AD"] > 0.25, r


def test_egblup_captures_additive_by_additive_epistasis_that_gblup_misses():
    rng = np.random.default_rng(3)
    n, m = 400, 60
    X = rng.binomial(2, 0.5, size=(n, m)).astype(float)
    Z = X - 1.0
    g = sum(Z[:, 2 * k] * Z[:, 2 * k + 1] for k in range(5))
    y = g / g.std() + rng.normal(size=n)
    r = _test_r([GBLUP(), EGBLUP()], X, y, 300)
    assert r["EG-BLUP"] > r["GBLUP"] + 0.15, r


@pytest.mark.parametrize("name", ["gblup_ad", "egblup"])
def test_two_kernel_models_never_see_test_rows(name):
    rng = np.random.default_rng(14)
    X = rng.binomial(2, 0.4, size=(120, 70)).astype(float)
    y = (X[:, :5] == 1).sum(1) + X[:, 5] + rng.normal(size=120)
    train, test = np.arange(90), np.arange(90, 120)
    model = make_baseline(name).fit(X[train], y[train])
    before = model.predict(X[test])
    X2 = X.copy()
    X2[test[:5]] = 2.0 - X2[test[:5]]  # flip the counted allele of five test individuals
    refit = make_baseline(name).fit(X2[train], y[train])
    after = refit.predict(X2[test])
    fitted = [k for k, v in vars(model).items() if k.endswith("_")]
    assert {"dual_coef_", "beta_", "sigma_g2_", "loglik_by_share_"} <= set(fitted)
    for k in fitted:
        np.testing.assert_array_equal(np.asarray(getattr(model, k)), np.asarray(getattr(refit, k)))
    np.testing.assert_array_equal(before[5:], after[5:])
    assert np.all(np.abs(before[:5] - after[:5]) > 1e-9)
    # each test row is predicted on its own
    np.testing.assert_allclose(model.predict(X[test[7:9]]), before[7:9], rtol=1e-12)


@pytest.mark.parametrize("cls", [GBLUPAD, EGBLUP])
def test_two_kernel_models_fit_covariates_as_fixed_effects(cls):
    rng = np.random.default_rng(15)
    n = 150
    X = rng.binomial(2, 0.4, size=(n, 60)).astype(float)
    sex = rng.integers(0, 2, size=n).astype(float)
    a = rng.normal(size=n)
    y = (X[:, :5] == 1).sum(1) + X[:, 5] + rng.normal(size=n)
    C = np.column_stack([sex, np.full(n, 7.0), a, 2 * a + 1])
    base = cls().fit(X, y, C)
    model = cls().fit(X, y + 3.0 * sex, C)
    # REML sees only error contrasts, so a fixed effect added to y moves b and nothing else
    assert model.beta_[1] - base.beta_[1] == pytest.approx(3.0, abs=1e-6)
    assert model.sigma_g2_ == pytest.approx(base.sigma_g2_, rel=1e-6)
    np.testing.assert_allclose(
        model.predict(X[:9], C[:9]) - base.predict(X[:9], C[:9]), 3.0 * sex[:9], atol=1e-6
    )
    assert abs(base.beta_[1]) < 0.6
    assert model.fixed_effect_names_ == ["intercept", "C0", "C2"]
    assert any("constant" in s for s in model.notes_) and any(
        "collinear" in s for s in model.notes_
    )
    assert len(cls().fit(X, y).beta_) == 1
    with pytest.raises(InputError, match="pass C_new"):
        model.predict(X[:3])
    assert model.predict(X[:3], C[:3]).shape == (3,)


@pytest.mark.parametrize("cls", [GBLUPAD, EGBLUP])
def test_two_kernel_models_reject_bad_input_in_one_line(cls):
    rng = np.random.default_rng(0)
    X = rng.binomial(2, 0.5, size=(20, 30)).astype(float)
    y = rng.normal(size=20)
    Xn = X.copy()
    Xn[3, 4] = np.nan
    yn = y.copy()
    yn[2] = np.nan
    fitted = cls().fit(X, y)
    cases = [
        (lambda: cls().predict(X), "not fitted"),
        (lambda: cls().fit(Xn, y), "impute"),
        (lambda: cls().fit(X, yn), "NaN"),
        (lambda: cls().fit(X, y[:15]), "15 values"),
        (lambda: cls().fit(X[0], y), "2-D"),
        (lambda: cls().fit(X, y, np.zeros((19, 1))), r"shape \(20, k\)"),
        (lambda: cls(shares=(0.5, 1.5)).fit(X, y), "shares must be"),
        (lambda: cls(shares=()).fit(X, y), "shares must be"),
        (lambda: cls().fit(np.ones((20, 30)), y), "monomorphic"),
        (lambda: fitted.predict(X[:, :10]), "30"),
        (lambda: fitted.predict(Xn), "impute"),
    ]
    for call, pattern in cases:
        with pytest.raises(InputError, match=pattern) as info:
            call()
        assert "\n" not in str(info.value), str(info.value)


def test_two_kernel_baselines_are_registered_and_run_in_cross_validation(tmp_path):
    from snpcnn.baselines import BASELINE_LABELS, BASELINES, DEFAULT_BASELINES
    from snpcnn.cv import cross_validate
    from snpcnn.genotypes import Genotypes

    assert {"gblup_ad", "egblup"} <= set(BASELINES)
    assert DEFAULT_BASELINES == ("gblup", "ridge", "rkhs")
    assert BASELINE_LABELS["gblup_ad"] == "GBLUP-AD" and BASELINE_LABELS["egblup"] == "EG-BLUP"
    for alias in ("gblup_ad", "GBLUP-AD", "gblupad"):
        assert isinstance(make_baseline(alias), GBLUPAD)
    for alias in ("egblup", "EG-BLUP", "eg_blup"):
        assert isinstance(make_baseline(alias), EGBLUP)
    rng = np.random.default_rng(9)
    n, m = 120, 80
    d = rng.binomial(2, 0.5, size=(n, m)).astype(np.int8)
    ids = np.array([f"s{i}" for i in range(n)])
    y = (d[:, :8] == 1).sum(1) + rng.normal(size=n)
    (tmp_path / "ph.csv").write_text(
        "sample_id,t\n" + "".join(f"{i},{v}\n" for i, v in zip(ids, y))
    )
    res = cross_validate(
        Genotypes(d, ids),
        tmp_path / "ph.csv",
        "t",
        folds=3,
        cnn=False,
        baselines=["gblup", "gblup_ad", "egblup"],
    )
    assert {"GBLUP", "GBLUP-AD", "EG-BLUP"} <= set(res.metrics["model"])


def test_bench_configs_accept_the_new_baselines_and_reserve_their_labels(tmp_path):
    from snpcnn.bench import load_config

    (tmp_path / "geno.csv").write_text("sample_id,s1\na,0\n")
    (tmp_path / "pheno.csv").write_text("sample_id,GY_E1\na,1\n")
    dataset = (
        '[[datasets]]\nname = "w"\ngenotypes = "geno.csv"\nphenotypes = "pheno.csv"\n'
        'traits = ["GY_E1"]\nfolds = 3\n'
    )
    path = tmp_path / "cfg.toml"
    path.write_text(dataset + '[[models]]\nname = "m"\npreset = "mlp"\n')
    assert load_config(path).baselines == ["gblup", "ridge", "rkhs"]  # the default is unchanged
    path.write_text('baselines = ["gblup", "gblup_ad", "egblup"]\n' + path.read_text())
    assert load_config(path).baselines == ["gblup", "gblup_ad", "egblup"]
    for name in ("GBLUP-AD", "EG-BLUP", "gblup_ad", "egblup"):
        path.write_text(dataset + f'[[models]]\nname = "{name}"\npreset = "mlp"\n')
        with pytest.raises(InputError, match=f"'{name}' is reserved"):
            load_config(path)


@pytest.mark.parametrize("name", ["EGBLUP", "RKHS"])
def test_kernel_models_fit_the_values_they_predict_with(name):
    """EG-BLUP and RKHS keep their training dosages as float32 for predict(): fitted on
    imputed float64 dosages, they once fitted one kernel and predicted with another
    (5e-5 relative); fitting on the float32-rounded input must give the same model."""
    import snpcnn.baselines as b

    rng = np.random.default_rng(3)
    X = rng.integers(0, 3, (140, 300)).astype(float)
    X[rng.random(X.shape) < 0.05] = np.nan
    X = np.where(np.isnan(X), np.nanmean(X, 0), X)  # imputed: not float32-exact
    y = X[:, 0] * X[:, 1] + rng.normal(size=140)
    cls = getattr(b, name)
    p64 = cls().fit(X[:120], y[:120]).predict(X[120:])
    p32 = cls().fit(X[:120].astype(np.float32), y[:120]).predict(X[120:])
    np.testing.assert_allclose(p64, p32, rtol=1e-9, atol=1e-12)
