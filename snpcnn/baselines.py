"""Genomic-prediction baselines: GBLUP (REML), ridge regression (RR-BLUP) and RKHS
(Gaussian-kernel GBLUP).

All three follow one small contract so that the cross-validation engine can treat them (and the
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
    "make_baseline",
    "BASELINES",
    "BASELINE_LABELS",
    "vanraden_grm",
]

#: Names accepted by :func:`make_baseline`.
BASELINES = ("gblup", "ridge", "rkhs")
#: The label each baseline's results carry (metrics.csv, results.csv, tables).
BASELINE_LABELS = {"gblup": "GBLUP", "ridge": "ridge", "rkhs": "RKHS"}
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
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

    def _check_fitted(self) -> None:
        if not hasattr(self, "dual_coef_"):
            raise InputError(f"this {self.name} model is not fitted yet; call fit(X, y) first")

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
        best: tuple[float, _RemlFit] | None = None
        by_theta: dict[float, float] = {}
        for theta in thetas:
            lam, U = np.linalg.eigh(np.exp(-D / (theta * med)))
            fit = _reml(U, np.clip(lam, 0.0, None), y, F, lo, hi, self.n_grid)
            by_theta[float(theta)] = fit.loglik
            if best is None or fit.loglik > best[1].loglik:
                best = (float(theta), fit)
        theta, reml = best
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


_REGISTRY = {
    "gblup": GBLUP,
    "ridge": RidgeRegression,
    "rrblup": RidgeRegression,
    "rkhs": RKHS,
}


def make_baseline(name: str, **params: Any) -> Baseline:
    """A baseline model by name: ``"gblup"``, ``"ridge"`` (alias ``"rrblup"``) or ``"rkhs"``.

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
