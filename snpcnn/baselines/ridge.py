"""Ridge regression on markers (RR-BLUP), penalty by exact leave-one-out or by REML."""

from __future__ import annotations

from typing import Any

import numpy as np

from snpcnn.baselines import large_n
from snpcnn.baselines._common import (
    Baseline,
    _FixedEffects,
    _n_rows,
    _spectrum,
    _training_data,
)
from snpcnn.baselines.reml import _reml, _reml_bounds
from snpcnn.errors import InputError, check_real


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
    solver : {"exact", "auto", "iterative"}
        ``"exact"`` (default for this class): the eigendecomposition above, with exact
        leave-one-out residuals of every training row (the CNN's ridge start uses them).
        ``"iterative"``: the large-n path of :mod:`snpcnn.baselines.large_n` (``alpha`` by
        this same exact leave-one-out on a random subsample of ``subsample`` training rows,
        marker effects on all rows by preconditioned conjugate gradient; no n x n matrix, no
        float copy of ``X``; ``loo_residuals_`` then covers the subsample only).  ``"auto"``:
        exact up to :data:`~snpcnn.baselines.large_n.LARGE_N` training rows, iterative above;
        :func:`~snpcnn.baselines.make_baseline` (the CV engine) builds ridge with ``"auto"``.
    subsample, cg_tol
        As for :class:`GBLUP` (iterative path).
    penalty : {"loo", "reml"}
        ``"loo"`` (default): ``alpha_`` by exact leave-one-out over ``alphas`` (above).
        ``"reml"``: ``alpha_ = sigma_e2 / sigma_beta2`` by REML, the variance components of
        the mixed model ``y = F b + X beta + e``, ``beta ~ N(0, sigma_beta2 I)``.  That is
        GBLUP's model (VanRaden's ``G`` is ``X~ X~' / c``), so with the same training data the
        fit *is* the GBLUP prediction, solved for marker effects (fixed effects by GLS, as
        in Henderson's mixed model equations); ``alphas`` is then ignored.  The REML
        likelihood depends on the kernel only through ``X~ X~'``, so ``alpha_`` does not
        depend on how ``G`` is scaled.  ``loo_residuals_`` are those at ``alpha_``.

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
    solver_ : str
        ``"exact"`` or ``"iterative"``.  On the iterative path ``cv_mse_`` and
        ``loo_residuals_`` are those of the subsample, whose rows are ``loo_rows_``.

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

    def __init__(
        self,
        alphas: Any = None,
        solver: str = "exact",
        subsample: int = large_n.SUBSAMPLE,
        cg_tol: float = 1e-6,
        penalty: str = "loo",
    ) -> None:
        self.penalty = penalty
        self.alphas = alphas
        self.solver = solver
        self.subsample = subsample
        self.cg_tol = cg_tol

    def _reml_alpha(
        self, U: np.ndarray, s2: np.ndarray, y: np.ndarray, F: np.ndarray, n: int
    ) -> np.ndarray:
        """The REML penalty (as a one-point grid) from the spectrum of ``X~ X~'``."""
        c = float(s2.sum()) / n if len(s2) and s2.sum() > 0 else 1.0
        lo, hi = _reml_bounds((-10.0, 10.0), 100)
        fit = _reml(U, s2 / c, y, F, lo, hi, 100)
        self.delta_ = float(fit.delta)
        self.h2_ = float(1.0 / (1.0 + fit.delta))
        self.reml_at_bound_ = bool(fit.at_bound)
        return np.array([fit.delta * c])

    def _alpha_grid(self, trace_per_row: float) -> np.ndarray:
        if self.alphas is None:
            return self.DEFAULT_RATIOS * trace_per_row
        alphas = np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        if alphas.ndim != 1 or len(alphas) == 0 or not (alphas > 0).all():
            raise InputError(f"alphas must be positive numbers, got {self.alphas!r}")
        return alphas

    def _store_alpha(self, alphas: np.ndarray, mse: np.ndarray, loo: np.ndarray, fe: Any) -> float:
        k = int(np.argmin(mse))
        alpha = float(alphas[k])
        self.notes_ = list(fe.notes)
        self.alpha_at_bound_ = bool(len(alphas) > 1 and k in (0, len(alphas) - 1))
        if self.alpha_at_bound_:
            self.notes_.append(f"chosen alpha {alpha:.4g} is at the edge of the grid")
        self.alpha_ = alpha
        self.alphas_ = alphas
        self.cv_mse_ = mse
        self.loo_residuals_ = loo[:, k].copy()
        self.fixed_effect_names_ = fe.names
        self._fe = fe
        return alpha

    def fit(self, X: Any, y: Any, C: Any = None) -> RidgeRegression:
        """Choose alpha by leave-one-out on the training data and fit the marker effects.

        Parameters are as for :meth:`GBLUP.fit`.  Returns ``self``.
        """
        if self.penalty not in ("loo", "reml"):
            raise InputError(f"penalty must be 'loo' or 'reml', got {self.penalty!r}")
        X = self._fit_rows(X)  # names recorded; int8 -1 codes were dosages of -1, silently
        check_real("cg_tol", self.cg_tol, 0.0, 1.0, open_low=True)  # before the costly part
        if large_n.use_iterative(self.solver, _n_rows(X), "ridge"):
            return self._fit_large(X, y, C)
        X, y, fe, F = _training_data(X, y, C, "ridge")
        n, m = X.shape
        Q, _ = np.linalg.qr(F)
        Xt = X - Q @ (Q.T @ X)
        yt = y - Q @ (Q.T @ y)
        U, s2 = _spectrum(Xt)
        if self.penalty == "reml":
            alphas = self._reml_alpha(U, s2, y, F, n)
        else:
            alphas = self._alpha_grid(float(s2.sum()) / n if len(s2) else 1.0)
        mse, loo, Uy = _loo_path(U, s2, Q, yt, alphas)
        alpha = self._store_alpha(alphas, mse, loo, fe)
        w = Uy / (s2 + alpha)
        coef = Xt.T @ (U @ w)
        b, *_ = np.linalg.lstsq(F, y - X @ coef, rcond=None)
        self.coef_ = coef
        self.beta_ = b
        self.intercept_ = float(b[0])
        self.n_features_in_ = m
        self.n_train_ = n
        self.solver_ = "exact"
        return self

    def _fit_large(self, X: Any, y: Any, C: Any) -> RidgeRegression:
        """The iterative path: alpha by leave-one-out on a subsample, CG on all rows."""
        X, y, fe, F, mo = large_n.prepare(X, y, C, "ridge")
        rows = large_n.subsample_rows(mo.n, self.subsample)
        K = large_n.subsample_gram(X, rows, mo.mean)
        # a small system is solved directly; with twice the rows in SNPs, from this Gram matrix
        gram = K.copy() if large_n.exact_size(mo.n, mo.m, rows) and mo.m >= 2 * mo.n else None
        # fixed effects of the subsample (columns collinear there dropped), projected out
        cov = F[rows, 1:] if F.shape[1] > 1 else None
        F_s = _FixedEffects().fit(cov, len(rows)).design(cov, len(rows))
        Q, _ = np.linalg.qr(F_s)
        K -= Q @ (Q.T @ K)
        K -= (K @ Q) @ Q.T
        U, s2 = large_n.gram_spectrum(0.5 * (K + K.T))
        del K
        y_s = y[rows]
        yt = y_s - Q @ (Q.T @ y_s)
        if self.penalty == "reml":
            alphas = self._reml_alpha(U, s2, y_s, F_s, len(rows))
            how = "alpha by REML"
        else:
            alphas = self._alpha_grid(float(mo.diag.sum()) / mo.n)
            how = "alpha by leave-one-out"
        mse, loo, _ = _loo_path(U, s2, Q, yt, alphas)
        alpha = self._store_alpha(alphas, mse, loo, fe)
        fit = large_n.finish(X, y, F, fe, mo, alpha, self.cg_tol, rows, gram)
        del gram
        self.notes_.append(large_n.solver_note(fit, mo.n, how))
        b = fit.beta.copy()
        b[0] -= float(mo.mean @ fit.coef)  # predict uses X, not X - mean
        self.coef_ = fit.coef
        self.beta_ = b
        self.intercept_ = float(b[0])
        self.n_features_in_ = mo.m
        self.n_train_ = mo.n
        self.solver_ = "iterative"
        self.loo_rows_ = rows
        self.cg_iterations_ = fit.cg.n_iter
        return self

    def predict(self, X_new: Any, C_new: Any = None) -> np.ndarray:
        """Predicted trait values ``X_new beta + F_new b`` (over row blocks of ``X_new``)."""
        X_new = self._new_rows(X_new)
        g = large_n.linear_predict(
            X_new,
            self.n_features_in_,
            np.zeros(self.n_features_in_),
            self.coef_,
            type(self).__name__,
        )
        return g + self._fe.design(C_new, len(g)) @ self.beta_


def _loo_path(
    U: np.ndarray, s2: np.ndarray, Q: np.ndarray, yt: np.ndarray, alphas: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact leave-one-out residuals for every alpha from the spectrum ``U diag(s2) U'`` of
    ``X~ X~'`` (fixed effects with orthonormal basis ``Q`` projected out; ``yt = S y``).

    Returns the mean squared LOO residual per alpha (inf where undefined), the LOO
    residuals (n x n_alpha) and ``U' yt``.
    """
    Uy = U.T @ yt
    shrink = s2[None, :] / (s2[None, :] + alphas[:, None])  # (n_alpha, r)
    h_f = np.sum(Q * Q, axis=1)  # diagonal of P_F
    H_diag = h_f[:, None] + (U * U) @ shrink.T  # (n, n_alpha)
    resid = yt[:, None] - U @ (shrink * Uy[None, :]).T  # (n, n_alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        loo = resid / (1.0 - H_diag)
    mse = np.mean(loo**2, axis=0)
    mse = np.where(np.isfinite(mse), mse, np.inf)
    return mse, loo, Uy
