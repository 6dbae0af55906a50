"""Genomic-prediction baselines: GBLUP (REML), ridge regression (RR-BLUP), RKHS
(Gaussian-kernel GBLUP), GBLUP-AD (additive + dominance, Vitezica et al. 2013) and EG-BLUP
(additive + additive-by-additive epistasis, G o G).

All of them follow one small contract so that the cross-validation engine can treat them (and the
CNNs) alike::

    model = make_baseline("gblup")          # or GBLUP(), RidgeRegression()
    model.fit(X_train, y_train, C_train)    # returns the model
    y_hat = model.predict(X_test, C_test)

* ``X`` is a float array (samples x SNPs) of dosages whose missing values the caller has
  already replaced by the *training-fold* mean dosage.
* ``y`` is a 1-D float array without NaN.
* ``C`` (optional) holds covariates (samples x k) used as unpenalised fixed effects.  An
  intercept is always added here; do not include one.  Covariate columns that are constant or
  collinear with the intercept and earlier columns in the training data are dropped (recorded
  in ``notes_``).

Everything data-dependent (allele frequencies, centring, variance components, the penalty) is
estimated from the arrays passed to ``fit``; ``predict`` only applies it.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from scipy import optimize

from snpcnn.errors import InputError

__all__ = [
    "Baseline",
    "GBLUP",
    "RidgeRegression",
    "RKHS",
    "GBLUPAD",
    "EGBLUP",
    "make_baseline",
    "BASELINES",
    "DEFAULT_BASELINES",
    "BASELINE_LABELS",
    "vanraden_grm",
    "dominance_codes",
    "dominance_grm",
]

#: Names accepted by :func:`make_baseline`.
BASELINES = ("gblup", "ridge", "rkhs", "gblup_ad", "egblup")
#: The baselines run when none are named (``snpcnn fit``, ``cross_validate``, bench configs).
DEFAULT_BASELINES = ("gblup", "ridge", "rkhs")
#: The label each baseline's results carry (metrics.csv, results.csv, tables).
BASELINE_LABELS = {
    "gblup": "GBLUP",
    "ridge": "ridge",
    "rkhs": "RKHS",
    "gblup_ad": "GBLUP-AD",
    "egblup": "EG-BLUP",
}
# Eigenvalues below this fraction of the largest are set to exactly zero.
_EIG_RTOL = 1e-10
# Relative tolerance for dropping collinear covariate columns.
_COLLINEAR_RTOL = 1e-8


# ---------------------------------------------------------------------------- helpers
def _as_matrix(X: Any, what: str) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"{what} must be a 2-D samples x SNPs array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise InputError(
            f"{what} contains NaN or infinite values; impute missing dosages with the "
            "training-fold mean before calling fit/predict"
        )
    return X


def _as_vector(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise InputError(f"y must be a 1-D array of trait values, got shape {y.shape}")
    if len(y) != n:
        raise InputError(f"y has {len(y)} values but X has {n} rows")
    if not np.isfinite(y).all():
        raise InputError("y contains NaN or infinite values; drop samples with a missing trait")
    return y


def _check_polymorphic(X: np.ndarray) -> None:
    if not (np.ptp(X, axis=0) > 0).any():
        raise InputError(
            "every SNP is monomorphic in the training data (all dosages equal per column); "
            "nothing to fit"
        )


def _covariate_names(C: Any, k: int) -> list[str]:
    cols = getattr(C, "columns", None)
    if cols is not None and len(cols) == k:
        return [str(c) for c in cols]
    return [f"C{j}" for j in range(k)]


class _FixedEffects:
    """The fixed-effect design ``[1, C]``, with constant/collinear covariates dropped."""

    def fit(self, C: Any, n: int) -> _FixedEffects:
        self.notes: list[str] = []
        if C is None:
            self.k_in = None
            self.keep: list[int] = []
            self.names = ["intercept"]
            return self
        names = _covariate_names(C, np.shape(C)[1] if np.ndim(C) == 2 else 1)
        C = np.asarray(C, dtype=np.float64)
        if C.ndim == 1:
            C = C[:, None]
        if C.ndim != 2 or C.shape[0] != n:
            raise InputError(f"covariates C must have shape ({n}, k), got {C.shape}")
        if not np.isfinite(C).all():
            raise InputError("covariates C contain NaN or infinite values; fill them in first")
        self.k_in = C.shape[1]
        F = np.ones((n, 1))
        keep = []
        for j in range(C.shape[1]):
            col = C[:, j]
            if np.ptp(col) == 0:
                self.notes.append(f"covariate {names[j]} is constant in the training data; dropped")
                continue
            # residual of the column after projecting on the columns kept so far
            coef, *_ = np.linalg.lstsq(F, col, rcond=None)
            resid = col - F @ coef
            if np.linalg.norm(resid) <= _COLLINEAR_RTOL * np.linalg.norm(col - col.mean()):
                self.notes.append(
                    f"covariate {names[j]} is collinear with the intercept and earlier "
                    "covariates in the training data; dropped"
                )
                continue
            keep.append(j)
            F = np.column_stack([F, col])
        self.keep = keep
        self.names = ["intercept"] + [names[j] for j in keep]
        return self

    def design(self, C: Any, n: int) -> np.ndarray:
        if self.k_in is None:
            if C is not None and np.size(C) > 0:
                raise InputError("covariates given to predict, but the model was fitted without")
            return np.ones((n, 1))
        if C is None:
            raise InputError(
                f"the model was fitted with {self.k_in} covariate column(s); pass C_new too"
            )
        C = np.asarray(C, dtype=np.float64)
        if C.ndim == 1:
            C = C[:, None]
        if C.shape != (n, self.k_in):
            raise InputError(f"C_new must have shape ({n}, {self.k_in}), got {C.shape}")
        if not np.isfinite(C).all():
            raise InputError("covariates C_new contain NaN or infinite values; fill them in first")
        return np.column_stack([np.ones(n), C[:, self.keep]])


def _spectrum(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left singular vectors and squared singular values of ``Z`` (n x m), nonzero ones only.

    Returns ``U`` (n x r, orthonormal columns) and ``s2`` (r,) with ``Z Z' = U diag(s2) U'``.
    Uses the smaller of the n x n and m x m cross-product matrices.
    """
    n, m = Z.shape
    if n <= m:
        s2, U = np.linalg.eigh(Z @ Z.T)
    else:
        s2, V = np.linalg.eigh(Z.T @ Z)
        U = None
    top = s2[-1] if len(s2) else 0.0
    keep = s2 > _EIG_RTOL * max(top, 0.0)
    s2 = s2[keep]
    if U is None:
        U = (Z @ V[:, keep]) / np.sqrt(s2)
    else:
        U = U[:, keep]
    return U, s2


def vanraden_grm(
    X: np.ndarray, p: np.ndarray | None = None, X_other: np.ndarray | None = None
) -> np.ndarray:
    """VanRaden (2008) method-1 genomic relationship matrix ``Z Z' / (2 sum p(1-p))``.

    Parameters
    ----------
    X : array (n x m)
        Dosages (0..2, missing already imputed).
    p : array (m,), optional
        Allele frequencies used for centring (``Z = X - 2p``); default ``X.mean(0) / 2``.
    X_other : array (n2 x m), optional
        If given, return the n2 x n relationships between ``X_other`` and ``X``.
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    scale = 2.0 * float(np.sum(p * (1.0 - p)))
    Z = X - 2.0 * p
    if X_other is None:
        return (Z @ Z.T) / scale
    return ((_as_matrix(X_other, "X_other") - 2.0 * p) @ Z.T) / scale


class _RemlFit(NamedTuple):
    loglik: float
    beta: np.ndarray
    sigma_g2: float
    delta: float
    log_delta: float
    hinv_resid: np.ndarray  # H^-1 (y - F beta), H = K + delta I
    at_bound: bool
    n_iter: int
    converged: bool


def _reml(
    U: np.ndarray, lam: np.ndarray, y: np.ndarray, F: np.ndarray, lo: float, hi: float, n_grid: int
) -> _RemlFit:
    """REML fit of ``y = F b + g + e``, ``g ~ N(0, sigma_g2 K)``, ``K = U diag(lam) U'``.

    ``U`` (n x r) has orthonormal columns and ``lam`` (r,) the eigenvalues kept (>= 0); the
    orthogonal complement of ``U`` has eigenvalue 0.  ``sigma_g2`` is profiled out and the
    restricted log-likelihood is maximised over ``log(delta)``, ``delta = sigma_e2 /
    sigma_g2``, in ``[lo, hi]``: a grid of ``n_grid`` points, then Brent's bounded method
    between the neighbours of the best grid point.  Each evaluation costs O(n q^2) after the
    one eigendecomposition the caller made.
    """
    n, q = F.shape
    # projections onto the eigenbasis (r dims) and its orthogonal complement
    Uy, UF = U.T @ y, U.T @ F
    y_perp, F_perp = y - U @ Uy, F - U @ UF
    yy_perp, Fy_perp, FF_perp = y_perp @ y_perp, F_perp.T @ y_perp, F_perp.T @ F_perp
    n_null = n - U.shape[1]
    logdet_FF = np.linalg.slogdet(F.T @ F)[1]

    def terms(log_delta: float):
        delta = math.exp(log_delta)
        d = 1.0 / (lam + delta)
        FHF = UF.T @ (d[:, None] * UF) + FF_perp / delta
        FHy = UF.T @ (d * Uy) + Fy_perp / delta
        yHy = Uy @ (d * Uy) + yy_perp / delta
        L = np.linalg.cholesky(FHF)
        beta = np.linalg.solve(FHF, FHy)
        yPy = max(yHy - FHy @ beta, 1e-300)
        logdet_H = np.sum(np.log(lam + delta)) + n_null * log_delta
        logdet_FHF = 2.0 * np.sum(np.log(np.diag(L)))
        df = n - q
        ll = -0.5 * (
            df * (math.log(2 * math.pi * yPy / df) + 1.0) + logdet_H + logdet_FHF - logdet_FF
        )
        return ll, beta, yPy / df, delta

    grid = np.linspace(lo, hi, n_grid)
    values = np.array([terms(t)[0] for t in grid])
    k = int(np.argmax(values))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(
        lambda t: -terms(t)[0], bounds=(a, b), method="bounded", options={"xatol": 1e-9}
    )
    t_best = float(res.x) if -res.fun >= values[k] else float(grid[k])
    ll, beta, sigma_g2, delta = terms(t_best)
    step = (hi - lo) / (n_grid - 1)
    r = y - F @ beta
    Ur = U.T @ r
    hinv_r = U @ (Ur / (lam + delta)) + (r - U @ Ur) / delta
    return _RemlFit(
        loglik=float(ll),
        beta=beta,
        sigma_g2=float(sigma_g2),
        delta=float(delta),
        log_delta=t_best,
        hinv_resid=hinv_r,
        at_bound=bool(t_best - lo < step or hi - t_best < step),
        n_iter=int(res.nfev),
        converged=bool(res.success),
    )


def _best_kernel(
    keys: Any, build: Any, y: np.ndarray, F: np.ndarray, lo: float, hi: float, n_grid: int
) -> tuple[float, _RemlFit, dict[float, float]]:
    """REML over a grid of candidate kernels: the one with the highest log-likelihood.

    For each ``key`` in ``keys`` the kernel ``build(key)`` (n x n, symmetric, positive
    semi-definite) is eigendecomposed once (negative rounding-error eigenvalues clipped to 0)
    and :func:`_reml` maximises the likelihood over ``delta``.  The same ``y`` and ``F`` enter
    every fit, so the maximised restricted log-likelihoods are comparable across kernels; the
    first key with the highest one wins.  Returns that key (as float), its fit and the
    log-likelihood of every key.  Used for RKHS's bandwidths and for the variance share of the
    second kernel in GBLUP-AD and EG-BLUP.
    """
    best: tuple[float, _RemlFit] | None = None
    by_key: dict[float, float] = {}
    for key in keys:
        lam, U = np.linalg.eigh(build(key))
        fit = _reml(U, np.clip(lam, 0.0, None), y, F, lo, hi, n_grid)
        by_key[float(key)] = fit.loglik
        if best is None or fit.loglik > best[1].loglik:
            best = (float(key), fit)
    assert best is not None  # keys is never empty (checked by the callers)
    return best[0], best[1], by_key


def _reml_bounds(log_delta_bounds: Any, n_grid: int) -> tuple[float, float]:
    lo, hi = (float(b) for b in log_delta_bounds)
    if not lo < hi:
        raise InputError(f"log_delta_bounds must be (low, high) with low < high, got {(lo, hi)}")
    if n_grid < 3:
        raise InputError(f"n_grid must be at least 3, got {n_grid}")
    return lo, hi


def _training_data(
    X: Any, y: Any, C: Any, who: str
) -> tuple[np.ndarray, np.ndarray, _FixedEffects, np.ndarray]:
    """Checked float X and y, the fixed effects fitted on C, and their design F."""
    X = _as_matrix(X, "X")
    n = X.shape[0]
    y = _as_vector(y, n)
    fe = _FixedEffects().fit(C, n)
    F = fe.design(C, n)
    if n - F.shape[1] < 2:
        raise InputError(
            f"{who} needs more training samples than fixed effects (n={n}, q={F.shape[1]})"
        )
    _check_polymorphic(X)
    return X, y, fe, F


def _store_reml(model: Any, reml: _RemlFit, fe: _FixedEffects, lo: float, hi: float) -> None:
    """The attributes GBLUP and RKHS share: variance components, fixed effects, notes."""
    model.notes_ = list(fe.notes)
    model.at_bound_ = reml.at_bound
    if model.at_bound_:
        model.notes_.append(
            f"REML optimum at the edge of log_delta_bounds ({lo}, {hi}): "
            f"h2 = {1 / (1 + reml.delta):.4g}"
        )
    model.beta_ = reml.beta
    model.fixed_effect_names_ = fe.names
    model._fe = fe
    model.sigma_g2_ = reml.sigma_g2
    model.sigma_e2_ = reml.delta * reml.sigma_g2
    model.delta_ = reml.delta
    model.h2_ = float(1.0 / (1.0 + reml.delta))
    model.loglik_ = reml.loglik
    model.n_iter_ = reml.n_iter
    model.converged_ = reml.converged


class Baseline:
    """Common base of the baselines: ``name``, ``fit(X, y, C=None) -> self``, ``predict``."""

    name = "baseline"

    def fit(self, X: Any, y: Any, C: Any = None) -> Baseline:  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    _fitted_attr = "coef_"  # set by fit; the kernel models set dual_coef_

    def _check_fitted(self) -> None:
        if not hasattr(self, self._fitted_attr):
            raise InputError(f"this {self.name} model is not fitted yet; call fit(X, y) first")

    def _check_new(self, X_new: Any) -> np.ndarray:
        X_new = _as_matrix(X_new, "X_new")
        if X_new.shape[1] != self.n_features_in_:
            raise InputError(
                f"X_new has {X_new.shape[1]} SNP columns but the model was fitted on "
                f"{self.n_features_in_}"
            )
        return X_new

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({params})"

    def _params(self) -> dict[str, Any]:
        return {}


# ------------------------------------------------------------------------------- GBLUP
class GBLUP(Baseline):
    """GBLUP with variance components estimated by REML.

    Model (training data): ``y = F b + g + e`` with ``F = [1, C]`` fixed effects,
    ``g ~ N(0, sigma_g2 G)``, ``e ~ N(0, sigma_e2 I)``, and ``G`` the VanRaden (2008)
    method-1 relationship matrix ``Z Z' / s`` with ``Z = X - 2p``, ``s = 2 sum p(1-p)``,
    ``p`` the training allele frequencies (``X.mean(0) / 2``).

    REML: with ``delta = sigma_e2 / sigma_g2`` and ``G = U diag(lambda) U'`` (nonzero
    eigenvalues; eigenvalues below 1e-10 of the largest are set to 0), ``sigma_g2`` is
    profiled out and the restricted log-likelihood is maximised over ``log(delta)`` in
    ``log_delta_bounds``: a grid of ``n_grid`` points, then Brent's bounded method between the
    neighbours of the best grid point.  Each evaluation costs O(n q^2) after one
    eigendecomposition, so the optimisation cannot get stuck in a poor local optimum found from
    a single start.  ``H = G + delta I`` is positive definite for every ``delta > 0``, so a
    singular ``G`` (always the case after centring) needs no ridge.

    Prediction: ``g_new = G_new,train H^-1 (y - F b)`` which equals
    ``G_new,train G^-1 g_hat_train``; it is computed through the marker effects
    ``u = Z' H^-1 (y - F b) / s`` (GBLUP is RR-BLUP with ``lambda = delta * s``), so
    ``predict(X_new) = (X_new - 2p) u + F_new b``.

    Parameters
    ----------
    log_delta_bounds : (float, float)
        Search interval for the natural log of ``delta = sigma_e2 / sigma_g2``.
    n_grid : int
        Grid points before the Brent refinement.
    jitter : float
        Added to the diagonal of ``G`` (``G + jitter I``); 0 by default (not needed).

    Attributes
    ----------
    sigma_g2_, sigma_e2_ : float
        REML variance components (``sigma_g2_`` on the scale of ``G``).
    h2_ : float
        ``sigma_g2 / (sigma_g2 + sigma_e2)``.
    delta_ : float
        ``sigma_e2 / sigma_g2``.
    beta_ : array
        Fixed effects (GLS), intercept first, then the kept covariate columns.
    loglik_ : float
        Maximised REML log-likelihood of the ``n - q`` error contrasts ``K'y`` (``K'K = I``,
        ``K'F = 0``): ``-1/2 [(n-q) log 2 pi + log|V| + log|F'V^-1 F| - log|F'F| + y'Py]``.
    n_iter_ : int
        Likelihood evaluations by the Brent step (the grid adds ``n_grid``).
    converged_ : bool
        Whether the Brent step converged.
    at_bound_ : bool
        True if the optimum lies on a bound of ``log_delta_bounds`` (h2 near 0 or 1).
    coef_ : array (m,)
        Marker effects ``u``.
    allele_freq_ : array (m,)
        Training allele frequencies ``p``.
    scale_ : float
        ``2 sum p(1-p)``.
    notes_ : list of str
        Covariates dropped, optimum on a bound.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, :20].sum(1) + rng.normal(size=60)
    >>> m = GBLUP().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "GBLUP"

    def __init__(
        self,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
        jitter: float = 0.0,
    ) -> None:
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid
        self.jitter = jitter

    def _params(self) -> dict[str, Any]:
        return {
            "log_delta_bounds": self.log_delta_bounds,
            "n_grid": self.n_grid,
            "jitter": self.jitter,
        }

    def fit(self, X: Any, y: Any, C: Any = None) -> GBLUP:
        """Estimate variance components by REML and the marker effects from training data.

        Parameters
        ----------
        X : array (n x m)
            Training dosages, missing values already imputed with training means.
        y : array (n,)
            Training trait values, no NaN.
        C : array (n x k), optional
            Training covariates (fixed effects; an intercept is always added).

        Returns
        -------
        self
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        if self.jitter < 0:
            raise InputError(f"jitter must be >= 0, got {self.jitter}")
        X, y, fe, F = _training_data(X, y, C, "GBLUP")
        n, m = X.shape
        p = X.mean(axis=0) / 2.0
        scale = 2.0 * float(np.sum(p * (1.0 - p)))
        Z = X - 2.0 * p
        del X
        if self.jitter > 0:
            # the jitter lifts the null space of G too: use the full eigenbasis
            lam, U = np.linalg.eigh(Z @ Z.T / scale)
            lam = np.clip(lam, 0.0, None) + self.jitter
        else:
            U, lam = _spectrum(Z)
            lam = lam / scale

        reml = _reml(U, lam, y, F, lo, hi, self.n_grid)
        _store_reml(self, reml, fe, lo, hi)
        # BLUP of the genetic values through the marker effects
        self.coef_ = (Z.T @ reml.hinv_resid) / scale
        self.allele_freq_ = p
        self.scale_ = scale
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: genomic value ``(X_new - 2p) u`` plus fixed effects.

        Parameters
        ----------
        X_new : array (n_new x m)
            Dosages, missing values imputed with the *training* means.
        C_new : array (n_new x k), optional
            Covariates, same columns as in ``fit``.
        """
        self._check_fitted()
        X_new = self._check_new(X_new)
        F_new = self._fe.design(C_new, X_new.shape[0])
        return (X_new - 2.0 * self.allele_freq_) @ self.coef_ + F_new @ self.beta_

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values ``g_new`` alone (no fixed effects)."""
        self._check_fitted()
        return (self._check_new(X_new) - 2.0 * self.allele_freq_) @ self.coef_


# -------------------------------------------------------------------------------- RKHS
def _sq_distances(A: np.ndarray, B: np.ndarray | None, center: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances between the rows of ``A`` and ``B`` (``None``: ``A``
    itself), divided by the number of SNPs (the mean squared dosage difference).  ``center``
    (the training means) is subtracted first; it does not change a distance but keeps the
    cancellation error small."""
    A = A - center
    a2 = np.einsum("ij,ij->i", A, A)
    if B is None:
        B, b2 = A, a2
    else:
        B = B - center
        b2 = np.einsum("ij,ij->i", B, B)
    D = a2[:, None] + b2[None, :] - 2.0 * (A @ B.T)
    np.maximum(D, 0.0, out=D)
    return D / A.shape[1]


class RKHS(Baseline):
    """RKHS regression (Gaussian-kernel GBLUP) with the bandwidth and variance components
    chosen by REML.

    The nonlinear genomic baseline of Gianola and van Kaam (2008) and Crossa et al. (2010):
    ``y = F b + g + e`` with ``g ~ N(0, sigma_g2 K)`` and the Gaussian kernel
    ``K_ij = exp(-d2_ij / (theta * median d2))``, where ``d2_ij`` is the mean squared dosage
    difference between individuals ``i`` and ``j`` over the SNPs and the median is taken over
    the distinct training pairs.  Unlike GBLUP's linear kernel, ``K`` lets the genetic values
    depend on interactions between loci (epistasis of every order).

    Fitting: for each relative bandwidth ``theta`` in ``bandwidths`` the kernel is
    eigendecomposed and the REML log-likelihood maximised over ``delta = sigma_e2 /
    sigma_g2`` exactly as in :class:`GBLUP`; the ``theta`` with the highest REML
    log-likelihood (the same data and fixed effects, so the likelihoods are comparable) is
    kept.  Only the training data enter.

    Prediction: ``g_new = K_new,train H^-1 (y - F b)`` with ``H = K + delta I`` (the BLUP of
    ``g`` at new individuals), plus ``F_new b``.  The training dosages are kept (float32) to
    compute ``K_new,train``.

    Parameters
    ----------
    bandwidths : sequence of float
        Relative bandwidths ``theta`` to try (multiples of the training median squared
        distance).
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.

    Attributes
    ----------
    bandwidth_ : float
        The chosen ``theta``.
    median_sq_distance_ : float
        Median of the training pairs' mean squared dosage differences.
    loglik_by_bandwidth_ : dict
        REML log-likelihood of each ``theta``.
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, at_bound_, notes_
        As for :class:`GBLUP` (``h2_`` on the scale of ``K``, whose diagonal is 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, 0] * X[:, 1] + rng.normal(size=60)
    >>> m = RKHS().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "RKHS"
    _fitted_attr = "dual_coef_"
    DEFAULT_BANDWIDTHS = (0.25, 0.5, 1.0, 2.0, 4.0)

    def __init__(
        self,
        bandwidths: Any = DEFAULT_BANDWIDTHS,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
    ) -> None:
        self.bandwidths = bandwidths
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid

    def _params(self) -> dict[str, Any]:
        return {
            "bandwidths": self.bandwidths,
            "log_delta_bounds": self.log_delta_bounds,
            "n_grid": self.n_grid,
        }

    def fit(self, X: Any, y: Any, C: Any = None) -> RKHS:
        """Choose the bandwidth and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        thetas = np.atleast_1d(np.asarray(self.bandwidths, dtype=np.float64))
        if thetas.ndim != 1 or len(thetas) == 0 or not (np.isfinite(thetas) & (thetas > 0)).all():
            raise InputError(f"bandwidths must be positive numbers, got {self.bandwidths!r}")
        X, y, fe, F = _training_data(X, y, C, "RKHS")
        n, m = X.shape
        center = X.mean(axis=0)
        D = _sq_distances(X, None, center)
        med = float(np.median(D[np.triu_indices(n, 1)])) if n > 1 else 0.0
        if not med > 0:
            raise InputError(
                "RKHS: the median distance between training individuals is 0 (most of them "
                "have identical genotypes); use GBLUP or remove duplicate individuals"
            )
        theta, reml, by_theta = _best_kernel(
            thetas, lambda t: np.exp(-D / (t * med)), y, F, lo, hi, self.n_grid
        )
        _store_reml(self, reml, fe, lo, hi)
        if len(thetas) > 1 and theta in (thetas.min(), thetas.max()):
            self.notes_.append(f"chosen bandwidth {theta:g} is at the edge of the grid")
        self.bandwidth_ = theta
        self.median_sq_distance_ = med
        self.loglik_by_bandwidth_ = by_theta
        self.dual_coef_ = reml.hinv_resid
        self.center_ = center
        self.X_train_ = X.astype(np.float32)
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def kernel(self, X_new: Any) -> np.ndarray:
        """The Gaussian kernel between ``X_new`` and the training individuals (n_new x n)."""
        self._check_fitted()
        X_new = self._check_new(X_new)
        D = _sq_distances(X_new, self.X_train_.astype(np.float64), self.center_)
        return np.exp(-D / (self.bandwidth_ * self.median_sq_distance_))

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values ``g_new`` alone (no fixed effects)."""
        return self.kernel(X_new) @ self.dual_coef_

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: ``K_new,train H^-1 (y - F b) + F_new b``."""
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_


# ------------------------------------------------------------------------------- ridge
class RidgeRegression(Baseline):
    """Ridge regression on markers (RR-BLUP) with the penalty chosen by exact leave-one-out.

    Solves ``min_b,beta ||y - F b - X beta||^2 + alpha ||beta||^2`` with ``F = [1, C]``
    unpenalised.  Projecting ``F`` out of ``X`` (``X~ = S X``, ``S = I - F(F'F)^-1 F'``, which
    also centres the markers) gives ``beta = (X~'X~ + alpha I)^-1 X~'y`` and
    ``b = (F'F)^-1 F'(y - X beta)``.

    Penalty choice: one eigendecomposition ``X~ X~' = U diag(s2) U'`` gives, for every alpha,
    the hat matrix ``P_F + U diag(s2/(s2+alpha)) U'`` and hence the exact leave-one-out
    residuals ``e_i / (1 - h_ii)`` (the usual identity for quadratic-penalised least squares,
    fixed effects refitted in each leave-one-out fit).  ``alpha_`` minimises their mean square
    over the grid (the smallest alpha among ties).  Only the training data enter.

    Parameters
    ----------
    alphas : array, optional
        Absolute penalties to try.  Default: ``ratios * trace(X~'X~) / n`` with
        ``ratios = logspace(-3, 3, 61)``; the ratio plays the role of ``delta = sigma_e2 /
        sigma_g2`` in GBLUP (ratio 1 means h2 = 0.5 on the G scale).

    Attributes
    ----------
    alpha_ : float
        The chosen penalty.
    alphas_ : array
        The grid searched.
    cv_mse_ : array
        Leave-one-out mean squared error for each alpha in ``alphas_``.
    loo_residuals_ : array (n,)
        Exact leave-one-out residuals ``y_i - yhat_(-i)`` of the training samples at
        ``alpha_`` (each from a fit without sample ``i``), in training order.
    coef_ : array (m,)
        Marker effects.
    beta_ : array
        Fixed effects, intercept first.
    intercept_ : float
        ``beta_[0]``.
    alpha_at_bound_ : bool
        True if ``alpha_`` is the smallest or largest alpha of the grid.
    notes_ : list of str

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.3, size=(60, 200)).astype(float)
    >>> y = X[:, :20].sum(1) + rng.normal(size=60)
    >>> m = RidgeRegression().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "ridge"
    DEFAULT_RATIOS = np.logspace(-3, 3, 61)

    def __init__(self, alphas: Any = None) -> None:
        self.alphas = alphas

    def _params(self) -> dict[str, Any]:
        return {"alphas": self.alphas}

    def fit(self, X: Any, y: Any, C: Any = None) -> RidgeRegression:
        """Choose alpha by leave-one-out on the training data and fit the marker effects.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        X, y, fe, F = _training_data(X, y, C, "ridge")
        n, m = X.shape
        Q, _ = np.linalg.qr(F)
        Xt = X - Q @ (Q.T @ X)
        yt = y - Q @ (Q.T @ y)
        U, s2 = _spectrum(Xt)
        if self.alphas is None:
            alphas = self.DEFAULT_RATIOS * (float(s2.sum()) / n if len(s2) else 1.0)
        else:
            alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
            if alphas.ndim != 1 or len(alphas) == 0 or not (alphas > 0).all():
                raise InputError(f"alphas must be positive numbers, got {self.alphas!r}")
        Uy = U.T @ yt
        shrink = s2[None, :] / (s2[None, :] + alphas[:, None])  # (n_alpha, r)
        h_f = np.sum(Q * Q, axis=1)  # diagonal of P_F
        H_diag = h_f[:, None] + (U * U) @ shrink.T  # (n, n_alpha)
        resid = yt[:, None] - U @ (shrink * Uy[None, :]).T  # (n, n_alpha)
        with np.errstate(divide="ignore", invalid="ignore"):
            loo = resid / (1.0 - H_diag)
        mse = np.mean(loo**2, axis=0)
        mse = np.where(np.isfinite(mse), mse, np.inf)
        k = int(np.argmin(mse))
        alpha = float(alphas[k])
        w = Uy / (s2 + alpha)
        coef = Xt.T @ (U @ w)
        b, *_ = np.linalg.lstsq(F, y - X @ coef, rcond=None)
        self.notes_ = list(fe.notes)
        self.alpha_at_bound_ = bool(len(alphas) > 1 and k in (0, len(alphas) - 1))
        if self.alpha_at_bound_:
            self.notes_.append(f"chosen alpha {alpha:.4g} is at the edge of the grid")
        self.alpha_ = alpha
        self.alphas_ = alphas
        self.cv_mse_ = mse
        self.loo_residuals_ = loo[:, k].copy()
        self.coef_ = coef
        self.beta_ = b
        self.intercept_ = float(b[0])
        self.fixed_effect_names_ = fe.names
        self._fe = fe
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values ``X_new beta + F_new b``."""
        self._check_fitted()
        X_new = self._check_new(X_new)
        F_new = self._fe.design(C_new, X_new.shape[0])
        return X_new @ self.coef_ + F_new @ self.beta_


# ------------------------------------------------------------- GBLUP-AD and EG-BLUP
def dominance_codes(X: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    """Vitezica et al. (2013) genotypic dominance codes ``W`` of dosages ``X`` (n x m).

    With ``p`` the frequency of the counted allele (default ``X.mean(0) / 2``) and ``q = 1 -
    p``, the genotypes 0 / 1 / 2 (copies of the counted allele) are coded ``-2p^2 / 2pq /
    -2q^2``.  These codes are the quadratic polynomial

        w(x) = -x^2 + (1 + 2p) x - 2p^2  =  [x(2 - x) - 2pq] - (1 - 2p)(x - 2p),

    the heterozygosity indicator ``x(2 - x)``, centred, minus its regression on the additive
    code ``x - 2p`` (so under Hardy-Weinberg proportions ``w`` has mean 0 and is uncorrelated
    with ``x``).  A non-integer dosage (a mean-imputed call, or an imputed dosage) gets the
    same polynomial: the training mean ``x = 2p`` is coded ``2pq``, like a heterozygote.
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    return X * ((1.0 + 2.0 * p) - X) - 2.0 * p * p


def dominance_grm(
    X: np.ndarray, p: np.ndarray | None = None, X_other: np.ndarray | None = None
) -> np.ndarray:
    """Vitezica et al. (2013) dominance relationship matrix ``D = W W' / sum (2pq)^2``.

    ``W`` are the :func:`dominance_codes` with the frequencies ``p`` (default ``X.mean(0) /
    2``).  If ``X_other`` is given, return the n2 x n block between ``X_other`` and ``X``
    (codes of both with the same ``p``), as for :func:`vanraden_grm`.
    """
    X = _as_matrix(X, "X")
    if p is None:
        p = X.mean(axis=0) / 2.0
    scale = float(np.sum((2.0 * p * (1.0 - p)) ** 2))
    W = dominance_codes(X, p)
    if X_other is None:
        return (W @ W.T) / scale
    return (dominance_codes(X_other, p) @ W.T) / scale


class _TwoKernelBLUP(Baseline):
    """Shared part of :class:`GBLUPAD` and :class:`EGBLUP`.

    ``y = F b + g1 + g2 + e`` with ``g1 ~ N(0, sigma_1 K1)``, ``g2 ~ N(0, sigma_2 K2)``, both
    kernels scaled to mean diagonal 1.  With ``w = sigma_2 / (sigma_1 + sigma_2)`` and
    ``sigma_g2 = sigma_1 + sigma_2`` this is one-kernel REML with ``K_w = (1 - w) K1 + w K2``;
    ``w`` is profiled on the grid ``shares`` (one eigendecomposition each, through
    :func:`_best_kernel`) and the ``w`` with the highest REML log-likelihood is kept.
    """

    _fitted_attr = "dual_coef_"
    DEFAULT_SHARES = (0.0, 0.1, 0.2, 0.35, 0.5, 0.7, 0.9)
    _component = "second"  # what share_ measures, for notes and errors

    def __init__(
        self,
        shares: Any = DEFAULT_SHARES,
        log_delta_bounds: tuple[float, float] = (-10.0, 10.0),
        n_grid: int = 100,
    ) -> None:
        self.shares = shares
        self.log_delta_bounds = log_delta_bounds
        self.n_grid = n_grid

    def _params(self) -> dict[str, Any]:
        return {
            "shares": self.shares,
            "log_delta_bounds": self.log_delta_bounds,
            "n_grid": self.n_grid,
        }

    def _checked_shares(self) -> np.ndarray:
        w = np.atleast_1d(np.asarray(self.shares, dtype=np.float64))
        if w.ndim != 1 or len(w) == 0 or not (np.isfinite(w) & (w >= 0) & (w <= 1)).all():
            raise InputError(f"shares must be numbers between 0 and 1, got {self.shares!r}")
        return w

    def _fit_shares(
        self,
        K1: np.ndarray,
        K2: np.ndarray,
        y: np.ndarray,
        F: np.ndarray,
        fe: _FixedEffects,
        lo: float,
        hi: float,
        shares: np.ndarray,
    ) -> float:
        """Normalise ``K1``, ``K2`` in place, run REML over ``shares``, store the results.

        Returns the chosen share.
        """
        m1, m2 = float(np.mean(np.diag(K1))), float(np.mean(np.diag(K2)))
        if not (m1 > 0 and m2 > 0):
            raise InputError(
                f"{self.name}: a relationship matrix of the training data has no positive "
                "diagonal (all its codes are 0); nothing to fit"
            )
        K1 /= m1
        K2 /= m2
        w, reml, by_share = _best_kernel(
            shares, lambda s: (1.0 - s) * K1 + s * K2, y, F, lo, hi, self.n_grid
        )
        _store_reml(self, reml, fe, lo, hi)
        if len(shares) > 1 and w == shares.max() and w < 1:
            self.notes_.append(
                f"chosen {self._component} share {w:g} is the largest of the grid; "
                "the REML optimum may lie above it"
            )
        self.mean_diag_ = (m1, m2)
        self.loglik_by_share_ = by_share
        self.dual_coef_ = reml.hinv_resid
        self.shares_ = shares
        return w

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values: ``K_new,train H^-1 (y - F b) + F_new b``."""
        g = self.genomic_values(X_new)
        return g + self._fe.design(C_new, len(g)) @ self.beta_

    def genomic_values(self, X_new: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class GBLUPAD(_TwoKernelBLUP):
    """GBLUP with additive and dominance effects (GBLUP-AD), variance components by REML.

    Model (training data): ``y = F b + a + d + e`` with ``a ~ N(0, sigma_a2 G~)``, ``d ~ N(0,
    sigma_d2 D~)``, ``e ~ N(0, sigma_e2 I)``.  ``G`` is the VanRaden relationship matrix of
    :class:`GBLUP` and ``D = W W' / sum (2pq)^2`` the dominance relationship matrix of
    Vitezica et al. (2013), genotypic parametrisation (:func:`dominance_codes`: per SNP the
    genotypes 0 / 1 / 2 are coded ``-2p^2 / 2pq / -2q^2`` with ``p`` the training frequency
    of the counted allele, i.e. the polynomial ``w(x) = -x^2 + (1 + 2p) x - 2p^2``, which
    also codes non-integer, mean-imputed dosages: ``x = 2p`` gets ``2pq``).  ``G~ = G /
    mean(diag G)`` and ``D~ = D / mean(diag D)``.

    REML: with the dominance share ``w = sigma_d2 / (sigma_a2 + sigma_d2)`` the covariance is
    ``sigma_g2 K_w + sigma_e2 I``, ``K_w = (1 - w) G~ + w D~``.  For each ``w`` in ``shares``
    one eigendecomposition of ``K_w`` and the one-kernel REML of :class:`GBLUP`; the ``w``
    with the highest REML log-likelihood is kept (same ``y`` and ``F``, so comparable).
    ``shares=(0,)`` is GBLUP.  Only the training data enter.

    Prediction: ``g_new = K_new,train H^-1 (y - F b)`` (``H = K_w + delta I``) through marker
    effects, so no training genotypes are kept: ``g_new = (X_new - 2p) u_a + W_new u_d`` with
    ``u_a = (1 - w) Z' H^-1 (y - F b) / (s mean(diag G))`` and ``u_d = w W' H^-1 (y - F b) /
    (sum (2pq)^2 mean(diag D))``.

    Parameters
    ----------
    shares : sequence of float
        Dominance shares ``w`` to try, each in [0, 1].
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.

    Attributes
    ----------
    dominance_share_ : float
        The chosen ``w``.
    loglik_by_share_ : dict
        REML log-likelihood of each ``w``.
    sigma_a2_, sigma_d2_ : float
        ``(1 - w) sigma_g2`` and ``w sigma_g2`` (on the scales of ``G~`` and ``D~``).
    additive_coef_, dominance_coef_ : array (m,)
        ``u_a`` and ``u_d``.
    allele_freq_ : array (m,)
        Training frequencies ``p`` of the counted allele.
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    mean_diag_ : (float, float)
        ``mean(diag G)``, ``mean(diag D)`` of the training data.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, n_iter_, converged_, at_bound_, notes_
        As for :class:`GBLUP`, for the chosen ``w`` (``h2_`` is the share of the additive plus
        dominance variance on the scale of ``K_w``, whose diagonal averages 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.5, size=(60, 200)).astype(float)
    >>> y = (X[:, :10] == 1).sum(1) + rng.normal(size=60)
    >>> m = GBLUPAD().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "GBLUP-AD"
    _component = "dominance"

    def fit(self, X: Any, y: Any, C: Any = None) -> GBLUPAD:
        """Choose the dominance share and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        shares = self._checked_shares()
        X, y, fe, F = _training_data(X, y, C, "GBLUP-AD")
        n, m = X.shape
        p = X.mean(axis=0) / 2.0
        no_het = not np.any(X == 1.0)
        W = dominance_codes(X, p)
        Z = X - 2.0 * p
        del X
        scale_g = 2.0 * float(np.sum(p * (1.0 - p)))
        scale_d = float(np.sum((2.0 * p * (1.0 - p)) ** 2))
        w = self._fit_shares((Z @ Z.T) / scale_g, (W @ W.T) / scale_d, y, F, fe, lo, hi, shares)
        if no_het:
            self.notes_.append(
                "no heterozygous calls in the training data (inbred lines?): the dominance "
                "codes are then a linear function of the dosages and dominance cannot be told "
                "apart from additive effects"
            )
        mg, md = self.mean_diag_
        self.dominance_share_ = w
        self.sigma_a2_ = (1.0 - w) * self.sigma_g2_
        self.sigma_d2_ = w * self.sigma_g2_
        self.additive_coef_ = (Z.T @ self.dual_coef_) * ((1.0 - w) / (scale_g * mg))
        self.dominance_coef_ = (W.T @ self.dual_coef_) * (w / (scale_d * md))
        self.allele_freq_ = p
        self.scale_ = scale_g
        self.dominance_scale_ = scale_d
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def additive_values(self, X_new: Any) -> np.ndarray:
        """The predicted additive values ``(X_new - 2p) u_a``."""
        self._check_fitted()
        return (self._check_new(X_new) - 2.0 * self.allele_freq_) @ self.additive_coef_

    def dominance_values(self, X_new: Any) -> np.ndarray:
        """The predicted dominance deviations ``W_new u_d`` (codes with training ``p``)."""
        self._check_fitted()
        return dominance_codes(self._check_new(X_new), self.allele_freq_) @ self.dominance_coef_

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values (additive plus dominance, no fixed effects)."""
        self._check_fitted()
        X_new = self._check_new(X_new)
        p = self.allele_freq_
        a = (X_new - 2.0 * p) @ self.additive_coef_
        return a + dominance_codes(X_new, p) @ self.dominance_coef_


class EGBLUP(_TwoKernelBLUP):
    """Epistatic GBLUP (EG-BLUP): additive plus additive-by-additive effects, REML.

    Model (training data): ``y = F b + a + aa + e`` with ``a ~ N(0, sigma_a2 G~)`` and ``aa ~
    N(0, sigma_aa2 (G o G)~)``, where ``G`` is the VanRaden relationship matrix of
    :class:`GBLUP`, ``G o G`` its elementwise (Hadamard) square (Henderson 1985; Jiang and
    Reif 2015), and ``~`` means scaled to mean diagonal 1.  ``G o G`` is the covariance of
    all pairwise products of the centred markers, so ``aa`` holds additive x additive
    interactions between (and within) loci.

    REML over the epistatic share ``w = sigma_aa2 / (sigma_a2 + sigma_aa2)`` exactly as in
    :class:`GBLUPAD`: ``K_w = (1 - w) G~ + w (G o G)~``, one eigendecomposition per ``w`` in
    ``shares``, the ``w`` with the highest REML log-likelihood kept.  ``shares=(0,)`` is
    GBLUP.

    Prediction: ``g_new = K_new,train H^-1 (y - F b) + F_new b`` with ``K_new,train = (1 - w)
    G_new~ + w (G_new o G_new)~`` and ``G_new = (X_new - 2p)(X_train - 2p)' / s``.  The
    cross kernel is not linear in markers, so the model keeps the training dosages as float32
    (``X_train_``, 4 n m bytes: 30 MB for 600 x 12,000 SNPs, 75 MB for 1,814 x 10,346),
    exact for integer dosages; a prediction costs O(n_new n m).

    Parameters
    ----------
    shares : sequence of float
        Epistatic shares ``w`` to try, each in [0, 1].
    log_delta_bounds, n_grid
        As for :class:`GBLUP`.

    Attributes
    ----------
    epistatic_share_ : float
        The chosen ``w``.
    loglik_by_share_ : dict
        REML log-likelihood of each ``w``.
    sigma_a2_, sigma_aa2_ : float
        ``(1 - w) sigma_g2`` and ``w sigma_g2`` (on the scales of ``G~`` and ``(G o G)~``).
    dual_coef_ : array (n_train,)
        ``H^-1 (y - F b)``.
    allele_freq_, scale_ : array (m,), float
        Training ``p`` and ``s = 2 sum p(1-p)``.
    mean_diag_ : (float, float)
        ``mean(diag G)``, ``mean(diag G o G)`` of the training data.
    X_train_ : array (n_train x m), float32
        The training dosages.
    sigma_g2_, sigma_e2_, delta_, h2_, beta_, loglik_, n_iter_, converged_, at_bound_, notes_
        As for :class:`GBLUPAD`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.binomial(2, 0.5, size=(60, 200)).astype(float)
    >>> y = (X[:, 0] - 1) * (X[:, 1] - 1) + rng.normal(size=60)
    >>> m = EGBLUP().fit(X[:50], y[:50])
    >>> m.predict(X[50:]).shape
    (10,)
    """

    name = "EG-BLUP"
    _component = "epistatic"

    def fit(self, X: Any, y: Any, C: Any = None) -> EGBLUP:
        """Choose the epistatic share and variance components by REML on the training data.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        lo, hi = _reml_bounds(self.log_delta_bounds, self.n_grid)
        shares = self._checked_shares()
        X, y, fe, F = _training_data(X, y, C, "EG-BLUP")
        n, m = X.shape
        p = X.mean(axis=0) / 2.0
        scale = 2.0 * float(np.sum(p * (1.0 - p)))
        Z = X - 2.0 * p
        G = (Z @ Z.T) / scale
        del Z
        w = self._fit_shares(G, G * G, y, F, fe, lo, hi, shares)
        self.epistatic_share_ = w
        self.sigma_a2_ = (1.0 - w) * self.sigma_g2_
        self.sigma_aa2_ = w * self.sigma_g2_
        self.allele_freq_ = p
        self.scale_ = scale
        self.X_train_ = X.astype(np.float32)
        self.n_features_in_ = m
        self.n_train_ = n
        return self

    def kernel(self, X_new: Any) -> np.ndarray:
        """``K_new,train = (1 - w) G_new~ + w (G_new o G_new)~`` (n_new x n_train)."""
        self._check_fitted()
        X_new = self._check_new(X_new)
        p = self.allele_freq_
        G = ((X_new - 2.0 * p) @ (self.X_train_.astype(np.float64) - 2.0 * p).T) / self.scale_
        w = self.epistatic_share_
        mg, mgg = self.mean_diag_
        return ((1.0 - w) / mg) * G + (w / mgg) * (G * G)

    def genomic_values(self, X_new: Any) -> np.ndarray:
        """The predicted genomic values (additive plus epistatic, no fixed effects)."""
        return self.kernel(X_new) @ self.dual_coef_


_REGISTRY = {
    "gblup": GBLUP,
    "ridge": RidgeRegression,
    "rrblup": RidgeRegression,
    "rkhs": RKHS,
    "gblupad": GBLUPAD,
    "egblup": EGBLUP,
}


def make_baseline(name: str, **params: Any) -> Baseline:
    """A baseline model by name: ``"gblup"``, ``"ridge"`` (alias ``"rrblup"``), ``"rkhs"``,
    ``"gblup_ad"`` or ``"egblup"`` (any case; ``-`` and ``_`` are ignored).

    Examples
    --------
    >>> make_baseline("gblup").name
    'GBLUP'
    """
    key = str(name).strip().lower().replace("-", "").replace("_", "")
    if key not in _REGISTRY:
        raise InputError(f"unknown baseline '{name}'; valid names: {', '.join(BASELINES)}")
    try:
        return _REGISTRY[key](**params)
    except TypeError as exc:
        raise InputError(f"invalid parameter for baseline '{name}': {exc}") from None
