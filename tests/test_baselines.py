"""GBLUP, ridge and RKHS baselines checked against independent computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize
from scipy.linalg import cho_factor, cho_solve

from snpcnn.baselines import GBLUP, RKHS, RidgeRegression, make_baseline, vanraden_grm
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
